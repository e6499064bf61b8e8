namespace Asd.Native.Schedules;

/// <summary>
/// The K steps of one sampler run: timesteps tau_0 &gt; ... &gt; tau_{K-1} and, for each step i, the coefficients of
/// x_{i+1} = a_i x_i + b_i m(x_i, tau_i) + sigma_i z_i (docs/math.md section 1), plus the conversion of raw model output
/// to the x0 estimate m. Step K-1 has abar' = 1, so a = 0 and b = 1. Immutable and thread-safe.
/// </summary>
public sealed class InferencePlan
{
    private readonly int[] _timesteps;
    private readonly double[] _abar, _abarNext, _a, _b, _sigma, _c1, _c2;
    private readonly float[] _aF, _bF, _sigmaF, _c1F, _c2F;

    internal InferencePlan(DiffusionSchedule schedule, int[] timesteps)
    {
        Schedule = schedule;
        _timesteps = timesteps;
        int k = timesteps.Length;
        _abar = new double[k];
        _abarNext = new double[k];
        _a = new double[k];
        _b = new double[k];
        _sigma = new double[k];
        _c1 = new double[k];
        _c2 = new double[k];
        SchedulerConfig config = schedule.Config;
        for (int i = 0; i < k; i++)
        {
            int t = timesteps[i];
            double abar = schedule.AlphaBar(t);
            double abarNext = i + 1 < k ? schedule.AlphaBar(timesteps[i + 1]) : 1.0;
            double alpha = abar / abarNext;
            double beta = 1.0 - alpha;
            _abar[i] = abar;
            _abarNext[i] = abarNext;
            _a[i] = Math.Sqrt(alpha) * (1.0 - abarNext) / (1.0 - abar);
            _b[i] = Math.Sqrt(abarNext) * beta / (1.0 - abar);

            // diffusers adds noise only when the timestep is above 0. The fixed_small variance is exactly 0 at a
            // final step (abar' = 1); unlike diffusers we do not clamp it to 1e-20, so that step is deterministic.
            double variance = t <= 0 ? 0.0 : config.VarianceType == VarianceType.FixedLarge
                ? beta
                : (1.0 - abarNext) / (1.0 - abar) * beta;
            _sigma[i] = Math.Sqrt(Math.Max(variance, 0.0));

            (_c1[i], _c2[i]) = config.PredictionType switch
            {
                PredictionType.Epsilon => (1.0 / Math.Sqrt(abar), -Math.Sqrt(1.0 - abar) / Math.Sqrt(abar)),
                PredictionType.VPrediction => (Math.Sqrt(abar), -Math.Sqrt(1.0 - abar)),
                _ => (0.0, 1.0),
            };
        }

        _aF = Array.ConvertAll(_a, v => (float)v);
        _bF = Array.ConvertAll(_b, v => (float)v);
        _sigmaF = Array.ConvertAll(_sigma, v => (float)v);
        _c1F = Array.ConvertAll(_c1, v => (float)v);
        _c2F = Array.ConvertAll(_c2, v => (float)v);
        ClipLimit = config.ClipSample ? (float)config.ClipSampleRange : float.PositiveInfinity;
    }

    /// <summary>The training schedule.</summary>
    public DiffusionSchedule Schedule { get; }

    /// <summary>K, the number of steps (and of sequential model calls for DDPM).</summary>
    public int Steps => _timesteps.Length;

    /// <summary>tau_i, the training timestep the model sees at step i.</summary>
    public ReadOnlySpan<int> Timesteps => _timesteps;

    /// <summary>abar at tau_i.</summary>
    public ReadOnlySpan<double> AlphaBar => _abar;

    /// <summary>abar at tau_{i+1} (1 after the last step).</summary>
    public ReadOnlySpan<double> AlphaBarNext => _abarNext;

    /// <summary>Coefficient of x_i in step i.</summary>
    public ReadOnlySpan<double> A => _a;

    /// <summary>Coefficient of the x0 estimate in step i.</summary>
    public ReadOnlySpan<double> B => _b;

    /// <summary>Noise scale of step i (0 for a deterministic step).</summary>
    public ReadOnlySpan<double> Sigma => _sigma;

    /// <summary>x0 = C1 * x + C2 * model_output at step i (before clipping): the prediction type in one place.</summary>
    public ReadOnlySpan<double> C1 => _c1;

    /// <summary>See <see cref="C1"/>.</summary>
    public ReadOnlySpan<double> C2 => _c2;

    /// <summary>The clamp applied to x0 estimates (+infinity when clip_sample is off).</summary>
    public float ClipLimit { get; }

    internal ReadOnlySpan<float> AF => _aF;

    internal ReadOnlySpan<float> BF => _bF;

    internal ReadOnlySpan<float> SigmaF => _sigmaF;

    internal ReadOnlySpan<float> C1F => _c1F;

    internal ReadOnlySpan<float> C2F => _c2F;

    /// <summary>
    /// One step, shared by every sampler: destination = a_i x + b_i m + sigma_i z (z ignored when sigma_i = 0).
    /// </summary>
    public void Step(int i, ReadOnlySpan<float> x, ReadOnlySpan<float> m, ReadOnlySpan<float> z, Span<float> destination) =>
        Simd.Kernels.RowOps.LinearCombination(_aF[i], x, _bF[i], m, _sigmaF[i], z, destination);

    /// <summary>
    /// Turns raw model output at step i into the x0 estimate m (in place allowed), applying clip_sample.
    /// </summary>
    public void ToX0(int i, ReadOnlySpan<float> x, ReadOnlySpan<float> modelOutput, Span<float> destination) =>
        Simd.Kernels.RowOps.AffineCombineClamp(_c1F[i], x, _c2F[i], modelOutput, ClipLimit, destination);
}
