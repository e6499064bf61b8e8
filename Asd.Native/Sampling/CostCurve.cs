using System.Diagnostics;

namespace Asd.Native.Sampling;

/// <summary>
/// A denoiser's measured batch-cost curve: T(B), the wall-clock time of one call with B rows, for B = 1 .. Max.
/// ASD's wall-clock gain depends on T(B) / T(1): a verification of L rows costs T(L) instead of L T(1).
/// </summary>
public sealed partial class CostCurve : IBatchCost
{
    private readonly double[] _seconds, _measured;

    /// <summary>Creates a curve from measured seconds per call, index 0 holding T(1).</summary>
    /// <param name="secondsPerCall">The model's time per call of B rows, B = 1, 2, ... (as measured: the curve keeps
    /// their non-decreasing least-squares fit, <see cref="Isotonic"/>).</param>
    /// <param name="model">The model it was measured on.</param>
    /// <param name="rowOverheadSeconds">The sampler's own time per row (drawing, stepping, testing), &gt;= 0.</param>
    /// <param name="callOverheadSeconds">The sampler's own time per call (assembling, bookkeeping), &gt;= 0.</param>
    /// <param name="noise">The measurement's relative spread (<see cref="Noise"/>); NaN when unknown.</param>
    public CostCurve(IReadOnlyList<double> secondsPerCall, string model = "", double rowOverheadSeconds = 0, double callOverheadSeconds = 0, double noise = double.NaN)
    {
        if (secondsPerCall.Count == 0 || secondsPerCall.Any(s => !(s > 0) || double.IsInfinity(s)))
        {
            throw new ArgumentException("A cost curve needs at least one positive, finite time per batch size.");
        }

        if (!(rowOverheadSeconds >= 0) || double.IsInfinity(rowOverheadSeconds))
        {
            throw new ArgumentException($"The row overhead must be a finite time >= 0 (got {rowOverheadSeconds}).", nameof(rowOverheadSeconds));
        }

        if (!(callOverheadSeconds >= 0) || double.IsInfinity(callOverheadSeconds))
        {
            throw new ArgumentException($"The call overhead must be a finite time >= 0 (got {callOverheadSeconds}).", nameof(callOverheadSeconds));
        }

        _measured = [.. secondsPerCall];
        _seconds = Isotonic.Fit(_measured);
        Model = model;
        RowOverheadSeconds = rowOverheadSeconds;
        CallOverheadSeconds = callOverheadSeconds;
        Noise = noise >= 0 ? noise : double.NaN;
    }

    /// <summary>
    /// Whether automatic L may correct this curve from the timings of the run (<see cref="AutoSpeculation"/>): true
    /// for a curve the engine measured itself or remembered (<see cref="CostCurveStore"/>), false for one a caller
    /// gives (a file from <c>asd bench --save-cost-curve</c>), which keeps auto deterministic (docs/math.md section 6).
    /// </summary>
    public bool Learns { get; init; }

    /// <summary>A copy of the curve that <see cref="Learns"/> (or not).</summary>
    public CostCurve WithLearning(bool learns) => Copy(learns, Remembered);

    private CostCurve Copy(bool learns, bool remembered) =>
        new(_measured, Model, RowOverheadSeconds, CallOverheadSeconds, Noise) { Learns = learns, DdpmRowOverheadSeconds = DdpmRowOverheadSeconds, DdpmCallSeconds = DdpmCallSeconds, Remembered = remembered };

    /// <summary>
    /// Whether the curve was read from the per-user cache (<see cref="CostCurveStore"/>) rather than measured in this
    /// process. A learning controller then skips the timings of its first run: that run is the process's first contact
    /// with the model and the sampler (under the JIT, code compiled on first use), and its calls timed up to 50x their
    /// cost (5.6 ms for 2 rows of the policy against 0.12 ms), which taught auto that short drafts are dear. A
    /// calibration in the process warms all of it up before sampling.
    /// </summary>
    public bool Remembered { get; init; }

    /// <summary>A learning copy marked <see cref="Remembered"/>.</summary>
    internal CostCurve AsRemembered() => Copy(learns: true, remembered: true);

    /// <summary>
    /// DDPM's own work per row (its step, noise and bookkeeping, without the model), measured beside the ASD sampler's
    /// overheads; NaN when unknown (a curve given by numbers, or saved before it was measured). ASD's round with L = 1
    /// does DDPM's arithmetic but more bookkeeping: on the 2-D mixture (0.4 us calls) it ran at 0.91x of DDPM, and a
    /// prediction against T(1) alone was 9-18% optimistic there.
    /// </summary>
    public double DdpmRowOverheadSeconds { get; init; } = double.NaN;

    /// <summary>
    /// The model's call of one row as DDPM's calls come, each right after another of one row; NaN when unknown (a
    /// curve given by numbers, or saved before it was measured). The curve's own T(1) is timed after the larger sizes
    /// of a pass, as a round's call follows the rounds before it, and that is not always DDPM's cost: on the 28x28 UNet
    /// fixture row-parallel (2 threads), one row right after two read 1.13-1.22 ms (lower quartile) where DDPM's
    /// back-to-back calls read 1.04-1.06 ms in the same process (<c>Asd.Bench quick-sampling-calls</c>), so every
    /// speedup predicted against the curve's T(1) was 8-15% high.
    /// </summary>
    public double DdpmCallSeconds { get; init; } = double.NaN;

    /// <summary>
    /// A DDPM step of <paramref name="rows"/> chains: the model's call (<see cref="DdpmCallSeconds"/> for one row when
    /// known, T(rows) otherwise) plus DDPM's own work per row (ASD's overheads, as in <see cref="Seconds"/>, when DDPM's
    /// are unknown). The baseline of every predicted wall-clock speedup.
    /// </summary>
    public double DdpmSeconds(int rows)
    {
        double call = rows == 1 && !double.IsNaN(DdpmCallSeconds) ? DdpmCallSeconds : CallSeconds(rows);
        return double.IsNaN(DdpmRowOverheadSeconds) ? call + CallOverheadSeconds + (rows * RowOverheadSeconds) : call + (rows * DdpmRowOverheadSeconds);
    }

    /// <summary>
    /// The relative spread of single timed calls in the calibration: the median over batch sizes of
    /// (upper quartile - lower quartile) / lower quartile. NaN when unknown (a curve given by numbers).
    /// </summary>
    public double Noise { get; }

    /// <summary>The sampler's own work per call, beside <see cref="RowOverheadSeconds"/> per row.</summary>
    public double CallOverheadSeconds { get; }

    /// <summary>T(B) as measured, before the non-decreasing fit (B = 1 .. <see cref="MaxRows"/>).</summary>
    public double MeasuredCallSeconds(int rows) => _measured[Math.Clamp(rows, 1, _measured.Length) - 1];

    /// <summary>
    /// The curve assumed when the calibration is skipped (<see cref="CalibrationLimits.Skip"/>): cost linear in rows,
    /// T(B) = B T(1), under which speculation never pays and automatic L runs L = 1 (DDPM's bytes). It does not learn.
    /// </summary>
    public static CostCurve AssumedLinear(string model = "") => new([1e-3, 2e-3], model);

    /// <summary>The model the curve was measured on.</summary>
    public string Model { get; }

    /// <summary>
    /// The sampler's own work per row (noise, drafts, the acceptance test, the step), measured by running the sampler
    /// on a denoiser that costs nothing. For a cheap model (the analytic mixture: 2 us per call) it is a fifth of a
    /// row's cost, and leaving it out makes long drafts look cheaper than they are.
    /// </summary>
    public double RowOverheadSeconds { get; }

    /// <summary>The largest batch measured.</summary>
    public int MaxRows => _seconds.Length;

    /// <summary>
    /// The cost of B rows in seconds: the model's T(B) plus the sampler's <see cref="CallOverheadSeconds"/> and B times
    /// <see cref="RowOverheadSeconds"/>; beyond the
    /// measured range T is extrapolated linearly from the last two points.
    /// </summary>
    public double Seconds(int rows) => CallSeconds(rows) + CallOverheadSeconds + (rows * RowOverheadSeconds);

    /// <summary>The model's T(B) alone, in seconds.</summary>
    public double CallSeconds(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        if (rows <= _seconds.Length)
        {
            return _seconds[rows - 1];
        }

        double last = _seconds[^1], slope = _seconds.Length > 1 ? Math.Max(0, last - _seconds[^2]) : last;
        return last + (slope * (rows - _seconds.Length));
    }

    /// <summary>
    /// ASD's round of <paramref name="rows"/> rows when every round has that many, as with L = 1 throughout: one row
    /// then comes right after another, so its call is <see cref="DdpmCallSeconds"/> when known (plus the sampler's
    /// overheads, as in <see cref="Seconds"/>); other sizes as <see cref="Seconds"/>. On the 28x28 UNet fixture
    /// row-parallel, fixed L = 1 was predicted 6-12% below its measured speed against the curve's T(1).
    /// </summary>
    public double SteadySeconds(int rows) =>
        rows == 1 && !double.IsNaN(DdpmCallSeconds) ? DdpmCallSeconds + CallOverheadSeconds + RowOverheadSeconds : Seconds(rows);

    /// <summary>The cost of B rows over the cost of one (<see cref="Seconds"/>).</summary>
    public double Ratio(int rows) => Seconds(rows) / Seconds(1);

    /// <summary>
    /// Measures T(B) for B = 1 .. <paramref name="maxRows"/> on random samples and timesteps (zero conditioning): after a warm-up, <paramref name="repeats"/>
    /// passes or more (a cheap model gets up to 101, about 0.25 s in all) that interleave the batch sizes (so drift in
    /// the machine's speed hits all of them alike), each timed call preceded by an untimed one of the same size, and
    /// the median per B.
    /// Every B up to <paramref name="denseUpTo"/> is timed; above it, a grid of about 8 sizes per doubling, with
    /// linear interpolation between them.
    /// <para>
    /// <paramref name="limits"/> bounds the wall-clock time (default <see cref="Validation.ResourceLimits.DefaultCalibrationSeconds"/>):
    /// the budget is checked after every call, and when it runs out the measurement keeps what it has (the sizes warmed
    /// up so far, at least one row, and the passes completed, at least one), extrapolating beyond the largest size
    /// measured. Its callback can cancel (<see cref="CalibrationCancelledException"/>). A single call that is itself
    /// slower than the budget is the one overrun: calls are never interrupted.
    /// </para>
    /// </summary>
    public static CostCurve Measure(IDenoiser denoiser, int maxRows, int trainSteps, int repeats = 15, string model = "", int seed = 1, int denseUpTo = 16, CalibrationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        limits ??= CalibrationLimits.Default;
        if (denoiser.MaxRowsPerCall > 0)
        {
            maxRows = Math.Min(maxRows, denoiser.MaxRowsPerCall);
        }

        int d = denoiser.SampleSize;
        // The probe's buffers obey the samplers' ceiling (SamplerOptions.RowsFor): a wide conditioning row counts too.
        maxRows = Math.Max(1, Math.Min(maxRows, Validation.ResourceLimits.MaxBatchFloats / Math.Max(1, Math.Max(d, denoiser.ConditionSize))));
        var clock = new CalibrationClock(limits);
        var probe = new Probe(denoiser, maxRows, trainSteps, seed, clock);
        List<int> sizes = [];
        for (int b = 1; b <= maxRows; b = b < denseUpTo ? b + 1 : b + Math.Max(1, b / 8))
        {
            sizes.Add(b);
        }

        if (sizes[^1] != maxRows)
        {
            sizes.Add(maxRows);
        }

        void Call(int rows) => probe.Call(rows);

        long warm = Stopwatch.GetTimestamp();
        for (int i = 0; i < sizes.Count; i++)
        {
            Call(sizes[i]);
            if (clock.OutOfTime)
            {
                // Out of budget while warming up: time only the sizes warmed so far (larger ones are extrapolated).
                sizes.RemoveRange(i + 1, sizes.Count - i - 1);
                break;
            }
        }

        // A cheap model's pass is short and its estimates noisy: allow more repeats, up to about 0.25 s in all (each
        // timed sample lasts at least 0.2 ms, so a pass takes at least sizes x 0.2 ms). The passes stop earlier
        // once the estimates are stable (StableAfter).
        double pass = Math.Max(Stopwatch.GetElapsedTime(warm).TotalSeconds, sizes.Count * 2e-4);
        repeats = Math.Clamp((int)(0.25 / pass), repeats, Math.Max(repeats, 101));
        clock.Planned = clock.Calls + (repeats * sizes.Count * 2);
        var samples = new double[sizes.Count][];
        for (int i = 0; i < sizes.Count; i++)
        {
            samples[i] = new double[repeats];
        }

        var estimate = new double[sizes.Count];
        var previous = new double[sizes.Count];
        int passes = 0;
        while (passes < repeats && (passes == 0 || !clock.OutOfTime))
        {
            int r = passes++;

            // Largest size first: each size then follows the next larger one, as in sampling, where one round's call
            // is about the size of the last. In increasing order one row came right after the largest call of the
            // previous pass, and ran slow even after an untimed call of its own: on the trained ConditionalUnet1D
            // (quick-unet, 2 threads, sizes 1..64) T(1) read 0.40 ms that way and 0.32 ms in decreasing order, which
            // is what DDPM's own calls take (0.30-0.33 ms in asd bench); through ONNX Runtime on the UNet fixture a
            // row right after 64 ran 1.25x (2 threads) to 1.48x (1 thread) slow (bench quick-onnx-after). T(1) is the
            // DDPM cost every speedup is measured against: too dear, and drafts looked cheap.
            for (int i = sizes.Count - 1; i >= 0; i--)
            {
                int b = sizes[i];

                // One untimed call of this size first (the pass begins with its largest size after the last pass's one row).
                Call(b);

                double once = probe.Time(b);
                samples[i][r] = once;
            }

            if (passes >= MinPasses && passes % 2 == 1 && StableAfter(samples, passes, estimate, previous))
            {
                break;
            }
        }

        // The estimator: the lower quartile of each size's samples. Interference on a shared machine (another
        // process, a thread woken late) only ever adds time, so the low quantile is the machine's own cost, and it
        // moves far less from run to run than the median (issue 16: medians gave curves like 16:7.71 24:4.21).
        int measured = sizes[^1];
        var dense = new double[measured];
        var spread = new double[sizes.Count];
        var lows = new double[sizes.Count];
        for (int i = 0; i < sizes.Count; i++)
        {
            double[] sorted = [.. samples[i].AsSpan(0, passes).ToArray().Order()];
            lows[i] = Quantile(sorted, LowQuantile);
            spread[i] = (Quantile(sorted, 0.75) - lows[i]) / lows[i];
        }

        FillBetween(sizes, lows, dense);

        // DDPM's call: one row right after another, as DDPM's steps come (DdpmCallSeconds), as many timings as the
        // passes took and the same estimator.
        Call(1);
        var backToBack = new double[passes];
        int timedCalls = 0;
        while (timedCalls < passes && (timedCalls == 0 || !clock.OutOfTime))
        {
            backToBack[timedCalls++] = probe.Time(1);
        }

        double ddpmCall = Quantile([.. backToBack.AsSpan(0, timedCalls).ToArray().Order()], LowQuantile);
        (double perCall, double perRow) = MeasureSamplerOverhead(d, Math.Min(repeats, 15), clock);
        double ddpmPerRow = MeasureDdpmOverhead(d, Math.Min(repeats, 15), clock);
        return new CostCurve(dense, model, perRow, perCall, Median(spread)) { Learns = true, DdpmRowOverheadSeconds = ddpmPerRow, DdpmCallSeconds = ddpmCall };
    }

    /// <summary>
    /// Writes <paramref name="values"/> at the row counts <paramref name="sizes"/> (ascending, from 1) into
    /// <paramref name="dense"/> (index B - 1), and linear interpolation between them.
    /// </summary>
    private static void FillBetween(IReadOnlyList<int> sizes, double[] values, double[] dense)
    {
        for (int i = 0; i < sizes.Count; i++)
        {
            dense[sizes[i] - 1] = values[i];
            if (i > 0)
            {
                int b0 = sizes[i - 1], b1 = sizes[i];
                for (int b = b0 + 1; b < b1; b++)
                {
                    dense[b - 1] = values[i - 1] + ((values[i] - values[i - 1]) * (b - b0) / (b1 - b0));
                }
            }
        }
    }

    /// <summary>The quantile of the timed samples that estimates T(B) (see <see cref="Measure"/>).</summary>
    public const double LowQuantile = 0.25;

    /// <summary>Passes taken before the stability test may end the calibration.</summary>
    private const int MinPasses = 7;

    /// <summary>
    /// True when the low-quantile estimates moved little since the last check (median relative change below 1%, none
    /// above 5%); updates <paramref name="estimate"/> and <paramref name="previous"/>.
    /// </summary>
    private static bool StableAfter(double[][] samples, int passes, double[] estimate, double[] previous)
    {
        estimate.CopyTo(previous, 0);
        var change = new double[samples.Length];
        for (int i = 0; i < samples.Length; i++)
        {
            estimate[i] = Quantile([.. samples[i].AsSpan(0, passes).ToArray().Order()], LowQuantile);
            change[i] = previous[i] > 0 ? Math.Abs(estimate[i] - previous[i]) / previous[i] : double.PositiveInfinity;
        }

        return Median(change) < 0.01 && change.Max() < 0.05;
    }

    private static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * (pos - lo));
    }

    /// <summary>
    /// The sampler's own seconds per row for samples of <paramref name="sampleSize"/> values (the per-row part of
    /// <see cref="MeasureSamplerOverhead(int, int)"/>).
    /// </summary>
    public static double MeasureRowOverhead(int sampleSize, int repeats = 15) => MeasureSamplerOverhead(sampleSize, repeats, null).PerRow;

    /// <summary>
    /// The sampler's own work, split into seconds per call and seconds per row, for samples of
    /// <paramref name="sampleSize"/> values: ASD on one chain with a denoiser that returns a constant x0 estimate (so
    /// every draft is accepted) and costs nothing, once with L = 1 (a call per row, as DDPM) and once with L = 16 (16
    /// rows per call); the median over <paramref name="repeats"/> runs of each, and the two equations
    /// time = calls x per-call + rows x per-row solved for both. The run has 1000 steps for small samples and fewer for
    /// large ones (about 2M values per run, at least 32 steps), so calibrating an image model stays quick.
    /// </summary>
    public static (double PerCall, double PerRow) MeasureSamplerOverhead(int sampleSize, int repeats = 15) => MeasureSamplerOverhead(sampleSize, repeats, null);

    private static (double PerCall, double PerRow) MeasureSamplerOverhead(int sampleSize, int repeats, CalibrationClock? clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        int steps = Math.Clamp((1 << 21) / sampleSize, 32, 1000);
        var plan = new Schedules.DiffusionSchedule(new Schedules.SchedulerConfig { PredictionType = Schedules.PredictionType.Sample }).Plan(steps);
        (double Wall, double Calls, double Rows) Run(int length)
        {
            // Buffers for the rows a round has, not the default 1024 (which for a large sample is most of the memory
            // a calibration would otherwise take).
            using var sampler = new AsdSampler(new FreeDenoiser(sampleSize), plan, new SamplerOptions { SpecLength = SpecLength.Fixed(length), MaxBatchRows = length });
            var output = new float[sampleSize];
            sampler.Sample(1, 1, output);
            clock?.Tick();
            var wall = new double[repeats];
            int runs = 0;
            SamplingStats? st = null;
            while (runs < repeats && (runs == 0 || clock is not { OutOfTime: true }))
            {
                st = sampler.Sample(1, (ulong)runs + 2, output);
                wall[runs++] = st.WallSeconds;
                clock?.Tick();
            }

            return (Median(wall.AsSpan(0, runs).ToArray()), st!.DenoiserInvocations, st.RowsEvaluated);
        }

        (double w16, double calls16, double rows16) = Run(16);
        (double w1, double calls1, double rows1) = Run(1);

        // w = calls c + rows r, for both runs.
        double det = (calls1 * rows16) - (calls16 * rows1);
        double perRow = det != 0 ? ((calls1 * w16) - (calls16 * w1)) / det : w16 / rows16;
        double perCall = det != 0 ? ((w1 * rows16) - (w16 * rows1)) / det : 0;
        if (perRow < 0 || perCall < 0)
        {
            // Noise can push one part below zero: then all of it is per row (the L = 16 run's time per row).
            return (0, w16 / rows16);
        }

        return (perCall, perRow);
    }

    /// <summary>
    /// DDPM's own work per step of one chain for samples of <paramref name="sampleSize"/> values: the DDPM sampler on
    /// the denoiser that costs nothing, the median over <paramref name="repeats"/> runs (as <see cref="MeasureSamplerOverhead(int, int)"/>).
    /// </summary>
    private static double MeasureDdpmOverhead(int sampleSize, int repeats, CalibrationClock? clock)
    {
        int steps = Math.Clamp((1 << 21) / sampleSize, 32, 1000);
        var plan = new Schedules.DiffusionSchedule(new Schedules.SchedulerConfig { PredictionType = Schedules.PredictionType.Sample }).Plan(steps);
        using var sampler = new DdpmSampler(new FreeDenoiser(sampleSize), plan, new SamplerOptions { MaxBatchRows = 1 });
        var output = new float[sampleSize];
        sampler.Sample(1, 1, output);
        clock?.Tick();
        var wall = new double[repeats];
        int runs = 0;
        while (runs < repeats && (runs == 0 || clock is not { OutOfTime: true }))
        {
            wall[runs] = sampler.Sample(1, (ulong)runs + 2, output).WallSeconds / steps;
            runs++;
            clock?.Tick();
        }

        return Median(wall.AsSpan(0, runs).ToArray());
    }

    /// <summary>
    /// Why <paramref name="remembered"/> no longer describes <paramref name="denoiser"/> on this machine now, or null
    /// when it still does: T(1) and T(B) for B = min(8, the rows remembered) timed again (each size called twice
    /// untimed first, so code compiled on first use is not timed; then the second lowest of 5 timings, as the
    /// calibration's low quantile), against the remembered values. Stale when T(1) moved by more than 1.4x either way
    /// (the curve was measured under another load), or T(B) / T(1) by more than 1.5x (its shape, which is what auto's
    /// choice reads; the analytic mixtures' T(8)/T(1) differs by up to 1.4x between the calibration's interleaved
    /// passes and these back-to-back calls, and a tighter bound recalibrated them on every run). A curve saved while other work loaded the machine (T(1) 0.19 ms against 0.10 now, T(2) below
    /// T(1)) made auto draft badly for a whole bench (1.22x against L = 2's 1.74x). A move counts only when it is also
    /// more than <see cref="MinStaleSeconds"/> per call. Costs 14 calls, and 14 more when the first check disagrees: a
    /// curve is stale only when a second check, on a process warmed by the first, disagrees too.
    /// </summary>
    public static string? Disagreement(IDenoiser denoiser, CostCurve remembered, int trainSteps)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(remembered);
        int b = Math.Min(8, remembered.MaxRows);
        if (denoiser.MaxRowsPerCall > 0)
        {
            b = Math.Min(b, denoiser.MaxRowsPerCall);
        }

        var probe = new Probe(denoiser, b, trainSteps, 1, null);
        double Now(int rows)
        {
            probe.Call(rows);
            probe.Call(rows);
            Span<double> t = stackalloc double[5];
            for (int i = 0; i < t.Length; i++)
            {
                t[i] = probe.Time(rows);
            }

            t.Sort();
            return t[1];
        }

        string? Check()
        {
            double one = Now(1), many = b > 1 ? Now(b) : one;
            double was = remembered.CallSeconds(1), level = one / was;
            var ci = System.Globalization.CultureInfo.InvariantCulture;
            if ((level > MaxLevelChange || level < 1 / MaxLevelChange) && Math.Abs(one - was) > MinStaleSeconds)
            {
                return string.Create(ci, $"T(1) {Micro(was)} us remembered, {Micro(one)} us now");
            }

            // T(B) as the remembered shape predicts it from today's T(1), against T(B) now.
            double predicted = one * remembered.CallSeconds(b) / was, shape = many / predicted;
            return (shape > MaxShapeChange || shape < 1 / MaxShapeChange) && Math.Abs(many - predicted) > MinStaleSeconds
                ? string.Create(ci, $"T({b})/T(1) {remembered.CallSeconds(b) / was:F2} remembered, {many / one:F2} now")
                : null;
        }

        // A second opinion before calling the curve stale: the first calls of a fresh process ran on a machine not yet
        // warm (builtin:policy's T(1) read 224 us, then 100 us in the calibration that followed, in 1 of 3 processes on
        // the 2-vCPU VM; core-pool workers just started, a lane's core idle), and every such start recalibrated.
        return Check() is null ? null : Check();

        // Fractions shown below 10 us: the 2-D mixture's calls take a fraction of a microsecond.
        static string Micro(double seconds) => (seconds * 1e6).ToString(seconds < 1e-5 ? "0.###" : "0", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The least change of a call's time, in seconds, that <see cref="Disagreement"/> counts: the 2-D mixture's calls
    /// (0.2-1 us) moved by more than 1.4x between processes on a quiet machine, and recalibrated it on most runs; a
    /// microsecond either way does not change auto's choice, and its online correction follows such a model anyway.
    /// </summary>
    public const double MinStaleSeconds = 2e-6;

    /// <summary>How far T(1) may move before a remembered curve counts as stale (<see cref="Disagreement"/>).</summary>
    public const double MaxLevelChange = 1.4;

    /// <summary>How far T(B)/T(1) may move before a remembered curve counts as stale (<see cref="Disagreement"/>).</summary>
    public const double MaxShapeChange = 1.5;

    /// <summary>
    /// Calls of a denoiser on fixed inputs (random samples, random timesteps or one shared, zero conditions), for the
    /// calibration and the staleness check.
    /// </summary>
    private sealed class Probe
    {
        private readonly IDenoiser _denoiser;
        private readonly float[] _x, _cond, _output;
        private readonly int[] _t;
        private readonly CalibrationClock? _clock;

        public Probe(IDenoiser denoiser, int maxRows, int trainSteps, int seed, CalibrationClock? clock)
        {
            _denoiser = denoiser;
            _clock = clock;
            int d = denoiser.SampleSize, c = denoiser.ConditionSize;
            // Samples and timesteps from streams of their own, so that the first rows are the same whatever maxRows is:
            // the staleness check times the calibration's own inputs (the analytic mixture's cost depends on them,
            // and T(8)/T(1) came out 4.3 or 8.1 with other timesteps).
            var rng = new Random(seed);
            var times = new Random(seed + 1);
            _x = [.. Enumerable.Range(0, maxRows * d).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
            // Zeros: conditioning may be class ids or flags that only take integers (an ONNX Int64 class input rejects
            // 0.29), and a model's cost does not depend on the condition's value.
            _cond = new float[maxRows * c];
            int shared = times.Next(Math.Max(1, trainSteps));
            _t = [.. Enumerable.Range(0, maxRows).Select(_ => denoiser.SharedTimestep ? shared : times.Next(Math.Max(1, trainSteps)))];
            _output = new float[maxRows * d];
        }

        public void Call(int rows)
        {
            int d = _denoiser.SampleSize, c = _denoiser.ConditionSize;
            _denoiser.Denoise(_x.AsSpan(0, rows * d), _t.AsSpan(0, rows), _cond.AsSpan(0, rows * c), _output.AsSpan(0, rows * d));
            _clock?.Tick();
        }

        /// <summary>Seconds per call of <paramref name="rows"/> rows, over enough calls to last 0.2 ms.</summary>
        public double Time(int rows)
        {
            long start = Stopwatch.GetTimestamp();
            Call(rows);
            double once = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (once < 2e-4)
            {
                int calls = (int)Math.Ceiling(2e-4 / Math.Max(once, 1e-7));
                start = Stopwatch.GetTimestamp();
                for (int k = 0; k < calls; k++)
                {
                    Call(rows);
                }

                once = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
            }

            return once;
        }

        /// <summary>
        /// Seconds per call of <paramref name="rows"/> rows: the mean of at least <paramref name="calls"/> calls back to
        /// back, and of as many more as make the block last 0.2 ms (as <see cref="Time"/>).
        /// </summary>
        public double TimeBlock(int rows, int calls)
        {
            long start = Stopwatch.GetTimestamp(), least = (long)(2e-4 * Stopwatch.Frequency);
            int made = 0;
            while (made < calls || Stopwatch.GetTimestamp() - start < least)
            {
                Call(rows);
                made++;
            }

            return Stopwatch.GetElapsedTime(start).TotalSeconds / made;
        }
    }

    /// <summary>The budget and cancellation of one calibration, checked after every call.</summary>
    private sealed class CalibrationClock(CalibrationLimits limits)
    {
        private readonly long _start = Stopwatch.GetTimestamp();

        public int Calls { get; private set; }

        public int Planned { get; set; }

        public bool OutOfTime => Stopwatch.GetElapsedTime(_start).TotalSeconds >= limits.Seconds;

        public void Tick()
        {
            Calls++;
            if (limits.Continue is { } go && !go(Calls, Math.Max(Planned, Calls)))
            {
                throw new CalibrationCancelledException();
            }
        }
    }

    /// <summary>A denoiser that answers x0 = 0 for every row at no cost: what is left of a run is the sampler's own work.</summary>
    private sealed class FreeDenoiser(int sampleSize) : IDenoiser
    {
        public int SampleSize => sampleSize;

        public int ConditionSize => 0;

        public bool IsBatchInvariant => true;

        /// <summary>
        /// x0 = 1e-6 t in every element: drafts then differ from their targets by a little, so every verification runs
        /// the whole coupling (the log-ratio and a uniform draw), as with a real model, yet is accepted all but always.
        /// A constant had skipped both (the difference was zero), and the per-row overhead came out at half what a
        /// real model's rounds cost beyond their calls (the 2-D mixture: long drafts predicted to win, measured 0.6x).
        /// </summary>
        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            for (int r = 0; r < timesteps.Length; r++)
            {
                output.Slice(r * sampleSize, sampleSize).Fill(1e-6f * timesteps[r]);
            }
        }
    }

    private static double Median(double[] values)
    {
        double[] s = [.. values.Order()];
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[(s.Length / 2) - 1] + s[s.Length / 2]);
    }

    /// <summary>
    /// Writes the curve as JSON: {"format": "asd-cost-curve", "version": 1, "model": ..., "row_overhead_seconds": c,
    /// "call_overhead_seconds": c0, "ddpm_row_overhead_seconds": c1, "ddpm_call_seconds": t1, "noise": n, "seconds":
    /// [T(1), T(2), ...]} (the times as measured; reading fits them again). Only format and seconds are required when
    /// read: the overheads default to 0, DDPM's call to the curve's T(1), noise to unknown. The file appears whole or not
    /// at all (<see cref="IO.AtomicFile"/>).
    /// </summary>
    public void Save(string path) => IO.AtomicFile.Write(path, WriteJson);

    private void WriteJson(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("format", "asd-cost-curve");
        w.WriteNumber("version", 1);
        w.WriteString("model", Model);
        w.WriteNumber("row_overhead_seconds", RowOverheadSeconds);
        w.WriteNumber("call_overhead_seconds", CallOverheadSeconds);
        if (!double.IsNaN(DdpmRowOverheadSeconds))
        {
            w.WriteNumber("ddpm_row_overhead_seconds", DdpmRowOverheadSeconds);
        }

        if (!double.IsNaN(DdpmCallSeconds))
        {
            w.WriteNumber("ddpm_call_seconds", DdpmCallSeconds);
        }

        if (!double.IsNaN(Noise))
        {
            w.WriteNumber("noise", Noise);
        }

        w.WriteStartArray("seconds");
        foreach (double s in _measured)
        {
            w.WriteNumberValue(s);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The curve as JSON text (see <see cref="Save"/>).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        WriteJson(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a curve written by <see cref="Save"/> (a regular file of bounded size).</summary>
    /// <exception cref="InvalidDataException">Not a cost-curve file, or invalid times.</exception>
    public static CostCurve Load(string path) =>
        Parse(IO.ModelFiles.ReadAllBytes(path, "cost curve", Validation.ResourceLimits.MaxJsonBytes), path);

    /// <summary>Parses the bytes of a cost-curve file (see <see cref="Save"/>).</summary>
    /// <exception cref="InvalidDataException">Not a cost-curve file, or invalid times; the message names the key.</exception>
    public static CostCurve Parse(ReadOnlyMemory<byte> utf8, string source)
    {
        using JsonDocument doc = IO.StrictJson.Parse(utf8, source);
        JsonElement root = IO.StrictJson.Object(doc, source);
        string? format = null, model = "";
        double overhead = 0, callOverhead = 0, noise = double.NaN, ddpmOverhead = double.NaN, ddpmCall = double.NaN;
        List<double>? seconds = null;
        foreach (JsonProperty p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "format": format = IO.StrictJson.String(p.Value, "format", source); break;
                case "version": IO.StrictJson.Int(p.Value, "version", source, 1, 1); break;
                case "model": model = p.Value.ValueKind == JsonValueKind.Null ? "" : IO.StrictJson.String(p.Value, "model", source); break;
                case "row_overhead_seconds": overhead = IO.StrictJson.Number(p.Value, "row_overhead_seconds", source); break;
                case "call_overhead_seconds": callOverhead = IO.StrictJson.Number(p.Value, "call_overhead_seconds", source); break;
                case "noise": noise = IO.StrictJson.Number(p.Value, "noise", source); break;
                case "ddpm_row_overhead_seconds": ddpmOverhead = IO.StrictJson.Number(p.Value, "ddpm_row_overhead_seconds", source); break;
                case "ddpm_call_seconds": ddpmCall = IO.StrictJson.Number(p.Value, "ddpm_call_seconds", source); break;
                case "seconds":
                    seconds = [];
                    foreach (JsonElement e in IO.StrictJson.Array(p.Value, "seconds", source))
                    {
                        if (seconds.Count == Validation.ResourceLimits.MaxCostCurvePoints)
                        {
                            throw new InvalidDataException($"{source}: \"seconds\" lists more than {Validation.ResourceLimits.MaxCostCurvePoints} batch sizes (the limit).");
                        }

                        seconds.Add(IO.StrictJson.Number(e, "seconds", source));
                    }

                    break;
                default:
                    throw new InvalidDataException($"{source}: unknown key '{p.Name}' in a cost-curve file (expected format, version, model, row_overhead_seconds, call_overhead_seconds, ddpm_row_overhead_seconds, ddpm_call_seconds, noise, seconds).");
            }
        }

        if (format != "asd-cost-curve")
        {
            throw new InvalidDataException($"{source}: not an asd cost-curve file (format must be \"asd-cost-curve\").");
        }

        if (seconds is null)
        {
            throw new InvalidDataException($"{source}: the key \"seconds\" is missing.");
        }

        try
        {
            if (!double.IsNaN(ddpmOverhead) && !(ddpmOverhead >= 0 && double.IsFinite(ddpmOverhead)))
            {
                throw new ArgumentException($"ddpm_row_overhead_seconds must be a finite time >= 0 (got {ddpmOverhead}).");
            }

            if (!double.IsNaN(ddpmCall) && !(ddpmCall > 0 && double.IsFinite(ddpmCall)))
            {
                throw new ArgumentException($"ddpm_call_seconds must be a finite time > 0 (got {ddpmCall}).");
            }

            return new CostCurve(seconds, model, overhead, callOverhead, noise) { DdpmRowOverheadSeconds = ddpmOverhead, DdpmCallSeconds = ddpmCall };
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: invalid cost-curve file ({e.Message}).", e);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(" ", Enumerable.Range(1, MaxRows).Select(b => string.Create(CultureInfo.InvariantCulture, $"{b}:{Ratio(b):F2}")));
}
