namespace Asd.Tests.Properties;

/// <summary>
/// Property 7e: the exact stochastic-localization process of a Gaussian-mixture target, simulated step by step
/// from its predictive law with the engine's mixture posterior (<see cref="GaussianMixture.Posterior"/>), has
/// exchangeable increments over equal SNR intervals: (D1, D2) has the law of (D2, D1), and (D1..D6) the law of a
/// random permutation of it. This is the reason drafts that reuse today's m are good (docs/math.md section 2).
/// </summary>
internal static class ExchangeabilityProperty
{
    /// <summary>Paths per set (the two sets compared are simulated independently).</summary>
    public const int SampleSize = 10000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    public sealed record Case(int Dimension, double Start, double Interval, ulong Seed)
    {
        public override string ToString() => $"mixture d={Dimension} s0={Start:F2} ds={Interval:F2} seed={Seed}";
    }

    /// <summary>
    /// Random mixtures whose components differ mostly in scale (2..5 components, means N(0, 0.5^2), variances
    /// log-uniform in [0.02, 10]): there the component is identified through the spread of y, which is exactly the
    /// s^2 v_k term the control drops. d in 1..3, paths from s = 0, equal intervals in [0.3, 3].
    /// </summary>
    public static Gen<Case> Cases { get; } =
        from d in Gen.Choose(1, 3)
        from s0 in Gen.Constant(0.0)
        from ds in CaseGen.Uniform(0.3, 3)
        from seed in CaseGen.Seed
        select new Case(d, s0, ds, seed);

    /// <param name="seed">Property seed.</param>
    /// <param name="wrongPosterior">Negative control: weights without the s^2 v_k term of the predictive variance.</param>
    public static PropertyOutcome Run(ulong seed, bool wrongPosterior)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(c, wrongPosterior)));
        }

        return Rule.Decide("7e stochastic-localization increments are exchangeable", results);
    }

    /// <summary>Simulates <paramref name="n"/> paths and returns their six increments (n x 6 x d).</summary>
    public static double[][][] Increments(GaussianMixture mixture, Case c, int n, int stream, bool wrongPosterior)
    {
        int d = mixture.Dimension, k = mixture.Components;
        var rng = new System.Random(HashCode.Combine(c.Seed, stream));
        var probabilities = new double[k];
        var means = new double[k * d];
        var paths = new double[n][][];
        for (int p = 0; p < n; p++)
        {
            var y = new double[d];
            double s = 0;
            var increments = new double[6][];
            for (int step = -1; step < 6; step++)
            {
                double ds = step < 0 ? c.Start : c.Interval;
                if (ds == 0)
                {
                    continue;
                }

                // One exact step of y_s = s x0 + W_s: draw x0 from the posterior given y at s, then the increment.
                mixture.Posterior(y, s, probabilities, means, wrongPosterior);
                int comp = Pick(probabilities, rng.NextDouble());
                double sd = Math.Sqrt(1.0 / ((1.0 / mixture.Variances[comp]) + s));
                var increment = new double[d];
                for (int j = 0; j < d; j++)
                {
                    double x0 = means[(comp * d) + j] + (sd * RejectionSamplerProperty.Gaussian(rng));
                    increment[j] = (ds * x0) + (Math.Sqrt(ds) * RejectionSamplerProperty.Gaussian(rng));
                    y[j] += increment[j];
                }

                s += ds;
                if (step >= 0)
                {
                    increments[step] = increment;
                }
            }

            paths[p] = increments;
        }

        return paths;
    }

    public static double CasePValue(Case c, bool wrongPosterior)
    {
        GaussianMixture mixture = RandomModels.Mixture(c.Dimension, c.Seed, spread: 0.5, minVariance: 0.02, maxVariance: 10);
        int d = c.Dimension;
        var rng = new System.Random((int)(c.Seed % int.MaxValue) ^ 0x7E7E);

        // Four independent sets: pairs A vs swapped pairs B, and six-tuples C vs permuted six-tuples D.
        double[][][] a = Increments(mixture, c, SampleSize, 1, wrongPosterior);
        double[][][] b = Increments(mixture, c, SampleSize, 2, wrongPosterior);
        double[][][] c6 = Increments(mixture, c, SampleSize, 3, wrongPosterior);
        double[][][] d6 = Increments(mixture, c, SampleSize, 4, wrongPosterior);

        double[][] pairA = [.. a.Select(p => Concat(p[0], p[1]))];
        double[][] pairB = [.. b.Select(p => Concat(p[1], p[0]))];
        double[][] sixC = [.. c6.Select(p => Concat(p))];
        var shuffle = new System.Random((int)(c.Seed % int.MaxValue) ^ 0x5A5A);
        double[][] sixD = [.. d6.Select(p => Concat(Permute(p, shuffle)))];

        double[] pairDirection = RejectionSamplerProperty.RandomUnit(rng, 2 * d);
        double[] sixDirection = RejectionSamplerProperty.RandomUnit(rng, 6 * d);
        var pValues = new List<double>
        {
            Stat.KsTwoSample(TwoSample.Norms([.. pairA.Select(v => v[..d])]), TwoSample.Norms([.. pairB.Select(v => v[..d])])),
            Stat.KsTwoSample(TwoSample.Norms([.. pairA.Select(v => v[d..])]), TwoSample.Norms([.. pairB.Select(v => v[d..])])),
            Stat.KsTwoSample(TwoSample.Project(pairA, pairDirection), TwoSample.Project(pairB, pairDirection)),
            Stat.KsTwoSample(TwoSample.Norms([.. sixC.Select(v => v[..d])]), TwoSample.Norms([.. sixD.Select(v => v[..d])])),
            Stat.KsTwoSample(TwoSample.Norms([.. sixC.Select(v => v[(5 * d)..])]), TwoSample.Norms([.. sixD.Select(v => v[(5 * d)..])])),
            Stat.KsTwoSample(TwoSample.Project(sixC, sixDirection), TwoSample.Project(sixD, sixDirection)),
        };
        return Stat.Bonferroni(pValues);
    }

    private static int Pick(double[] probabilities, double u)
    {
        double acc = 0;
        for (int k = 0; k < probabilities.Length - 1; k++)
        {
            acc += probabilities[k];
            if (u < acc)
            {
                return k;
            }
        }

        return probabilities.Length - 1;
    }

    private static double[] Concat(params double[][] blocks) => [.. blocks.SelectMany(b => b)];

    private static double[][] Permute(double[][] blocks, System.Random rng)
    {
        double[][] copy = [.. blocks];
        rng.Shuffle(copy);
        return copy;
    }
}
