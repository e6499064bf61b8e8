using System.Diagnostics;
using Asd.Native.Denoising;

namespace Asd.Bench;

/// <summary>A denoiser that passes every call to another and reports each call's timesteps and time (the probes' wiretap).</summary>
internal abstract class WatchedDenoiser(IDenoiser inner) : IDenoiser
{
    public int SampleSize => inner.SampleSize;

    public int ConditionSize => inner.ConditionSize;

    public bool IsBatchInvariant => inner.IsBatchInvariant;

    public int MaxRowsPerCall => inner.MaxRowsPerCall;

    public bool SharedTimestep => inner.SharedTimestep;

    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        long start = Stopwatch.GetTimestamp();
        inner.Denoise(samples, timesteps, conditioning, output);
        Called(timesteps, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
    }

    /// <summary>One call's timesteps (one per row) and its time in microseconds. Must not allocate where the probe times.</summary>
    protected abstract void Called(ReadOnlySpan<int> timesteps, double micros);
}
