namespace Asd.Native.Schedules;

/// <summary>
/// Changes to a model's scheduler that a caller asks for (the CLI's --train-steps ..., the C ABI's
/// asd_sampler_params fields, Python's keyword arguments): null keeps the model's value. Names are the diffusers
/// strings ("scaled_linear", "v_prediction"); <see cref="Apply"/> parses, checks and applies them in one place, and its
/// errors name the field (<c>train_steps</c>, <c>beta_start</c>, ...), which each front-end maps onto its own flag.
/// </summary>
public sealed record ScheduleOverrides
{
    /// <summary>No change: the model's scheduler as it is.</summary>
    public static ScheduleOverrides None { get; } = new();

    /// <summary><c>num_train_timesteps</c> (field <c>train_steps</c>).</summary>
    public int? TrainSteps { get; init; }

    /// <summary><c>beta_schedule</c>: linear, scaled_linear, squaredcos_cap_v2, sigmoid (drops trained_betas).</summary>
    public string? BetaSchedule { get; init; }

    /// <summary><c>beta_start</c>, in (0, 1).</summary>
    public double? BetaStart { get; init; }

    /// <summary><c>beta_end</c>, in (0, 1).</summary>
    public double? BetaEnd { get; init; }

    /// <summary><c>prediction_type</c>: epsilon, v_prediction, sample.</summary>
    public string? PredictionType { get; init; }

    /// <summary><c>variance_type</c>: fixed_small, fixed_large.</summary>
    public string? VarianceType { get; init; }

    /// <summary><c>timestep_spacing</c>: leading, trailing, linspace.</summary>
    public string? TimestepSpacing { get; init; }

    /// <summary><c>steps_offset</c>, &gt;= 0.</summary>
    public int? StepsOffset { get; init; }

    /// <summary><c>clip_sample</c>.</summary>
    public bool? ClipSample { get; init; }

    /// <summary><c>clip_sample_range</c>, &gt; 0.</summary>
    public double? ClipSampleRange { get; init; }

    /// <summary>The model's scheduler with these changes, validated; throws <see cref="ArgumentException"/> naming the field.</summary>
    public SchedulerConfig Apply(SchedulerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (TrainSteps is int t)
        {
            Check(t >= 1 && t <= Validation.ResourceLimits.MaxTrainSteps, "train_steps", t, $"use 1 to {Validation.ResourceLimits.MaxTrainSteps}");
            config = config with { NumTrainTimesteps = t };
        }

        if (BetaSchedule is string bs)
        {
            config = config with { BetaSchedule = Field("beta_schedule", bs, ScheduleNames.ParseBetaSchedule), TrainedBetas = null };
        }

        if (BetaStart is double b0)
        {
            Check(b0 > 0 && b0 < 1, "beta_start", b0, "use a value in (0, 1)");
            config = config with { BetaStart = b0 };
        }

        if (BetaEnd is double b1)
        {
            Check(b1 > 0 && b1 < 1, "beta_end", b1, "use a value in (0, 1)");
            config = config with { BetaEnd = b1 };
        }

        if (PredictionType is string p)
        {
            config = config with { PredictionType = Field("prediction_type", p, ScheduleNames.ParsePrediction) };
        }

        if (VarianceType is string v)
        {
            config = config with { VarianceType = Field("variance_type", v, ScheduleNames.ParseVariance) };
        }

        if (TimestepSpacing is string sp)
        {
            config = config with { TimestepSpacing = Field("timestep_spacing", sp, ScheduleNames.ParseSpacing) };
        }

        if (StepsOffset is int so)
        {
            Check(so >= 0, "steps_offset", so, "use >= 0");
            config = config with { StepsOffset = so };
        }

        if (ClipSample is bool cs)
        {
            config = config with { ClipSample = cs };
        }

        if (ClipSampleRange is double cr)
        {
            Check(cr > 0 && double.IsFinite(cr), "clip_sample_range", cr, "use a finite value > 0");
            config = config with { ClipSampleRange = cr };
        }

        return config.Validate();
    }

    private static void Check(bool ok, string field, double value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} = {value} is invalid: {rule}."));
        }
    }

    private static T Field<T>(string field, string name, Func<string, T> parse)
    {
        try
        {
            return parse(name);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{field} = {name}: {e.Message}", e);
        }
    }
}
