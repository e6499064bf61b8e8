namespace Asd.Native.Sampling;

/// <summary>
/// Everything a caller asks of a sampler, in one record: which sampler, K, the speculation length, the row cap, the
/// cost curve and its calibration, guidance, threads and the scheduler overrides. Its defaults are the defaults of
/// every interface (the CLI's flags, <c>asd_sampler_default_params</c>, the Python keyword arguments): ASD, K = 100,
/// L = auto, 1024 rows. <see cref="Validate"/> owns every rule that involves only the request and speaks in field
/// names (<c>spec_len</c>, <c>max_batch_rows</c>); front-ends map their own names (flags, struct fields) onto these.
/// Rules that need the model (guidance, K against the training steps) are checked by <see cref="SamplerFactory"/>.
/// </summary>
public sealed record SamplerRequest
{
    /// <summary>Default row cap per denoiser call.</summary>
    public const int DefaultMaxBatchRows = 1024;

    /// <summary>Default number of inference steps K.</summary>
    public const int DefaultSteps = 100;

    /// <summary>The defaults every interface shares.</summary>
    public static SamplerRequest Default { get; } = new();

    /// <summary>Which sampler (field <c>sampler</c>).</summary>
    public SamplerKind Kind { get; init; } = SamplerKind.Asd;

    /// <summary>Inference steps K (field <c>steps</c>), at most the scheduler's training steps.</summary>
    public int Steps { get; init; } = DefaultSteps;

    /// <summary>The speculation length (field <c>spec_len</c>; ASD only).</summary>
    public SpecLength SpecLength { get; init; } = SpecLength.Auto;

    /// <summary>The most rows one denoiser call carries (field <c>max_batch_rows</c>; see <see cref="SamplerOptions.MaxBatchRows"/>).</summary>
    public int MaxBatchRows { get; init; } = DefaultMaxBatchRows;

    /// <summary>A given batch-cost curve (field <c>cost_curve</c>), for the automatic length only: makes it deterministic.</summary>
    public CostCurve? CostCurve { get; init; }

    /// <summary>Bounds on the calibration that measures the curve when none is given and L is automatic.</summary>
    public CalibrationLimits Calibration { get; init; } = CalibrationLimits.Default;

    /// <summary>Classifier-free guidance scale w (field <c>guidance_scale</c>); null: the model's default.</summary>
    public double? Guidance { get; init; }

    /// <summary>Threads of the core pool for models that use it (field <c>threads</c>; 0 = one per core); others get one.</summary>
    public int Threads { get; init; }

    /// <summary>Changes to the model's scheduler.</summary>
    public ScheduleOverrides Schedule { get; init; } = ScheduleOverrides.None;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that breaks a rule; returns this.</summary>
    public SamplerRequest Validate()
    {
        if (Kind is not (SamplerKind.Asd or SamplerKind.Ddpm))
        {
            throw new ArgumentException($"sampler = {(int)Kind} is invalid: use asd or ddpm.");
        }

        Check(Steps >= 1, "steps", Steps, "the number of inference steps must be >= 1");
        Check(MaxBatchRows >= 1, "max_batch_rows", MaxBatchRows, "use >= 1");
        if (SpecLength.Encoded < -1)
        {
            throw new ArgumentException($"spec_len {SpecLength.Encoded} is invalid.");
        }

        if (CostCurve is not null && (Kind != SamplerKind.Asd || !SpecLength.IsAuto))
        {
            throw new ArgumentException("cost_curve is used only by the automatic speculation length (sampler asd with spec_len auto).");
        }

        if (Calibration is null || double.IsNaN(Calibration.Seconds))
        {
            throw new ArgumentException("calibration_seconds must be a number (0 = the default budget, < 0 = skip).");
        }

        if (Guidance is double g && !double.IsFinite(g))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"guidance_scale = {g} is invalid: it must be finite."));
        }

        Validation.ResourceLimits.CheckThreads(Threads, "threads");
        ArgumentNullException.ThrowIfNull(Schedule, "schedule");
        return this;
    }

    /// <summary>The settings the sampler itself is built with.</summary>
    internal SamplerOptions SamplerOptions => new() { MaxBatchRows = MaxBatchRows, SpecLength = SpecLength, CostCurve = CostCurve };

    private static void Check(bool ok, string field, int value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} = {value} is invalid: {rule}."));
        }
    }
}
