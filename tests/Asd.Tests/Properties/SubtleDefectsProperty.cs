namespace Asd.Tests.Properties;

/// <summary>
/// Property 7h: ASD's output has the closed-form law of the DDPM chain in the regime where subtle defects of the
/// acceptance step show. Affine denoisers (so the law is known exactly, <see cref="ClosedFormProperty.ExactMoments"/>)
/// with a strong drift in t calibrated to about 50% acceptance at draft position 1, d in 1..2, K in 12..24, and L = 2:
/// every round then decides exactly one step, at position 1, and a chain runs K / 2 rounds. A defect in one decision
/// moves the step's output along the drift direction by a fraction of its noise; with the drift pointing the same way
/// at every step those shifts add up over the rounds of a chain, and a defect that ties the decisions of different
/// rounds together (a U that repeats every round) changes the output's variance.
/// </summary>
internal static class SubtleDefectsProperty
{
    /// <summary>Chains per case.</summary>
    public const int SampleSize = 40_000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    /// <summary>The defects this property must reject, each in at least twice its critical count of cases.</summary>
    public static AsdFault[] Controls { get; } =
    [
        AsdFault.SigmaOfPreviousStep, AsdFault.SigmaOfNextStep, AsdFault.BOfNextStep, AsdFault.BNotSquared,
        AsdFault.UniformByDraftPosition, AsdFault.UniformFromStepNoise, AsdFault.UnreflectedNoiseAfterRejection,
        AsdFault.StaleModelAfterFullAcceptance,
    ];

    /// <summary>The speculation length: every round decides position 1 only.</summary>
    public static SpecLength Length { get; } = SpecLength.Fixed(2);

    public sealed record Case(SchedulerConfig Scheduler, int Steps, int Dimension, ulong Seed)
    {
        public override string ToString() => $"affine d={Dimension} K={Steps} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>Random schedules (x0 prediction, no clipping: the denoiser is affine in x), K in 12..24, d in 1..2.</summary>
    public static Gen<Case> Cases { get; } =
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(12, 24)
        from d in Gen.Choose(1, 2)
        from seed in CaseGen.Seed
        select new Case(scheduler with { PredictionType = PredictionType.Sample, ClipSample = false }, k, d, seed);

    public static PropertyOutcome Run(ulong seed, AsdFault fault)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(c, fault)));
        }

        return Rule.Decide("7h ASD has the closed-form law where subtle defects show", results);
    }

    public static double CasePValue(Case c, AsdFault fault) => Stat.Bonferroni(CaseTests(c, fault));

    /// <summary>
    /// The case's p-values: with p the output's projection on the drift direction standardized by its exact mean and
    /// variance, a z-test of its mean, a chi-square test of its second moment and a KS test against N(0, 1); with w
    /// the output whitened by the exact moments, a chi-square test of its mean and of its total second moment.
    /// </summary>
    public static double[] CaseTests(Case c, AsdFault fault)
    {
        var schedule = new DiffusionSchedule(c.Scheduler);
        InferencePlan plan = schedule.Plan(c.Steps);
        int d = c.Dimension, n = SampleSize;
        (double[] A, double[] C) Coefficients(int t, double scale) => RandomModels.Affine(d, schedule.TrainSteps, c.Seed, t, scale);
        double timeScale = SameLawProperty.CalibrateTimeScale(scale => new AffineDenoiser(d, t => Coefficients(t, scale), schedule), plan, d, c.Seed);
        var denoiser = new AffineDenoiser(d, t => Coefficients(t, timeScale), schedule);
        (double[] mu, double[] cov) = ClosedFormProperty.ExactMoments(plan, t => Coefficients(t, timeScale), d);

        var asd = new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = Length }).WithFault(fault);
        double[][] x = SameLawProperty.Draw(asd, c.Seed * 0x9E3779B97F4A7C15UL, 0, d, n);

        double[] e = RandomModels.AffineDrift(d, c.Seed);
        double sd = Math.Sqrt(Enumerable.Range(0, d).Sum(i => Enumerable.Range(0, d).Sum(j => e[i] * cov[(i * d) + j] * e[j])));
        double[] p = [.. x.Select(row => Enumerable.Range(0, d).Sum(j => e[j] * (row[j] - mu[j])) / sd)];

        double[] chol = Linear.Cholesky(cov, d);
        double[][] w = [.. x.Select(row => Linear.SolveLower(chol, [.. row.Zip(mu, (v, m) => v - m)], d))];
        double[] wMean = new double[d];
        foreach (double[] row in w)
        {
            for (int j = 0; j < d; j++)
            {
                wMean[j] += row[j] / n;
            }
        }

        return
        [
            Stat.NormalTwoSided(p.Sum() / Math.Sqrt(n)),
            Stat.ChiSquareTwoSided(p.Sum(v => v * v), n),
            Stat.KsOneSample(p, Stat.NormalCdf),
            Stat.ChiSquareSf(n * wMean.Sum(v => v * v), d),
            Stat.ChiSquareTwoSided(w.Sum(row => row.Sum(v => v * v)), (double)n * d),
        ];
    }
}
