using Asd.Native.Sampling;
using Asd.Simd.Random;
using Asd.Tests.Statistics;
using FsCheck;
using FsCheck.Fluent;

namespace Asd.Tests.Properties;

/// <summary>
/// Property 7a: the Gaussian rejection sampler with reflection (the code ASD runs, <c>ReflectionCoupling</c>)
/// turns a draft N(mu_d, sigma^2 I) into an exact sample of N(mu_t, sigma^2 I), and accepts with probability
/// 2 Phi(-|d| / (2 sigma)).
/// </summary>
internal static class RejectionSamplerProperty
{
    /// <summary>Draws per case.</summary>
    public const int SampleSize = 20_000;

    /// <summary>20 cases at alpha = 0.01: the property fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    /// <summary>One case: dimension, |d| / sigma, sigma and a seed.</summary>
    public sealed record Case(int Dimension, double Ratio, double Sigma, ulong Seed)
    {
        /// <inheritdoc/>
        public override string ToString() => $"d={Dimension} |d|/sigma={Ratio:F2} sigma={Sigma:F2} seed={Seed}";
    }

    /// <summary>Dimension 1..64 (2..64 for the wrong-axis control, which needs a second axis), |d|/sigma in [0.3, 3].</summary>
    public static Gen<Case> Cases(int minDimension) =>
        from d in Gen.Choose(minDimension, 64)
        from r in CaseGen.Uniform(0.3, 3.0)
        from s in CaseGen.Uniform(0.1, 2.0)
        from seed in CaseGen.Seed
        select new Case(d, r, s, seed);

    private struct CounterUniform(ulong seed, ulong stream) : IUniformDraw
    {
        public readonly double Next() => CounterRng.Uniform(seed, stream, 0, 2);
    }

    /// <summary>Runs the rejection sampler for one case and returns the outputs (n x d), the acceptance count and the target mean.</summary>
    internal static (double[][] Outputs, int Accepted, double[] TargetMean, double[] Direction, double RatioActual) Simulate(Case c, AsdFault fault)
    {
        int d = c.Dimension;
        var rng = new System.Random((int)(c.Seed % int.MaxValue));
        var draftMean = new float[d];
        var targetMean = new float[d];
        var e = RandomUnit(rng, d);
        for (int j = 0; j < d; j++)
        {
            draftMean[j] = (float)Gaussian(rng);
            targetMean[j] = (float)(draftMean[j] + (c.Ratio * c.Sigma * e[j]));
        }

        double dd = 0;
        var mt = new double[d];
        for (int j = 0; j < d; j++)
        {
            mt[j] = targetMean[j];
            double u = (double)targetMean[j] - draftMean[j];
            dd += u * u;
        }

        var z = new float[d];
        var corrected = new float[d];
        var outputs = new double[SampleSize][];
        int accepted = 0;
        for (int s = 0; s < SampleSize; s++)
        {
            CounterRng.Gaussian(c.Seed, (ulong)s, 0, 1, z);
            var uniform = new CounterUniform(c.Seed, (ulong)s);
            CouplingDecision decision = ReflectionCoupling.Decide(z, targetMean, draftMean, 1.0, c.Sigma, ref uniform, corrected, fault, out _);
            var x = new double[d];
            if (decision == CouplingDecision.Accept)
            {
                accepted++;
                for (int j = 0; j < d; j++)
                {
                    x[j] = draftMean[j] + (c.Sigma * z[j]);
                }
            }
            else if (fault == AsdFault.ResampleFromDraft)
            {
                CounterRng.Gaussian(c.Seed, (ulong)s, 0, 3, corrected);
                for (int j = 0; j < d; j++)
                {
                    x[j] = draftMean[j] + (c.Sigma * corrected[j]);
                }
            }
            else
            {
                for (int j = 0; j < d; j++)
                {
                    x[j] = targetMean[j] + (c.Sigma * corrected[j]);
                }
            }

            outputs[s] = x;
        }

        var direction = new double[d];
        for (int j = 0; j < d; j++)
        {
            direction[j] = ((double)targetMean[j] - draftMean[j]) / Math.Sqrt(dd);
        }

        return (outputs, accepted, mt, direction, Math.Sqrt(dd) / c.Sigma);
    }

    /// <summary>The law half: KS on the mean-difference direction and two random directions, a chi-square mean test, and variance tests along e and in total.</summary>
    public static PropertyOutcome RunLaw(ulong seed, AsdFault fault, int minDimension = 1)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases(minDimension), seed, Rule.Cases))
        {
            var (x, _, mu, e, _) = Simulate(c, fault);
            results.Add(new CaseResult(c.ToString(), LawPValue(x, mu, e, c.Sigma, c.Seed)));
        }

        return Rule.Decide("7a rejection sampler: output law", results);
    }

    /// <summary>The acceptance-rate half: accepted count against Binomial(n, 2 Phi(-|d| / (2 sigma))).</summary>
    public static PropertyOutcome RunRate(ulong seed, AsdFault fault)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases(1), seed, Rule.Cases))
        {
            var (_, accepted, _, _, ratio) = Simulate(c, fault);
            double p = 2 * Stat.NormalCdf(-ratio / 2);
            results.Add(new CaseResult(c.ToString(), Stat.BinomialTwoSided(accepted, SampleSize, p)));
        }

        return Rule.Decide("7a rejection sampler: acceptance rate", results);
    }

    /// <summary>
    /// p-value that the samples <paramref name="x"/> are N(mu, sigma^2 I), Bonferroni over six tests: KS of the
    /// standardized projection on <paramref name="e"/> (the mean-difference direction, where the defects act) and on
    /// two random directions, a chi-square test of the mean, and chi-square variance tests along e and in total.
    /// </summary>
    internal static double LawPValue(double[][] x, double[] mu, double[] e, double sigma, ulong seed)
    {
        int n = x.Length, d = mu.Length;
        var rng = new System.Random((int)(seed % int.MaxValue) ^ 0x5EED);
        var mean = new double[d];
        foreach (double[] row in x)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += row[j] / n;
            }
        }

        double meanStat = 0;
        for (int j = 0; j < d; j++)
        {
            meanStat += n * (mean[j] - mu[j]) * (mean[j] - mu[j]) / (sigma * sigma);
        }

        var pValues = new List<double> { Stat.ChiSquareSf(meanStat, d) };
        double[] projE = Project(x, mu, e, sigma);
        pValues.Add(Stat.KsOneSample(projE, Stat.NormalCdf));
        pValues.Add(Stat.KsOneSample(Project(x, mu, RandomUnit(rng, d), sigma), Stat.NormalCdf));
        pValues.Add(Stat.KsOneSample(Project(x, mu, RandomUnit(rng, d), sigma), Stat.NormalCdf));

        double projMean = projE.Average();
        double ssE = projE.Sum(v => (v - projMean) * (v - projMean));
        pValues.Add(Stat.ChiSquareTwoSided(ssE, n - 1));

        double ss = 0;
        foreach (double[] row in x)
        {
            for (int j = 0; j < d; j++)
            {
                ss += (row[j] - mean[j]) * (row[j] - mean[j]);
            }
        }

        pValues.Add(Stat.ChiSquareTwoSided(ss / (sigma * sigma), (double)(n - 1) * d));
        return Stat.Bonferroni(pValues);
    }

    /// <summary>(x - mu) . direction / sigma for every sample.</summary>
    internal static double[] Project(double[][] x, double[] mu, double[] direction, double sigma)
    {
        var proj = new double[x.Length];
        for (int s = 0; s < x.Length; s++)
        {
            double v = 0;
            for (int j = 0; j < mu.Length; j++)
            {
                v += direction[j] * (x[s][j] - mu[j]);
            }

            proj[s] = v / sigma;
        }

        return proj;
    }

    internal static double[] RandomUnit(System.Random rng, int d)
    {
        var v = new double[d];
        double n2 = 0;
        for (int j = 0; j < d; j++)
        {
            v[j] = Gaussian(rng);
            n2 += v[j] * v[j];
        }

        double inv = 1 / Math.Sqrt(n2);
        for (int j = 0; j < d; j++)
        {
            v[j] *= inv;
        }

        return v;
    }

    internal static double Gaussian(System.Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
