using System.Text.Json;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Interop.Abi;

/// <summary>
/// A sampler (asd_sampler): the engine's <see cref="Sampler"/>, its own core pool, and a reference to the model.
/// Not thread-safe, like the engine's sampler; instead of corrupting state, a second concurrent call on the same
/// handle fails with ASD_ERR_BUSY. Freeing a sampler while it runs (from its progress callback, or another thread)
/// unregisters it at once and disposes it when the run returns.
/// </summary>
internal sealed unsafe class SamplerHandle : ISamplingProgress
{
    private readonly object _gate = new();
    private bool _busy;
    private bool _freeRequested;
    private bool _disposed;
    private byte[]? _statsJson;
    private delegate* unmanaged<void*, long, long, long, int> _progress;
    private void* _progressUser;

    private SamplerHandle(ModelHandle model, Sampler sampler, CorePool pool, SamplerKind kind)
    {
        Model = model;
        Sampler = sampler;
        Pool = pool;
        Kind = kind;
    }

    public ModelHandle Model { get; }

    public Sampler Sampler { get; }

    public CorePool Pool { get; }

    public SamplerKind Kind { get; }

    /// <summary>True after a run that completed; a failed or cancelled run clears it.</summary>
    public bool HasStats { get; private set; }

    public static SamplerHandle Create(ModelHandle model, in SamplerParams p)
    {
        SamplerKind kind = p.Sampler switch
        {
            0 => SamplerKind.Asd,
            1 => SamplerKind.Ddpm,
            _ => throw new AsdException(Status.InvalidArgument, $"sampler = {p.Sampler} is invalid: use ASD_SAMPLER_ASD (0) or ASD_SAMPLER_DDPM (1)."),
        };
        SpecLength specLength = SpecLength.FromEncoded(p.SpecLen);
        if (float.IsNaN(p.GuidanceScale) || float.IsInfinity(p.GuidanceScale))
        {
            throw new AsdException(Status.InvalidArgument, $"guidance_scale is {p.GuidanceScale}; it must be finite (0 = no guidance).");
        }

        if (p.GuidanceScale != 0 && !model.HasGuidance)
        {
            throw new AsdException(Status.Unsupported, $"guidance_scale = {p.GuidanceScale}, but model '{model.Model.Name}' has no classifier-free guidance; leave guidance_scale at 0.");
        }

        CostCurve? curve = null;
        if (Text.Read(p.CostCurvePath) is { } costCurve)
        {
            if (kind != SamplerKind.Asd || !specLength.IsAuto)
            {
                throw new AsdException(Status.InvalidArgument, "cost_curve_path is used only by the automatic speculation length (sampler ASD with spec_len = -1).");
            }

            if (!File.Exists(costCurve))
            {
                throw new AsdException(Status.Io, $"cost_curve_path '{costCurve}': no such file.");
            }

            try
            {
                curve = CostCurve.Load(costCurve);
            }
            catch (InvalidDataException e)
            {
                throw new AsdException(Status.InvalidArgument, $"cost_curve_path: {e.Message}");
            }
        }

        SchedulerConfig config = ApplyOverrides(model.Model.DefaultScheduler, p);
        var options = new SamplerOptions { MaxBatchRows = p.MaxBatchRows, SpecLength = specLength, CostCurve = curve, Calibration = Calibration(p) };
        options.Validate();
        if (!model.TryAddRef())
        {
            throw new AsdException(Status.InvalidHandle, "The model was freed.");
        }

        CorePool? pool = null;
        try
        {
            pool = new CorePool(model.Threads);
            Sampler sampler = SamplerFactory.Create(model.Model, config, p.Steps, kind, options, pool, p.GuidanceScale != 0 ? p.GuidanceScale : null);
            return new SamplerHandle(model, sampler, pool, kind);
        }
        catch
        {
            pool?.Dispose();
            model.Release();
            throw;
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

    /// <summary>The schedule overrides: each field left at its "keep" value (0, -1 or NULL) keeps the model's.</summary>
    private static SchedulerConfig ApplyOverrides(SchedulerConfig config, in SamplerParams p)
    {
        if (p.TrainSteps < 0 || p.TrainSteps > Asd.Native.Validation.ResourceLimits.MaxTrainSteps)
        {
            throw new AsdException(Status.InvalidArgument, $"train_steps = {p.TrainSteps} is invalid: use 1 to {Asd.Native.Validation.ResourceLimits.MaxTrainSteps}, or 0 to keep the model's.");
        }

        if (p.BetaStart is < 0 or >= 1 || double.IsNaN(p.BetaStart))
        {
            throw new AsdException(Status.InvalidArgument, $"beta_start = {p.BetaStart} is invalid: use a value in (0, 1), or 0 to keep the model's.");
        }

        if (p.BetaEnd is < 0 or >= 1 || double.IsNaN(p.BetaEnd))
        {
            throw new AsdException(Status.InvalidArgument, $"beta_end = {p.BetaEnd} is invalid: use a value in (0, 1), or 0 to keep the model's.");
        }

        if (p.ClipSampleRange < 0 || double.IsNaN(p.ClipSampleRange))
        {
            throw new AsdException(Status.InvalidArgument, $"clip_sample_range = {p.ClipSampleRange} is invalid: use > 0, or 0 to keep the model's.");
        }

        if (p.TrainSteps != 0)
        {
            config = config with { NumTrainTimesteps = p.TrainSteps };
        }

        if (Text.Read(p.BetaSchedule) is { } bs)
        {
            config = config with { BetaSchedule = ScheduleNames.ParseBetaSchedule(bs), TrainedBetas = null };
        }

        if (p.BetaStart != 0)
        {
            config = config with { BetaStart = p.BetaStart };
        }

        if (p.BetaEnd != 0)
        {
            config = config with { BetaEnd = p.BetaEnd };
        }

        if (Text.Read(p.PredictionType) is { } pt)
        {
            config = config with { PredictionType = ScheduleNames.ParsePrediction(pt) };
        }

        if (Text.Read(p.VarianceType) is { } vt)
        {
            config = config with { VarianceType = ScheduleNames.ParseVariance(vt) };
        }

        if (Text.Read(p.TimestepSpacing) is { } ts)
        {
            config = config with { TimestepSpacing = ScheduleNames.ParseSpacing(ts) };
        }

        if (p.StepsOffset != -1)
        {
            if (p.StepsOffset < 0)
            {
                throw new AsdException(Status.InvalidArgument, $"steps_offset = {p.StepsOffset} is invalid: use >= 0, or -1 to keep the model's.");
            }

            config = config with { StepsOffset = p.StepsOffset };
        }

        config = p.ClipSample switch
        {
            -1 => config,
            0 or 1 => config with { ClipSample = p.ClipSample == 1 },
            _ => throw new AsdException(Status.InvalidArgument, $"clip_sample = {p.ClipSample} is invalid: use 0, 1, or -1 to keep the model's."),
        };
        if (p.ClipSampleRange != 0)
        {
            config = config with { ClipSampleRange = p.ClipSampleRange };
        }

        return config.Validate();
    }

    /// <summary>Marks the sampler busy; false if another call is using it.</summary>
    public void Enter()
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
    }

    public void Exit()
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
        Pool.Dispose();
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

        SamplingStats stats = RequireStats();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            using JsonDocument doc = JsonDocument.Parse(stats.ToJson(indented: false));
            w.WriteStartObject();
            w.WriteString("model", Model.Model.Name);
            foreach (JsonProperty prop in doc.RootElement.EnumerateObject())
            {
                prop.WriteTo(w);
            }

            w.WriteEndObject();
        }

        return _statsJson = stream.ToArray();
    }
}
