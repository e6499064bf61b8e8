using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>
/// A diffusion model exported to ONNX, run by ONNX Runtime (CPU, or CUDA with the GPU build). Opened from a model
/// folder (<c>model.onnx</c> + diffusers' <c>scheduler_config.json</c> + optional <c>asd.json</c>) or a bare
/// <c>.onnx</c> file. The session is shared by every denoiser created from the model (ONNX Runtime allows concurrent
/// runs); each denoiser owns its buffers and bindings.
/// </summary>
public sealed partial class OnnxModel : IDiffusionModel
{
    private static readonly TensorElementType[] TimestepTypes = [TensorElementType.Int64, TensorElementType.Int32, TensorElementType.Float, TensorElementType.Double];

    private readonly Dictionary<int, InferenceSession> _buckets = [];
    private readonly List<InferenceSession> _lanes = [];
    private PrePackedWeightsContainer? _prepacked;
    private InferenceSession? _singleRow;
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

    /// <summary>True when the timestep input is a scalar (one timestep per call).</summary>
    /// <summary>True when calls split their rows across the core pool, a one-thread session per lane (<see cref="ModelOpenOptions.RowParallel"/>).</summary>
    public bool RowParallel { get; private set; }

    /// <summary>True when calls replay CUDA graphs (<see cref="ModelOpenOptions.CudaGraphs"/> on a CUDA session).</summary>
    public bool CudaGraphs { get; private set; }

    /// <summary>How denoisers move their buffers to the session (the CPU binds host memory; a device needs copies).</summary>
    internal OnnxIoPath IoPath { get; private set; }

    /// <summary>The device memory of <see cref="IoPath"/> where the engine copies itself (null: ONNX Runtime copies at bind time).</summary>
    internal OnnxDeviceMemory? DeviceMemory { get; private set; }

    public bool ScalarTimestep => TimestepInput.Dims.Length == 0;

    /// <inheritdoc/>
    public SchedulerConfig DefaultScheduler { get; }

    /// <summary>Guidance settings, when the model has a null condition.</summary>
    public GuidanceConfig? Guidance { get; }

    /// <inheritdoc/>
    public bool SupportsGuidance => Guidance is not null;

    /// <inheritdoc/>
    public bool UsesCorePool => RowParallel; // row-parallel: one lane (a one-thread session) per pool thread

    /// <inheritdoc/>
    public int OwnThreads => RowParallel ? 1 : _source.Options.Threads > 0 ? _source.Options.Threads : Environment.ProcessorCount;

    /// <inheritdoc/>
    public string? RuntimeSummary => BatchBuckets
        ? $"{Device} (ONNX Runtime), batch buckets on: calls padded to a power of two, {BucketSessionCount} sessions{(CudaGraphs ? ", CUDA graphs on" : "")}"
        : $"{Device} (ONNX Runtime)";

    /// <summary>
    /// Where an ONNX model's files are: the .onnx file (a folder's model.onnx), the folder, whether the path named the
    /// folder, and the scheduler (the folder's scheduler_config.json, else the defaults a bare .onnx gets).
    /// </summary>
    /// <exception cref="FileNotFoundException">No such file, or a folder without model.onnx.</exception>
    internal static (string File, string Folder, bool IsFolder, SchedulerConfig Scheduler) Locate(string path)
    {
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

        return (file, folder, isFolder, scheduler);
    }

    /// <summary>
    /// Opens a model folder or a bare <c>.onnx</c> file. <paramref name="overrides"/> (CLI flags) win over asd.json.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path does not exist or the folder has no model.onnx.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable ONNX model, or its inputs cannot be assigned roles.</exception>
    public static OnnxModel Open(string path, ModelOpenOptions? options = null, OnnxIoConfig? overrides = null) =>
        Open(path, Locate(path), options, overrides);

    /// <summary><see cref="Open(string, ModelOpenOptions?, OnnxIoConfig?)"/> with the files <see cref="Locate"/> found for <paramref name="path"/>.</summary>
    internal static OnnxModel Open(string path, (string File, string Folder, bool IsFolder, SchedulerConfig Scheduler) located, ModelOpenOptions? options, OnnxIoConfig? overrides)
    {
        options ??= new ModelOpenOptions();
        OnnxRuntimeNative.Install();
        (string file, string folder, bool isFolder, SchedulerConfig scheduler) = located;
        string anchor = Path.Combine(folder, "model.onnx");
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
    /// was trained with; inputs are assigned roles as for <see cref="Open(string, ModelOpenOptions?, OnnxIoConfig?)"/>.
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
            : new OnnxDenoiser(this, 2 * Math.Min(options.MaxBatchRows, GuidedDenoiser.PairsPerPass(Validation.Shapes.SampleSize(SampleShape), ConditionSize + (FlagInput is null ? 0 : 1))), flagged: FlagInput is not null);
        return new GuidedDenoiser(inner, Guidance.Null, w);
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
            _singleRow?.Dispose();
            _singleRow = null;
            _prepacked?.Dispose();
        }

        Session.Dispose();
    }
}
