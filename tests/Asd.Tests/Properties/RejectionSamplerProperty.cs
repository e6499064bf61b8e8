namespace Asd.Tests.Properties;

/// <summary>
/// Property 7a: the Gaussian rejection sampler with reflection, called as the sampler calls it (the production
/// variant's decision, with a real plan's b and sigma of the decided step, b != 1), turns a draft N(mu_d, sigma^2 I)
/// into an exact sample of N(mu_t, sigma^2 I), and accepts with probability 2 Phi(-|d| / (2 sigma)).
/// </summary>
internal static class RejectionSamplerProperty
{
    /// <summary>Draws per case.</summary>
    public const int SampleSize = 20_000;

    /// <summary>20 cases at alpha = 0.01: the property fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    /// <summary>One case: a schedule and the decided step s of a K-step plan (its b and sigma), dimension, |d| / sigma and a seed.</summary>
    public sealed record Case(SchedulerConfig Scheduler, int Steps, int Step, int Dimension, double Ratio, ulong Seed)
    {
        /// <inheritdoc/>
        public override string ToString() => $"d={Dimension} |d|/sigma={Ratio:F2} step {Step} of K={Steps} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>
    /// Dimension 1..64 (2..64 for the wrong-axis control, which needs a second axis), |d|/sigma in [0.3, 3], a random
    /// schedule and K in 3..30, the decided step s in 1..K-2 (so steps s - 1 and s + 1 exist and sigma_s &gt; 0).
    /// </summary>
    public static Gen<Case> Cases(int minDimension) =>
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(3, 30)
        from step in Gen.Choose(1, k - 2)
        from d in Gen.Choose(minDimension, 64)
        from r in CaseGen.Uniform(0.3, 3.0)
        from seed in CaseGen.Seed
        select new Case(scheduler, k, step, d, r, seed);

    /// <summary>
    /// Runs the rejection sampler for one case and returns the outputs (n x d), the acceptance count, the target mean,
    /// the unit direction of d, the actual |d| / sigma and sigma. Draw s is chain s of the case's seed: z is its step
    /// noise of step s, U its acceptance uniform, as in the sampler.
    /// </summary>
    internal static (double[][] Outputs, int Accepted, double[] TargetMean, double[] Direction, double RatioActual, double Sigma) Simulate(Case c, AsdFault fault)
    {
        int d = c.Dimension;
        InferencePlan plan = new DiffusionSchedule(c.Scheduler).Plan(c.Steps);
        double b = plan.B[c.Step], sigma = plan.Sigma[c.Step];
        var rng = new System.Random((int)(c.Seed % int.MaxValue));
        var draftModel = new float[d];
        var targetModel = new float[d];
        var e = RandomUnit(rng, d);
        for (int j = 0; j < d; j++)
        {
            draftModel[j] = (float)Gaussian(rng);
            targetModel[j] = (float)(draftModel[j] + (c.Ratio * sigma / b * e[j]));
        }

        // The draft and target means of one step from x = 0: b m_i and b md. d = b (md - m_i) in double, as the coupling sees it.
        var mt = new double[d];
        var md = new double[d];
        double dd = 0;
        for (int j = 0; j < d; j++)
        {
            md[j] = b * draftModel[j];
            mt[j] = b * targetModel[j];
            double u = b * ((double)targetModel[j] - draftModel[j]);
            dd += u * u;
        }

        var noise = new CounterNoise(c.Seed);
        var z = new float[d];
        var corrected = new float[d];
        var outputs = new double[SampleSize][];
        int accepted = 0;
        for (int s = 0; s < SampleSize; s++)
        {
            noise.Gaussian((ulong)s, c.Step, NoisePurpose.Step, z);
            var draft = new DraftDecision
            {
                Z = z,
                TargetModel = targetModel,
                DraftModel = draftModel,
                Plan = plan,
                Step = c.Step,
                Position = 1,
                Noise = noise,
                Chain = (ulong)s,
            };
            CouplingDecision decision = fault == AsdFault.None
                ? default(ExactAsd).Decide(draft, corrected)
                : new FaultyAsd(fault).Decide(draft, corrected);
            var x = new double[d];
            bool accept = decision == CouplingDecision.Accept;
            accepted += accept ? 1 : 0;
            for (int j = 0; j < d; j++)
            {
                x[j] = accept ? md[j] + (sigma * z[j]) : mt[j] + (sigma * corrected[j]);
            }

            outputs[s] = x;
        }

        double norm = Math.Sqrt(dd);
        double[] direction = [.. Enumerable.Range(0, d).Select(j => b * ((double)targetModel[j] - draftModel[j]) / norm)];
        return (outputs, accepted, mt, direction, norm / sigma, sigma);
    }

    /// <summary>The law half: KS on the mean-difference direction and two random directions, a chi-square mean test, and variance tests along e and in total.</summary>
    public static PropertyOutcome RunLaw(ulong seed, AsdFault fault, int minDimension = 1)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases(minDimension), seed, Rule.Cases))
        {
            var (x, _, mu, e, _, sigma) = Simulate(c, fault);
            results.Add(new CaseResult(c.ToString(), LawPValue(x, mu, e, sigma, c.Seed)));
        }

        return Rule.Decide("7a rejection sampler: output law", results);
    }

    /// <summary>The acceptance-rate half: accepted count against Binomial(n, 2 Phi(-|d| / (2 sigma))).</summary>
    public static PropertyOutcome RunRate(ulong seed, AsdFault fault)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases(1), seed, Rule.Cases))
        {
            var (_, accepted, _, _, ratio, _) = Simulate(c, fault);
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
