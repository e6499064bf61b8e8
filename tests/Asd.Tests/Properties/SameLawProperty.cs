namespace Asd.Tests.Properties;

/// <summary>
/// Property 7c: ASD with L in {2, 4, 8, unbounded, auto} has the DDPM's law, for random smooth nonlinear, affine and
/// mixture denoisers under random schedules and K. Every sampler in a case uses its own disjoint chain ids, so the
/// samples are independent and the two-sample p-values are valid.
/// </summary>
internal static class SameLawProperty
{
    /// <summary>Chains per sampler and case (broad generator).</summary>
    public const int SampleSize = 3000;

    /// <summary>
    /// Chains per sampler and case for the hard generator: a defect of the acceptance test moves the law by a few
    /// percent of a step's noise, which needs ten times the sample to see.
    /// </summary>
    public const int HardSampleSize = 30000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    /// <summary>The speculation lengths compared with DDPM.</summary>
    /// <remarks>
    /// "auto" runs with a synthetic cost curve under which a chain's round of L rows costs (1 + L / 4) per chain, and a
    /// row cap of 8 rows per chain, so it really picks different L per round and per chain (Sampling/AutoSpeculationTests).
    /// </remarks>
    public static SpecLength[] Lengths { get; } = [SpecLength.Fixed(2), SpecLength.Fixed(4), SpecLength.Fixed(8), SpecLength.Unbounded, SpecLength.Auto];

    /// <summary>The sampler options for length <paramref name="l"/> with <paramref name="chains"/> chains (see <see cref="Lengths"/>).</summary>
    /// <summary>T(B) = 1 + B / (4 n) for B up to 8 n: with n chains sharing calls, a chain's round of L rows costs (1 + L / 4) / n.</summary>
    internal static CostCurve SublinearCurve(int chains) =>
        new([.. Enumerable.Range(1, 8 * chains).Select(b => 1 + (b / (4.0 * chains)))], "synthetic");

    public static SamplerOptions Options(SpecLength l, int chains, int maxBatchRows = SamplerOptions.DefaultMaxBatchRows) => l.IsAuto
        ? new SamplerOptions { SpecLength = l, MaxBatchRows = 8 * chains, CostCurve = SublinearCurve(chains) }
        : new SamplerOptions { SpecLength = l, MaxBatchRows = maxBatchRows };

    public sealed record Case(SchedulerConfig Scheduler, int Steps, DenoiserKind Kind, int Dimension, ulong Seed, bool Hard)
    {
        public override string ToString() => $"{(Hard ? "hard " : "")}{Kind} d={Dimension} K={Steps} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>The broad generator: any of the three denoiser kinds, K in 4..30, T in 50..1000.</summary>
    public static Gen<Case> Cases { get; } =
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(4, 30)
        from kind in Gen.Elements(DenoiserKind.Nonlinear, DenoiserKind.Affine, DenoiserKind.Mixture)
        from d in Gen.Choose(1, 4)
        from seed in CaseGen.Seed
        select new Case(scheduler, Math.Min(k, scheduler.NumTrainTimesteps / 2), kind, d, seed, false);

    /// <summary>
    /// The hard generator, for defects of the acceptance test itself (a missing factor 1/2): such a defect moves the
    /// law only where |d| / sigma is near 1 and only by a fraction of one step's noise, so it is visible when few
    /// steps (K in 3..6) carry most of the output's spread and the drafts are accepted about half the time.
    /// The denoiser is affine with a strong drift in t (d in 1..2); its drift scale is calibrated per case from a
    /// pilot run of the correct sampler (acceptance at position 1 nearest 0.5), so the calibration never sees the
    /// variant under test. The null property runs on these cases too.
    /// </summary>
    public static Gen<Case> HardCases { get; } =
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(3, 6)
        from d in Gen.Choose(1, 2)
        from seed in CaseGen.Seed
        select new Case(
            scheduler with { PredictionType = PredictionType.Sample, VarianceType = VarianceType.FixedSmall, ClipSample = false },
            Math.Min(k, scheduler.NumTrainTimesteps / 2), DenoiserKind.Affine, d, seed, true);

    /// <summary>Runs the property at <paramref name="seed"/>; <paramref name="fault"/> breaks ASD for a negative control.</summary>
    public static PropertyOutcome Run(ulong seed, AsdFault fault, bool hard = false)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(hard ? HardCases : Cases, seed, Rule.Cases))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(c, fault)));
        }

        return Rule.Decide(hard ? "7c ASD has the DDPM's law (hard cases)" : "7c ASD has the DDPM's law", results);
    }

    public static double CasePValue(Case c, AsdFault fault)
    {
        var schedule = new DiffusionSchedule(c.Scheduler);
        InferencePlan plan = schedule.Plan(c.Steps);
        int n = c.Hard ? HardSampleSize : SampleSize;
        double timeScale = c.Hard ? CalibrateTimeScale(c, schedule, plan) : 1;
        IDenoiser denoiser = RandomModels.Create(c.Kind, c.Dimension, schedule, c.Seed, c.Hard, timeScale);
        ulong sampleSeed = c.Seed * 0x9E3779B97F4A7C15UL;
        double[][] reference = Draw(new DdpmSampler(denoiser, plan), sampleSeed, 0, c.Dimension, n);
        var rng = new System.Random((int)(c.Seed % int.MaxValue) ^ 0x7C7C);
        double[][] directions = c.Hard
            ? [RandomModels.AffineDrift(c.Dimension, c.Seed), RejectionSamplerProperty.RandomUnit(rng, c.Dimension)]
            : [RejectionSamplerProperty.RandomUnit(rng, c.Dimension), RejectionSamplerProperty.RandomUnit(rng, c.Dimension)];
        var pValues = new List<double>();
        for (int l = 0; l < Lengths.Length; l++)
        {
            var asd = new AsdSampler(denoiser, plan, Options(Lengths[l], n)).WithFault(fault);
            double[][] candidate = Draw(asd, sampleSeed, (ulong)(l + 1) * (ulong)n, c.Dimension, n);
            pValues.AddRange(TwoSample.ProjectionPValues(reference, candidate, directions));
        }

        return Stat.Bonferroni(pValues);
    }

    private static double CalibrateTimeScale(Case c, DiffusionSchedule schedule, InferencePlan plan) =>
        CalibrateTimeScale(scale => RandomModels.Create(c.Kind, c.Dimension, schedule, c.Seed, true, scale), plan, c.Dimension, c.Seed);

    /// <summary>
    /// Picks the drift scale whose acceptance at draft position 1 is nearest 0.5, from a pilot of 400 chains of the
    /// correct sampler (L = 2) with chain ids far from the tests' (so the calibration never sees the variant under test).
    /// </summary>
    internal static double CalibrateTimeScale(Func<double, IDenoiser> denoiserAtScale, InferencePlan plan, int d, ulong seed)
    {
        double best = 1, bestGap = double.MaxValue;
        foreach (double scale in (double[])[0.25, 0.5, 1, 2, 4, 8, 16, 32, 64])
        {
            var asd = new AsdSampler(denoiserAtScale(scale), plan, new SamplerOptions { SpecLength = SpecLength.Fixed(2) });
            var output = new float[400 * d];
            asd.Sample(400, seed ^ 0xCA11B8A7E, output, chainOffset: 1UL << 40);
            PositionAcceptance first = asd.Stats.AcceptanceByPosition.FirstOrDefault(a => a.Position == 1);
            double rate = first.Attempts == 0 ? 1 : (double)first.Accepted / first.Attempts;
            if (Math.Abs(rate - 0.5) < bestGap)
            {
                (best, bestGap) = (scale, Math.Abs(rate - 0.5));
            }
        }

        return best;
    }

    /// <summary>Samples <see cref="SampleSize"/> chains with ids starting at <paramref name="chainOffset"/>.</summary>
    internal static double[][] Draw(Sampler sampler, ulong seed, ulong chainOffset, int d, int n = SampleSize)
    {
        var output = new float[n * d];
        sampler.Sample(n, seed, output, chainOffset: chainOffset);
        var rows = new double[n][];
        for (int s = 0; s < n; s++)
        {
            rows[s] = new double[d];
            for (int j = 0; j < d; j++)
            {
                rows[s][j] = output[(s * d) + j];
            }
        }

        return rows;
    }
}

/// <summary>Two-sample Kolmogorov-Smirnov tests on informative projections, fixed before looking at the data.</summary>
internal static class TwoSample
{
    /// <summary>p-values of KS tests on each direction and on the Euclidean norm.</summary>
    public static IEnumerable<double> ProjectionPValues(double[][] a, double[][] b, double[][] directions)
    {
        foreach (double[] dir in directions)
        {
            yield return Stat.KsTwoSample(Project(a, dir), Project(b, dir));
        }

        yield return Stat.KsTwoSample(Norms(a), Norms(b));
    }

    public static double[] Project(double[][] x, double[] direction) =>
        [.. x.Select(row => row.Zip(direction, (v, w) => v * w).Sum())];

    public static double[] Norms(double[][] x) => [.. x.Select(row => Math.Sqrt(row.Sum(v => v * v)))];
}
