namespace Asd.Native.Backends.Analytic;

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
    public double? TargetDensity(ReadOnlySpan<double> x)
    {
        if (x.Length != Mixture.Dimension)
        {
            throw new ArgumentException($"x has {x.Length} values; the mixture has dimension {Mixture.Dimension}.", nameof(x));
        }

        ReadOnlySpan<double> w = Mixture.Weights, mu = Mixture.Means, v = Mixture.Variances;
        int d = Mixture.Dimension;
        double p = 0;
        for (int k = 0; k < Mixture.Components; k++)
        {
            double sq = 0;
            for (int j = 0; j < d; j++)
            {
                double diff = x[j] - mu[(k * d) + j];
                sq += diff * diff;
            }

            p += w[k] * Math.Pow(2 * Math.PI * v[k], -0.5 * d) * Math.Exp(-sq / (2 * v[k]));
        }

        return p;
    }

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
