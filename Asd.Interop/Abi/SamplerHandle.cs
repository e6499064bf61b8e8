using Asd.Native.Schedules;

namespace Asd.Interop.Abi;

/// <summary>
/// A sampler (asd_sampler): the engine's <see cref="Sampler"/> (which owns its core pool) and a reference to the model.
/// Not thread-safe, like the engine's sampler; instead of corrupting state, a second concurrent call on the same
/// handle fails with ASD_ERR_BUSY. Freeing a sampler while it runs (from its progress callback, or another thread)
/// unregisters it at once and disposes it when the run returns.
/// </summary>
internal sealed unsafe class SamplerHandle : ISamplingProgress, IHandleTarget
{
    private readonly object _gate = new();
    private bool _busy;
    private bool _freeRequested;
    private bool _disposed;
    private byte[]? _statsJson;
    private delegate* unmanaged<void*, long, long, long, int> _progress;
    private void* _progressUser;

    private SamplerHandle(ModelHandle model, Sampler sampler, SamplerKind kind)
    {
        Model = model;
        Sampler = sampler;
        Kind = kind;
    }

    public ModelHandle Model { get; }

    public Sampler Sampler { get; }

    public SamplerKind Kind { get; }

    /// <summary>True after a run that completed; a failed or cancelled run clears it.</summary>
    public bool HasStats { get; private set; }

    /// <summary>
    /// Maps asd_sampler_params onto the engine's <see cref="SamplerRequest"/> (the ABI's "keep" values 0, -1 and NULL
    /// become "no override"); the engine validates it, sizes the pool and calibrates.
    /// </summary>
    public static SamplerHandle Create(ModelHandle model, in SamplerParams p)
    {
        SamplerKind kind = p.Sampler switch
        {
            0 => SamplerKind.Asd,
            1 => SamplerKind.Ddpm,
            _ => throw new AsdException(Status.InvalidArgument, $"sampler = {p.Sampler} is invalid: use ASD_SAMPLER_ASD (0) or ASD_SAMPLER_DDPM (1)."),
        };
        if (p.ClipSample is not (-1 or 0 or 1))
        {
            throw new AsdException(Status.InvalidArgument, $"clip_sample = {p.ClipSample} is invalid: use 0, 1, or -1 to keep the model's.");
        }

        var request = new SamplerRequest
        {
            Kind = kind,
            Steps = p.Steps,
            SpecLength = SpecLength.FromEncoded(p.SpecLen),
            MaxBatchRows = p.MaxBatchRows,
            CostCurve = LoadCostCurve(Text.Read(p.CostCurvePath)),
            Calibration = Calibration(p),
            Guidance = p.GuidanceScale != 0 ? p.GuidanceScale : null,
            Threads = model.Threads,
            Schedule = new ScheduleOverrides
            {
                TrainSteps = p.TrainSteps != 0 ? p.TrainSteps : null,
                BetaSchedule = Text.Read(p.BetaSchedule),
                BetaStart = p.BetaStart != 0 ? p.BetaStart : null,
                BetaEnd = p.BetaEnd != 0 ? p.BetaEnd : null,
                PredictionType = Text.Read(p.PredictionType),
                VarianceType = Text.Read(p.VarianceType),
                TimestepSpacing = Text.Read(p.TimestepSpacing),
                StepsOffset = p.StepsOffset != -1 ? p.StepsOffset : null,
                ClipSample = p.ClipSample != -1 ? p.ClipSample == 1 : null,
                ClipSampleRange = p.ClipSampleRange != 0 ? p.ClipSampleRange : null,
            },
        };
        if (!model.TryAddRef())
        {
            throw new AsdException(Status.InvalidHandle, "The model was freed.");
        }

        try
        {
            return new SamplerHandle(model, WithAbiNames(() => SamplerFactory.Create(model.Model, request)), kind);
        }
        catch
        {
            model.Release();
            throw;
        }
    }

    /// <summary>The engine says cost_curve; the ABI's field is cost_curve_path.</summary>
    private static T WithAbiNames<T>(Func<T> engine)
    {
        try
        {
            return engine();
        }
        catch (ArgumentException e) when (e.Message.StartsWith("cost_curve ", StringComparison.Ordinal))
        {
            throw new ArgumentException("cost_curve_path" + e.Message["cost_curve".Length..], e);
        }
    }

    /// <summary>cost_curve_path: NULL, or an asd-cost-curve file.</summary>
    private static CostCurve? LoadCostCurve(string? path)
    {
        if (path is null)
        {
            return null;
        }

        if (!File.Exists(path))
        {
            throw new AsdException(Status.Io, $"cost_curve_path '{path}': no such file.");
        }

        try
        {
            return CostCurve.Load(path);
        }
        catch (InvalidDataException e)
        {
            throw new AsdException(Status.InvalidArgument, $"cost_curve_path: {e.Message}");
        }
    }

    /// <summary>calibration_seconds (0 = default budget, &gt; 0 a budget, &lt; 0 skip) and the calibration callback.</summary>
    private static CalibrationLimits Calibration(in SamplerParams p)
    {
        if (!double.IsFinite(p.CalibrationSeconds) && !double.IsNegativeInfinity(p.CalibrationSeconds))
        {
            throw new AsdException(Status.InvalidArgument, $"calibration_seconds = {p.CalibrationSeconds} is invalid: use 0 (the default budget, {Asd.Native.Validation.ResourceLimits.DefaultCalibrationSeconds} s), a budget in seconds, or < 0 to skip the calibration.");
        }

        double seconds = p.CalibrationSeconds == 0 ? Asd.Native.Validation.ResourceLimits.DefaultCalibrationSeconds : p.CalibrationSeconds;
        nint progress = (nint)p.CalibrationProgress, user = (nint)p.CalibrationUser;
        return new CalibrationLimits(seconds, progress == 0 ? null : (done, planned) => ((delegate* unmanaged<void*, long, long, long, int>)progress)((void*)user, done, planned, done) == 0);
    }

    /// <summary>
    /// Marks the sampler busy until the returned lease is disposed; throws ASD_ERR_BUSY if another call is using it
    /// (or it was freed).
    /// </summary>
    public Lease Enter()
    {
        lock (_gate)
        {
            if (_busy || _disposed)
            {
                throw new AsdException(Status.Busy, _disposed
                    ? "The sampler was freed."
                    : "The sampler is in use by another call: a sampler serves one call at a time (use one sampler per thread).");
            }

            _busy = true;
        }

        return new Lease(this);
    }

    private void Exit()
    {
        bool dispose;
        lock (_gate)
        {
            _busy = false;
            dispose = _freeRequested && !_disposed;
            _disposed |= dispose;
        }

        if (dispose)
        {
            DisposeCore();
        }
    }

    /// <summary>asd_sampler_free: disposes now, or when the running call returns.</summary>
    public void Free()
    {
        bool dispose;
        lock (_gate)
        {
            _freeRequested = true;
            dispose = !_busy && !_disposed;
            _disposed |= dispose;
        }

        if (dispose)
        {
            DisposeCore();
        }
    }

    private void DisposeCore()
    {
        Sampler.Dispose();
        Model.Release();
    }

    /// <summary>Runs the engine; the caller holds <see cref="Enter"/>.</summary>
    public void Sample(int n, in SampleParams p, Span<float> output)
    {
        HasStats = false;
        _statsJson = null;
        var cond = new ReadOnlySpan<float>(p.Cond, checked((int)p.CondLen));
        var init = new ReadOnlySpan<float>(p.InitNoise, checked((int)p.InitNoiseLen));
        _progress = p.Progress;
        _progressUser = p.ProgressUser;
        try
        {
            Sampler.Sample(n, p.Seed, output, cond, init, p.ChainOffset, p.Progress != null ? this : null);
        }
        finally
        {
            _progress = null;
            _progressUser = null;
        }

        HasStats = true;
    }

    bool ISamplingProgress.OnProgress(in SamplingProgress progress) =>
        _progress(_progressUser, progress.CompletedSteps, progress.TotalSteps, progress.Invocations) == 0;

    public SamplingStats RequireStats() => HasStats
        ? Sampler.Stats
        : throw new AsdException(Status.State, "No statistics: this sampler has not completed a run (or its last run failed or was cancelled).");

    /// <summary>The stats JSON, with the same fields and meanings as the CLI's --stats file ("model" first).</summary>
    public byte[] StatsJson()
    {
        if (_statsJson is { } cached)
        {
            return cached;
        }

        return _statsJson = System.Text.Encoding.UTF8.GetBytes(RequireStats().ToJson(indented: false, model: Model.Model.Name));
    }

    /// <summary>One call's hold on the sampler (<see cref="Enter"/>): disposing it ends the call.</summary>
    public readonly ref struct Lease(SamplerHandle sampler)
    {
        public void Dispose() => sampler.Exit();
    }
}
