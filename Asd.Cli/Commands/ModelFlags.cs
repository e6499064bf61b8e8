using Asd.Native.Schedules;

namespace Asd.Cli.Commands;

/// <summary>
/// The flags that choose and configure a model, shared by <c>asd sample</c> and <c>asd bench</c> (one option set, so
/// whatever can be sampled can be benched): the model, its device and ONNX port names, guidance, the threads, and the
/// scheduler overrides a bare .onnx needs.
/// </summary>
internal sealed class ModelFlags
{
    public Option<string> Model { get; } = new("--model") { Description = "Model: builtin:policy (default), builtin:mixture, builtin:mixture?dim=32, a model folder (model.onnx + scheduler_config.json [+ asd.json]), a .onnx file or an asd-mlp .json.", DefaultValueFactory = _ => ModelCatalog.DefaultModel };

    public Option<int> Threads { get; } = new("--threads") { Description = "Threads for the denoiser (0 = one per core).", DefaultValueFactory = _ => 0 };

    public Option<double?> Guidance { get; } = new("--guidance") { Description = "Classifier-free guidance scale w (models with a null condition)." };

    public Option<string?> GuidanceNull { get; } = new("--guidance-null") { Description = "Null condition for guidance: zeros, class:ID, value:a,b,..., or input:NAME (overrides asd.json)." };

    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or auto (ONNX models; auto falls back to the CPU and says so).", DefaultValueFactory = _ => "cpu" };

    public Option<string> BatchBuckets { get; } = new("--batch-buckets") { Description = "ONNX models: pad each call up to a power-of-two batch, one session per size (auto: on for CUDA, whose convolutions re-plan on every change of shape; on; off).", DefaultValueFactory = _ => "auto" };

    public Option<string> RowParallel { get; } = new("--row-parallel") { Description = "ONNX models on the CPU: split each call's rows across the threads, a one-thread session per thread (on; off: intra-op threads).", DefaultValueFactory = _ => "off" };

    public Option<string> CudaGraphs { get; } = new("--cuda-graphs") { Description = "ONNX models on CUDA: replay a captured CUDA graph per batch bucket (on; off, the default until measured).", DefaultValueFactory = _ => "off" };

    public Option<string> OnnxNative { get; } = new("--onnx-native") { Description = "ONNX exports of diffusion_policy's ConditionalUnet1D: auto runs a recognised one on asd's native kernels unless an ONNX Runtime setting is given; on requires it; off always uses ONNX Runtime.", DefaultValueFactory = _ => "auto" };

    public Option<string?> OnnxSample { get; } = new("--onnx-sample") { Description = "Name of the ONNX input holding the noisy sample." };

    public Option<string?> OnnxTimestep { get; } = new("--onnx-timestep") { Description = "Name of the ONNX timestep input." };

    public Option<string[]> OnnxCond { get; } = new("--onnx-cond") { Description = "Names of the ONNX conditioning inputs, in order (repeat the flag).", AllowMultipleArgumentsPerToken = true };

    public Option<string?> OnnxOutput { get; } = new("--onnx-output") { Description = "Name of the ONNX output to use." };

    public Option<int?> TrainSteps { get; } = new("--train-steps") { Description = "Override num_train_timesteps." };

    public Option<string?> BetaSchedule { get; } = new("--beta-schedule") { Description = "Override beta_schedule: linear, scaled_linear, squaredcos_cap_v2, sigmoid." };

    public Option<double?> BetaStart { get; } = new("--beta-start") { Description = "Override beta_start." };

    public Option<double?> BetaEnd { get; } = new("--beta-end") { Description = "Override beta_end." };

    public Option<string?> Prediction { get; } = new("--prediction-type") { Description = "Override prediction_type: epsilon, v_prediction, sample." };

    public Option<string?> Variance { get; } = new("--variance-type") { Description = "Override variance_type: fixed_small, fixed_large." };

    public Option<string?> Spacing { get; } = new("--timestep-spacing") { Description = "Override timestep_spacing: leading, trailing, linspace." };

    public Option<int?> StepsOffset { get; } = new("--steps-offset") { Description = "Override steps_offset." };

    public Option<bool?> Clip { get; } = new("--clip-sample") { Description = "Override clip_sample (clamp x0 estimates)." };

    public Option<double?> ClipRange { get; } = new("--clip-sample-range") { Description = "Override clip_sample_range." };

    /// <summary>Adds every flag to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        Option[] all =
        [
            Model, Threads, TrainSteps, BetaSchedule, BetaStart, BetaEnd, Prediction, Variance, Spacing, StepsOffset, Clip, ClipRange,
            Guidance, GuidanceNull, Device, BatchBuckets, RowParallel, CudaGraphs, OnnxNative, OnnxSample, OnnxTimestep, OnnxCond, OnnxOutput,
        ];
        foreach (Option o in all)
        {
            command.Options.Add(o);
        }
    }

    /// <summary>--threads resolved: 0 means one per core.</summary>
    public int ThreadCount(ParseResult parse) => CliThreads.Resolve(parse.GetValue(Threads));

    /// <summary>Opens the model the flags describe.</summary>
    public IDiffusionModel Open(ParseResult parse, int threads)
    {
        RefuseOnnxOnlyFlags(parse);
        string[] condNames = parse.GetValue(OnnxCond) ?? [];
        var onnx = new OnnxIoConfig
        {
            Sample = parse.GetValue(OnnxSample),
            Timestep = parse.GetValue(OnnxTimestep),
            Cond = condNames.Length > 0 ? condNames : null,
            Output = parse.GetValue(OnnxOutput),
            Guidance = parse.GetValue(GuidanceNull) is string gn ? new GuidanceConfig(SampleCommand.ParseNullCondition(gn), parse.GetValue(Guidance) ?? 1.0) : null,
        };
        return ModelCatalog.Open(parse.GetValue(Model)!, new ModelOpenOptions { Device = parse.GetValue(Device)!, Threads = threads, Onnx = onnx, BatchBuckets = ParseBuckets(parse.GetValue(BatchBuckets)!),
            RowParallel = ParseOnOff(parse.GetValue(RowParallel)!, "--row-parallel"), CudaGraphs = ParseOnOff(parse.GetValue(CudaGraphs)!, "--cuda-graphs"),
            NativeOnnx = ParseAutoOnOff(parse.GetValue(OnnxNative)!, "--onnx-native") });
    }

    /// <summary>
    /// The device, and the flags that only ONNX models take, checked before a model that is not one opens: a built-in or
    /// an asd-mlp or asd-unet1d .json ignored them, so --device cuda (or gpu) sampled on the CPU without a word. C and
    /// Python refuse device "cuda" on those models too (Asd.Interop's ModelHandle); --onnx-native on is kept (they run
    /// on asd's own engine, which is what it asks for).
    /// </summary>
    private void RefuseOnnxOnlyFlags(ParseResult parse)
    {
        string spec = parse.GetValue(Model)!, device = parse.GetValue(Device)!;
        string d = device.Trim().ToLowerInvariant();
        if (d is not ("cpu" or "cuda" or "auto"))
        {
            throw new ArgumentException($"--device {device}: expected cpu, cuda or auto.");
        }

        if (ModelCatalog.IsOnnx(spec))
        {
            return;
        }

        if (d == "cuda")
        {
            throw new ArgumentException($"--device {device}: model '{spec}' runs on the CPU only (a device is chosen for ONNX models); use --device cpu or auto.");
        }

        (string Flag, bool Given)[] onnxOnly =
        [
            ("--batch-buckets on", ParseBuckets(parse.GetValue(BatchBuckets)!) == true),
            ("--row-parallel on", ParseOnOff(parse.GetValue(RowParallel)!, "--row-parallel")),
            ("--cuda-graphs on", ParseOnOff(parse.GetValue(CudaGraphs)!, "--cuda-graphs")),
            ("--onnx-sample", parse.GetValue(OnnxSample) is not null),
            ("--onnx-timestep", parse.GetValue(OnnxTimestep) is not null),
            ("--onnx-cond", parse.GetValue(OnnxCond) is { Length: > 0 }),
            ("--onnx-output", parse.GetValue(OnnxOutput) is not null),
            ("--guidance-null", parse.GetValue(GuidanceNull) is not null),
        ];
        foreach ((string flag, bool given) in onnxOnly)
        {
            if (given)
            {
                throw new ArgumentException($"{flag}: model '{spec}' is not an ONNX model; the flag sets how an ONNX model (a .onnx file or a model folder) is run.");
            }
        }
    }

    /// <summary>
    /// A note on <paramref name="stderr"/> when the model is a bare .onnx and no schedule flag was given: its schedule is
    /// then diffusers' default, and a model trained with another samples wrong values without any error (the trained
    /// ConditionalUnet1D policy: 0% reach). A scheduler_config.json beside the file is read only for a model folder, so
    /// the note says to pass the folder when there is one. The native ConditionalUnet1D import notes its own case.
    /// </summary>
    public void NoteDefaultSchedule(ParseResult parse, IDiffusionModel model, TextWriter stderr)
    {
        string spec = parse.GetValue(Model)!;
        if (!spec.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || !File.Exists(spec) || Overrides(parse) != ScheduleOverrides.None
            || model is Asd.Native.Backends.Unet1d.Unet1dModel { ImportedFrom: not null })
        {
            return;
        }

        SchedulerConfig d = model.DefaultScheduler;
        string folder = Path.GetDirectoryName(Path.GetFullPath(spec))!;
        string advice = File.Exists(Path.Combine(folder, "scheduler_config.json")) && Path.GetFileName(spec) == "model.onnx"
            ? $"a scheduler_config.json sits beside it, but only a model folder reads one: pass --model {folder}"
            : "if the model was trained with another, pass --train-steps, --beta-schedule, --prediction-type, ... or give a model folder with its scheduler_config.json";
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"asd: note: {spec} is a bare .onnx, so its noise schedule is diffusers' default ({d.NumTrainTimesteps} train steps, {d.BetaSchedule.ToString().ToLowerInvariant()} betas {d.BetaStart}..{d.BetaEnd}, {d.PredictionType.ToString().ToLowerInvariant()} prediction); {advice}."));
    }

    /// <summary>The scheduler overrides, as the engine's one record (applied and checked there).</summary>
    public ScheduleOverrides Overrides(ParseResult parse) => new()
    {
        TrainSteps = parse.GetValue(TrainSteps),
        BetaSchedule = parse.GetValue(BetaSchedule),
        BetaStart = parse.GetValue(BetaStart),
        BetaEnd = parse.GetValue(BetaEnd),
        PredictionType = parse.GetValue(Prediction),
        VarianceType = parse.GetValue(Variance),
        TimestepSpacing = parse.GetValue(Spacing),
        StepsOffset = parse.GetValue(StepsOffset),
        ClipSample = parse.GetValue(Clip),
        ClipSampleRange = parse.GetValue(ClipRange),
    };

    internal static bool ParseOnOff(string text, string flag) => text.Trim().ToLowerInvariant() switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{flag} must be on or off (got '{text}')."),
    };

    internal static bool? ParseBuckets(string text) => ParseAutoOnOff(text, "--batch-buckets");

    internal static bool? ParseAutoOnOff(string text, string flag) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => null,
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{flag} must be auto, on or off (got '{text}')."),
    };
}
