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

