using Asd.Native.Denoising;
using Asd.Native.Schedules;

namespace Asd.Native.Sampling;

/// <summary>Which sampler to run.</summary>
public enum SamplerKind
{
    /// <summary>Autospeculative decoding.</summary>
    Asd,

    /// <summary>Sequential DDPM.</summary>
    Ddpm,
}

/// <summary>Builds a sampler for a model, a (possibly overridden) scheduler and K steps.</summary>
public static class SamplerFactory
{
    /// <summary>Parses "asd" or "ddpm".</summary>
    public static SamplerKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "asd" => SamplerKind.Asd,
        "ddpm" => SamplerKind.Ddpm,
        _ => throw new ArgumentException($"Unknown sampler '{name}'. Expected asd or ddpm."),
    };

    /// <summary>Creates the sampler; its denoiser is private to it, the model may be shared.</summary>
    public static Sampler Create(IDiffusionModel model, SchedulerConfig scheduler, int steps, SamplerKind kind, SamplerOptions options, Threading.CorePool? pool = null, double? guidance = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options = (options ?? throw new ArgumentNullException(nameof(options))).Validate(); // before the calibration uses them
        var schedule = new DiffusionSchedule(scheduler);
        InferencePlan plan = schedule.Plan(steps);
        int sampleSize = Validation.Shapes.SampleSize(model.SampleShape, $"model '{model.Name}' sample shape");
        options = options with { MaxBatchRows = options.RowsFor(sampleSize) }; // buffers of bounded size (same bytes)
        IDenoiser denoiser = model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = options.MaxBatchRows, Pool = pool, GuidanceScale = guidance });
        try
        {
            if (kind == SamplerKind.Asd && options.SpecLength.IsAuto && options.CostCurve is null)
            {
                // Calibrated once per model and thread count; a guided model is a different cost (two rows per row).
                // Bounded by options.Calibration (a budget, and a callback that can cancel); skipped, auto assumes a
                // linear cost and is not cached.
                // Remembered across processes per model content, device, threads, CPU and build (CostCurveStore).
                CalibrationLimits limits = options.Calibration;
                int rows = Math.Min(CostCurveCache.CalibrationRows, options.MaxBatchRows), threads = pool?.Threads ?? 1;
                CostCurve curve = limits.Skip
                    ? CostCurve.AssumedLinear(model.Name)
                    : CostCurveCache.GetOrMeasure(
                        model,
                        threads,
                        guidance is not null,
                        () => CostCurve.Measure(denoiser, rows, scheduler.NumTrainTimesteps, model: model.Name, limits: limits),
                        () => CostCurveKey.For(model, denoiser, threads, guidance is not null, rows, (model as Models.OnnxModel)?.Device ?? "cpu"),
                        limits.Refresh);
                options = options with { CostCurve = curve };
            }
        }
        catch
        {
            (denoiser as IDisposable)?.Dispose();
            throw;
        }

        Sampler sampler = kind == SamplerKind.Asd ? new AsdSampler(denoiser, plan, options) : new DdpmSampler(denoiser, plan, options);
        sampler.OwnsDenoiser = true;
        return sampler;
    }
}
