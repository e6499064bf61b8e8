using System.Runtime.CompilerServices;
namespace Asd.Simd.Kernels;

/// <summary>Per-row kernels whose results must not depend on where a row sits in memory or in a batch.</summary>
public static class RowNorm
{
    /// <summary>
    /// Layer normalization of one row: y = (x - mean) / sqrt(var + eps) * weight + bias. The statistics are those of a
    /// one-row group in <see cref="GroupNorm"/> (double, element i into lane i mod 8 of 8 fixed lanes summed in a fixed
    /// tree), so the bits do not depend on the row's alignment or the ISA path. <paramref name="destination"/> may alias
    /// <paramref name="source"/>.
    /// </summary>
    /// <remarks>
    /// Lanes rather than one sum in index order: one chain of dependent double additions cost ~2 us for a row of 768
    /// (about 4 cycles an element), and the policy's three layer norms took 10% of an 8-row forward (perf, 2 threads).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNorm(ReadOnlySpan<float> source, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, double epsilon, Span<float> destination)
    {
        int n = source.Length;
        if (n == 0 || weight.Length != n || bias.Length != n || destination.Length != n)
        {
            throw new ArgumentException($"LayerNorm spans disagree: source {n}, weight {weight.Length}, bias {bias.Length}, destination {destination.Length}.");
        }

        (double mean, double inv) = GroupNorm.Statistics(source, n, 1, 0, n, epsilon);
        GroupNorm.Normalize(source, weight, bias, mean, inv, destination);
    }

    /// <summary>
    /// The frequencies of a sinusoidal embedding as diffusers' <c>get_timestep_embedding</c> defines them:
    /// exp(-ln(maxPeriod) i / (half - shift)) for i &lt; half, computed in double and rounded to float.
    /// </summary>
    public static float[] SinusoidalFrequencies(int dim, double maxPeriod, double downscaleFreqShift)
    {
        if (dim < 2 || dim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), $"The embedding dimension must be even and >= 2 (got {dim}).");
        }

        int half = dim / 2;
        var f = new float[half];
        for (int i = 0; i < half; i++)
        {
            f[i] = (float)Math.Exp(-Math.Log(maxPeriod) * i / (half - downscaleFreqShift));
        }

        return f;
    }

    /// <summary>
    /// The sinusoidal embedding of one timestep: a_i = (t * freq_i) * scale in float (as diffusers' float32 graph), then
    /// [sin(a), cos(a)] (or [cos(a), sin(a)] when <paramref name="flipSinToCos"/>), each evaluated in double and rounded once.
    /// </summary>
    public static void SinusoidalEmbedding(float timestep, ReadOnlySpan<float> frequencies, float scale, bool flipSinToCos, Span<float> destination)
    {
        int half = frequencies.Length;
        if (destination.Length != 2 * half)
        {
            throw new ArgumentException($"The embedding holds {destination.Length} values; {half} frequencies need {2 * half}.", nameof(destination));
        }

        for (int i = 0; i < half; i++)
        {
            float arg = timestep * frequencies[i];
            if (scale != 1f)
            {
                arg *= scale;
            }

            float s = (float)Math.Sin(arg), c = (float)Math.Cos(arg);
            destination[i] = flipSinToCos ? c : s;
            destination[half + i] = flipSinToCos ? s : c;
        }
    }
}
