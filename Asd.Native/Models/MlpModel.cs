using System.Text.Json;
using Asd.Native.Denoising;
using Asd.Native.IO;
using Asd.Native.Schedules;
using Asd.Simd;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;

namespace Asd.Native.Models;

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
public sealed class MlpModel : IDiffusionModel
{
    private readonly Dictionary<IsaPath, IReadOnlyDictionary<MlpLinear, PackedMatrix>> _packed = [];

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

    /// <summary>Loads <paramref name="jsonPath"/> and its safetensors file.</summary>
    public static MlpModel Load(string jsonPath)
    {
        if (!File.Exists(jsonPath))
        {
            throw new FileNotFoundException($"Model file '{jsonPath}' does not exist.", jsonPath);
        }

        string json = File.ReadAllText(jsonPath);
        using JsonDocument doc = ParseJson(json, jsonPath);
        CheckFormat(doc.RootElement, jsonPath);
        string weights = doc.RootElement.TryGetProperty("weights", out JsonElement w) && w.GetString() is { } wp
            ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!, wp)
            : Path.ChangeExtension(jsonPath, ".safetensors");
        if (!File.Exists(weights))
        {
            throw new FileNotFoundException($"{jsonPath}: the weights file '{weights}' does not exist.", weights);
        }

        return FromParts(doc.RootElement, SafeTensorsFile.Open(weights), Path.GetFileNameWithoutExtension(jsonPath), jsonPath);
    }

    /// <summary>Builds a model from a JSON text and safetensors bytes already in memory (embedded models).</summary>
    public static MlpModel Load(string json, byte[] safetensors, string name)
    {
        using JsonDocument doc = ParseJson(json, name);
        return FromParts(doc.RootElement, SafeTensorsFile.Parse(safetensors, name + ".safetensors"), name, name + ".json");
    }

    private static JsonDocument ParseJson(string json, string source)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message}).", e);
        }
    }

    private static void CheckFormat(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("format", out JsonElement f) || f.ValueKind != JsonValueKind.String || f.GetString() != "asd-mlp"
            || !root.TryGetProperty("version", out JsonElement v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != 1)
        {
            throw new InvalidDataException($"{source}: not an asd-mlp model (expected \"format\": \"asd-mlp\" and \"version\": 1; see docs/mlp-format.md).");
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

            int[] sampleShape = [.. root.GetProperty("sample_shape").EnumerateArray().Select(e => e.GetInt32())];
            if (sampleShape.Length == 0 || sampleShape.Any(s => s < 1))
            {
                throw new InvalidDataException($"{source}: sample_shape must be a non-empty list of positive sizes.");
            }

            int condDim = root.TryGetProperty("cond_dim", out JsonElement cd) ? cd.GetInt32() : 0;
            PredictionType prediction = ScheduleNames.ParsePrediction(root.GetProperty("prediction_type").GetString()!);
            TimeEmbeddingSpec time = ParseTime(root.GetProperty("time_embedding"), source);
            int sampleSize = sampleShape.Aggregate(1, (a, b) => a * b);

            int width = time.Dim;
            var timeMlp = root.TryGetProperty("time_mlp", out JsonElement tm) ? ParseLayers(tm, weights, ref width, source) : [];
            int timeWidth = width;
            string[] input = [.. root.GetProperty("input").EnumerateArray().Select(e => e.GetString()!)];
            if (input.Distinct().Count() != input.Length || input.Any(p => p is not ("sample" or "time" or "cond")) || !input.Contains("sample") || input.Contains("cond") != (condDim > 0))
            {
                throw new InvalidDataException($"{source}: input must list \"sample\", optionally \"time\", and \"cond\" exactly when cond_dim > 0 (got [{string.Join(", ", input)}]).");
            }

            width = input.Sum(p => p switch { "sample" => sampleSize, "time" => timeWidth, _ => condDim });
            var layers = ParseLayers(root.GetProperty("layers"), weights, ref width, source);
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
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static TimeEmbeddingSpec ParseTime(JsonElement e, string source)
    {
        int dim = 0;
        double maxPeriod = 10000, shift = 1, scale = 1;
        bool flip = false;
        foreach (JsonProperty p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dim": dim = p.Value.GetInt32(); break;
                case "max_period": maxPeriod = p.Value.GetDouble(); break;
                case "flip_sin_to_cos": flip = p.Value.GetBoolean(); break;
                case "downscale_freq_shift": shift = p.Value.GetDouble(); break;
                case "scale": scale = p.Value.GetDouble(); break;
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

        return new TimeEmbeddingSpec(dim, maxPeriod, flip, shift, scale);
    }

    private static List<MlpLayer> ParseLayers(JsonElement list, SafeTensorsFile weights, ref int width, string source)
    {
        var layers = new List<MlpLayer>();
        foreach (JsonElement e in list.EnumerateArray())
        {
            string type = e.GetProperty("type").GetString()!;
            switch (type)
            {
                case "linear":
                    {
                        CheckKeys(e, source, "type", "weight", "bias", "activation");
                        string wName = e.GetProperty("weight").GetString()!;
                        if (!weights.Tensors.TryGetValue(wName, out TensorInfo? info))
                        {
                            throw new InvalidDataException($"{weights.Source}: tensor '{wName}' is missing.");
                        }

                        int outWidth = info.Shape.Length == 2 && info.Shape[1] == width ? info.Shape[0] : -1;
                        if (outWidth < 1)
                        {
                            throw new InvalidDataException($"{weights.Source}: tensor '{wName}' has shape {info.ShapeText}, expected [out, {width}] (PyTorch's [out_features, in_features]; this layer receives {width} values per row).");
                        }

                        float[] w = weights.ReadFloat32(wName, outWidth, width);
                        float[]? bias = e.TryGetProperty("bias", out JsonElement b) && b.ValueKind == JsonValueKind.String
                            ? weights.ReadFloat32(b.GetString()!, outWidth)
                            : null;
                        Activation act = e.TryGetProperty("activation", out JsonElement a) ? ActivationMath.Parse(a.GetString()!) : Activation.Identity;
                        layers.Add(new MlpLinear(width, outWidth, wName, w, bias, act));
                        width = outWidth;
                        break;
                    }

                case "residual":
                    {
                        CheckKeys(e, source, "type", "layers", "activation");
                        int inner = width;
                        List<MlpLayer> body = ParseLayers(e.GetProperty("layers"), weights, ref inner, source);
                        if (inner != width || body.Count == 0)
                        {
                            throw new InvalidDataException($"{source}: a residual block must map width {width} back to {width} (its layers end at {inner}).");
                        }

                        Activation act = e.TryGetProperty("activation", out JsonElement a) ? ActivationMath.Parse(a.GetString()!) : Activation.Identity;
                        layers.Add(new MlpResidual(width, body, act));
                        break;
                    }

                case "layer_norm":
                    {
                        CheckKeys(e, source, "type", "weight", "bias", "eps");
                        float[] w = weights.ReadFloat32(e.GetProperty("weight").GetString()!, width);
                        float[] b = weights.ReadFloat32(e.GetProperty("bias").GetString()!, width);
                        double eps = e.TryGetProperty("eps", out JsonElement ep) ? ep.GetDouble() : 1e-5;
                        layers.Add(new MlpLayerNorm(width, w, b, eps));
                        break;
                    }

                default:
                    throw new InvalidDataException($"{source}: unknown layer type '{type}' (expected linear, residual, layer_norm).");
            }
        }

        return layers;
    }

    private static void CheckKeys(JsonElement e, string source, params string[] allowed)
    {
        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (Array.IndexOf(allowed, p.Name) < 0)
            {
                throw new InvalidDataException($"{source}: unknown key '{p.Name}' in a '{e.GetProperty("type").GetString()}' layer.");
            }
        }
    }

    /// <summary>Every linear layer, in order (time MLP first).</summary>
    public IEnumerable<MlpLinear> AllLinears() => Flatten(TimeMlp).Concat(Flatten(Layers)).OfType<MlpLinear>();

    private IEnumerable<MlpLayerNorm> AllNorms() => Flatten(TimeMlp).Concat(Flatten(Layers)).OfType<MlpLayerNorm>();

    private static IEnumerable<MlpLayer> Flatten(IEnumerable<MlpLayer> layers) =>
        layers.SelectMany(l => l is MlpResidual r ? Flatten(r.Layers) : [l]);

    /// <summary>The weights packed for <paramref name="path"/> (packed on first request, then shared).</summary>
    internal IReadOnlyDictionary<MlpLinear, PackedMatrix> PackedFor(IsaPath path)
    {
        lock (_packed)
        {
            if (!_packed.TryGetValue(path, out IReadOnlyDictionary<MlpLinear, PackedMatrix>? packed))
            {
                packed = AllLinears().ToDictionary(
                    l => l,
                    l => PackedMatrix.Pack(l.Weight, l.InWidth, l.OutWidth, outputMajor: true, path),
                    ReferenceEqualityComparer.Instance as IEqualityComparer<MlpLinear>);
                _packed[path] = packed;
            }

            return packed;
        }
    }

    /// <inheritdoc/>
    public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options) =>
        options.GuidanceScale is null
            ? new MlpDenoiser(this, options.MaxBatchRows, options.Pool)
            : throw new InvalidOperationException($"Model '{Name}' defines no null condition for guidance.");

    /// <summary>A denoiser with its own scratch for up to <paramref name="maxRows"/> rows per internal pass.</summary>
    public MlpDenoiser CreateDenoiser(int maxRows = 64, Threading.CorePool? pool = null) => new(this, maxRows, pool);

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
