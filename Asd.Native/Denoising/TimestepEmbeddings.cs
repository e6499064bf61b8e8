namespace Asd.Native.Denoising;

/// <summary>
/// A network's sinusoidal timestep embedding (<see cref="RowNorm.SinusoidalEmbedding"/>), each timestep's computed
/// once: timesteps repeat from call to call (K of them per run), and sin/cos cost more than the rest of a small
/// network's row. A cached row is the same function's output, so the same bits. One per denoiser: not thread-safe,
/// except that once <see cref="Warm"/> has run for every timestep of a call, threads may <see cref="Write"/> those
/// timesteps at once (the lanes of a row split), since that only reads.
/// </summary>
internal sealed class TimestepEmbeddings(int dim, float[] frequencies, float scale, bool flipSinToCos)
{
    /// <summary>Timesteps from this on (and negative ones) are computed every time, so the cache stays bounded.</summary>
    private const int CachedBelow = 1 << 20;

    private float[] _cache = [];
    private bool[] _known = [];

    /// <summary>Timesteps the cache has room for (tests check that it stays bounded).</summary>
    internal int CachedRows => _known.Length;

    /// <summary>Computes and caches the embedding of each of <paramref name="timesteps"/> not cached yet.</summary>
    public void Warm(ReadOnlySpan<int> timesteps)
    {
        foreach (int t in timesteps)
        {
            if (t >= 0 && t < CachedBelow && (t >= _known.Length || !_known[t]))
            {
                Cached(t);
            }
        }
    }

    /// <summary>Writes the embedding of <paramref name="timestep"/> (<c>dim</c> floats) into <paramref name="row"/>.</summary>
    public void Write(int timestep, Span<float> row)
    {
        if (timestep < 0 || timestep >= CachedBelow)
        {
            RowNorm.SinusoidalEmbedding(timestep, frequencies, scale, flipSinToCos, row);
            return;
        }

        Span<float> cached = Cached(timestep);
        cached.CopyTo(row);
    }

    /// <summary>The cached embedding of a timestep in [0, CachedBelow), computed on first request.</summary>
    private Span<float> Cached(int timestep)
    {
        if (timestep >= _known.Length)
        {
            int size = Math.Max(timestep + 1, 2 * _known.Length);
            Array.Resize(ref _known, size);
            Array.Resize(ref _cache, size * dim);
        }

        Span<float> cached = _cache.AsSpan(timestep * dim, dim);
        if (!_known[timestep])
        {
            RowNorm.SinusoidalEmbedding(timestep, frequencies, scale, flipSinToCos, cached);
            _known[timestep] = true;
        }

        return cached;
    }
}
