namespace Asd.Native.Backends.Analytic;

/// <summary>
/// Base of the closed-form denoisers: they know x0_hat = m(x, t) exactly and express it in the schedule's
/// prediction type, so the sampler's single conversion back to x0 is exercised for every type.
/// Rows are independent (computed in double, one fixed order per row), hence batch-invariant;
/// rows are split across the core pool when one is given and the call has enough work to pay for it.
/// </summary>
public abstract class AnalyticDenoiser : IDenoiser
{
    private readonly DiffusionSchedule _schedule;
    private readonly Threading.CorePool? _pool;
    private readonly RowWork _work;

    /// <summary>Creates the denoiser for <paramref name="schedule"/>.</summary>
    protected AnalyticDenoiser(int sampleSize, int conditionSize, DiffusionSchedule schedule, Threading.CorePool? pool)
    {
        SampleSize = sampleSize;
        ConditionSize = conditionSize;
        _schedule = schedule;
        _pool = pool;
        _work = new RowWork(this);
    }

    /// <inheritdoc/>
    public int SampleSize { get; }

    /// <inheritdoc/>
    public int ConditionSize { get; }

    /// <inheritdoc/>
    public bool IsBatchInvariant => true;

    /// <summary>The training schedule the answers refer to.</summary>
    protected DiffusionSchedule Schedule => _schedule;

    /// <summary>
    /// Calls with less estimated work than this (rows x <see cref="RowCost"/>, roughly nanoseconds) run on the calling
    /// thread. Waking the pool and gathering its rows costs microseconds, and on the 2-vCPU VM we measure a cache
    /// line takes ~240 ns to cross between the cores (tools/core_pingpong.c): the 2-D mixture's 2-row call, split,
    /// cost 2.38x its 1-row call (asd bench cost curve) for 0.4 us of arithmetic a row.
    /// </summary>
    private const long ParallelCost = 8192;

    /// <summary>A row's work in rough units of a double multiply-add (for the split decision only).</summary>
    protected virtual long RowCost => SampleSize;

    /// <summary>Writes E[x0 | x_t = x] (or the model's x0 estimate) for one row into <paramref name="x0"/>.</summary>
    protected abstract void ComputeX0(ReadOnlySpan<float> x, int timestep, ReadOnlySpan<float> condition, Span<double> x0);

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length;
        DenoiserChecks.CheckBatch(this, samples.Length, rows, conditioning.Length, output.Length);
        if (_pool is null || _pool.Threads == 1 || rows < 2 || rows * RowCost < ParallelCost)
        {
            DenoiseRows(samples, timesteps, conditioning, output, 0, rows);
            return;
        }

        unsafe
        {
            fixed (float* s = samples, c = conditioning, o = output)
            fixed (int* t = timesteps)
            {
                _work.Set(s, t, c, o, rows);
                _pool.Run(_work, rows);
            }
        }
    }

    private void DenoiseRows(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output, int start, int end)
    {
        int d = SampleSize, c = ConditionSize;
        // Sized to the sample (the runtime zeroes a stackalloc's whole length, 2 KB per call at a fixed 256).
        Span<double> x0 = d <= 256 ? stackalloc double[d] : (t_scratch is { } cached && cached.Length >= d ? cached : (t_scratch = new double[d]));
        x0 = x0[..d];
        PredictionType prediction = _schedule.Config.PredictionType;
        for (int r = start; r < end; r++)
        {
            int t = timesteps[r];
            if ((uint)t >= (uint)_schedule.TrainSteps)
            {
                throw new ArgumentOutOfRangeException(nameof(timesteps), $"Row {r} has timestep {t}, outside 0..{_schedule.TrainSteps - 1}.");
            }

            ReadOnlySpan<float> x = samples.Slice(r * d, d);
            ComputeX0(x, t, c == 0 ? default : conditioning.Slice(r * c, c), x0);
            Span<float> o = output.Slice(r * d, d);
            double abar = _schedule.AlphaBar(t);
            double sa = Math.Sqrt(abar), sb = Math.Sqrt(1.0 - abar);
            for (int j = 0; j < d; j++)
            {
                double eps = (x[j] - (sa * x0[j])) / sb;
                o[j] = prediction switch
                {
                    PredictionType.Sample => (float)x0[j],
                    PredictionType.Epsilon => (float)eps,
                    _ => (float)((sa * eps) - (sb * x0[j])),
                };
            }
        }
    }

    [ThreadStatic]
    private static double[]? t_scratch;

    private sealed unsafe class RowWork(AnalyticDenoiser owner) : Threading.IRangeWork
    {
        private float* _samples, _conditioning, _output;
        private int* _timesteps;
        private int _rows;

        public void Set(float* samples, int* timesteps, float* conditioning, float* output, int rows)
        {
            _rows = rows;
            _samples = samples;
            _timesteps = timesteps;
            _conditioning = conditioning;
            _output = output;
        }

        public void Execute(int start, int end)
        {
            int d = owner.SampleSize, c = owner.ConditionSize;
            int n = _rows;
            owner.DenoiseRows(
                new ReadOnlySpan<float>(_samples, n * d),
                new ReadOnlySpan<int>(_timesteps, n),
                c == 0 ? default : new ReadOnlySpan<float>(_conditioning, n * c),
                new Span<float>(_output, n * d),
                start,
                end);
        }
    }
}
