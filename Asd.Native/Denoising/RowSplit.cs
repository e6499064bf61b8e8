namespace Asd.Native.Denoising;

/// <summary>A denoiser that can run rows on one of its lanes: its own scratch, on the calling thread alone.</summary>
internal interface ILaneDenoiser : IDenoiser
{
    /// <summary>Denoises the rows given on lane <paramref name="lane"/>'s scratch without the core pool.</summary>
    void ForwardLane(int lane, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output);
}

/// <summary>
/// A row split: the rows of one call are cut into L balanced runs, and lane i runs rows [i m / L, (i + 1) m / L)
/// through the whole network on one pool thread. A native denoiser is batch-invariant, so each row's bits are those of
/// any other split. Why it pays: a split of every layer's columns makes each layer's activations cross between cores
/// (each thread writes part of what all read next), and on the 2-vCPU VM we measure a cache line takes ~240 ns to
/// cross (tools/core_pingpong.c); a row split crosses only the call's inputs and outputs, at the price of every thread
/// streaming all the weights. The call's inputs are staged in arrays first (a work item cannot hold spans), and the
/// outputs gathered from one. Allocates nothing per call.
/// </summary>
internal sealed class RowSplit(ILaneDenoiser owner, int rows) : IRangeWork
{
    private readonly float[] _samples = new float[rows * owner.SampleSize], _conditioning = new float[rows * owner.ConditionSize], _output = new float[rows * owner.SampleSize];
    private readonly int[] _timesteps = new int[rows];
    private int _m, _lanes;

    /// <summary>Runs the call's rows (at most the rows this split was made for) over <paramref name="lanes"/> lanes of <paramref name="pool"/>.</summary>
    public void Run(CorePool pool, int lanes, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        (_m, _lanes) = (timesteps.Length, lanes);
        samples.CopyTo(_samples);
        timesteps.CopyTo(_timesteps);
        conditioning.CopyTo(_conditioning);
        pool.Run(this, lanes);
        _output.AsSpan(0, output.Length).CopyTo(output);
    }

    /// <inheritdoc/>
    public void Execute(int start, int end)
    {
        int d = owner.SampleSize, c = owner.ConditionSize;
        for (int i = start; i < end; i++)
        {
            int r0 = (int)((long)_m * i / _lanes), r1 = (int)((long)_m * (i + 1) / _lanes);
            owner.ForwardLane(
                i,
                _samples.AsSpan(r0 * d, (r1 - r0) * d), _timesteps.AsSpan(r0, r1 - r0),
                _conditioning.AsSpan(r0 * c, (r1 - r0) * c), _output.AsSpan(r0 * d, (r1 - r0) * d));
        }
    }
}

/// <summary>
/// Chooses, per call size, between splitting every layer's columns across the pool and a <see cref="RowSplit"/>, by
/// timing both: which is faster depends on the model and the machine. A row split has every core stream all the
/// weights: on the 2-vCPU VM it ran builtin:policy's 4-row call (float16, 2 rows a core) in 125 us against 152 for the
/// column split, but the pinned float32 bench network's 4-row call in 43 us against 35 for one core alone, the two
/// cores then contending for the last-level cache's bandwidth. Both give the same bits, so the choice changes only the
/// time. Allocates nothing.
/// </summary>
/// <remarks>
/// For each row count: the first <see cref="Trials"/> calls split columns and the next <see cref="Trials"/> split rows;
/// after that the way whose estimate is lower runs, and every <see cref="RecheckPeriod"/> calls the other way runs
/// <see cref="RecheckLength"/> calls in a row, so that a change of load is noticed. Blocks, not single calls: a call
/// right after calls of the other way finds the caches as that way left them (measured: a row split amid column
/// splits of the policy's 8-row call took ~215 us, a row split amid row splits ~170). An estimate takes a faster
/// timing at once and moves a quarter of the way to a slower one, counted as at most twice the estimate (a preempted
/// call is not the way's cost): like the calibration's low quantile, the machine's own cost.
/// </remarks>
internal sealed class SplitChooser(int maxRows)
{
    /// <summary>Calls of each way timed, in a block, before the estimates decide.</summary>
    public const int Trials = 3;

    /// <summary>Every this many calls, per row count, the way not in favour runs a block of <see cref="RecheckLength"/>.</summary>
    public const int RecheckPeriod = 64;

    /// <summary>Calls in a recheck block.</summary>
    public const int RecheckLength = 3;

    private readonly double[] _estimate = new double[2 * (maxRows + 1)];
    private readonly int[] _timed = new int[2 * (maxRows + 1)];
    private readonly int[] _calls = new int[maxRows + 1];
    private readonly bool[] _recheckRows = new bool[maxRows + 1];

    /// <summary>Whether a call of <paramref name="rows"/> rows should split rows (else columns).</summary>
    public bool SplitRows(int rows)
    {
        int n = _calls[rows]++;
        if (n < 2 * Trials)
        {
            return n >= Trials;
        }

        bool rowsFaster = _estimate[(2 * rows) + 1] < _estimate[2 * rows];
        int phase = (n - (2 * Trials)) % RecheckPeriod;
        if (phase == RecheckPeriod - RecheckLength)
        {
            _recheckRows[rows] = !rowsFaster;
        }

        return phase >= RecheckPeriod - RecheckLength ? _recheckRows[rows] : rowsFaster;
    }

    /// <summary>Records that a call of <paramref name="rows"/> rows split that way took <paramref name="seconds"/>.</summary>
    public void Record(int rows, bool splitRows, double seconds)
    {
        int i = (2 * rows) + (splitRows ? 1 : 0);
        double e = _estimate[i];
        _estimate[i] = _timed[i] == 0 || seconds < e ? seconds : e + (0.25 * (Math.Min(seconds, 2 * e) - e));
        _timed[i]++;
    }

    /// <summary>The estimate of a call of <paramref name="rows"/> rows split that way (0 before any timing; for tests).</summary>
    internal double Estimate(int rows, bool splitRows) => _estimate[(2 * rows) + (splitRows ? 1 : 0)];
}
