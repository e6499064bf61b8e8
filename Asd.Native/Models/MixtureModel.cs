using Asd.Native.Denoising;
using Asd.Native.Schedules;

namespace Asd.Native.Models;

/// <summary>
/// <c>builtin:mixture?dim=d</c>: the pinned 8-component Gaussian mixture of docs/math.md section 5 with its exact
/// denoiser. The default scheduler is the linear 1000-step schedule (beta 1e-4 .. 0.02) with sample prediction.
/// </summary>
public sealed class MixtureModel : IDiffusionModel
{
    /// <summary>Creates the model for a mixture.</summary>
    public MixtureModel(GaussianMixture mixture, string name)
    {
        Mixture = mixture;
        Name = name;
        SampleShape = [mixture.Dimension];
    }

    /// <summary>The target distribution.</summary>
    public GaussianMixture Mixture { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> SampleShape { get; }

    /// <inheritdoc/>
    public int ConditionSize => 0;

    /// <inheritdoc/>
    public SchedulerConfig DefaultScheduler { get; } = new()
    {
        NumTrainTimesteps = 1000,
        BetaStart = 0.0001,
        BetaEnd = 0.02,
        BetaSchedule = BetaSchedule.Linear,
        PredictionType = PredictionType.Sample,
    };

    /// <inheritdoc/>
    public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options) =>
        options.GuidanceScale is null
            ? new MixtureDenoiser(Mixture, schedule, options.Pool)
            : throw new InvalidOperationException($"{Name} is unconditional: guidance does not apply.");

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
