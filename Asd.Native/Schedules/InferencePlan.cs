namespace Asd.Native.Schedules;

/// <summary>
/// The K steps of one sampler run: timesteps tau_0 &gt; ... &gt; tau_{K-1} and, for each step i, the coefficients of
/// x_{i+1} = a_i x_i + b_i m(x_i, tau_i) + sigma_i z_i (docs/math.md section 1), plus the conversion of raw model output
/// to the x0 estimate m. Step K-1 has abar' = 1, so a = 0 and b = 1. Immutable and thread-safe.
/// </summary>
public sealed class InferencePlan
{
    private readonly int[] _timesteps;

    // One row of K values per coefficient, and the same rounded to float for the row kernels.
    private readonly double[] _rows;
    private readonly float[] _rowsF;

    private enum Coefficient
    {
        AlphaBar,
        AlphaBarNext,
        A,
        B,
        Sigma,
        C1,
        C2,
        Count,
    }

    internal InferencePlan(DiffusionSchedule schedule, int[] timesteps)
    {
        Schedule = schedule;
        _timesteps = timesteps;
        int k = timesteps.Length;
        _rows = new double[(int)Coefficient.Count * k];
        SchedulerConfig config = schedule.Config;
        for (int i = 0; i < k; i++)
        {
            int t = timesteps[i];
            double abar = schedule.AlphaBar(t);
            double abarNext = i + 1 < k ? schedule.AlphaBar(timesteps[i + 1]) : 1.0;
            double alpha = abar / abarNext;
            double beta = 1.0 - alpha;
            At(Coefficient.AlphaBar, i) = abar;
            At(Coefficient.AlphaBarNext, i) = abarNext;
            At(Coefficient.A, i) = Math.Sqrt(alpha) * (1.0 - abarNext) / (1.0 - abar);
            At(Coefficient.B, i) = Math.Sqrt(abarNext) * beta / (1.0 - abar);

            // diffusers adds noise only when the timestep is above 0. The fixed_small variance is exactly 0 at a
            // final step (abar' = 1); unlike diffusers we do not clamp it to 1e-20, so that step is deterministic.
            double variance = t <= 0 ? 0.0 : config.VarianceType == VarianceType.FixedLarge
                ? beta
                : (1.0 - abarNext) / (1.0 - abar) * beta;
            At(Coefficient.Sigma, i) = Math.Sqrt(Math.Max(variance, 0.0));

            (At(Coefficient.C1, i), At(Coefficient.C2, i)) = config.PredictionType switch
            {
                PredictionType.Epsilon => (1.0 / Math.Sqrt(abar), -Math.Sqrt(1.0 - abar) / Math.Sqrt(abar)),
                PredictionType.VPrediction => (Math.Sqrt(abar), -Math.Sqrt(1.0 - abar)),
                _ => (0.0, 1.0),
            };
        }

        _rowsF = Array.ConvertAll(_rows, v => (float)v);
        ClipLimit = config.ClipSample ? (float)config.ClipSampleRange : float.PositiveInfinity;
    }

    /// <summary>The training schedule.</summary>
    public DiffusionSchedule Schedule { get; }

    /// <summary>K, the number of steps (and of sequential model calls for DDPM).</summary>
    public int Steps => _timesteps.Length;

    /// <summary>tau_i, the training timestep the model sees at step i.</summary>
    public ReadOnlySpan<int> Timesteps => _timesteps;

    /// <summary>abar at tau_i.</summary>
    public ReadOnlySpan<double> AlphaBar => Row(Coefficient.AlphaBar);

    /// <summary>abar at tau_{i+1} (1 after the last step).</summary>
    public ReadOnlySpan<double> AlphaBarNext => Row(Coefficient.AlphaBarNext);

    /// <summary>Coefficient of x_i in step i.</summary>
    public ReadOnlySpan<double> A => Row(Coefficient.A);

    /// <summary>Coefficient of the x0 estimate in step i.</summary>
    public ReadOnlySpan<double> B => Row(Coefficient.B);

    /// <summary>Noise scale of step i (0 for a deterministic step).</summary>
    public ReadOnlySpan<double> Sigma => Row(Coefficient.Sigma);

    /// <summary>x0 = C1 * x + C2 * model_output at step i (before clipping): the prediction type in one place.</summary>
    public ReadOnlySpan<double> C1 => Row(Coefficient.C1);

    /// <summary>See <see cref="C1"/>.</summary>
    public ReadOnlySpan<double> C2 => Row(Coefficient.C2);

    /// <summary>The clamp applied to x0 estimates (+infinity when clip_sample is off).</summary>
    public float ClipLimit { get; }

    internal ReadOnlySpan<float> AF => RowF(Coefficient.A);

    internal ReadOnlySpan<float> BF => RowF(Coefficient.B);

    internal ReadOnlySpan<float> SigmaF => RowF(Coefficient.Sigma);

    internal ReadOnlySpan<float> C1F => RowF(Coefficient.C1);

    internal ReadOnlySpan<float> C2F => RowF(Coefficient.C2);

    /// <summary>
    /// One step, shared by every sampler: destination = a_i x + b_i m + sigma_i z (z ignored when sigma_i = 0).
    /// </summary>
    public void Step(int i, ReadOnlySpan<float> x, ReadOnlySpan<float> m, ReadOnlySpan<float> z, Span<float> destination) =>
        Simd.Kernels.RowOps.LinearCombination(AF[i], x, BF[i], m, SigmaF[i], z, destination);

    /// <summary>
    /// Turns raw model output at step i into the x0 estimate m (in place allowed), applying clip_sample.
    /// </summary>
    public void ToX0(int i, ReadOnlySpan<float> x, ReadOnlySpan<float> modelOutput, Span<float> destination) =>
        Simd.Kernels.RowOps.AffineCombineClamp(C1F[i], x, C2F[i], modelOutput, ClipLimit, destination);

    private ref double At(Coefficient c, int i) => ref _rows[((int)c * Steps) + i];

    private ReadOnlySpan<double> Row(Coefficient c) => _rows.AsSpan((int)c * Steps, Steps);

    private ReadOnlySpan<float> RowF(Coefficient c) => _rowsF.AsSpan((int)c * Steps, Steps);
}
