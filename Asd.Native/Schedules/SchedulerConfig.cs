namespace Asd.Native.Schedules;

/// <summary>
/// A DDPM scheduler configuration with diffusers' <c>DDPMScheduler</c> keys and meanings.
/// Immutable; use <c>with</c> to override fields, then <see cref="Validate"/>.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary><c>num_train_timesteps</c> (T).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>beta_start</c>.</summary>
    public double BetaStart { get; init; } = 0.0001;

    /// <summary><c>beta_end</c>.</summary>
    public double BetaEnd { get; init; } = 0.02;

    /// <summary><c>beta_schedule</c>; <see cref="BetaSchedule.Explicit"/> when <see cref="TrainedBetas"/> is set.</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;

    /// <summary><c>trained_betas</c>: explicit betas, overriding the schedule when not null.</summary>
    public IReadOnlyList<double>? TrainedBetas { get; init; }

    /// <summary><c>prediction_type</c>.</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary><c>variance_type</c>.</summary>
    public VarianceType VarianceType { get; init; } = VarianceType.FixedSmall;

    /// <summary><c>clip_sample</c>: clamp the x0 estimate to +-<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; init; }

    /// <summary><c>clip_sample_range</c>.</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary><c>timestep_spacing</c>.</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary><c>steps_offset</c> (added to <c>leading</c> timesteps only, as in diffusers).</summary>
    public int StepsOffset { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public SchedulerConfig Validate()
    {
        Validation.ResourceLimits.CheckTrainSteps(NumTrainTimesteps);

        if (TrainedBetas is { } betas)
        {
            if (betas.Count != NumTrainTimesteps)
            {
                throw new ArgumentException($"trained_betas has {betas.Count} values but num_train_timesteps is {NumTrainTimesteps}.");
            }

            for (int i = 0; i < betas.Count; i++)
            {
                if (!(betas[i] > 0 && betas[i] < 1))
                {
                    throw new ArgumentException($"trained_betas[{i}] = {betas[i]} is outside (0, 1).");
                }
            }
        }
        else if (BetaSchedule == BetaSchedule.Explicit)
        {
            throw new ArgumentException("beta schedule 'trained_betas' needs explicit betas.");
        }
        else if (BetaSchedule != BetaSchedule.SquaredCosCapV2)
        {
            if (!(BetaStart > 0 && BetaStart < 1) || !(BetaEnd > 0 && BetaEnd < 1))
            {
                throw new ArgumentException($"beta_start and beta_end must lie in (0, 1) (got {BetaStart}, {BetaEnd}).");
            }
        }

        if (ClipSample && !(ClipSampleRange > 0))
        {
            throw new ArgumentException($"clip_sample_range must be > 0 (got {ClipSampleRange}).");
        }

        if (StepsOffset < 0 || StepsOffset > Validation.ResourceLimits.MaxTrainSteps)
        {
            throw new ArgumentException($"steps_offset must be from 0 to {Validation.ResourceLimits.MaxTrainSteps} (got {StepsOffset}).");
        }

        return this;
    }
}
