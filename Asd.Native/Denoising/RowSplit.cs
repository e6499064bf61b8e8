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
/// <param name="owner">The denoiser whose lanes run the rows.</param>
/// <param name="rows">The most rows a call holds.</param>
/// <param name="pool">The pool whose threads run the lanes.</param>
/// <param name="lanes">The most lanes a call is split over (at most the pool's threads). Which scratch runs a lane's
/// rows is the running thread's (<see cref="CorePool.CurrentSlot"/>), so the owner keeps one lane of scratch per pool
/// thread: a chunk goes to whichever thread claims it first, and its rows then run where that thread's scratch already
/// sits in cache (the caller's is lane 0, which also runs one-row calls).</param>
/// <param name="minRows">The fewest rows a call splits; smaller calls are the owner's to run (<see cref="TryRun"/>).</param>
/// <param name="embeddings">The timestep-embedding cache the lanes share: warmed for a call's timesteps before the lanes start, so they only read it.</param>
internal sealed class RowSplit(ILaneDenoiser owner, int rows, CorePool pool, int lanes, int minRows, TimestepEmbeddings embeddings) : IRangeWork
{
    private readonly float[] _samples = new float[rows * owner.SampleSize], _conditioning = new float[rows * owner.ConditionSize], _output = new float[rows * owner.SampleSize];
    private readonly int[] _timesteps = new int[rows];
    private int _m, _lanes;

    /// <summary>
    /// Runs the call's rows (at most the rows this split was made for) over min(lanes, rows) lanes when the call holds
    /// at least the split's fewest rows and two lanes would run; otherwise returns false and leaves the call to the
    /// caller.
    /// </summary>
    public bool TryRun(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int m = timesteps.Length;
        int used = Math.Min(lanes, m);
        if (m < minRows || m == 0)
        {
            return false;
        }

        if (used < 2)
        {
            // One row (a split from one row on): lane 0 runs it on the calling thread, on the scratch it uses in
            // larger calls, with no hand-off to the pool at all.
            embeddings.Warm(timesteps);
            owner.ForwardLane(0, samples, timesteps, conditioning, output);
            return true;
        }

        embeddings.Warm(timesteps);
        (_m, _lanes) = (m, used);
        samples.CopyTo(_samples);
        timesteps.CopyTo(_timesteps);
        conditioning.CopyTo(_conditioning);
        pool.Run(this, used);
        _output.AsSpan(0, output.Length).CopyTo(output);
        return true;
    }

    /// <inheritdoc/>
    public void Execute(int start, int end)
    {
        int d = owner.SampleSize, c = owner.ConditionSize;
        for (int i = start; i < end; i++)
        {
            int r0 = (int)((long)_m * i / _lanes), r1 = (int)((long)_m * (i + 1) / _lanes);
            owner.ForwardLane(
                CorePool.CurrentSlot,
                _samples.AsSpan(r0 * d, (r1 - r0) * d), _timesteps.AsSpan(r0, r1 - r0),
                _conditioning.AsSpan(r0 * c, (r1 - r0) * c), _output.AsSpan(r0 * d, (r1 - r0) * d));
        }
    }
}

