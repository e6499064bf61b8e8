using Asd.Native.IO;
using Asd.Native.Validation;

namespace Asd.Native.Backends.Mlp;

/// <summary>One layer of an asd-mlp network (docs/mlp-format.md).</summary>
public abstract record MlpLayer(int InWidth, int OutWidth);

/// <summary>act(W h + b) with W stored as PyTorch's [out, in].</summary>
public sealed record MlpLinear(int InWidth, int OutWidth, string Name, float[] Weight, float[]? Bias, Activation Activation) : MlpLayer(InWidth, OutWidth);

/// <summary>act(inner(h) + h).</summary>
public sealed record MlpResidual(int Width, IReadOnlyList<MlpLayer> Layers, Activation Activation) : MlpLayer(Width, Width);

/// <summary>Layer normalization over the row.</summary>
public sealed record MlpLayerNorm(int Width, float[] Weight, float[] Bias, double Epsilon) : MlpLayer(Width, Width);

/// <summary>diffusers' sinusoidal timestep embedding.</summary>
public sealed record TimeEmbeddingSpec(int Dim, double MaxPeriod, bool FlipSinToCos, double DownscaleFreqShift, double Scale);

/// <summary>
/// The native diffusion-policy MLP: loaded from <c>NAME.json</c> + <c>NAME.safetensors</c> (docs/mlp-format.md).
/// Immutable and shareable across threads; weights are packed once per ISA path on first use.
/// </summary>
public sealed class MlpModel : IDiffusionModel, IStreamedWeights
{
    private readonly Dictionary<(IsaPath, bool), IReadOnlyDictionary<MlpLinear, PackedMatrix>> _packed = [];

    private MlpModel(string name, int[] sampleShape, int condDim, TimeEmbeddingSpec time, IReadOnlyList<MlpLayer> timeMlp, IReadOnlyList<string> input, IReadOnlyList<MlpLayer> layers, SchedulerConfig scheduler)
    {
        Name = name;
        SampleShape = sampleShape;
        ConditionSize = condDim;
        TimeEmbedding = time;
        TimeMlp = timeMlp;
        Input = input;
        Layers = layers;
        DefaultScheduler = scheduler;
        SampleSize = sampleShape.Aggregate(1, (a, b) => a * b);
        TimeWidth = timeMlp.Count > 0 ? timeMlp[^1].OutWidth : time.Dim;
        InputWidth = input.Sum(p => p switch { "sample" => SampleSize, "time" => TimeWidth, _ => condDim });
        Parameters = AllLinears().Sum(l => (long)l.Weight.Length + (l.Bias?.Length ?? 0)) + AllNorms().Sum(n => 2L * n.Width);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> SampleShape { get; }

    /// <summary>Elements per sample.</summary>
    public int SampleSize { get; }

    /// <inheritdoc/>
    public int ConditionSize { get; }

    /// <inheritdoc/>
    public SchedulerConfig DefaultScheduler { get; }

    /// <summary>The timestep embedding.</summary>
    public TimeEmbeddingSpec TimeEmbedding { get; }

    /// <summary>Layers applied to the embedding.</summary>
    public IReadOnlyList<MlpLayer> TimeMlp { get; }

    /// <summary>Width of the (possibly transformed) embedding.</summary>
    public int TimeWidth { get; }

    /// <summary>The concatenation order of "sample", "time" and "cond".</summary>
    public IReadOnlyList<string> Input { get; }

    /// <summary>Width of the concatenated input.</summary>
    public int InputWidth { get; }

    /// <summary>The main layers.</summary>
    public IReadOnlyList<MlpLayer> Layers { get; }

    /// <summary>Number of parameters.</summary>
    public long Parameters { get; }

    /// <summary>FLOPs of one row's forward pass, counted as 2 * sum(in * out) over the linear layers.</summary>
    public long FlopsPerRow => AllLinears().Sum(l => 2L * l.InWidth * l.OutWidth);

    /// <summary>
    /// Loads <paramref name="jsonPath"/> and its safetensors file. Both must be regular files of bounded size, and the
    /// weights (<c>NAME.safetensors</c>, or the JSON's <c>"weights"</c>) must lie inside the JSON's folder
    /// (<see cref="ModelFiles"/>).
    /// </summary>
    public static MlpModel Load(string jsonPath)
    {
        using JsonDocument doc = StrictJson.ReadFile(jsonPath, "asd-mlp model");
        JsonElement root = StrictJson.Object(doc, jsonPath);
        CheckFormat(root, jsonPath);
        string reference = root.TryGetProperty("weights", out JsonElement w)
            ? StrictJson.String(w, "weights", jsonPath)
            : Path.GetFileNameWithoutExtension(jsonPath) + ".safetensors";
        string weights = ModelFiles.ResolveInFolder(jsonPath, reference, "weights");
        return FromParts(root, SafeTensorsFile.Open(weights, $"{jsonPath}: \"weights\""), Path.GetFileNameWithoutExtension(jsonPath), jsonPath);
    }

    /// <summary>Builds a model from a JSON text and safetensors bytes already in memory (embedded models).</summary>
    public static MlpModel Load(string json, byte[] safetensors, string name)
    {
        using JsonDocument doc = StrictJson.Parse(json, name);
        JsonElement root = StrictJson.Object(doc, name);
        return FromParts(root, SafeTensorsFile.Parse(safetensors, name + ".safetensors"), name, name + ".json");
    }

    /// <summary>
    /// Parses an asd-mlp JSON (UTF-8 bytes) against safetensors bytes in memory; the <c>"weights"</c> key is checked
    /// as a reference (relative, no "..") but not opened. For the fuzzer and for validating a model without files.
    /// </summary>
    public static MlpModel Parse(ReadOnlyMemory<byte> json, byte[] safetensors, string name)
    {
        using JsonDocument doc = StrictJson.Parse(json, name);
        JsonElement root = StrictJson.Object(doc, name);
        CheckFormat(root, name);
        if (root.TryGetProperty("weights", out JsonElement w))
        {
            string reference = StrictJson.String(w, "weights", name);
            if (reference.Length == 0 || Path.IsPathRooted(reference) || reference.Split('/', '\\').Contains("..") || reference.Contains('\0', StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{name}: \"weights\" must name a file inside the model's folder.");
            }
        }

        return FromParts(root, SafeTensorsFile.Parse(safetensors, name + ".safetensors"), name, name);
    }

    private static void CheckFormat(JsonElement root, string source)
    {
        if (!root.TryGetProperty("format", out JsonElement f) || f.ValueKind != JsonValueKind.String || f.GetString() != "asd-mlp"
            || !root.TryGetProperty("version", out JsonElement v) || v.ValueKind != JsonValueKind.Number)
        {
            throw new InvalidDataException($"{source}: not an asd-mlp model (expected \"format\": \"asd-mlp\" and \"version\": 1; see docs/mlp-format.md).");
        }

        if (!v.TryGetInt64(out long version) || version != 1)
        {
            throw new InvalidDataException($"{source}: \"version\" is {StrictJson.Show(v)}; this engine reads asd-mlp version 1 (docs/mlp-format.md).");
        }
    }

    private static readonly HashSet<string> TopKeys = ["format", "version", "sample_shape", "cond_dim", "prediction_type", "time_embedding", "time_mlp", "input", "layers", "scheduler", "weights"];

    private static MlpModel FromParts(JsonElement root, SafeTensorsFile weights, string name, string source)
    {
        try
        {
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (!TopKeys.Contains(p.Name))
                {
                    throw new InvalidDataException($"{source}: unknown key '{p.Name}'.");
                }
            }

            CheckFormat(root, source);

            long[] shapeValues = [.. StrictJson.Array(Required(root, "sample_shape", source), "sample_shape", source).Select(e => e.TryGetInt64(out long d) && e.ValueKind == JsonValueKind.Number ? d : throw new InvalidDataException($"{source}: \"sample_shape\" must list integers (got {StrictJson.Show(e)}).")).Take(ResourceLimits.MaxRank + 1)];
            int sampleSize = Shapes.SampleSize(shapeValues, $"{source}: \"sample_shape\"");
            int[] sampleShape = [.. shapeValues.Select(d => (int)d)];

            int condDim = root.TryGetProperty("cond_dim", out JsonElement cd) ? StrictJson.Int(cd, "cond_dim", source, 0, ResourceLimits.MaxConditionSize) : 0;
            PredictionType prediction = ScheduleNames.ParsePrediction(StrictJson.String(Required(root, "prediction_type", source), "prediction_type", source));
            TimeEmbeddingSpec time = ParseTime(Required(root, "time_embedding", source), source);

            var used = new HashSet<string>(StringComparer.Ordinal);
            int width = time.Dim;
            var timeMlp = root.TryGetProperty("time_mlp", out JsonElement tm) ? ParseLayers(tm, weights, used, ref width, source, "time_mlp") : [];
            int timeWidth = width;
            string[] input = [.. StrictJson.Array(Required(root, "input", source), "input", source).Select(e => StrictJson.String(e, "input", source))];
            if (input.Distinct().Count() != input.Length || input.Any(p => p is not ("sample" or "time" or "cond")) || !input.Contains("sample") || input.Contains("cond") != (condDim > 0))
            {
                throw new InvalidDataException($"{source}: input must list \"sample\", optionally \"time\", and \"cond\" exactly when cond_dim > 0 (got [{string.Join(", ", input)}]).");
            }

            width = input.Sum(p => p switch { "sample" => sampleSize, "time" => timeWidth, _ => condDim });
            var layers = ParseLayers(Required(root, "layers", source), weights, used, ref width, source, "layers");
            if (width != sampleSize)
            {
                throw new InvalidDataException($"{source}: the last layer outputs {width} values per row but the sample has {sampleSize}.");
            }

            SchedulerConfig scheduler = root.TryGetProperty("scheduler", out JsonElement s)
                ? SchedulerConfigJson.Parse(s, source + " scheduler")
                : new SchedulerConfig { ClipSample = true };
            scheduler = scheduler with { PredictionType = prediction };
            return new MlpModel(name, sampleShape, condDim, time, timeMlp, input, layers, scheduler);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static JsonElement Required(JsonElement parent, string key, string source) =>
        parent.TryGetProperty(key, out JsonElement e) ? e : throw new InvalidDataException($"{source}: the key \"{key}\" is missing.");

    /// <summary>The widest layer or embedding a model may declare (a width is also bounded by its weights' bytes).</summary>
    private const int MaxWidth = ResourceLimits.MaxSampleSize;

    private static TimeEmbeddingSpec ParseTime(JsonElement e, string source)
    {
        int dim = 0;
        double maxPeriod = 10000, shift = 1, scale = 1;
        bool flip = false;
        foreach (JsonProperty p in StrictJson.Properties(e, "time_embedding", source))
        {
            string field = "time_embedding." + p.Name;
            switch (p.Name)
            {
                case "dim": dim = StrictJson.Int(p.Value, field, source, 2, 1 << 20); break;
                case "max_period": maxPeriod = StrictJson.Number(p.Value, field, source); break;
                case "flip_sin_to_cos": flip = StrictJson.Bool(p.Value, field, source); break;
                case "downscale_freq_shift": shift = StrictJson.Number(p.Value, field, source); break;
                case "scale": scale = StrictJson.Number(p.Value, field, source); break;
                default: throw new InvalidDataException($"{source}: unknown time_embedding key '{p.Name}'.");
            }
        }

        if (dim < 2 || dim % 2 != 0)
        {
            throw new InvalidDataException($"{source}: time_embedding.dim must be even and >= 2 (got {dim}).");
        }

        if (dim / 2 - shift <= 0)
        {
            throw new InvalidDataException($"{source}: time_embedding.downscale_freq_shift must be below dim / 2.");
        }

        if (!(maxPeriod > 0))
        {
            throw new InvalidDataException($"{source}: time_embedding.max_period must be > 0 (got {maxPeriod}).");
        }

        return new TimeEmbeddingSpec(dim, maxPeriod, flip, shift, scale);
    }

    private static List<MlpLayer> ParseLayers(JsonElement list, SafeTensorsFile weights, HashSet<string> used, ref int width, string source, string field)
    {
        var layers = new List<MlpLayer>();
        foreach (JsonElement e in StrictJson.Array(list, field, source))
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source}: each entry of \"{field}\" must be a layer object (got {StrictJson.Show(e)}).");
            }

            string type = StrictJson.String(Required(e, "type", source), field + "[].type", source);
            switch (type)
            {
                case "linear":
                    {
                        CheckKeys(e, source, "type", "weight", "bias", "activation");
                        string wName = Tensor(e, "weight", weights, used, source);
                        TensorInfo info = weights.Tensors[wName];
                        int outWidth = info.Shape.Length == 2 && info.Shape[1] == width ? info.Shape[0] : -1;
                        if (outWidth < 1 || outWidth > MaxWidth)
                        {
                            throw new InvalidDataException($"{weights.Source}: tensor '{wName}' has shape {info.ShapeText}, expected [out, {width}] (PyTorch's [out_features, in_features]; this layer receives {width} values per row).");
                        }

                        float[] w = weights.ReadFloat32(wName, outWidth, width);
                        float[]? bias = e.TryGetProperty("bias", out JsonElement b) && b.ValueKind != JsonValueKind.Null
                            ? weights.ReadFloat32(Tensor(e, "bias", weights, used, source), outWidth)
                            : null;
                        Activation act = e.TryGetProperty("activation", out JsonElement a) ? ActivationMath.Parse(StrictJson.String(a, "activation", source)) : Activation.Identity;
                        layers.Add(new MlpLinear(width, outWidth, wName, w, bias, act));
                        width = outWidth;
                        break;
                    }

                case "residual":
                    {
                        CheckKeys(e, source, "type", "layers", "activation");
                        int inner = width;
                        List<MlpLayer> body = ParseLayers(Required(e, "layers", source), weights, used, ref inner, source, "residual.layers");
                        if (inner != width || body.Count == 0)
                        {
                            throw new InvalidDataException($"{source}: a residual block must map width {width} back to {width} (its layers end at {inner}).");
                        }

                        Activation act = e.TryGetProperty("activation", out JsonElement a) ? ActivationMath.Parse(StrictJson.String(a, "activation", source)) : Activation.Identity;
                        layers.Add(new MlpResidual(width, body, act));
                        break;
                    }

                case "layer_norm":
                    {
                        CheckKeys(e, source, "type", "weight", "bias", "eps");
                        float[] w = weights.ReadFloat32(Tensor(e, "weight", weights, used, source), width);
                        float[] b = weights.ReadFloat32(Tensor(e, "bias", weights, used, source), width);
                        double eps = e.TryGetProperty("eps", out JsonElement ep) ? StrictJson.Number(ep, "eps", source) : 1e-5;
                        if (!(eps > 0))
                        {
                            throw new InvalidDataException($"{source}: a layer_norm's eps must be > 0 (got {eps}).");
                        }

                        layers.Add(new MlpLayerNorm(width, w, b, eps));
                        break;
                    }

                default:
                    throw new InvalidDataException($"{source}: unknown layer type '{type}' (expected linear, residual, layer_norm).");
            }
        }

        return layers;
    }

    /// <summary>
    /// The tensor a layer's <paramref name="key"/> names: present in the file, and used by no other layer (each
    /// reference is copied into float32, so a tensor named by many layers would multiply memory without bound).
    /// </summary>
    private static string Tensor(JsonElement layer, string key, SafeTensorsFile weights, HashSet<string> used, string source)
    {
        string name = StrictJson.String(Required(layer, key, source), key, source);
        if (!weights.Tensors.ContainsKey(name))
        {
            throw new InvalidDataException($"{weights.Source}: tensor '{name}' is missing.");
        }

        if (!used.Add(name))
        {
            throw new InvalidDataException($"{source}: tensor '{name}' is used by two layers; each layer needs tensors of its own.");
        }

        return name;
    }

    private static void CheckKeys(JsonElement e, string source, params string[] allowed)
    {
        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (Array.IndexOf(allowed, p.Name) < 0)
            {
                throw new InvalidDataException($"{source}: unknown key '{p.Name}' in a '{StrictJson.Show(e.GetProperty("type"))}' layer.");
            }
        }
    }

    /// <summary>Every linear layer, in order (time MLP first).</summary>
    public IEnumerable<MlpLinear> AllLinears() => Flatten(TimeMlp).Concat(Flatten(Layers)).OfType<MlpLinear>();

    private IEnumerable<MlpLayerNorm> AllNorms() => Flatten(TimeMlp).Concat(Flatten(Layers)).OfType<MlpLayerNorm>();

    private static IEnumerable<MlpLayer> Flatten(IEnumerable<MlpLayer> layers) =>
        layers.SelectMany(l => l is MlpResidual r ? Flatten(r.Layers) : [l]);

    /// <inheritdoc/>
    public long StreamedWeightBytes => StreamedWeightBytesFor(1);

    /// <inheritdoc/>
    public long StreamedWeightBytesFor(int threads)
    {
        bool half = PacksHalf(Isa.Active, threads);
        return AllLinears().Sum(l => (long)l.InWidth * l.OutWidth * (half && HalfBits(l.Weight) is not null ? 2 : 4));
    }

    /// <inheritdoc/>
    public long FlopsPerSample => FlopsPerRow;

    /// <inheritdoc/>
    public string WeightPrecision => WeightPrecisionFor(1);

    /// <inheritdoc/>
    public string WeightPrecisionFor(int threads)
    {
        bool half = PacksHalf(Isa.Active, threads);
        return AllLinears().Select(l => half && HalfBits(l.Weight) is not null).Distinct().ToArray() switch
        {
            [true] => "float16",
            [false] => "float32",
            _ => "mixed float16/float32",
        };
    }

    /// <summary>How float16-valued layers are packed: as <see cref="WeightPacking.HalfPays"/> says (default), always float16, never.</summary>
    internal HalfPacking HalfWeights { get; set; } = HalfPacking.ByMachine;

    /// <summary>Whether a denoiser on <paramref name="threads"/> threads of <paramref name="path"/> reads float16-packed layers.</summary>
    internal bool PacksHalf(IsaPath path, int threads) =>
        WeightPacking.PacksHalf(HalfWeights, path, threads, AllLinears().Sum(l => (long)l.InWidth * l.OutWidth * 4));

    /// <summary>
    /// Calls of at least this many rows on a pool of two or more threads give each thread whole rows (a row split)
    /// rather than a share of every layer's columns (default 6; <see cref="int.MaxValue"/> turns it off, for benches).
    /// </summary>
    internal int RowSplitRows { get; set; } = MlpDenoiser.DefaultRowSplitRows;

    /// <summary>
    /// The weights as float16 bits when every one is a finite float16 value (builtin:policy ships F16 weights, read
    /// into float32 exactly), else null. Such a layer is packed as float16: the kernels widen exactly, so the GEMM
    /// gives the float32 GEMM's bits from half the weight bytes (the MLP streams its weights on every call).
    /// </summary>
    internal static ushort[]? HalfBits(float[] weights)
    {
        var half = new ushort[weights.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            Half h = (Half)weights[i];
            if ((float)h != weights[i] || !Half.IsFinite(h))
            {
                return null;
            }

            half[i] = BitConverter.HalfToUInt16Bits(h);
        }

        return half;
    }

    /// <summary>The weights packed for <paramref name="path"/> and <paramref name="threads"/> threads (packed on first request, then shared).</summary>
    internal IReadOnlyDictionary<MlpLinear, PackedMatrix> PackedFor(IsaPath path, int threads = 1)
    {
        bool keepHalf = PacksHalf(path, threads);
        lock (_packed)
        {
            if (!_packed.TryGetValue((path, keepHalf), out IReadOnlyDictionary<MlpLinear, PackedMatrix>? packed))
            {
                packed = AllLinears().ToDictionary(
                    l => l,
                    l => keepHalf && HalfBits(l.Weight) is { } half
                        ? PackedMatrix.PackHalf(half, l.InWidth, l.OutWidth, outputMajor: true, path)
                        : PackedMatrix.Pack(l.Weight, l.InWidth, l.OutWidth, outputMajor: true, path),
                    ReferenceEqualityComparer.Instance as IEqualityComparer<MlpLinear>);
                _packed[(path, keepHalf)] = packed;
            }

            return packed;
        }
    }

    /// <inheritdoc/>
    public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options) =>
        options.GuidanceScale is null
            ? new MlpDenoiser(this, options.MaxBatchRows, options.Pool, RowSplitRows)
            : throw new InvalidOperationException($"Model '{Name}' defines no null condition for guidance.");

    /// <summary>A denoiser with its own scratch for up to <paramref name="maxRows"/> rows per internal pass.</summary>
    public MlpDenoiser CreateDenoiser(int maxRows = 64, Threading.CorePool? pool = null) => new(this, maxRows, pool, RowSplitRows);

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
