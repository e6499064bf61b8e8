namespace Asd.Native.Sampling;

/// <summary>
/// The least-squares non-decreasing fit of a sequence (pool-adjacent-violators, equal weights): a larger batch never
/// costs less, so a cost curve whose measured points dip (noise, a cache effect, a thread waking late) is replaced by
/// the closest curve that does not. Runs in O(n) with caller-provided scratch, so the online refit allocates nothing.
/// </summary>
internal static class Isotonic
{
    /// <summary>Replaces <paramref name="values"/> by its non-decreasing least-squares fit.</summary>
    /// <param name="values">The sequence, overwritten by the fit.</param>
    /// <param name="blockMean">Scratch of at least values.Length doubles.</param>
    /// <param name="blockLength">Scratch of at least values.Length ints.</param>
    public static void FitInPlace(Span<double> values, Span<double> blockMean, Span<int> blockLength)
    {
        int blocks = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double mean = values[i];
            int length = 1;

            // Merge with the blocks before while they violate the order; the merged block's mean is the weighted mean.
            while (blocks > 0 && blockMean[blocks - 1] > mean)
            {
                blocks--;
                int total = blockLength[blocks] + length;
                mean = ((blockMean[blocks] * blockLength[blocks]) + (mean * length)) / total;
                length = total;
            }

            blockMean[blocks] = mean;
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
        FitInPlace(fit, new double[fit.Length], new int[fit.Length]);
        return fit;
    }
}
