namespace Asd.Native.Backends.Unet1d;

/// <summary>
/// The architecture of an asd-unet1d model (docs/unet1d-format.md): Chi et al.'s ConditionalUnet1D (Diffusion Policy,
/// RSS 2023) with the constructor arguments of the real-stanford/diffusion_policy implementation, plus the horizon.
/// </summary>
public sealed record Unet1dConfig
{
    /// <summary>The format name in the JSON's <c>format</c> field.</summary>
    public const string FormatName = "asd-unet1d";

    /// <summary>Action steps per sample (the sequence length the convolutions run over).</summary>
    public required int Horizon { get; init; }

    /// <summary>Values per action step (the U-Net's input and output channels).</summary>
    public required int InputDim { get; init; }

    /// <summary>Global conditioning values per sample (the observation features; diffusion_policy's global_cond), 0 without.</summary>
    public int GlobalCondDim { get; init; }

    /// <summary>
    /// Local conditioning values per action step (diffusion_policy's <c>local_cond_dim</c>), 0 without: features per
    /// position [horizon, local_cond_dim] that a residual block of their own maps to down_dims[0] channels, added after
    /// the first block of the finest level.
    /// </summary>
    public int LocalCondDim { get; init; }

    /// <summary>
    /// Conditioning values per sample as the engine takes them: the global conditioning, then the local conditioning
    /// position by position (diffusion_policy's local_cond [B, T, local_cond_dim], each sample's rows in order); the
    /// other way round when <see cref="LocalCondFirst"/>.
    /// </summary>
    public int ConditionSize => GlobalCondDim + (Horizon * LocalCondDim);

    /// <summary>
    /// The local values come first in a sample's conditioning: an ONNX export whose local_cond input precedes its global
    /// conditioning input (diffusion_policy's forward order), whose conditioning row ONNX Runtime assembles in input
    /// order, so that both engines read the same row alike. Never set by the JSON format (global first).
    /// </summary>
    public bool LocalCondFirst { get; init; }

    /// <summary>The most conditioning values per sample (<see cref="ConditionSize"/>) a configuration may ask for.</summary>
    public const int MaxConditionSize = 1 << 20;

    /// <summary>Width of the diffusion-step embedding (and of its MLP's output).</summary>
    public required int StepEmbedDim { get; init; }

    /// <summary>Channels at each resolution level, finest first.</summary>
    public required IReadOnlyList<int> DownDims { get; init; }

    /// <summary>Taps of the residual blocks' convolutions (odd; padding kernel_size / 2).</summary>
    public required int KernelSize { get; init; }

    /// <summary>Groups of the residual blocks' group norms.</summary>
    public required int Groups { get; init; }

    /// <summary>Groups of the final convolution block's norm (diffusion_policy leaves it at its default, 8).</summary>
    public int FinalGroups { get; init; } = 8;

    /// <summary>FiLM with a predicted scale and shift per channel (else a shift only).</summary>
    public bool CondPredictScale { get; init; }

    /// <summary>Epsilon of every group norm (PyTorch's default).</summary>
    public double GroupNormEpsilon { get; init; } = 1e-5;

    /// <summary>The conditioning every residual block's FiLM layer reads: the step embedding, then the global conditioning.</summary>
    public int CondDim => StepEmbedDim + GlobalCondDim;

    /// <summary>Number of resolution levels.</summary>
    public int Levels => DownDims.Count;

    /// <summary>Positions at level <paramref name="level"/> (the horizon halves at each level but the last).</summary>
    public int LengthAt(int level) => Horizon >> level;

    private static readonly HashSet<string> Keys =
    [
        "format", "version", "horizon", "input_dim", "global_cond_dim", "local_cond_dim", "diffusion_step_embed_dim", "down_dims", "kernel_size",
        "n_groups", "final_n_groups", "cond_predict_scale", "group_norm_eps", "prediction_type", "scheduler", "weights", "source",
    ];

    /// <summary>Parses and checks the JSON object; the scheduler comes back with the model's prediction type.</summary>
    /// <exception cref="InvalidDataException">A missing, unknown or inconsistent key; the message names it.</exception>
    public static (Unet1dConfig Config, SchedulerConfig Scheduler) Parse(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("format", out JsonElement f) || f.ValueKind != JsonValueKind.String || f.GetString() != FormatName
            || !root.TryGetProperty("version", out JsonElement v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != 1)
        {
            throw new InvalidDataException($"{source}: not an asd-unet1d model (expected \"format\": \"{FormatName}\" and \"version\": 1; see docs/unet1d-format.md).");
        }

        foreach (JsonProperty p in root.EnumerateObject())
        {
            if (!Keys.Contains(p.Name))
            {
                throw new InvalidDataException($"{source}: unknown key '{p.Name}'.");
            }
        }

        int[] down = root.TryGetProperty("down_dims", out JsonElement d) && d.ValueKind == JsonValueKind.Array
            ? [.. d.EnumerateArray().Select(e => Int(e, "down_dims", source))]
            : throw new InvalidDataException($"{source}: 'down_dims' (a list of channel counts) is missing.");
        var config = new Unet1dConfig
        {
            Horizon = Required(root, "horizon", source),
            InputDim = Required(root, "input_dim", source),
            GlobalCondDim = Optional(root, "global_cond_dim", 0, source),
            LocalCondDim = Optional(root, "local_cond_dim", 0, source),
            StepEmbedDim = Required(root, "diffusion_step_embed_dim", source),
            DownDims = down,
            KernelSize = Required(root, "kernel_size", source),
            Groups = Required(root, "n_groups", source),
            FinalGroups = Optional(root, "final_n_groups", 8, source),
            CondPredictScale = root.TryGetProperty("cond_predict_scale", out JsonElement s)
                && (s.ValueKind is JsonValueKind.True or JsonValueKind.False ? s.GetBoolean() : throw new InvalidDataException($"{source}: 'cond_predict_scale' must be true or false.")),
            GroupNormEpsilon = root.TryGetProperty("group_norm_eps", out JsonElement eps)
                ? (eps.ValueKind == JsonValueKind.Number && eps.TryGetDouble(out double e) && e is > 0 and < 1 ? e : throw new InvalidDataException($"{source}: 'group_norm_eps' must be a number in (0, 1)."))
                : 1e-5,
        };
        config.Validate(source);

        PredictionType prediction = root.TryGetProperty("prediction_type", out JsonElement pt) && pt.ValueKind == JsonValueKind.String
            ? ScheduleNames.ParsePrediction(pt.GetString()!)
            : throw new InvalidDataException($"{source}: 'prediction_type' (epsilon, v_prediction or sample) is missing.");
        SchedulerConfig scheduler = root.TryGetProperty("scheduler", out JsonElement sc)
            ? SchedulerConfigJson.Parse(sc, source + " scheduler")
            : new SchedulerConfig { ClipSample = true };
        return (config, scheduler with { PredictionType = prediction });
    }

    /// <summary>Checks the sizes against each other (the shapes of the weights are checked when they are read).</summary>
    /// <exception cref="InvalidDataException">An inconsistent size; the message names the key.</exception>
    public void Validate(string source)
    {
        void Fail(string message) => throw new InvalidDataException($"{source}: {message}");
        const int limit = 1 << 16;
        if (InputDim is < 1 or > limit || GlobalCondDim is < 0 or > limit || StepEmbedDim is < 4 or > limit || StepEmbedDim % 2 != 0)
        {
            Fail($"input_dim ({InputDim}) must be in [1, {limit}], global_cond_dim ({GlobalCondDim}) in [0, {limit}], diffusion_step_embed_dim ({StepEmbedDim}) even and in [4, {limit}].");
        }

        if (DownDims.Count is < 1 or > 8 || DownDims.Any(c => c is < 1 or > limit))
        {
            Fail($"down_dims must list 1 to 8 channel counts in [1, {limit}] (got [{string.Join(", ", DownDims)}]).");
        }

        if (KernelSize is < 1 or > 63 || KernelSize % 2 == 0)
        {
            Fail($"kernel_size must be odd and in [1, 63] (got {KernelSize}).");
        }

        if (Groups < 1 || DownDims.Any(c => c % Groups != 0))
        {
            Fail($"n_groups ({Groups}) must divide every entry of down_dims [{string.Join(", ", DownDims)}].");
        }

        if (FinalGroups < 1 || DownDims[0] % FinalGroups != 0)
        {
            Fail($"final_n_groups ({FinalGroups}) must divide down_dims[0] ({DownDims[0]}).");
        }

        int unit = 1 << (DownDims.Count - 1);
        if (Horizon is < 1 or > limit || Horizon % unit != 0)
        {
            Fail($"horizon ({Horizon}) must be a positive multiple of {unit} (it halves at each of the {DownDims.Count - 1} downsampling steps and must double back).");
        }

        if (LocalCondDim is < 0 or > limit)
        {
            Fail($"local_cond_dim ({LocalCondDim}) must be in [0, {limit}].");
        }

        if (GroupNormEpsilon is not (> 0 and < 1))
        {
            // An ONNX export's epsilon attribute reaches here unchecked: NaN or a negative one would run to garbage.
            Fail($"group_norm_eps ({GroupNormEpsilon.ToString(System.Globalization.CultureInfo.InvariantCulture)}) must be a number in (0, 1).");
        }

        if (GlobalCondDim + ((long)Horizon * LocalCondDim) > MaxConditionSize)
        {
            Fail($"global_cond_dim + horizon x local_cond_dim ({GlobalCondDim} + {Horizon} x {LocalCondDim}) must be at most {MaxConditionSize} conditioning values per sample.");
        }

        // One sample's widest convolution input, unfolded for the GEMM (horizon positions x kernel_size taps x channels,
        // an up block's input being two levels' channels), must fit one buffer (ResourceLimits.MaxBatchFloats): sizes
        // each within its own range multiplied past 2^31 and crashed the denoiser's allocation.
        long channels = Math.Max(2L * DownDims.Max(), LocalCondDim);
        if ((long)Horizon * KernelSize * channels > Validation.ResourceLimits.MaxBatchFloats)
        {
            Fail($"horizon x kernel_size x the widest convolution input ({Horizon} x {KernelSize} x {channels}, twice the largest down_dims entry or local_cond_dim) must be at most {Validation.ResourceLimits.MaxBatchFloats} values per sample.");
        }
    }

    private static int Required(JsonElement root, string key, string source) =>
        root.TryGetProperty(key, out JsonElement e) ? Int(e, key, source) : throw new InvalidDataException($"{source}: '{key}' is missing.");

    private static int Optional(JsonElement root, string key, int fallback, string source) =>
        root.TryGetProperty(key, out JsonElement e) ? Int(e, key, source) : fallback;

    private static int Int(JsonElement e, string key, string source) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw new InvalidDataException($"{source}: '{key}' must hold integers (got {e.GetRawText()}).");
}
