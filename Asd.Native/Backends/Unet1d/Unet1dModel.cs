using Asd.Native.IO;

namespace Asd.Native.Backends.Unet1d;

/// <summary>
/// A ConditionalUnet1D diffusion policy (Chi et al., Diffusion Policy, RSS 2023), loaded from <c>NAME.json</c> +
/// <c>NAME.safetensors</c> (docs/unet1d-format.md; <c>tools/convert_diffusion_policy.py</c> writes them from a
/// diffusion_policy checkpoint). Immutable and shareable across threads; the weights are packed for the GEMM once per
/// ISA path, on first use, in the precision the file stores them (float32, or float16 widened inside the kernel).
/// </summary>
public sealed class Unet1dModel : IDiffusionModel, IStreamedWeights
{
    private readonly Dictionary<IsaPath, Unet1dPacked> _packed = [];

    private Unet1dModel(string name, Unet1dConfig config, SchedulerConfig scheduler, SafeTensorsFile file)
    {
        Name = name;
        Config = config;
        DefaultScheduler = scheduler;
        SampleShape = [config.Horizon, config.InputDim];

        // Tensor names are diffusion_policy's state-dict names (without the policy's "model." prefix).
        int d = config.StepEmbedDim;
        StepHidden = Unet1dLinear.Read(file, "diffusion_step_encoder.1", d, 4 * d);
        StepOut = Unet1dLinear.Read(file, "diffusion_step_encoder.3", 4 * d, d);
        if (config.LocalCondDim > 0)
        {
            // diffusion_policy's state dict holds two local blocks; its forward adds only the first (after the first
            // block of the finest level). It adds the second after the first block of its last up level only under a
            // test that is never true (idx == len(up_modules), kept for the published checkpoints; where a copy wrote
            // the test that was meant, that level has half the horizon's positions and the sum fails), so the second
            // is read and checked but never run.
            LocalCond = Unet1dBlock.Read(file, "local_cond_encoder.0", config.LocalCondDim, config.DownDims[0], config);
            // An ONNX export drops it (its output is unused, so the exporter prunes it): it may be absent, but not in part.
            LocalCondUnused = file.Tensors.ContainsKey("local_cond_encoder.1.blocks.0.block.0.weight")
                ? Unet1dBlock.Read(file, "local_cond_encoder.1", config.LocalCondDim, config.DownDims[0], config)
                : null;
        }

        int[] dims = [config.InputDim, .. config.DownDims];
        var down = new List<Unet1dDown>();
        for (int i = 0; i < config.Levels; i++)
        {
            string p = $"down_modules.{i}";
            down.Add(new Unet1dDown(
                Unet1dBlock.Read(file, p + ".0", dims[i], dims[i + 1], config),
                Unet1dBlock.Read(file, p + ".1", dims[i + 1], dims[i + 1], config),
                i < config.Levels - 1 ? Unet1dConv.Read(file, p + ".2.conv", dims[i + 1], dims[i + 1], 3) : null));
        }

        int mid = config.DownDims[^1];
        Mid = [Unet1dBlock.Read(file, "mid_modules.0", mid, mid, config), Unet1dBlock.Read(file, "mid_modules.1", mid, mid, config)];
        var up = new List<Unet1dUp>();
        for (int i = 0; i < config.Levels - 1; i++)
        {
            // diffusion_policy walks (dim_in, dim_out) pairs of the levels below the coarsest, coarsest first.
            int dimOut = config.DownDims[config.Levels - 1 - i], dimIn = config.DownDims[config.Levels - 2 - i];
            string p = $"up_modules.{i}";
            up.Add(new Unet1dUp(
                Unet1dBlock.Read(file, p + ".0", 2 * dimOut, dimIn, config),
                Unet1dBlock.Read(file, p + ".1", dimIn, dimIn, config),
                Unet1dUpsample.Read(file, p + ".2.conv", dimIn)));
        }

        Down = down;
        Up = up;
        int start = config.DownDims[0];
        FinalConv = Unet1dConv.Read(file, "final_conv.0.block.0", start, start, config.KernelSize);
        FinalNorm = Unet1dNorm.Read(file, "final_conv.0.block.1", start, config.FinalGroups);
        FinalOut = Unet1dConv.Read(file, "final_conv.1", start, config.InputDim, 1);

        int offset = 0;
        foreach (Unet1dBlock b in Blocks())
        {
            b.CondOffset = offset;
            offset += b.Cond.Out;
        }

        CondWidth = offset;
        CheckNoExtraTensors(file);
        Parameters = StepHidden.Parameters + StepOut.Parameters + Blocks().Sum(b => b.Parameters) + (LocalCondUnused?.Parameters ?? 0)
            + Down.Sum(l => l.Downsample?.Parameters ?? 0) + Up.Sum(l => l.Upsample.Parameters)
            + FinalConv.Parameters + FinalNorm.Parameters + FinalOut.Parameters;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The architecture.</summary>
    public Unet1dConfig Config { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> SampleShape { get; }

    /// <summary>Elements per sample: horizon x input_dim.</summary>
    public int SampleSize => Config.Horizon * Config.InputDim;

    /// <inheritdoc/>
    /// <remarks>The global conditioning, then the local conditioning [horizon, local_cond_dim] (<see cref="Unet1dConfig.ConditionSize"/>).</remarks>
    public int ConditionSize => Config.ConditionSize;

    /// <inheritdoc/>
    /// <remarks>Null without local conditioning (the values are then the global conditioning).</remarks>
    public string? ConditionLayout => Config.LocalCondDim == 0
        ? null
        : Config.GlobalCondDim == 0 ? $"{Config.Horizon} positions x {Config.LocalCondDim} local values"
        : Config.LocalCondFirst ? $"{Config.Horizon} positions x {Config.LocalCondDim} local values, then {Config.GlobalCondDim} global values (the export's input order)"
        : $"{Config.GlobalCondDim} global values, then {Config.Horizon} positions x {Config.LocalCondDim} local values";

    /// <inheritdoc/>
    public SchedulerConfig DefaultScheduler { get; }

    /// <summary>Number of parameters.</summary>
    public long Parameters { get; }

    internal Unet1dLinear StepHidden { get; }

    internal Unet1dLinear StepOut { get; }

    /// <summary>The local conditioning's block (diffusion_policy's local_cond_encoder.0), or null without local conditioning.</summary>
    internal Unet1dBlock? LocalCond { get; }

    /// <summary>local_cond_encoder.1: in the state dict, never in the forward (see the constructor).</summary>
    private Unet1dBlock? LocalCondUnused { get; }

    internal IReadOnlyList<Unet1dDown> Down { get; }

    internal IReadOnlyList<Unet1dBlock> Mid { get; }

    internal IReadOnlyList<Unet1dUp> Up { get; }

    internal Unet1dConv FinalConv { get; }

    internal Unet1dNorm FinalNorm { get; }

    internal Unet1dConv FinalOut { get; }

    /// <summary>Columns of the concatenated FiLM GEMM (every block's cond_encoder output, in <see cref="Blocks"/> order).</summary>
    internal int CondWidth { get; }

    /// <summary>Every residual block the forward runs, in execution order: the local conditioning's, down, mid, up.</summary>
    internal IEnumerable<Unet1dBlock> Blocks() =>
        (LocalCond is { } local ? new[] { local } : []).Concat(Down.SelectMany(l => new[] { l.First, l.Second }).Concat(Mid).Concat(Up.SelectMany(l => new[] { l.First, l.Second })));

    /// <summary>Loads <paramref name="jsonPath"/> and its safetensors file (the JSON's "weights" key, else NAME.safetensors).</summary>
    /// <exception cref="InvalidDataException">Malformed JSON, inconsistent sizes, or a missing, extra, mis-shaped or non-finite tensor (named).</exception>
    public static Unet1dModel Load(string jsonPath)
    {
        // Read as every model file's JSON is (StrictJson, as asd-mlp's): a regular file of bounded size, so a FIFO or a
        // link to /dev/zero is refused rather than read, and no duplicate key (a second "weights" would win silently).
        using JsonDocument doc = StrictJson.ReadFile(jsonPath, "asd-unet1d model");
        // The same rule as every model file: a name inside the model's folder, no absolute path, no '..', and no
        // symbolic link that leads out of the folder (a link to /dev/urandom must be refused, not read).
        string name = Path.GetFileNameWithoutExtension(jsonPath) + ".safetensors";
        if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("weights", out JsonElement w))
        {
            name = w.ValueKind == JsonValueKind.String ? w.GetString()! : throw new InvalidDataException($"{jsonPath}: 'weights' must be a file name.");
        }

        (Unet1dConfig config, SchedulerConfig scheduler) = Unet1dConfig.Parse(doc.RootElement, jsonPath);
        string weights = ModelFiles.ResolveInFolder(jsonPath, name, "weights");
        return Loaded(new Unet1dModel(Path.GetFileNameWithoutExtension(jsonPath), config, scheduler, SafeTensorsFile.Open(weights, $"{jsonPath}: 'weights'")));
    }

    /// <summary>
    /// A large model just read: the file's bytes it was read from (and, for an ONNX import, the graph's) are garbage as
    /// large as the weights; returning them to the system before the weights are packed keeps the peak of loading
    /// near two copies of the weights instead of three or four.
    /// </summary>
    private static Unet1dModel Loaded(Unet1dModel model)
    {
        if (model.Parameters * sizeof(float) >= ReleaseMemoryBytes)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return model;
    }

    /// <summary>
    /// Whether <paramref name="jsonPath"/> is a JSON object whose "format" is "asd-unet1d" (so a catalog can tell it
    /// from other JSON model formats); false for anything else, including unreadable files, which the caller reports.
    /// </summary>
    public static bool IsUnet1dJson(string jsonPath)
    {
        // Read as the loader reads (bounded, a regular file only: opening a FIFO here would block before any loader
        // could refuse it); the asd-mlp loader that takes every other .json reports what is wrong with it.
        try
        {
            using JsonDocument doc = StrictJson.ReadFile(jsonPath, "model");
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("format", out JsonElement f)
                && f.ValueKind == JsonValueKind.String && f.GetString() == Unet1dConfig.FormatName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A model from a configuration and weights already read (an ONNX export taken over by <see cref="Unet1dOnnx"/>).</summary>
    internal static Unet1dModel FromFile(string name, Unet1dConfig config, SchedulerConfig scheduler, SafeTensorsFile file, string importedFrom) =>
        Loaded(new(name, config, scheduler, file) { ImportedFrom = importedFrom });

    /// <summary>The ONNX file the weights were taken from, when the model was opened from one (<see cref="Unet1dOnnx"/>); else null.</summary>
    public string? ImportedFrom { get; private init; }

    /// <summary>
    /// For an ONNX file run natively: the relative difference of its outputs from ONNX Runtime's on the probe call it was
    /// checked with when opened (<c>Models.NativeOnnxCheck</c>); null when not checked.
    /// </summary>
    public double? CheckedAgainstRuntime { get; internal set; }

    /// <summary>For an ONNX file run natively, a line that says so, how it was checked, and how to run it through ONNX Runtime instead.</summary>
    public string? RuntimeSummary => ImportedFrom is { } onnx
        ? $"cpu (asd's native ConditionalUnet1D, weights taken from {onnx}, "
          + (CheckedAgainstRuntime is { } d ? $"outputs {d:G2} from ONNX Runtime's on a probe call" : "not checked against ONNX Runtime")
          + "; --onnx-native off, or onnx_native \"off\" in C and Python, runs ONNX Runtime)"
        : null;

    /// <summary>Builds a model from a JSON text and safetensors bytes already in memory (embedded models).</summary>
    public static Unet1dModel Load(string json, byte[] safetensors, string name)
    {
        using JsonDocument doc = StrictJson.Parse(json, name + ".json");
        (Unet1dConfig config, SchedulerConfig scheduler) = Unet1dConfig.Parse(doc.RootElement, name + ".json");
        return new Unet1dModel(name, config, scheduler, SafeTensorsFile.Parse(safetensors, name + ".safetensors"));
    }

    /// <summary>
    /// Parses an asd-unet1d JSON (UTF-8 bytes) against safetensors bytes in memory; the <c>"weights"</c> key is not
    /// opened. For the fuzzer and for validating a model without files.
    /// </summary>
    /// <exception cref="InvalidDataException">As <see cref="Load(string)"/>.</exception>
    public static Unet1dModel Parse(ReadOnlyMemory<byte> json, byte[] safetensors, string name)
    {
        using JsonDocument doc = StrictJson.Parse(json, name);
        (Unet1dConfig config, SchedulerConfig scheduler) = Unet1dConfig.Parse(doc.RootElement, name);
        return new Unet1dModel(Path.GetFileNameWithoutExtension(name), config, scheduler, SafeTensorsFile.Parse(safetensors, name + ": weights"));
    }

    internal static float[] ReadFloats(SafeTensorsFile file, string name, int count)
    {
        float[] v = file.ReadFloat32(name, count);
        for (int i = 0; i < v.Length; i++)
        {
            if (!float.IsFinite(v[i]))
            {
                throw new InvalidDataException($"{file.Source}: tensor '{name}' holds {v[i]} at element {i}; weights must be finite.");
            }
        }

        return v;
    }

    /// <summary>A tensor the architecture does not read means the file is for another network (or a mistyped configuration).</summary>
    private void CheckNoExtraTensors(SafeTensorsFile file)
    {
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (string n in LayerNames())
        {
            expected.Add(n + ".weight");
            expected.Add(n + ".bias");
        }

        foreach (string name in file.Tensors.Keys)
        {
            if (!expected.Contains(name))
            {
                throw new InvalidDataException(
                    $"{file.Source}: tensor '{name}' is not part of a ConditionalUnet1D with down_dims [{string.Join(", ", Config.DownDims)}]"
                    + (name.StartsWith("local_cond_encoder", StringComparison.Ordinal) && Config.LocalCondDim == 0
                        ? " (a local conditioning block: the JSON needs local_cond_dim, which tools/convert_diffusion_policy.py writes)"
                        : "")
                    + "; the configuration and the weights disagree.");
            }
        }
    }

    private IEnumerable<string> LayerNames() => Layers().Select(l => l.Name);

    /// <summary>Every weight tensor of the model (the unused local block's too).</summary>
    private IEnumerable<Unet1dWeight> Weights() => Layers().Where(l => l.Weight is not null).Select(l => l.Weight!);

    /// <summary>Every layer the file holds, in file order: its name and its weight tensor (none for a group norm).</summary>
    private IEnumerable<(string Name, Unet1dWeight? Weight)> Layers()
    {
        yield return (StepHidden.Name, StepHidden.Weight);
        yield return (StepOut.Name, StepOut.Weight);
        foreach (Unet1dBlock b in LocalCondUnused is { } unused ? Blocks().Append(unused) : Blocks())
        {
            yield return (b.Conv1.Name, b.Conv1.Weight);
            yield return (b.Norm1.Name, null);
            yield return (b.Conv2.Name, b.Conv2.Weight);
            yield return (b.Norm2.Name, null);
            yield return (b.Cond.Name, b.Cond.Weight);
            if (b.Residual is { } r)
            {
                yield return (r.Name, r.Weight);
            }
        }

        foreach (Unet1dDown l in Down)
        {
            if (l.Downsample is { } s)
            {
                yield return (s.Name, s.Weight);
            }
        }

        foreach (Unet1dUp l in Up)
        {
            yield return (l.Upsample.Name, l.Upsample.Weight);
        }

        yield return (FinalConv.Name, FinalConv.Weight);
        yield return (FinalNorm.Name, null);
        yield return (FinalOut.Name, FinalOut.Weight);
    }

    /// <summary>
    /// FLOPs of one sample's forward pass: 2 x the multiply-adds it needs in every convolution and linear layer. A
    /// convolution's taps that fall on the zero padding at the sequence's ends are not counted (a quarter of the
    /// multiply-adds at kernel 5 over horizons 16, 8 and 4): calls of several samples skip them
    /// (<see cref="Unet1dDenoiser.ByPositionMinSamples"/>), and the bounds that <c>asd bench</c> derives from this count
    /// must not credit an engine with work that multiplies zeros.
    /// </summary>
    public long FlopsPerSample
    {
        get
        {
            int[] kernel = [.. Enumerable.Range(-(Config.KernelSize / 2), Config.KernelSize)];
            long macs = (long)StepHidden.In * StepHidden.Out + ((long)StepOut.In * StepOut.Out) + ((long)Config.CondDim * CondWidth);
            if (LocalCond is { } local)
            {
                macs += BlockMacs(local, Config.Horizon);
            }

            for (int i = 0; i < Down.Count; i++)
            {
                int h = Config.LengthAt(i);
                macs += BlockMacs(Down[i].First, h) + BlockMacs(Down[i].Second, h);
                if (Down[i].Downsample is { } s)
                {
                    macs += (long)s.In * s.Out * Taps(h, h / 2, 2, [-1, 0, 1]);
                }
            }

            int hm = Config.LengthAt(Config.Levels - 1);
            macs += Mid.Sum(b => BlockMacs(b, hm));
            for (int i = 0; i < Up.Count; i++)
            {
                int h = Config.LengthAt(Config.Levels - 1 - i), c = Up[i].Upsample.Channels;
                macs += BlockMacs(Up[i].First, h) + BlockMacs(Up[i].Second, h);
                macs += (long)c * c * (Taps(h, h, 1, Unet1dUpsample.EvenOffsets) + Taps(h, h, 1, Unet1dUpsample.OddOffsets));
            }

            macs += ((long)FinalConv.In * FinalConv.Out * Taps(Config.Horizon, Config.Horizon, 1, kernel)) + ((long)Config.Horizon * FinalOut.In * FinalOut.Out);
            return 2 * macs;

            long BlockMacs(Unet1dBlock b, int h) =>
                ((long)b.In * b.Out * Taps(h, h, 1, kernel)) + ((long)b.Out * b.Out * Taps(h, h, 1, kernel)) + (b.Residual is null ? 0 : (long)h * b.In * b.Out);

            // (output position, tap) pairs whose input position lies inside the sequence.
            static long Taps(int inLength, int outLength, int stride, int[] offsets)
            {
                long count = 0;
                for (int t = 0; t < outLength; t++)
                {
                    foreach (int o in offsets)
                    {
                        count += (uint)((t * stride) + o) < (uint)inLength ? 1 : 0;
                    }
                }

                return count;
            }
        }
    }

    /// <summary>Bytes of packed weights one forward pass streams on <paramref name="path"/> (what a small batch must read).</summary>
    public long PackedWeightBytes(IsaPath path) => PackedFor(path).Bytes;

    /// <inheritdoc/>
    public long StreamedWeightBytes => PackedWeightBytes(Isa.Active);

    /// <inheritdoc/>
    public string WeightPrecision
    {
        get
        {
            int half = 0, all = 0;
            foreach (Unet1dBlock b in Blocks())
            {
                foreach (Unet1dWeight w in new[] { b.Conv1.Weight, b.Conv2.Weight })
                {
                    all++;
                    half += w.IsHalf ? 1 : 0;
                }
            }

            return half == 0 ? "float32" : half == all ? "float16" : "float16 and float32";
        }
    }

    /// <summary>
    /// The weights packed for <paramref name="path"/> (packed on first request, then shared). The first packing is
    /// from the tensors, which are then dropped: a model holds its weights once, packed (the 62M-parameter deployment
    /// size's process stayed at 1.0 GB with both, for 249 MB of weights); another path's packing reads the first one.
    /// </summary>
    internal Unet1dPacked PackedFor(IsaPath path)
    {
        lock (_packed)
        {
            if (!_packed.TryGetValue(path, out Unet1dPacked? packed))
            {
                Unet1dPacked? first = _packed.Values.FirstOrDefault();
                packed = first is null ? new Unet1dPacked(this, path) : new Unet1dPacked(first, path);
                _packed[path] = packed;
                if (first is null)
                {
                    foreach (Unet1dWeight w in Weights())
                    {
                        w.Release();
                    }

                    if (packed.Bytes >= ReleaseMemoryBytes)
                    {
                        // The tensors, the file's bytes they were read from and the packing's garbage are as large as the
                        // weights: return them to the system now rather than hold the peak for the process's life.
                        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    }
                }
            }

            return packed;
        }
    }

    /// <summary>Packed weights from which packing returns the garbage of loading to the system at once (64 MB).</summary>
    internal const long ReleaseMemoryBytes = 64L << 20;


    /// <inheritdoc/>
    public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options) =>
        options.GuidanceScale is null
            ? new Unet1dDenoiser(this, options.MaxBatchRows, options.Pool, RowSplitRows, oneSampleColumns: OneSampleColumns)
            : throw new InvalidOperationException($"Model '{Name}' defines no null condition for guidance.");

    /// <summary>A denoiser with its own scratch for up to <paramref name="maxRows"/> samples per internal pass.</summary>
    public Unet1dDenoiser CreateDenoiser(int maxRows = 64, CorePool? pool = null) => new(this, maxRows, pool, RowSplitRows, oneSampleColumns: OneSampleColumns);

    /// <summary>
    /// Calls of at least this many samples on a pool of two or more threads give each thread whole samples (a row
    /// split) rather than a share of every GEMM's columns (<see cref="int.MaxValue"/> turns it off, for benches).
    /// </summary>
    internal int RowSplitRows { get; set; } = Unet1dDenoiser.DefaultRowSplitRows;

    /// <summary>
    /// How a denoiser with a row split from one sample runs one-sample calls: null times both ways when it is made
    /// (<see cref="Unet1dDenoiser.OneSampleMode"/>), true splits the columns, false runs one lane (tests, benches).
    /// </summary>
    internal bool? OneSampleColumns { get; set; }

    /// <summary>
    /// How one-sample calls run per pool size and ISA path (<see cref="Unet1dDenoiser.OneSampleMode"/>): a running
    /// choice (<see cref="Asd.Native.Denoising.TwoWayChoice"/>) started from a probe by the model's first denoiser that
    /// asks and shared by every later one, so all samplers of the model run one-sample calls the same way and follow the
    /// machine together. Each denoiser had timed its own, and on a
    /// near-tie two samplers of one model chose differently: in an `asd bench` of the trained policy (Zen 4) DDPM's
    /// denoiser ran one lane (its probe: 529 us, against 524 with the columns split) and ASD's the columns, so ASD at
    /// L = 1, the same calls as DDPM, read 1.32x faster than DDPM, and every ASD ratio was inflated by that much.
    /// </summary>
    internal Asd.Native.Denoising.ProbedOnce<(int Threads, Asd.Simd.IsaPath Path), (Asd.Native.Denoising.TwoWayChoice? Choice, string Mode)> OneSampleChoice { get; } = new();

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}

/// <summary>Every weight matrix of a <see cref="Unet1dModel"/> packed for one ISA path.</summary>
internal sealed class Unet1dPacked
{
    private readonly Dictionary<object, PackedMatrix> _matrices = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<object, PackedMatrix> _oddMatrices = new(ReferenceEqualityComparer.Instance);

    public Unet1dPacked(Unet1dModel model, IsaPath path)
    {
        Path = path;
        Add(model.StepHidden, model.StepHidden.Pack(path));
        Add(model.StepOut, model.StepOut.Pack(path));
        foreach (Unet1dBlock b in model.Blocks())
        {
            Add(b.Conv1, b.Conv1.Pack(path));
            Add(b.Conv2, b.Conv2.Pack(path));
            if (b.Residual is { } r)
            {
                Add(r, r.Pack(path));
            }
        }

        foreach (Unet1dDown l in model.Down)
        {
            if (l.Downsample is { } s)
            {
                Add(s, s.Pack(path));
            }
        }

        foreach (Unet1dUp l in model.Up)
        {
            Add(l.Upsample, l.Upsample.Pack(false, path));
            PackedMatrix odd = l.Upsample.Pack(true, path);
            _oddMatrices[l.Upsample] = odd;
            Bytes += odd.Bytes;
        }

        Add(model.FinalConv, model.FinalConv.Pack(path));
        Add(model.FinalOut, model.FinalOut.Pack(path));
        Cond = PackCond(model, path, out float[] bias);
        CondBias = bias;
        Bytes += Cond.Bytes;
    }

    /// <summary>The same weights packed for <paramref name="path"/>, read from <paramref name="source"/>'s (same bits).</summary>
    public Unet1dPacked(Unet1dPacked source, IsaPath path)
    {
        Path = path;
        foreach ((object layer, PackedMatrix m) in source._matrices)
        {
            Add(layer, m.Repack(path));
        }

        foreach ((object layer, PackedMatrix m) in source._oddMatrices)
        {
            PackedMatrix odd = m.Repack(path);
            _oddMatrices[layer] = odd;
            Bytes += odd.Bytes;
        }

        Cond = source.Cond.Repack(path);
        CondBias = source.CondBias;
        Bytes += Cond.Bytes;
    }

    public IsaPath Path { get; }

    /// <summary>Every block's cond_encoder Linear side by side: [cond_dim, sum of widths], one GEMM for all FiLM parameters.</summary>
    public PackedMatrix Cond { get; }

    public float[] CondBias { get; }

    public long Bytes { get; private set; }

    public PackedMatrix this[object layer] => _matrices[layer];

    /// <summary>The transposed convolution's GEMM weights for the even or the odd output positions.</summary>
    public PackedMatrix Upsample(Unet1dUpsample layer, bool odd) => odd ? _oddMatrices[layer] : _matrices[layer];

    private void Add(object key, PackedMatrix m)
    {
        _matrices[key] = m;
        Bytes += m.Bytes;
    }

    private static PackedMatrix PackCond(Unet1dModel model, IsaPath path, out float[] bias)
    {
        int k = model.Config.CondDim, n = model.CondWidth;
        Unet1dBlock[] blocks = [.. model.Blocks()];
        bias = new float[n];
        bool half = blocks.All(b => b.Cond.Weight.IsHalf);
        var f = half ? [] : new float[(long)k * n];
        var h = half ? new ushort[(long)k * n] : [];
        foreach (Unet1dBlock b in blocks)
        {
            Unet1dLinear l = b.Cond;
            l.Bias.CopyTo(bias, b.CondOffset);
            for (int o = 0; o < l.Out; o++)
            {
                for (int kk = 0; kk < k; kk++)
                {
                    long dst = ((long)kk * n) + b.CondOffset + o;
                    int src = (o * k) + kk;
                    if (half)
                    {
                        h[dst] = l.Weight.Half[src];
                    }
                    else
                    {
                        f[dst] = l.Weight[src];
                    }
                }
            }
        }

        return half ? PackedMatrix.PackHalf(h, k, n, outputMajor: false, path) : PackedMatrix.Pack(f, k, n, outputMajor: false, path);
    }
}
