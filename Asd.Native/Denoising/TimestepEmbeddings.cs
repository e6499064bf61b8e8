namespace Asd.Native.Denoising;

/// <summary>
/// A network's sinusoidal timestep embedding (<see cref="RowNorm.SinusoidalEmbedding"/>), each timestep's computed
/// once: timesteps repeat from call to call (K of them per run), and sin/cos cost more than the rest of a small
/// network's row. A cached row is the same function's output, so the same bits. One per denoiser (not thread-safe).
/// </summary>
internal sealed class TimestepEmbeddings(int dim, float[] frequencies, float scale, bool flipSinToCos)
{
    /// <summary>Timesteps from this on (and negative ones) are computed every time, so the cache stays bounded.</summary>
    private const int CachedBelow = 1 << 20;

    private float[] _cache = [];
    private bool[] _known = [];

    /// <summary>Writes the embedding of <paramref name="timestep"/> (<c>dim</c> floats) into <paramref name="row"/>.</summary>
    public void Write(int timestep, Span<float> row)
    {
        if (timestep < 0 || timestep >= CachedBelow)
        {
            RowNorm.SinusoidalEmbedding(timestep, frequencies, scale, flipSinToCos, row);
            return;
        }

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

        cached.CopyTo(row);
    }
}
