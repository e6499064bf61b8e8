namespace Asd.Native.Backends.Analytic;

/// <summary>
/// The exact denoiser E[x0 | x_t] of a <see cref="GaussianMixture"/> under a training schedule: x_t maps to the
/// stochastic-localization observation y = sqrt(abar) / (1 - abar) x_t at SNR s = abar / (1 - abar).
/// </summary>
public sealed class MixtureDenoiser : AnalyticDenoiser
{
    private readonly GaussianMixture _mixture;

    /// <summary>Creates the denoiser of <paramref name="mixture"/> for <paramref name="schedule"/>.</summary>
    public MixtureDenoiser(GaussianMixture mixture, DiffusionSchedule schedule, CorePool? pool = null)
        : base(mixture.Dimension, 0, schedule, pool) => _mixture = mixture;

    /// <inheritdoc/>
    protected override long RowCost => (long)_mixture.Components * (_mixture.Dimension + 20); // an exp per component

    /// <inheritdoc/>
    protected override void ComputeX0(ReadOnlySpan<float> x, int timestep, ReadOnlySpan<float> condition, Span<double> x0)
    {
        int d = _mixture.Dimension, kCount = _mixture.Components;
        double abar = Schedule.AlphaBar(timestep);
        double s = abar / (1.0 - abar);
        double scale = Math.Sqrt(abar) / (1.0 - abar);
        Span<double> y = stackalloc double[d <= 256 ? d : 0];
        if (d > 256)
        {
            y = new double[d];
        }

        for (int j = 0; j < d; j++)
        {
            y[j] = scale * x[j];
        }

        Span<double> p = stackalloc double[kCount];
        Span<double> means = kCount * d <= 2048 ? stackalloc double[kCount * d] : new double[kCount * d];
        _mixture.Posterior(y, s, p, means);
        x0.Clear();
        for (int k = 0; k < kCount; k++)
        {
            for (int j = 0; j < d; j++)
            {
                x0[j] += p[k] * means[(k * d) + j];
            }
        }
    }
}

/// <summary>
/// An affine denoiser m(x, t) = A_t x + c_t (docs/math.md section 4): the DDPM output is then exactly Gaussian with
/// moments from a linear recursion, so samplers can be checked against closed forms.
/// </summary>
public sealed class AffineDenoiser : AnalyticDenoiser
{
    private readonly Func<int, (double[] A, double[] C)> _coefficients;
    private readonly (double[] A, double[] C)?[] _cache;

    /// <summary>
    /// Creates the denoiser; <paramref name="coefficients"/> maps a training timestep to A_t (d x d, row-major) and c_t (d).
    /// It is evaluated once per timestep and cached.
    /// </summary>
    public AffineDenoiser(int dimension, Func<int, (double[] A, double[] C)> coefficients, DiffusionSchedule schedule, CorePool? pool = null)
        : base(dimension, 0, schedule, pool)
    {
        _coefficients = coefficients;
        _cache = new (double[] A, double[] C)?[schedule.TrainSteps];
    }

    /// <summary>A_t and c_t for a timestep (computed on first use).</summary>
    public (double[] A, double[] C) Coefficients(int timestep)
    {
        if (_cache[timestep] is { } cached)
        {
            return cached;
        }

        (double[] a, double[] c) = _coefficients(timestep);
        int d = SampleSize;
        if (a.Length != d * d || c.Length != d)
        {
            throw new ArgumentException($"Affine coefficients at t={timestep} must be {d}x{d} and {d} (got {a.Length} and {c.Length}).");
        }

        lock (_cache)
        {
            _cache[timestep] = (a, c);
        }

        return (a, c);
    }

    /// <inheritdoc/>
    protected override long RowCost => (long)SampleSize * SampleSize;

    /// <inheritdoc/>
    protected override void ComputeX0(ReadOnlySpan<float> x, int timestep, ReadOnlySpan<float> condition, Span<double> x0)
    {
        (double[] a, double[] c) = Coefficients(timestep);
        int d = SampleSize;
        for (int i = 0; i < d; i++)
        {
            double acc = c[i];
            for (int j = 0; j < d; j++)
            {
                acc += a[(i * d) + j] * x[j];
            }

            x0[i] = acc;
        }
    }
}
