using Asd.Simd.Kernels;

namespace Asd.Tests.Denoising;

/// <summary>
/// The cache of timestep embeddings the MLP and the native U-Net share: a cached row has the bits of the function it
/// caches, and timesteps outside [0, 2^20) (never produced by a schedule, which stops at 100,000, but a denoiser may
/// be called with anything) are computed every time instead of sizing the cache by the timestep.
/// </summary>
public sealed class TimestepEmbeddingsTests
{
    private const int Dim = 8;
    private static readonly float[] Frequencies = RowNorm.SinusoidalFrequencies(Dim, 10000, 1);

    private static float[] Direct(int t)
    {
        var row = new float[Dim];
        RowNorm.SinusoidalEmbedding(t, Frequencies, 0.75f, true, row);
        return row;
    }

    [Fact]
    public void EveryTimestepGetsTheFunctionsBitsAndTheCacheStaysBounded()
    {
        var cache = new TimestepEmbeddings(Dim, Frequencies, 0.75f, flipSinToCos: true);
        int[] timesteps = [0, 1, 999, 99_999, (1 << 20) - 1, 1 << 20, (1 << 20) + 3, int.MaxValue, -1, -77, int.MinValue];
        cache.Warm(timesteps);
        Assert.Equal(1 << 20, cache.CachedRows); // grown for 2^20 - 1, the last cached timestep, not past it
        var row = new float[Dim];
        foreach (int t in timesteps.Concat(timesteps))
        {
            row.AsSpan().Fill(float.NaN);
            cache.Write(t, row);
            Assert.Equal(Direct(t), row);
        }

        Assert.Equal(1 << 20, cache.CachedRows);
        Assert.NotEqual(Direct(1), Direct(999));

        // Written without a warm-up, out-of-range timesteps still leave the cache empty.
        var cold = new TimestepEmbeddings(Dim, Frequencies, 0.75f, flipSinToCos: true);
        foreach (int t in new[] { 1 << 20, int.MaxValue, -1, int.MinValue })
        {
            cold.Write(t, row);
            Assert.Equal(Direct(t), row);
        }

        Assert.Equal(0, cold.CachedRows);
        cold.Write(3, row);
        Assert.Equal(Direct(3), row);
        Assert.InRange(cold.CachedRows, 4, 8);
    }
}
