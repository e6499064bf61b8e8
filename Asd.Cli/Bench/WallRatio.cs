namespace Asd.Cli.Bench;

/// <summary>
/// A wall-clock gain with its uncertainty: the median of paired ratios (DDPM's time over ASD's, one pair per repeat,
/// run back to back) and a distribution-free interval for that median from the order statistics (the binomial
/// interval of the median: [x_(k), x_(n+1-k)] with the largest k whose coverage is still at least 90%; with fewer
/// than 5 pairs no interval reaches 90%, and the range of all pairs is given with its actual coverage).
/// </summary>
internal readonly record struct WallRatio(double Median, double Low, double High, double Coverage, int Pairs)
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>The ratio of paired times: <paramref name="baseline"/>[i] / <paramref name="candidate"/>[i].</summary>
    public static WallRatio Of(IReadOnlyList<double> baseline, IReadOnlyList<double> candidate)
    {
        int n = Math.Min(baseline.Count, candidate.Count);
        double[] r = [.. Enumerable.Range(0, n).Select(i => baseline[i] / candidate[i]).Order()];
        if (n == 0)
        {
            return new WallRatio(double.NaN, double.NaN, double.NaN, 0, 0);
        }

        double median = n % 2 == 1 ? r[n / 2] : 0.5 * (r[(n / 2) - 1] + r[n / 2]);

        // Coverage of [x_(k), x_(n+1-k)] is 1 - 2 P(Bin(n, 1/2) < k).
        int k = 1;
        double coverage = CoverageOf(n, 1);
        for (int j = 2; j <= n / 2; j++)
        {
            double c = CoverageOf(n, j);
            if (c < 0.9)
            {
                break;
            }

            k = j;
            coverage = c;
        }

        return new WallRatio(median, r[k - 1], r[n - k], coverage, n);
    }

    private static double CoverageOf(int n, int k)
    {
        double below = 0;
        for (int i = 0; i < k; i++)
        {
            below += Math.Exp(LogChoose(n, i) - (n * Math.Log(2)));
        }

        return 1 - (2 * below);
    }

    private static double LogChoose(int n, int k)
    {
        double s = 0;
        for (int i = 1; i <= k; i++)
        {
            s += Math.Log(n - k + i) - Math.Log(i);
        }

        return s;
    }

    /// <summary>Whether the interval lies wholly above 1 (a gain beyond the noise) or wholly below (a loss).</summary>
    public int Sign => Low > 1 ? 1 : High < 1 ? -1 : 0;

    /// <summary>"1.19x (90% interval 1.02-1.31, 10 paired repeats)".</summary>
    public override string ToString() => Pairs == 0 ? "n/a" : string.Create(Ci, $"{Median:F2}x ({Coverage:0%} interval {Low:F2}-{High:F2}, {Pairs} paired repeat{(Pairs == 1 ? "" : "s")})");

    /// <summary>A verdict: faster or slower only when the interval excludes 1, else "no difference beyond noise".</summary>
    public string Verdict() => Sign switch
    {
        1 => "faster",
        -1 => "slower",
        _ => "no difference beyond noise",
    };
}
