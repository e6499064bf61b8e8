namespace Asd.Native.Sampling;

/// <summary>
/// The least-squares non-decreasing fit of a sequence (pool-adjacent-violators, equal weights or given ones): a larger batch never
/// costs less, so a cost curve whose measured points dip (noise, a cache effect, a thread waking late) is replaced by
/// the closest curve that does not. Runs in O(n) with caller-provided scratch, so the online refit allocates nothing.
/// </summary>
internal static class Isotonic
{
    /// <summary>Replaces <paramref name="values"/> by its non-decreasing (weighted) least-squares fit.</summary>
    /// <param name="values">The sequence, overwritten by the fit.</param>
    /// <param name="weights">A weight > 0 per value (how much it is trusted), or empty for equal weights.</param>
    /// <param name="blockMean">Scratch of at least values.Length doubles.</param>
    /// <param name="blockWeight">Scratch of at least values.Length doubles.</param>
    /// <param name="blockLength">Scratch of at least values.Length ints.</param>
    public static void FitInPlace(Span<double> values, ReadOnlySpan<double> weights, Span<double> blockMean, Span<double> blockWeight, Span<int> blockLength)
    {
        if (!weights.IsEmpty && weights.Length < values.Length)
        {
            throw new ArgumentException($"{weights.Length} weights for {values.Length} values.", nameof(weights));
        }

        int blocks = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double mean = values[i], weight = weights.IsEmpty ? 1 : weights[i];
            int length = 1;

            // Merge with the blocks before while they violate the order; the merged block's mean is the weighted mean.
            while (blocks > 0 && blockMean[blocks - 1] > mean)
            {
                blocks--;
                double total = blockWeight[blocks] + weight;
                mean = ((blockMean[blocks] * blockWeight[blocks]) + (mean * weight)) / total;
                weight = total;
                length += blockLength[blocks];
            }

            blockMean[blocks] = mean;
            blockWeight[blocks] = weight;
            blockLength[blocks] = length;
            blocks++;
        }

        int k = 0;
        for (int b = 0; b < blocks; b++)
        {
            values.Slice(k, blockLength[b]).Fill(blockMean[b]);
            k += blockLength[b];
        }
    }

    /// <summary>The fit of <paramref name="values"/> as a new array.</summary>
    public static double[] Fit(IReadOnlyList<double> values)
    {
        double[] fit = [.. values];
        FitInPlace(fit, [], new double[fit.Length], new double[fit.Length], new int[fit.Length]);
        return fit;
    }
}
