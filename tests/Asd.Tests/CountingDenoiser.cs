namespace Asd.Tests;

/// <summary>A denoiser that counts the calls made to the one it wraps.</summary>
internal sealed class CountingDenoiser(IDenoiser inner) : IDenoiser
{
    public int Calls { get; private set; }

    public int SampleSize => inner.SampleSize;

    public int ConditionSize => inner.ConditionSize;

    public bool IsBatchInvariant => inner.IsBatchInvariant;

    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        Calls++;
        inner.Denoise(samples, timesteps, conditioning, output);
    }
}
