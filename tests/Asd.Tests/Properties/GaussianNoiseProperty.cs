namespace Asd.Tests.Properties;

/// <summary>
/// The counter-based Gaussians are standard normal and uncorrelated: the property behind every exactness claim
/// (the rejection sampler is exact for Gaussian z). Uniforms are uniform on (0, 1).
/// </summary>
internal static class GaussianNoiseProperty
{
    /// <summary>Values per case.</summary>
    public const int SampleSize = 40_000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    public sealed record Case(int Length, uint Purpose, ulong Seed)
    {
        public override string ToString() => $"length={Length} purpose={Purpose} seed={Seed}";
    }

    /// <summary>Vector lengths 2..700 (odd and even, stack and pooled paths), any purpose and seed.</summary>
    public static Gen<Case> Cases { get; } =
        from n in Gen.Choose(2, 700)
        from purpose in Gen.Choose(0, 15)
        from seed in CaseGen.Seed
        select new Case(n, (uint)purpose, seed);

    /// <param name="seed">Property seed.</param>
    /// <param name="duplicateHalf">Negative control: the sine half repeats the cosine half (dependent outputs).</param>
    public static PropertyOutcome Run(ulong seed, bool duplicateHalf)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(c, duplicateHalf)));
        }

        return Rule.Decide("Counter-based Gaussians are i.i.d. N(0, 1)", results);
    }

    public static double CasePValue(Case c, bool duplicateHalf)
    {
        int vectors = Math.Max(2, SampleSize / c.Length);
        int h = (c.Length + 1) / 2;
        var values = new List<double>(vectors * c.Length);
        var first = new double[vectors];
        var paired = new double[vectors];
        var neighbour = new double[vectors];
        var buffer = new float[c.Length];
        var uniforms = new double[vectors];
        for (int v = 0; v < vectors; v++)
        {
            CounterRng.Gaussian(c.Seed, (ulong)v, (uint)(v * 7), c.Purpose, buffer);
            if (duplicateHalf)
            {
                for (int p = 0; p + h < c.Length; p++)
                {
                    buffer[h + p] = buffer[p];
                }
            }

            foreach (float x in buffer)
            {
                values.Add(x);
            }

            // Within-vector dependence the Box-Muller layout could introduce: pair (p, h + p) and neighbours (0, 1).
            first[v] = buffer[0];
            paired[v] = c.Length > h ? buffer[h] : buffer[c.Length - 1];
            neighbour[v] = buffer[1];
            uniforms[v] = CounterRng.Uniform(c.Seed, (ulong)v, (uint)v, c.Purpose);
        }

        double[] all = [.. values];
        double mean = all.Average();
        double ss = all.Sum(x => (x - mean) * (x - mean));
        var pValues = new List<double>
        {
            Stat.KsOneSample(all, Stat.NormalCdf),
            Stat.NormalTwoSided(mean * Math.Sqrt(all.Length)),
            Stat.ChiSquareTwoSided(ss, all.Length - 1),
            CorrelationPValue(first, paired),
            CorrelationPValue(first, neighbour),
            Stat.KsOneSample(uniforms, u => Math.Clamp(u, 0, 1)),
        };
        return Stat.Bonferroni(pValues);
    }

    /// <summary>Two-sided p-value of zero correlation (Fisher z; exact enough for n in the hundreds and more).</summary>
    private static double CorrelationPValue(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }

        double r = Math.Clamp(sab / Math.Sqrt(saa * sbb), -0.999999, 0.999999);
        double z = 0.5 * Math.Log((1 + r) / (1 - r)) * Math.Sqrt(a.Length - 3);
        return Stat.NormalTwoSided(z);
    }
}
