using System.Runtime.InteropServices;
using System.Text.Json;
using Asd.Native.Denoising;
using Asd.Native.Schedules;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Asd.Native.Models;

/// <summary>How the unconditional half of classifier-free guidance is formed.</summary>
public abstract record NullCondition
{
    /// <summary>The unconditional row is all zeros.</summary>
    public sealed record Zeros : NullCondition;

    /// <summary>The unconditional row is a given vector (for a class input: the null class id).</summary>
    /// <param name="Values">One value per conditioning element.</param>
    public sealed record Value(float[] Values) : NullCondition;

    /// <summary>A separate model input (one value per row) is 1 for the unconditional half and 0 for the conditional one.</summary>
    /// <param name="InputName">The flag input.</param>
    public sealed record FlagInput(string InputName) : NullCondition;
}

/// <summary>Guidance settings of a model: how to form the null condition and the default scale.</summary>
public sealed record GuidanceConfig(NullCondition Null, double Scale);

/// <summary>
/// Role overrides and extras for an ONNX model (the optional <c>asd.json</c> beside <c>model.onnx</c>, or CLI flags).
/// </summary>
public sealed record OnnxIoConfig
{
    /// <summary>Name of the noisy-sample input.</summary>
    public string? Sample { get; init; }

    /// <summary>Name of the timestep input.</summary>
    public string? Timestep { get; init; }

    /// <summary>Names of the conditioning inputs, in the order their values appear in a conditioning row.</summary>
    public IReadOnlyList<string>? Cond { get; init; }

    /// <summary>Name of the output.</summary>
    public string? Output { get; init; }

    /// <summary>Guidance, when the model has a null condition.</summary>
    public GuidanceConfig? Guidance { get; init; }

    /// <summary>Reads <c>asd.json</c>: {"inputs": {"sample", "timestep", "cond": [...]}, "output", "guidance": {"null_cond": {...}, "scale"}}.</summary>
    /// <exception cref="InvalidDataException">Malformed JSON, an unknown key or a value of the wrong kind; the message names the key.</exception>
    public static OnnxIoConfig Parse(string path) => Parse(IO.ModelFiles.ReadAllBytes(path, "asd.json", Validation.ResourceLimits.MaxJsonBytes), path);

    /// <summary>Parses the bytes of an <c>asd.json</c> (see <see cref="Parse(string)"/>).</summary>
    public static OnnxIoConfig Parse(ReadOnlyMemory<byte> utf8, string path)
    {
        using JsonDocument doc = IO.StrictJson.Parse(utf8, path);
        JsonElement root = IO.StrictJson.Object(doc, path);
        var c = new OnnxIoConfig();
        foreach (JsonProperty p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "inputs":
                    foreach (JsonProperty q in IO.StrictJson.Properties(p.Value, "inputs", path))
                    {
                        string field = "inputs." + q.Name;
                        c = q.Name switch
                        {
                            "sample" => c with { Sample = Name(q.Value, field, path) },
                            "timestep" => c with { Timestep = Name(q.Value, field, path) },
                            "cond" => c with { Cond = [.. IO.StrictJson.Array(q.Value, field, path).Select(e => Name(e, field, path))] },
                            _ => throw new InvalidDataException($"{path}: unknown key 'inputs.{q.Name}' (expected sample, timestep, cond)."),
                        };
                    }

                    break;
                case "output":
                    c = c with { Output = Name(p.Value, "output", path) };
                    break;
                case "guidance":
                    c = c with { Guidance = ParseGuidance(p.Value, path) };
                    break;
                default:
                    throw new InvalidDataException($"{path}: unknown key '{p.Name}' (expected inputs, output, guidance).");
            }
        }

        return c;
    }

    /// <summary>An input or output name: a non-empty string.</summary>
    private static string Name(JsonElement e, string field, string path)
    {
        string name = IO.StrictJson.String(e, field, path);
        return name.Length > 0 ? name : throw new InvalidDataException($"{path}: \"{field}\" is an empty name.");
    }

    private static GuidanceConfig ParseGuidance(JsonElement g, string path)
    {
        double scale = 1.0;
        NullCondition nul = new NullCondition.Zeros();
        foreach (JsonProperty p in IO.StrictJson.Properties(g, "guidance", path))
        {
            switch (p.Name)
            {
                case "scale":
                    scale = IO.StrictJson.Number(p.Value, "guidance.scale", path);
                    break;
                case "null_cond":
                    JsonProperty[] only = [.. IO.StrictJson.Properties(p.Value, "guidance.null_cond", path)];
                    if (only.Length != 1)
                    {
                        throw new InvalidDataException($"{path}: \"guidance.null_cond\" must hold exactly one of zeros, class_id, value, input (got {only.Length} keys).");
                    }

                    string field = "guidance.null_cond." + only[0].Name;
                    JsonElement v = only[0].Value;
                    nul = only[0].Name switch
                    {
                        "zeros" => new NullCondition.Zeros(),
                        "class_id" => new NullCondition.Value([IO.StrictJson.Int(v, field, path, 0, 1 << 24)]),
                        "value" => new NullCondition.Value([.. IO.StrictJson.Array(v, field, path).Take(Validation.ResourceLimits.MaxConditionSize + 1).Select(e => (float)IO.StrictJson.Number(e, field, path))]),
                        "input" => new NullCondition.FlagInput(Name(v, field, path)),
                        _ => throw new InvalidDataException($"{path}: unknown guidance.null_cond '{only[0].Name}' (expected zeros, class_id, value, input)."),
                    };
                    if (nul is NullCondition.Value { Values: var values } && values.Any(x => !float.IsFinite(x)))
                    {
                        throw new InvalidDataException($"{path}: \"{field}\" must hold float32-representable finite numbers.");
                    }

                    break;
                default:
                    throw new InvalidDataException($"{path}: unknown key 'guidance.{p.Name}' (expected null_cond, scale).");
            }
        }

        return new GuidanceConfig(nul, scale);
    }
}

/// <summary>One model input or output as the denoiser binds it.</summary>
/// <param name="Name">The ONNX name.</param>
/// <param name="Type">Its element type.</param>
/// <param name="Dims">Its dimensions (-1 where dynamic).</param>
public sealed record OnnxPort(string Name, TensorElementType Type, int[] Dims)
{
    /// <summary>Elements per batch row (product of the dimensions after the batch axis).</summary>
    public int RowSize { get; } = Dims.Length <= 1 ? 1 : Dims.Skip(1).Aggregate(1, (a, b) => a * b);

    /// <summary>"[B, 1, 16, 16] float".</summary>
    public string Describe() => $"'{Name}' {Type} [{string.Join(", ", Dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>
/// A diffusion model exported to ONNX, run by ONNX Runtime (CPU, or CUDA with the GPU build). Opened from a model
/// folder (<c>model.onnx</c> + diffusers' <c>scheduler_config.json</c> + optional <c>asd.json</c>) or a bare
/// <c>.onnx</c> file. The session is shared by every denoiser created from the model (ONNX Runtime allows concurrent
/// runs); each denoiser owns its buffers and bindings.
/// </summary>
public sealed class OnnxModel : IDiffusionModel
{
    private static readonly TensorElementType[] TimestepTypes = [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Double];

    private readonly Dictionary<int, InferenceSession> _buckets = [];
    private readonly List<InferenceSession> _lanes = [];
    private PrePackedWeightsContainer? _prepacked;
    private (string File, byte[]? Bytes, ModelOpenOptions Options) _source;

    private OnnxModel(string name, InferenceSession session, string device, string? fallback, OnnxPort sample, OnnxPort timestep, IReadOnlyList<OnnxPort> cond, OnnxPort output, SchedulerConfig scheduler, GuidanceConfig? guidance, OnnxPort? flag)
    {
        Name = name;
        Session = session;
        Device = device;
        DeviceFallback = fallback;
        SampleInput = sample;
        TimestepInput = timestep;
        CondInputs = cond;
        Output = output;
        DefaultScheduler = scheduler;
        Guidance = guidance;
        FlagInput = flag;
        SampleShape = sample.Dims[1..];
        ConditionSize = cond.Sum(c => c.RowSize);
        StaticBatch = sample.Dims[0] > 0 ? sample.Dims[0] : 0;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The ONNX Runtime session.</summary>
    internal InferenceSession Session { get; }

    /// <summary>"cpu" or "cuda": where the session runs.</summary>
    public string Device { get; }

    /// <summary>Why <c>auto</c> fell back to the CPU (null when it did not).</summary>
    public string? DeviceFallback { get; }

    /// <summary>The noisy-sample input.</summary>
    public OnnxPort SampleInput { get; }

    /// <summary>The timestep input.</summary>
    public OnnxPort TimestepInput { get; }

    /// <summary>The conditioning inputs, in conditioning-row order.</summary>
    public IReadOnlyList<OnnxPort> CondInputs { get; }

    /// <summary>The guidance flag input, when the null condition is a separate input.</summary>
    public OnnxPort? FlagInput { get; }

    /// <summary>The model output (epsilon, v or x0 as the scheduler's prediction type says).</summary>
    public OnnxPort Output { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> SampleShape { get; }

    /// <inheritdoc/>
    public int ConditionSize { get; }

    /// <summary>The fixed batch size of the export, or 0 when the batch dimension is dynamic.</summary>
    public int StaticBatch { get; }

    /// <summary>
    /// True when every call is padded up to a power-of-two row count, each count with a session of its own (see
    /// <see cref="ModelOpenOptions.BatchBuckets"/>; on by default for CUDA; never for a static batch).
    /// </summary>
    public bool BatchBuckets { get; private set; }

    /// <summary>True when calls split their rows across the core pool, a one-thread session per lane (<see cref="ModelOpenOptions.RowParallel"/>).</summary>
    public bool RowParallel { get; private set; }

    /// <summary>True when calls replay CUDA graphs (<see cref="ModelOpenOptions.CudaGraphs"/> on a CUDA session).</summary>
    public bool CudaGraphs { get; private set; }

    /// <summary>How denoisers move their buffers to the session (the CPU binds host memory; a device needs copies).</summary>
    internal OnnxIoPath IoPath { get; private set; }

    /// <summary>The device memory of <see cref="IoPath"/> where the engine copies itself (null: ONNX Runtime copies at bind time).</summary>
    internal OnnxDeviceMemory? DeviceMemory { get; private set; }

    /// <summary>True when the timestep input is a scalar (one timestep per call).</summary>
    public bool ScalarTimestep => TimestepInput.Dims.Length == 0;

    /// <inheritdoc/>
    public SchedulerConfig DefaultScheduler { get; }

    /// <summary>Guidance settings, when the model has a null condition.</summary>
    public GuidanceConfig? Guidance { get; }

    /// <summary>
    /// Opens a model folder or a bare <c>.onnx</c> file. <paramref name="overrides"/> (CLI flags) win over asd.json.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path does not exist or the folder has no model.onnx.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable ONNX model, or its inputs cannot be assigned roles.</exception>
    public static OnnxModel Open(string path, ModelOpenOptions? options = null, OnnxIoConfig? overrides = null)
    {
        options ??= new ModelOpenOptions();
        OnnxRuntimeNative.Install();
        string file = path, folder;
        if (Directory.Exists(path))
        {
            folder = path;
            file = Path.Combine(path, "model.onnx");
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"Model folder '{path}' has no model.onnx.", file);
            }
        }
        else if (File.Exists(path))
        {
            folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        }
        else
        {
            throw new FileNotFoundException($"Model path '{path}' does not exist.", path);
        }

        // Every file of a folder model is a regular file inside the folder (symbolic links that leave it are refused).
        bool isFolder = Directory.Exists(path);
        string anchor = Path.Combine(folder, "model.onnx");
        file = isFolder ? IO.ModelFiles.ResolveInFolder(anchor, "model.onnx", "model.onnx") : file;
        IO.ModelFiles.OpenRegular(file, "ONNX model", long.MaxValue, out _).Dispose();
        SchedulerConfig scheduler = new() { ClipSample = true };
        if (isFolder && File.Exists(Path.Combine(folder, "scheduler_config.json")))
        {
            scheduler = SchedulerConfigJson.ParseFile(IO.ModelFiles.ResolveInFolder(anchor, "scheduler_config.json", "scheduler_config.json"));
        }

        OnnxIoConfig io = isFolder && File.Exists(Path.Combine(folder, "asd.json"))
            ? OnnxIoConfig.Parse(IO.ModelFiles.ResolveInFolder(anchor, "asd.json", "asd.json"))
            : new OnnxIoConfig();
        if (overrides is not null)
        {
            io = io with
            {
                Sample = overrides.Sample ?? io.Sample,
                Timestep = overrides.Timestep ?? io.Timestep,
                Cond = overrides.Cond ?? io.Cond,
                Output = overrides.Output ?? io.Output,
                Guidance = overrides.Guidance ?? io.Guidance,
            };
        }

        (InferenceSession session, string device, string? fallback) = CreateSessionOrExplain(file, null, options);
        try
        {
            OnnxModel model = Bind(Path.GetFileName(Path.TrimEndingDirectorySeparator(path)), file, session, device, fallback, io, scheduler);
            model.SetSessionSource(file, null, options);
            model.CheckNullCondition(overrides?.Guidance is not null ? "--guidance-null" : Path.Combine(folder, "asd.json"));
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens an ONNX model held in memory (an embedded export such as <c>builtin:policy</c>'s), with the scheduler it
    /// was trained with; inputs are assigned roles as for <see cref="Open"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a model ONNX Runtime can load, or roles cannot be assigned.</exception>
    public static OnnxModel OpenBytes(byte[] model, string name, SchedulerConfig scheduler, ModelOpenOptions? options = null, OnnxIoConfig? io = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scheduler);
        options ??= new ModelOpenOptions();
        OnnxRuntimeNative.Install();
        (InferenceSession session, string device, string? fallback) = CreateSessionOrExplain(name, model, options);
        try
        {
            OnnxModel onnx = Bind(name, name, session, device, fallback, io ?? new OnnxIoConfig(), scheduler);
            onnx.SetSessionSource(name, model, options);
            onnx.CheckNullCondition(name);
            return onnx;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static (InferenceSession, string, string?) CreateSessionOrExplain(string file, byte[]? bytes, ModelOpenOptions options)
    {
        try
        {
            return CreateSession(file, bytes, options);
        }
        catch (Exception e) when (e is DllNotFoundException || e.InnerException is DllNotFoundException)
        {
            throw new FileNotFoundException(
                "ONNX Runtime's native library (libonnxruntime.so) was not found: it must sit beside libasd.so or the asd executable, or on the loader path (LD_LIBRARY_PATH). ONNX models need it; built-in and asd-mlp models do not.",
                "libonnxruntime.so",
                e);
        }
    }

    private static (InferenceSession, string, string?) CreateSession(string file, byte[]? bytes, ModelOpenOptions options)
    {
        string device = options.Device.Trim().ToLowerInvariant();
        if (device is not ("cpu" or "cuda" or "auto"))
        {
            throw new ArgumentException($"Unknown device '{options.Device}'. Expected cpu, cuda or auto.");
        }

        if (options.CudaGraphs && device == "cpu")
        {
            throw new ArgumentException("--cuda-graphs on (ModelOpenOptions.CudaGraphs) needs --device cuda: a CUDA graph replays work captured on the GPU, and this model is asked to run on the CPU.");
        }

        if (options.CudaGraphs && options.BatchBuckets == false)
        {
            throw new ArgumentException("--cuda-graphs on (ModelOpenOptions.CudaGraphs) needs batch buckets: a captured graph replays one input shape, and --batch-buckets off sends every batch size to one session.");
        }

        string? fallback = null;
        if (device is "cuda" or "auto")
        {
            try
            {
                return (NewSession(file, bytes, options, cuda: true), "cuda", null);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
            {
                string why = CudaUnavailableReason(e);
                if (device == "cuda")
                {
                    // Valid, but not available here: ASD_ERR_UNSUPPORTED through libasd (an InvalidOperationException
                    // was reported as an internal error; found by tests/interop/fuzz_abi.c).
                    throw new PlatformNotSupportedException($"--device cuda: {why}", e);
                }

                fallback = options.CudaGraphs ? $"{why}; --cuda-graphs is ignored on the CPU" : why;
            }
        }

        return (NewSession(file, bytes, options, cuda: false), "cpu", fallback);
    }

    private static InferenceSession NewSession(string file, byte[]? bytes, ModelOpenOptions options, bool cuda, int? threads = null, PrePackedWeightsContainer? prepacked = null)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = threads ?? options.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (cuda)
        {
            string? missing = MissingCudaLibrary();
            if (missing is not null)
            {
                throw new InvalidOperationException($"the CUDA runtime library {missing} cannot be loaded");
            }

            // ASD_ORT_CUDA_OPTIONS="key=value;key=value" passes CUDA provider options through (for example
            // use_tf32=0, cudnn_conv_algo_search=HEURISTIC), for diagnosing the CUDA path on a GPU machine.
            string? extra = Environment.GetEnvironmentVariable("ASD_ORT_CUDA_OPTIONS");
            if (string.IsNullOrWhiteSpace(extra) && !options.CudaGraphs)
            {
                so.AppendExecutionProvider_CUDA(0);
            }
            else
            {
                using var cudaOptions = new OrtCUDAProviderOptions();
                var settings = new Dictionary<string, string> { ["device_id"] = "0" };
                if (options.CudaGraphs)
                {
                    // One graph per session: each batch bucket's session sees one shape, so its one graph fits.
                    settings["enable_cuda_graph"] = "1";
                }

                foreach (string pair in (extra ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    string[] kv = pair.Split('=', 2, StringSplitOptions.TrimEntries);
                    if (kv.Length != 2)
                    {
                        throw new ArgumentException($"ASD_ORT_CUDA_OPTIONS: '{pair}' is not key=value.");
                    }

                    settings[kv[0]] = kv[1];
                }

                cudaOptions.UpdateOptions(settings);
                so.AppendExecutionProvider_CUDA(cudaOptions);
            }
        }

        try
        {
            return (bytes, prepacked) switch
            {
                (null, null) => new InferenceSession(file, so),
                (null, _) => new InferenceSession(file, so, prepacked),
                (_, null) => new InferenceSession(bytes, so),
                _ => new InferenceSession(bytes, so, prepacked),
            };
        }
        catch (OnnxRuntimeException e) when (!cuda)
        {
            throw new InvalidDataException($"'{file}' is not a model ONNX Runtime can load: {e.Message}", e);
        }
    }

    /// <summary>The first CUDA 13 library that cannot be loaded, or null when they all load.</summary>
    internal static string? MissingCudaLibrary()
    {
#if ASD_ORT_GPU
        foreach (string lib in (string[])["libcudart.so.13", "libcublas.so.13", "libcudnn.so.9"])
        {
            if (!NativeLibrary.TryLoad(lib, out IntPtr handle))
            {
                return lib;
            }

            NativeLibrary.Free(handle);
        }

        return null;
#else
        _ = typeof(NativeLibrary);
        throw new InvalidOperationException("this build uses the CPU-only ONNX Runtime package; build with -p:AsdOnnxRuntimeGpu=true (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0, CUDA 13) for CUDA");
#endif
    }

    private static string CudaUnavailableReason(Exception e) =>
        e is InvalidOperationException ? e.Message : $"the CUDA execution provider could not be created ({e.Message})";

    private static OnnxModel Bind(string name, string file, InferenceSession session, string device, string? fallback, OnnxIoConfig io, SchedulerConfig scheduler)
    {
        var inputs = session.InputMetadata.Select(kv => Port(kv.Key, kv.Value, file)).ToList();
        var outputs = session.OutputMetadata.Select(kv => Port(kv.Key, kv.Value, file)).ToList();
        string List(IEnumerable<OnnxPort> ports) => string.Join(", ", ports.Select(p => p.Describe()));

        OnnxPort output = io.Output is { } on
            ? outputs.FirstOrDefault(o => o.Name == on) ?? throw new InvalidDataException($"{file}: output '{on}' not found; outputs are {List(outputs)}.")
            : outputs.Count == 1 ? outputs[0] : throw new InvalidDataException($"{file}: the model has {outputs.Count} outputs ({List(outputs)}); name the one to use (asd.json \"output\").");
        RequireFloat(output, file, "output");

        OnnxPort Named(string n, string role) =>
            inputs.FirstOrDefault(i => i.Name == n) ?? throw new InvalidDataException($"{file}: {role} input '{n}' not found; inputs are {List(inputs)}.");

        string? flagName = io.Guidance?.Null is NullCondition.FlagInput f ? f.InputName : null;
        OnnxPort? flag = flagName is null ? null : Named(flagName, "guidance flag");

        OnnxPort sample;
        if (io.Sample is { } sn)
        {
            sample = Named(sn, "sample");
        }
        else
        {
            var candidates = inputs.Where(i => i != flag && IsFloat(i.Type) && i.Dims.Length >= 2 && i.Dims[1..].SequenceEqual(output.Dims[1..])).ToList();
            sample = candidates.Count == 1
                ? candidates[0]
                : throw new InvalidDataException(candidates.Count == 0
                    ? $"{file}: no input looks like the noisy sample (a float tensor shaped like the output {output.Describe()}); inputs are {List(inputs)}. Name it in asd.json \"inputs.sample\"."
                    : $"{file}: cannot tell which input is the noisy sample; candidates: {List(candidates)}. Name it in asd.json \"inputs.sample\".");
        }

        RequireFloat(sample, file, "sample");
        if (sample.Dims.Length < 2 || sample.Dims[1..].Any(d => d < 1))
        {
            throw new InvalidDataException($"{file}: the sample input {sample.Describe()} needs rank >= 2 and fixed sizes after the batch axis.");
        }

        Validation.Shapes.SampleSize([.. sample.Dims[1..].Select(d => (long)d)], $"{file}: the sample input {sample.Describe()}");
        if (!sample.Dims[1..].SequenceEqual(output.Dims[1..]))
        {
            throw new InvalidDataException($"{file}: the output {output.Describe()} does not have the sample's shape {sample.Describe()}.");
        }

        OnnxPort timestep;
        if (io.Timestep is { } tn)
        {
            timestep = Named(tn, "timestep");
        }
        else
        {
            var candidates = inputs.Where(i => i != sample && i != flag && TimestepTypes.Contains(i.Type) && IsTimestepShape(i.Dims)).ToList();
            if (candidates.Count > 1)
            {
                // Shapes and types cannot decide; a name can, when exactly one says so.
                var named = candidates.Where(i => i.Name.Contains("time", StringComparison.OrdinalIgnoreCase) || i.Name == "t").ToList();
                candidates = named.Count == 1 ? named : candidates;
            }

            timestep = candidates.Count == 1
                ? candidates[0]
                : throw new InvalidDataException(candidates.Count == 0
                    ? $"{file}: no input looks like the timestep (int64, int32 or float, shaped [B], [B, 1] or scalar); inputs are {List(inputs)}. Name it in asd.json \"inputs.timestep\"."
                    : $"{file}: cannot tell which input is the timestep; candidates: {List(candidates)}. Name it in asd.json \"inputs.timestep\".");
        }

        if (!TimestepTypes.Contains(timestep.Type) || !IsTimestepShape(timestep.Dims))
        {
            throw new InvalidDataException($"{file}: timestep input {timestep.Describe()} must be int64, int32 or float, shaped [B], [B, 1] or scalar.");
        }

        List<OnnxPort> cond = io.Cond is { } names
            ? [.. names.Select(n => Named(n, "conditioning"))]
            : [.. inputs.Where(i => i != sample && i != timestep && i != flag)];
        foreach (OnnxPort c in cond)
        {
            if (!(IsFloat(c.Type) || c.Type is TensorElementType.Int64 or TensorElementType.Int32) || c.Dims.Length == 0 || c.Dims.Skip(1).Any(d => d < 1))
            {
                throw new InvalidDataException($"{file}: conditioning input {c.Describe()} must be float or integer with a batch axis and fixed sizes after it.");
            }
        }

        long condSize = 0;
        foreach (OnnxPort c in cond)
        {
            long row = Validation.Shapes.ProductOrMinusOne([.. c.Dims.Skip(1).Select(d => (long)d)], Validation.ResourceLimits.MaxConditionSize);
            condSize = row < 0 ? -1 : condSize + row;
            if (condSize < 0 || condSize > Validation.ResourceLimits.MaxConditionSize)
            {
                throw new InvalidDataException($"{file}: the conditioning inputs hold more than {Validation.ResourceLimits.MaxConditionSize} values per row (the limit); {c.Describe()}.");
            }
        }

        var unused = inputs.Except(cond).Except([sample, timestep]).Where(i => i != flag).ToList();
        if (unused.Count > 0)
        {
            throw new InvalidDataException($"{file}: inputs {List(unused)} have no role; list them in asd.json \"inputs.cond\".");
        }

        int batch = sample.Dims[0];
        foreach (OnnxPort p in cond.Append(timestep).Append(output).Concat(flag is null ? [] : [flag]))
        {
            int pb = p.Dims.Length == 0 ? batch : p.Dims[0];
            if (pb != batch && !(pb < 0 && batch < 0))
            {
                throw new InvalidDataException($"{file}: {p.Describe()} has batch dimension {pb} but the sample has {batch}.");
            }
        }

        if (io.Guidance is { } g && batch > 0 && batch < 2)
        {
            throw new InvalidDataException($"{file}: guidance evaluates both halves in one call, which a static batch of {batch} cannot hold.");
        }

        if (flag is not null && flag.RowSize != 1)
        {
            throw new InvalidDataException($"{file}: the guidance flag input {flag.Describe()} must hold one value per row.");
        }

        return new OnnxModel(name, session, device, fallback, sample, timestep, cond, output, scheduler, io.Guidance, flag);
    }

    /// <summary>
    /// A guidance null condition given as values (asd.json "class_id" or "value", or --guidance-null) must fit a
    /// conditioning row and, for integer inputs such as class labels, be whole numbers; then one row is run with it, so
    /// a value the network rejects (a class id past its embedding table) fails at open, naming the setting, rather
    /// than at the first sample as an ONNX Runtime error.
    /// </summary>
    private void CheckNullCondition(string source)
    {
        if (Guidance?.Null is not NullCondition.Value nul)
        {
            return;
        }

        string what = $"{source}: guidance.null_cond [{string.Join(", ", nul.Values.Take(8).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)))}{(nul.Values.Length > 8 ? ", ..." : "")}]";
        if (nul.Values.Length != ConditionSize)
        {
            throw new InvalidDataException($"{what} has {nul.Values.Length} values, but a conditioning row of this model has {ConditionSize}.");
        }

        int offset = 0;
        foreach (OnnxPort c in CondInputs)
        {
            if (c.Type is TensorElementType.Int64 or TensorElementType.Int32)
            {
                foreach (float v in nul.Values.AsSpan(offset, c.RowSize))
                {
                    if (v != MathF.Round(v) || v < int.MinValue || v > int.MaxValue)
                    {
                        throw new InvalidDataException($"{what}: the input {c.Describe()} takes integers, not {v}.");
                    }
                }
            }

            offset += c.RowSize;
        }

        try
        {
            using var probe = new OnnxDenoiser(this, 1, flagged: false);
            var x = new float[probe.SampleSize];
            probe.Denoise(x, [0], nul.Values, new float[probe.SampleSize]);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{what} is not accepted by the model ({FirstLine(e.Message)}).", e);
        }
    }

    private static string FirstLine(string s)
    {
        int n = s.IndexOf('\n', StringComparison.Ordinal);
        return n < 0 ? s : s[..n];
    }

    private static bool IsTimestepShape(int[] dims) => dims.Length == 0 || dims.Length == 1 || (dims.Length == 2 && dims[1] == 1);

    private static bool IsFloat(TensorElementType t) => t is TensorElementType.Float or TensorElementType.Float16;

    private static void RequireFloat(OnnxPort p, string file, string role)
    {
        if (!IsFloat(p.Type))
        {
            throw new InvalidDataException($"{file}: the {role} {p.Describe()} has dtype {p.Type}; expected float32 (or float16, converted at the boundary).");
        }
    }

    private static OnnxPort Port(string name, NodeMetadata meta, string file)
    {
        if (!meta.IsTensor)
        {
            throw new InvalidDataException($"{file}: '{name}' is not a tensor (sequences and maps are not supported).");
        }

        return new OnnxPort(name, meta.ElementDataType, [.. meta.Dimensions]);
    }

    /// <inheritdoc/>
    public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options)
    {
        double? scale = options.GuidanceScale ?? Guidance?.Scale;
        if (options.GuidanceScale is not null && Guidance is null)
        {
            throw new InvalidOperationException($"Model '{Name}' defines no null condition for guidance; add \"guidance\": {{\"null_cond\": ...}} to its asd.json.");
        }

        if (scale is not { } w || Guidance is null)
        {
            return RowParallel ? new OnnxRowParallelDenoiser(this, options.Pool, flagged: false) : new OnnxDenoiser(this, options.MaxBatchRows, flagged: false);
        }

        // Both halves go through one call, so the inner denoiser takes twice the rows.
        IDenoiser inner = RowParallel
            ? new OnnxRowParallelDenoiser(this, options.Pool, flagged: FlagInput is not null)
            : new OnnxDenoiser(this, 2 * options.MaxBatchRows, flagged: FlagInput is not null);
        return new GuidedDenoiser(inner, Guidance.Null, w);
    }

    /// <summary>Sessions created so far for batch buckets (the first bucket used takes <see cref="Session"/>).</summary>
    public int BucketSessionCount
    {
        get
        {
            lock (_buckets)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>The session that runs calls of exactly <paramref name="rows"/> rows (a bucket size) when buckets are on.</summary>
    internal InferenceSession SessionFor(int rows)
    {
        if (IoPath == OnnxIoPath.Staged && (StaticBatch > 0 ? rows != StaticBatch : !BatchBuckets || rows < 1 || !System.Numerics.BitOperations.IsPow2(rows)))
        {
            throw new InvalidOperationException(
                $"Model '{Name}': --cuda-graphs: a call of {rows} rows is not a batch bucket ({(StaticBatch > 0 ? $"the export's static batch {StaticBatch}" : "a power of two with batch buckets on")}); a captured graph replays one shape per session.");
        }

        if (!BatchBuckets)
        {
            return Session;
        }

        lock (_buckets)
        {
            if (_buckets.TryGetValue(rows, out InferenceSession? session))
            {
                return session;
            }

            // The session made at open time (needed to read the ports) serves the first bucket, so a run that only
            // ever uses one size costs no second copy of the weights.
            try
            {
                session = _buckets.Count == 0 ? Session : NewSession(_source.File, _source.Bytes, _source.Options, cuda: Device == "cuda");
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException(
                    $"Model '{Name}': the ONNX Runtime session for batches of {rows} rows on {Device} could not be created ({e.Message}). Each batch size used gets its own session (batch buckets); turn them off to run every size in one session.",
                    e);
            }

            _buckets[rows] = session;
            return session;
        }
    }

    /// <summary>
    /// The one-thread session of row-parallel lane <paramref name="lane"/>, created when first needed; the lanes share
    /// ONNX Runtime's prepacked weights (its CPU kernels repack weights per session otherwise).
    /// </summary>
    internal InferenceSession LaneSession(int lane)
    {
        lock (_lanes)
        {
            _prepacked ??= new PrePackedWeightsContainer();
            while (_lanes.Count <= lane)
            {
                try
                {
                    _lanes.Add(NewSession(_source.File, _source.Bytes, _source.Options, cuda: false, threads: 1, prepacked: _prepacked));
                }
                catch (OnnxRuntimeException e)
                {
                    throw new InvalidOperationException($"Model '{Name}': the one-thread session of row-parallel lane {_lanes.Count} could not be created ({e.Message}).", e);
                }
            }

            return _lanes[lane];
        }
    }

    private void SetSessionSource(string file, byte[]? bytes, ModelOpenOptions options)
    {
        RowParallel = options.RowParallel && Device == "cpu" && StaticBatch == 0;
        _source = (file, bytes, options);
        BatchBuckets = StaticBatch == 0 && (options.BatchBuckets ?? Device != "cpu");
        CudaGraphs = Device == "cuda" && options.CudaGraphs;
        IoPath = options.ForceIoPath ?? (Device == "cpu" ? OnnxIoPath.Host : CudaGraphs ? OnnxIoPath.Staged : OnnxIoPath.Rebind);
        DeviceMemory = IoPath == OnnxIoPath.Host ? null
            : Device == "cpu" ? OnnxDeviceMemory.Cpu.Instance
            : IoPath == OnnxIoPath.Staged ? OnnxDeviceMemory.Cuda.Instance
            : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_buckets)
        {
            foreach (InferenceSession s in _buckets.Values.Where(s => !ReferenceEquals(s, Session)))
            {
                s.Dispose();
            }

            _buckets.Clear();
        }

        lock (_lanes)
        {
            foreach (InferenceSession s in _lanes)
            {
                s.Dispose();
            }

            _lanes.Clear();
            _prepacked?.Dispose();
        }

        Session.Dispose();
    }
}
