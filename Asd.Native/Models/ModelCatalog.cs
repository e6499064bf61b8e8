using Asd.Native.Backends.Analytic;
using Asd.Native.Backends.Mlp;
using Asd.Native.Backends.Onnx;

namespace Asd.Native.Models;

/// <summary>Options for opening a model.</summary>
public sealed record ModelOpenOptions
{
    /// <summary>"cpu" (default), "cuda" or "auto" (ONNX models only; auto falls back to the CPU and says why).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Threads for the model (0 = one per core).</summary>
    public int Threads { get; init; }

    /// <summary>
    /// ONNX models with a dynamic batch: pad every call up to a power-of-two row count and give each such count a
    /// session of its own. Null (default): on for CUDA, off for the CPU. Why: ONNX Runtime's CUDA convolutions rebuild
    /// their cuDNN execution plan whenever a call's input shape differs from the previous call's on that session, and
    /// ASD's verification batches change size from round to round (and DDPM's single rows sit between them). With a
    /// session per size, each session always sees one shape; the price is a copy of the weights per size used (at most
    /// log2(max rows) + 1) and padded rows.
    /// </summary>
    public bool? BatchBuckets { get; init; }

    /// <summary>
    /// ONNX models on CUDA: ONNX Runtime's <c>enable_cuda_graph</c>, one captured graph per batch-bucket session, with
    /// inputs and outputs in fixed device buffers that each call copies into and out of. Off by default until measured
    /// on a GPU (issue 18). Needs <c>Device</c> cuda (or auto, where a CPU fallback ignores it) and batch buckets.
    /// </summary>
    public bool CudaGraphs { get; init; }

    /// <summary>
    /// ONNX models on the CPU with a dynamic batch: split each call's rows across the core pool, each pool thread with
    /// a one-thread ONNX Runtime session of its own (prepacked weights shared), every row evaluated alone, so outputs
    /// are bit-identical for any thread count (<c>OnnxRowParallelDenoiser</c>). Off: one session with intra-op threads.
    /// </summary>
    public bool RowParallel { get; init; }

    /// <summary>Tests only: run the CPU provider through a device I/O path, with CPU memory standing in for the device.</summary>
    internal Backends.Onnx.OnnxIoPath? ForceIoPath { get; init; }

    /// <summary>Role overrides for ONNX models (CLI flags; they win over asd.json).</summary>
    public OnnxIoConfig? Onnx { get; init; }

    /// <summary>
    /// ONNX exports of diffusion_policy's ConditionalUnet1D (<see cref="Backends.Unet1d.Unet1dOnnx"/>): null (default)
    /// runs a recognised one on the native engine when nothing asks for ONNX Runtime (the CPU, no port or guidance
    /// overrides, no asd.json, no row-parallel sessions or batch buckets), else through ONNX Runtime; true requires the
    /// native engine (an error says why it cannot); false always uses ONNX Runtime.
    /// </summary>
    public bool? NativeOnnx { get; init; }

    /// <summary>
    /// An ONNX ConditionalUnet1D taken over by the native engine is first run once beside ONNX Runtime on a probe call,
    /// and stays on ONNX Runtime (or, with <see cref="NativeOnnx"/> true, is an error) when the two disagree: the import
    /// recognises the network by its weights and never runs the graph. Null (default): the environment variable
    /// ASD_ONNX_NATIVE_CHECK (on unless "off"); false skips the check (a file already checked; it costs a second
    /// opening of the file, by ONNX Runtime).
    /// </summary>
    public bool? CheckNativeOnnx { get; init; }
}

/// <summary>
/// Opens models from spec strings: <c>builtin:mixture</c>, <c>builtin:mixture?dim=32</c>, an asd-mlp or asd-unet1d
/// <c>.json</c> (told apart by its <c>format</c> field), an
/// ONNX model folder (model.onnx + scheduler_config.json + optional asd.json) or a bare <c>.onnx</c> file.
/// </summary>
public static class ModelCatalog
{
    /// <summary>The built-in model names.</summary>
    public static IReadOnlyList<string> BuiltinNames { get; } = ["builtin:policy", "builtin:mixture"];

    /// <summary>The model <c>asd sample</c> and <c>asd bench</c> run when no --model is given.</summary>
    public const string DefaultModel = "builtin:policy";

    /// <summary>Whether <paramref name="spec"/> names an ONNX model (a model folder or a .onnx file), which ONNX Runtime's settings and a device apply to.</summary>
    public static bool IsOnnx(string spec) => Directory.Exists(spec) || spec.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens the model a spec names.</summary>
    /// <exception cref="ArgumentException">Unknown or malformed spec.</exception>
    public static Denoising.IDiffusionModel Open(string spec, ModelOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        options ??= new ModelOpenOptions();
        Validation.ResourceLimits.CheckThreads(options.Threads);
        if (spec.StartsWith("builtin:", StringComparison.Ordinal))
        {
            BuiltinSpec builtin = ParseBuiltin(spec);
            return builtin.Name == "builtin:policy"
                ? OpenPolicy()
                : new MixtureModel(GaussianMixture.Builtin(builtin.Dimension), builtin.Dimension == 2 ? "builtin:mixture" : $"builtin:mixture?dim={builtin.Dimension}");
        }

        if (IsOnnx(spec))
        {
            // Located once: the scheduler_config.json is parsed once whichever engine runs the file.
            var located = OnnxModel.Locate(spec);
            return OpenNativeOnnx(spec, located, options) ?? (Denoising.IDiffusionModel)OnnxModel.Open(spec, located, options, options.Onnx);
        }

        if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return Backends.Unet1d.Unet1dModel.IsUnet1dJson(spec) ? Backends.Unet1d.Unet1dModel.Load(spec) : MlpModel.Load(spec);
        }

        throw new ArgumentException($"Cannot open model '{spec}': expected {string.Join(", ", BuiltinNames)}, a model folder, a .onnx file, or an asd-mlp or asd-unet1d .json file.");
    }

    /// <summary>
    /// The environment variable that sets <see cref="ModelOpenOptions.NativeOnnx"/> where it is left null (auto, on or
    /// off), for every interface: the CLI's --onnx-native auto and C's and Python's onnx_native "auto" or NULL leave it
    /// null. (C parses its field strictly, in ModelHandle: a typed value should be spelt as documented.)
    /// </summary>
    public const string NativeOnnxVariable = "ASD_ONNX_NATIVE";

    /// <summary>The value of <see cref="NativeOnnxVariable"/>: auto (or unset) null, on true, off false.</summary>
    /// <exception cref="ArgumentException">Anything else.</exception>
    internal static bool? NativeOnnxSetting(string? value) => AutoOnOff(NativeOnnxVariable, value);

    /// <summary>An auto/on/off environment variable's value: unset, empty or auto null; on or 1 true; off or 0 false.</summary>
    /// <exception cref="ArgumentException">Anything else, naming the variable.</exception>
    internal static bool? AutoOnOff(string variable, string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "on" or "1" => true,
        "off" or "0" => false,
        _ => throw new ArgumentException($"{variable}={value}: expected auto, on or off."),
    };

    /// <summary>Where notes on how a model was opened go (the CLI's stderr by default; tests capture them).</summary>
    public static Action<string> Warn { get; set; } = message => Console.Error.WriteLine($"asd: note: {message}");

    /// <summary>
    /// The native model of an ONNX ConditionalUnet1D (<see cref="ModelOpenOptions.NativeOnnx"/>), or null to open the
    /// file with ONNX Runtime. A graph that holds a ConditionalUnet1D's weights but cannot be taken over is noted with
    /// the reason and runs through ONNX Runtime, unless the native engine was required.
    /// </summary>
    private static Backends.Unet1d.Unet1dModel? OpenNativeOnnx(string spec, (string File, string Folder, bool IsFolder, SchedulerConfig Scheduler) located, ModelOpenOptions options)
    {
        bool? wanted = options.NativeOnnx ?? NativeOnnxSetting(Environment.GetEnvironmentVariable(NativeOnnxVariable));
        if (wanted == false)
        {
            return null;
        }

        options = options with { NativeOnnx = wanted };
        (string file, string folder, bool isFolder, SchedulerConfig scheduler) = located;
        OnnxIoConfig? io = options.Onnx;
        string? runtimeWanted =
            !string.Equals(options.Device, "cpu", StringComparison.OrdinalIgnoreCase) ? $"--device {options.Device}"
            : io is not null && (io.Sample ?? io.Timestep ?? io.Output) is not null || io?.Cond is not null || io?.Guidance is not null ? "ONNX port or guidance settings"
            : File.Exists(Path.Combine(folder, "asd.json")) && Directory.Exists(spec) ? "the folder's asd.json"
            : options.RowParallel ? "row-parallel sessions"
            : options.BatchBuckets == true ? "batch buckets"
            : options.CudaGraphs ? "CUDA graphs"
            : null;
        if (runtimeWanted is not null)
        {
            return options.NativeOnnx == true
                ? throw new ArgumentException($"The native engine cannot run '{spec}' with {runtimeWanted}: those are ONNX Runtime's.")
                : null;
        }

        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(spec));
        Backends.Unet1d.Unet1dModel? model = Backends.Unet1d.Unet1dOnnx.TryImport(file, name, scheduler, out string? why);
        if (model is not null && NativeOnnxCheck.Enabled(options.CheckNativeOnnx))
        {
            double? apart = NativeOnnxCheck.RelativeDifference(model, spec, located, out string? notChecked);
            if (apart is not { } d)
            {
                Warn($"'{spec}' runs on the native engine unchecked: ONNX Runtime could not open it to compare ({notChecked}).");
            }
            else if (!(d <= NativeOnnxCheck.Bar))
            {
                why = $"its outputs on a probe call differ from ONNX Runtime's by {d:G3} (relative; the engines' rounding stays below {NativeOnnxCheck.Bar:G1}), so the graph computes something the native ConditionalUnet1D does not"
                    + (model.WeightPrecision == "float32" ? ""
                        : $" (its weights are {model.WeightPrecision}: where ONNX Runtime computes in float16 and asd in float32, that alone can be the difference, and {NativeOnnxCheck.Variable}=off runs it natively)");
                model.Dispose();
                model = null;
            }
            else
            {
                model.CheckedAgainstRuntime = d;
            }
        }

        if (model is not null)
        {
            if (!(isFolder && File.Exists(Path.Combine(folder, "scheduler_config.json"))))
            {
                // A bare .onnx gets diffusers' default schedule, which is not what diffusion_policy trains with: without
                // the schedule flags its samples would be wrong without any error (0% reach on the trained policy).
                // The library cannot see the overrides a sampler will get, so the note names each interface's.
                Warn($"'{spec}' is a ConditionalUnet1D opened without a scheduler_config.json (only a model folder reads one): its schedule is diffusers' default ({scheduler.NumTrainTimesteps} train steps, {scheduler.BetaSchedule.ToString().ToLowerInvariant()} betas) unless overridden. diffusion_policy trains with 100 steps and squaredcos_cap_v2 betas: --train-steps 100 --beta-schedule squaredcos_cap_v2 (CLI), schedule={{\"train_steps\": 100, \"beta_schedule\": \"squaredcos_cap_v2\"}} (Python), asd_sampler_params.train_steps and .beta_schedule (C), or open the folder holding model.onnx and its scheduler_config.json.");
            }

            return model;
        }

        if (options.NativeOnnx == true)
        {
            throw new InvalidDataException($"'{spec}' cannot run on the native engine: {why ?? "it is not an export of diffusion_policy's ConditionalUnet1D"}.");
        }

        if (why is not null)
        {
            Warn($"'{spec}' holds a ConditionalUnet1D's weights but the native engine cannot take it over ({why}); running it through ONNX Runtime.");
        }

        return null;
    }

    /// <summary>
    /// The built-in diffusion policy (<c>Tasks/PolicyTask</c>; trained by tools/train_policy.py), loaded from the
    /// library's embedded resources.
    /// </summary>
    public static MlpModel OpenPolicy()
    {
        string json = System.Text.Encoding.UTF8.GetString(ReadResource("asd.builtin.policy.json"));
        return MlpModel.Load(json, ReadResource("asd.builtin.policy.safetensors"), "builtin:policy");
    }

    private static byte[] ReadResource(string name)
    {
        using Stream stream = typeof(ModelCatalog).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded resource '{name}' is missing from this build of asd.");
        // Copied rather than sized by Length: a resource stream need not report its length (Native AOT's may not).
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The largest <c>builtin:mixture</c> dimension (its means alone take 64 bytes per dimension).</summary>
    public const int MaxMixtureDimension = 1 << 20;

    /// <summary>
    /// Parses a <c>builtin:</c> spec strictly: a known name, then optionally <c>?key=value</c> pairs joined by
    /// <c>&amp;</c>, each key once, no spaces, no empty parts, values that are plain decimal integers.
    /// </summary>
    /// <exception cref="ArgumentException">Anything else, with a message that quotes the spec and names the part.</exception>
    public static BuiltinSpec ParseBuiltin(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException($"Model spec '{Printable(spec)}' contains a space or control character; write it without (for example builtin:mixture?dim=4).");
        }

        int q = spec.IndexOf('?', StringComparison.Ordinal);
        string name = q < 0 ? spec : spec[..q];
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (q >= 0)
        {
            string text = spec[(q + 1)..];
            if (text.Length == 0)
            {
                throw new ArgumentException($"Model spec '{spec}' ends in '?' with no parameters; drop the '?' or add key=value.");
            }

            foreach (string part in text.Split('&'))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || eq == part.Length - 1)
                {
                    throw new ArgumentException($"Malformed parameter '{part}' in '{spec}' (expected key=value).");
                }

                if (!query.TryAdd(part[..eq], part[(eq + 1)..]))
                {
                    throw new ArgumentException($"Parameter '{part[..eq]}' appears twice in '{spec}'; give it once.");
                }
            }
        }

        switch (name)
        {
            case "builtin:mixture":
                int dim = 2;
                foreach ((string key, string value) in query)
                {
                    if (key != "dim")
                    {
                        throw new ArgumentException($"Unknown parameter '{key}' in '{spec}'. builtin:mixture takes dim (an even number).");
                    }

                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out dim))
                    {
                        throw new ArgumentException(value.All(char.IsAsciiDigit)
                            ? $"dim={value} in '{spec}' is too large: the limit is {MaxMixtureDimension}."
                            : $"'{value}' in '{spec}' is not an integer dimension (digits only).");
                    }

                    if (dim > MaxMixtureDimension)
                    {
                        throw new ArgumentException($"dim={dim} in '{spec}' is too large: the limit is {MaxMixtureDimension}.");
                    }

                    if (dim < 2 || dim % 2 != 0)
                    {
                        throw new ArgumentException($"builtin:mixture needs an even dimension >= 2 (got dim={dim} in '{spec}').");
                    }
                }

                return new BuiltinSpec(name, dim);
            case "builtin:policy":
                if (query.Count > 0)
                {
                    throw new ArgumentException($"builtin:policy takes no parameters (got '{spec}').");
                }

                return new BuiltinSpec(name, 0);
            default:
                throw new ArgumentException($"Unknown built-in model '{Printable(name)}'. Available: {string.Join(", ", BuiltinNames)}.");
        }
    }

    private static string Printable(string s) => s.Length <= 200 ? s : s[..200] + "...";
}

/// <summary>A parsed <c>builtin:</c> spec.</summary>
/// <param name="Name">"builtin:mixture" or "builtin:policy".</param>
/// <param name="Dimension">The mixture's dimension (0 for the policy).</param>
public sealed record BuiltinSpec(string Name, int Dimension);
