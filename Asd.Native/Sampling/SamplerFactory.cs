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

    /// <summary>
    /// The sampler <paramref name="request"/> asks for, with its own core pool (sized by <see cref="PoolThreads"/>),
    /// which it disposes with itself. The request is validated here, once, and the model-dependent rules checked.
    /// </summary>
    public static Sampler Create(IDiffusionModel model, SamplerRequest request) => Create(model, request, sharedPool: null);

    /// <summary>
    /// As <see cref="Create(IDiffusionModel, SamplerRequest)"/>, on <paramref name="sharedPool"/> when given (several
    /// samplers timed side by side share one; the caller sizes it with <see cref="PoolThreads"/> and disposes it).
    /// </summary>
    public static Sampler Create(IDiffusionModel model, SamplerRequest request, Threading.CorePool? sharedPool)
    {
        ArgumentNullException.ThrowIfNull(model);
        (request ?? throw new ArgumentNullException(nameof(request))).Validate();
        if (request.Guidance is double g && !model.SupportsGuidance)
        {
            throw new NotSupportedException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"guidance_scale = {g}, but model '{model.Name}' defines no null condition for guidance (classifier-free guidance needs one; an ONNX model names it in asd.json)."));
        }

        SchedulerConfig scheduler = request.Schedule.Apply(model.DefaultScheduler);
        var schedule = new DiffusionSchedule(scheduler);
        InferencePlan plan = schedule.Plan(request.Steps);
        int sampleSize = Validation.Shapes.SampleSize(model.SampleShape, $"model '{model.Name}' sample shape");
        SamplerOptions options = request.SamplerOptions;
        options = options with { MaxBatchRows = options.RowsFor(sampleSize, model.ConditionSize) }; // buffers of bounded size (same bytes)
        Threading.CorePool? own = sharedPool is null ? new Threading.CorePool(PoolThreads(model, request.Threads)) : null;
        Threading.CorePool pool = sharedPool ?? own!;
        IDenoiser? denoiser = null;
        try
        {
            denoiser = model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = options.MaxBatchRows, Pool = pool, GuidanceScale = request.Guidance });
            if (request.Kind == SamplerKind.Asd && options.SpecLength.IsAuto && options.CostCurve is null)
            {
                // The one calibration: once per model, pool size and guidance (a guided model is a different cost, two
                // rows per row), bounded by request.Calibration (a budget, and a callback that can cancel). Skipped,
                // auto assumes a linear cost and is not cached. Remembered across processes per model content,
                // device, threads, CPU and build (CostCurveStore).
                CalibrationLimits limits = request.Calibration;
                IDenoiser timed = denoiser;
                // A model with threads of its own (ONNX Runtime's intra-op pool) is keyed by those: its core pool is
                // always one thread, and one- and two-thread curves had shared a key (and a file).
                int rows = Math.Min(CostCurveCache.CalibrationRows, options.MaxBatchRows), threads = model.UsesCorePool ? pool.Threads : model.OwnThreads;
                bool guided = request.Guidance is not null;
                CostCurve curve = limits.Skip
                    ? CostCurve.AssumedLinear(model.Name)
                    : CostCurveCache.GetOrMeasure(
                        model,
                        threads,
                        guided,
                        () => CostCurve.Measure(timed, rows, scheduler.NumTrainTimesteps, model: model.Name, limits: limits),
                        () => CostCurveKey.For(model, timed, scheduler.NumTrainTimesteps, threads, guided, rows, $"{model.Device}/{timed.GetType().Name}"),
                        limits.Refresh,
                        stale: remembered => CostCurve.Disagreement(timed, remembered, scheduler.NumTrainTimesteps));
                options = options with { CostCurve = curve };
            }

            Sampler sampler = request.Kind == SamplerKind.Asd ? new AsdSampler(denoiser, plan, options) : new DdpmSampler(denoiser, plan, options);
            sampler.OwnsDenoiser = true;
            sampler.OwnedPool = own;
            return sampler;
        }
        catch
        {
            (denoiser as IDisposable)?.Dispose();
            own?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The batch-cost curve an automatic-length sampler for <paramref name="request"/> runs on: the given one, or the
    /// one the factory measures (once per model, pool size and guidance; cached).
    /// </summary>
    public static CostCurve CostCurveFor(IDiffusionModel model, SamplerRequest request, Threading.CorePool? sharedPool = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        using Sampler s = Create(model, request with { Kind = SamplerKind.Asd, SpecLength = SpecLength.Auto }, sharedPool);
        return ((AsdSampler)s).CostCurve!;
    }

    /// <summary>
    /// The core pool a model gets: <paramref name="threads"/> (0 = one per core) when it runs on the pool, one when it
    /// brings its own threads (ONNX Runtime), so no idle pool sits beside them.
    /// </summary>
    public static int PoolThreads(IDiffusionModel model, int threads) => (model ?? throw new ArgumentNullException(nameof(model))).UsesCorePool ? threads : 1;
}
