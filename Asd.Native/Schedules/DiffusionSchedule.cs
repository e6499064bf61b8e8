namespace Asd.Native.Schedules;

/// <summary>
/// The training-time noise schedule: betas and cumulative alpha products (abar) over T training steps,
/// computed as diffusers' <c>DDPMScheduler.__init__</c> does (in double precision).
/// Immutable and thread-safe.
/// </summary>
public sealed class DiffusionSchedule
{
    private readonly double[] _betas;
    private readonly double[] _alphasCumprod;

    /// <summary>Builds the schedule of <paramref name="config"/> (validated first).</summary>
    public DiffusionSchedule(SchedulerConfig config)
    {
        Config = config.Validate();
        _betas = ComputeBetas(config);
        _alphasCumprod = new double[_betas.Length];
        double product = 1.0;
        for (int t = 0; t < _betas.Length; t++)
        {
            product *= 1.0 - _betas[t];
            _alphasCumprod[t] = product;
        }

        if (!(product > 0))
        {
            throw new ArgumentException("The schedule drives abar to 0 before the last training step; zero terminal SNR is not supported.");
        }
    }

    /// <summary>The configuration this schedule was built from.</summary>
    public SchedulerConfig Config { get; }

    /// <summary>T, the number of training steps.</summary>
    public int TrainSteps => _betas.Length;

    /// <summary>beta_t for t = 0 .. T-1.</summary>
    public ReadOnlySpan<double> Betas => _betas;

    /// <summary>abar_t = prod_{u &lt;= t} (1 - beta_u) for t = 0 .. T-1.</summary>
    public ReadOnlySpan<double> AlphasCumprod => _alphasCumprod;

    /// <summary>abar at a training timestep, with abar(-1) = 1 (the clean data after the last step).</summary>
    public double AlphaBar(int timestep) => timestep < 0 ? 1.0 : _alphasCumprod[timestep];

    /// <summary>
    /// The K inference timesteps, as diffusers' <c>set_timesteps</c> computes them (same float64 arithmetic and
    /// round-half-to-even, so ties land where diffusers puts them).
    /// </summary>
    /// <exception cref="ArgumentException">K &lt; 1, K &gt; T, or a timestep outside 0..T-1.</exception>
    public int[] Timesteps(int inferenceSteps)
    {
        int steps = inferenceSteps;
        int T = TrainSteps;
        if (steps < 1)
        {
            throw new ArgumentException($"The number of inference steps must be >= 1 (got {steps}).");
        }

        if (steps > T)
        {
            throw new ArgumentException($"The number of inference steps ({steps}) cannot exceed num_train_timesteps ({T}).");
        }

        var timesteps = new int[steps];
        switch (Config.TimestepSpacing)
        {
            case TimestepSpacing.Linspace:
                // numpy.linspace(0, T-1, K): v_i = i * step, the last value exactly T-1; reversed.
                double step = steps == 1 ? 0 : (T - 1.0) / (steps - 1);
                for (int i = 0; i < steps; i++)
                {
                    int k = steps - 1 - i;
                    double v = steps > 1 && k == steps - 1 ? T - 1 : k * step;
                    timesteps[i] = (int)Math.Round(v, MidpointRounding.ToEven);
                }

                break;
            case TimestepSpacing.Leading:
                int ratio = T / steps;
                for (int i = 0; i < steps; i++)
                {
                    timesteps[i] = (steps - 1 - i) * ratio + Config.StepsOffset;
                }

                break;
            default:
                // numpy.arange(T, 0, -T/K) fills start + i * ((start + step) - start). numpy can produce K + 1
                // values (the last one rounding to -1, which diffusers then indexes as abar[-1]); we keep the first K.
                double negStep = -((double)T / steps);
                double delta = (T + negStep) - T;
                for (int i = 0; i < steps; i++)
                {
                    timesteps[i] = (int)Math.Round(T + i * delta, MidpointRounding.ToEven) - 1;
                }

                break;
        }

        for (int i = 0; i < steps; i++)
        {
            if (timesteps[i] < 0 || timesteps[i] >= T)
            {
                throw new ArgumentException(
                    $"Timestep spacing '{ScheduleNames.Name(Config.TimestepSpacing)}' with steps_offset {Config.StepsOffset} and {steps} steps gives timestep {timesteps[i]}, outside 0..{T - 1}.");
            }

            if (i > 0 && timesteps[i] >= timesteps[i - 1])
            {
                throw new ArgumentException($"Timesteps must strictly decrease; got {timesteps[i - 1]} then {timesteps[i]}.");
            }
        }

        return timesteps;
    }

    /// <summary>The per-step coefficients of a K-step sampler over this schedule.</summary>
    public InferencePlan Plan(int inferenceSteps) => new(this, Timesteps(inferenceSteps));

    private static double[] ComputeBetas(SchedulerConfig c)
    {
        int T = c.NumTrainTimesteps;
        var betas = new double[T];
        if (c.TrainedBetas is { } trained)
        {
            for (int t = 0; t < T; t++)
            {
                betas[t] = trained[t];
            }

            return betas;
        }

        switch (c.BetaSchedule)
        {
            case BetaSchedule.Linear:
                Linspace(c.BetaStart, c.BetaEnd, betas);
                break;
            case BetaSchedule.ScaledLinear:
                Linspace(Math.Sqrt(c.BetaStart), Math.Sqrt(c.BetaEnd), betas);
                for (int t = 0; t < T; t++)
                {
                    betas[t] *= betas[t];
                }

                break;
            case BetaSchedule.SquaredCosCapV2:
                for (int t = 0; t < T; t++)
                {
                    betas[t] = Math.Min(1.0 - (CosineAlphaBar((t + 1.0) / T) / CosineAlphaBar((double)t / T)), 0.999);
                }

                break;
            case BetaSchedule.Sigmoid:
                Linspace(-6.0, 6.0, betas);
                for (int t = 0; t < T; t++)
                {
                    betas[t] = (c.BetaEnd - c.BetaStart) / (1.0 + Math.Exp(-betas[t])) + c.BetaStart;
                }

                break;
            default:
                throw new ArgumentException("beta schedule 'trained_betas' needs explicit betas.");
        }

        return betas;
    }

    private static double CosineAlphaBar(double t)
    {
        double c = Math.Cos((t + 0.008) / 1.008 * Math.PI / 2.0);
        return c * c;
    }

    private static void Linspace(double start, double stop, Span<double> destination)
    {
        int n = destination.Length;
        if (n == 1)
        {
            destination[0] = start;
            return;
        }

        double step = (stop - start) / (n - 1);
        for (int i = 0; i < n - 1; i++)
        {
            destination[i] = start + (i * step);
        }

        destination[n - 1] = stop;
    }
}
