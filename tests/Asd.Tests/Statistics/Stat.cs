namespace Asd.Tests.Statistics;

/// <summary>
/// Distribution functions and classical tests used by the statistical properties. Written out here (rather than
/// taken from a package) so the tests and the offline power study share exactly the same numbers.
/// </summary>
public static class Stat
{
    /// <summary>ln Gamma(x) for x &gt; 0 (Lanczos, g = 7, n = 9; relative error below 1e-14).</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61503916999185, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5)
        {
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        x -= 1;
        double a = c[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++)
        {
            a += c[i] / (x + i);
        }

        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(a);
    }

    /// <summary>The regularized upper incomplete gamma function Q(a, x) = Gamma(a, x) / Gamma(a).</summary>
    public static double GammaQ(double a, double x)
    {
        if (x <= 0)
        {
            return 1.0;
        }

        if (x < a + 1)
        {
            // Series for P(a, x).
            double sum = 1.0 / a, term = sum, ap = a;
            for (int n = 0; n < 10000; n++)
            {
                ap += 1;
                term *= x / ap;
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-16)
                {
                    break;
                }
            }

            return 1.0 - (sum * Math.Exp((-x) + (a * Math.Log(x)) - LogGamma(a)));
        }

        // Continued fraction for Q(a, x) (modified Lentz).
        const double tiny = 1e-300;
        double b = x + 1 - a, cc = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 10000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            if (Math.Abs(d) < tiny)
            {
                d = tiny;
            }

            cc = b + (an / cc);
            if (Math.Abs(cc) < tiny)
            {
                cc = tiny;
            }

            d = 1 / d;
            double delta = d * cc;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return Math.Exp((-x) + (a * Math.Log(x)) - LogGamma(a)) * h;
    }

    /// <summary>The standard normal CDF.</summary>
    public static double NormalCdf(double z)
    {
        double q = 0.5 * GammaQ(0.5, 0.5 * z * z);
        return z < 0 ? q : 1 - q;
    }

    /// <summary>P(Z &gt; z) for a standard normal Z, accurate in the far tail.</summary>
    public static double NormalSf(double z) => z > 0 ? 0.5 * GammaQ(0.5, 0.5 * z * z) : 1 - NormalCdf(z);

    /// <summary>P(X &gt; x) for X ~ chi-square with k degrees of freedom.</summary>
    public static double ChiSquareSf(double x, double k) => GammaQ(0.5 * k, 0.5 * x);

    /// <summary>Two-sided p-value of a chi-square statistic (for variance tests).</summary>
    public static double ChiSquareTwoSided(double x, double k)
    {
        double sf = ChiSquareSf(x, k);
        return Math.Min(1.0, 2 * Math.Min(sf, 1 - sf));
    }

    /// <summary>Two-sided p-value of a standard normal statistic.</summary>
    public static double NormalTwoSided(double z) => Math.Min(1.0, 2 * NormalSf(Math.Abs(z)));

    /// <summary>The Kolmogorov distribution's survival function Q_KS(lambda).</summary>
    public static double KolmogorovSf(double lambda)
    {
        if (lambda < 1e-3)
        {
            return 1.0;
        }

        if (lambda < 1.18)
        {
            // Small-lambda series: P(K <= l) = sqrt(2 pi) / l sum exp(-(2j-1)^2 pi^2 / (8 l^2)).
            double y = Math.Exp(-Math.PI * Math.PI / (8 * lambda * lambda));
            double s = 0;
            for (int j = 1; j < 50; j += 2)
            {
                s += Math.Pow(y, j * j);
            }

            return 1.0 - (Math.Sqrt(2 * Math.PI) / lambda * s);
        }

        double sum = 0;
        for (int j = 1; j < 100; j++)
        {
            double term = Math.Exp(-2.0 * j * j * lambda * lambda);
            sum += (j % 2 == 1 ? 1 : -1) * term;
            if (term < 1e-18)
            {
                break;
            }
        }

        return Math.Clamp(2 * sum, 0, 1);
    }

    /// <summary>One-sample Kolmogorov-Smirnov test of <paramref name="sample"/> against a continuous CDF (Stephens' small-sample correction).</summary>
    public static double KsOneSample(double[] sample, Func<double, double> cdf)
    {
        double[] s = (double[])sample.Clone();
        Array.Sort(s);
        int n = s.Length;
        double d = 0;
        for (int i = 0; i < n; i++)
        {
            double f = cdf(s[i]);
            d = Math.Max(d, Math.Max(f - ((double)i / n), ((i + 1.0) / n) - f));
        }

        double sn = Math.Sqrt(n);
        return KolmogorovSf((sn + 0.12 + (0.11 / sn)) * d);
    }

    /// <summary>Two-sample Kolmogorov-Smirnov test (asymptotic p-value with Stephens' correction).</summary>
    public static double KsTwoSample(double[] a, double[] b)
    {
        double[] x = (double[])a.Clone(), y = (double[])b.Clone();
        Array.Sort(x);
        Array.Sort(y);
        int i = 0, j = 0;
        double d = 0;
        while (i < x.Length && j < y.Length)
        {
            double v = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] <= v)
            {
                i++;
            }

            while (j < y.Length && y[j] <= v)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs(((double)i / x.Length) - ((double)j / y.Length)));
        }

        double ne = (double)x.Length * y.Length / (x.Length + y.Length);
        double sn = Math.Sqrt(ne);
        return KolmogorovSf((sn + 0.12 + (0.11 / sn)) * d);
    }

    /// <summary>P(X &gt;= k) for X ~ Binomial(n, p), summed exactly in log space.</summary>
    public static double BinomialUpperTail(int k, int n, double p)
    {
        if (k <= 0)
        {
            return 1.0;
        }

        if (k > n)
        {
            return 0.0;
        }

        double sum = 0;
        for (int i = k; i <= n; i++)
        {
            double log = LogGamma(n + 1) - LogGamma(i + 1) - LogGamma(n - i + 1) + (i * Math.Log(p)) + ((n - i) * Math.Log(1 - p));
            sum += Math.Exp(log);
        }

        return Math.Min(1.0, sum);
    }

    /// <summary>Two-sided p-value of a binomial count by the normal approximation with continuity correction (fine for n p (1 - p) &gt;= 50).</summary>
    public static double BinomialTwoSided(long successes, long n, double p)
    {
        double mean = n * p, sd = Math.Sqrt(n * p * (1 - p));
        double z = Math.Max(0, Math.Abs(successes - mean) - 0.5) / sd;
        return NormalTwoSided(z);
    }

    /// <summary>Bonferroni combination of the p-values of one case: min(1, m * min p).</summary>
    public static double Bonferroni(IReadOnlyCollection<double> pValues) =>
        Math.Min(1.0, pValues.Count * pValues.Min());
}
