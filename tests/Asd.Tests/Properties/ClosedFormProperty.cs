namespace Asd.Tests.Properties;

/// <summary>
/// Property 7d: with an affine denoiser m = A_t x + c_t the DDPM output is exactly Gaussian, with mean and
/// covariance from the linear recursion mu' = M mu + b c, S' = M S M^T + sigma^2 I (M = a I + b A). ASD's output
/// (L in {2, 4, 8, unbounded, auto}) is tested against those closed-form moments, not against another sampler: the
/// mean, the marginal law along two directions, the total variance and the off-diagonal terms of the covariance.
/// 19 cases are small (d in 1..5, K in 3..20); the last is the regime of real models: d = 64, K = 500 (T = 1000), a
/// diagonal-plus-rank-2 affine denoiser (so a row costs O(d)), L in {8, auto}.
/// </summary>
internal static class ClosedFormProperty
{
    /// <summary>Chains per speculation length and case.</summary>
    public const int SampleSize = 4000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    /// <summary>Chains per speculation length in the wide case.</summary>
    public const int WideSampleSize = 2000;

    public sealed record Case(SchedulerConfig Scheduler, int Steps, int Dimension, ulong Seed, bool Wide = false)
    {
        public override string ToString() => $"{(Wide ? "rank-2 " : "")}affine d={Dimension} K={Steps} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>Random schedules without clipping (clipping makes m nonlinear), K in 3..20, d in 1..5.</summary>
    public static Gen<Case> Cases { get; } =
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(3, 20)
        from d in Gen.Choose(1, 5)
        from seed in CaseGen.Seed
        select new Case(scheduler with { ClipSample = false }, Math.Min(k, scheduler.NumTrainTimesteps / 2), d, seed);

    /// <summary>The wide case: T = 1000, K = 500, d = 64.</summary>
    public static Gen<Case> WideCases { get; } =
        from scheduler in CaseGen.Scheduler(1000, 1000)
        from seed in CaseGen.Seed
        select new Case(scheduler with { ClipSample = false }, 500, 64, seed, Wide: true);

    public static PropertyOutcome Run(ulong seed, AsdFault fault)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases - 1).Concat(CaseGen.Draw(WideCases, seed ^ 0x64, 1)))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(c, fault)));
        }

        return Rule.Decide("7d ASD matches the closed-form linear-Gaussian moments", results);
    }

    /// <summary>The exact output mean and covariance of the K-step DDPM chain with the affine denoiser, from x_T ~ N(0, I).</summary>
    public static (double[] Mean, double[] Covariance) ExactMoments(InferencePlan plan, Func<int, (double[] A, double[] C)> coefficients, int d)
    {
        var mu = new double[d];
        var s = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            s[(i * d) + i] = 1;
        }

        for (int step = 0; step < plan.Steps; step++)
        {
            (double[] a, double[] c) = coefficients(plan.Timesteps[step]);
            double ai = plan.A[step], bi = plan.B[step], sigma = plan.Sigma[step];
            var m = new double[d * d];
            for (int i = 0; i < d; i++)
            {
                for (int j = 0; j < d; j++)
                {
                    m[(i * d) + j] = (bi * a[(i * d) + j]) + (i == j ? ai : 0);
                }
            }

            double[] next = Linear.Apply(m, mu, d);
            for (int i = 0; i < d; i++)
            {
                next[i] += bi * c[i];
            }

            mu = next;
            s = Linear.Multiply(Linear.Multiply(m, s, d), Linear.Transpose(m, d), d);
            for (int i = 0; i < d; i++)
            {
                s[(i * d) + i] += sigma * sigma;
            }
        }

        return (mu, s);
    }

    public static double CasePValue(Case c, AsdFault fault)
    {
        var schedule = new DiffusionSchedule(c.Scheduler);
        InferencePlan plan = schedule.Plan(c.Steps);
        int d = c.Dimension, n = c.Wide ? WideSampleSize : SampleSize;
        IDenoiser denoiser;
        Func<int, (double[] A, double[] C)> coefficients;
        if (c.Wide)
        {
            var lowRank = new LowRankAffineDenoiser(d, schedule, c.Seed);
            (denoiser, coefficients) = (lowRank, lowRank.Dense);
        }
        else
        {
            coefficients = t => RandomModels.Affine(d, schedule.TrainSteps, c.Seed, t);
            denoiser = new AffineDenoiser(d, coefficients, schedule);
        }

        (double[] mu, double[] cov) = ExactMoments(plan, coefficients, d);
        double[] chol = Linear.Cholesky(cov, d);
        var rng = new System.Random((int)(c.Seed % int.MaxValue) ^ 0x7D7D);
        double[] direction = RejectionSamplerProperty.RandomUnit(rng, d);
        var pValues = new List<double>();
        ulong sampleSeed = c.Seed * 0x9E3779B97F4A7C15UL;
        SpecLength[] lengths = c.Wide ? [SpecLength.Fixed(8), SpecLength.Auto] : SameLawProperty.Lengths;
        for (int l = 0; l < lengths.Length; l++)
        {
            var asd = new AsdSampler(denoiser, plan, SameLawProperty.Options(lengths[l], n)).WithFault(fault);
            double[][] x = SameLawProperty.Draw(asd, sampleSeed, (ulong)l * (ulong)n, d, n);

            // Whiten with the exact moments: under the property w ~ N(0, I).
            double[][] w = [.. x.Select(row => Linear.SolveLower(chol, [.. row.Zip(mu, (v, m) => v - m)], d))];
            double[] wMean = new double[d];
            foreach (double[] row in w)
            {
                for (int j = 0; j < d; j++)
                {
                    wMean[j] += row[j] / n;
                }
            }

            pValues.Add(Stat.ChiSquareSf(n * wMean.Sum(v => v * v), d));
            pValues.Add(Stat.KsOneSample([.. w.Select(row => row[0])], Stat.NormalCdf));
            pValues.Add(Stat.KsOneSample(TwoSample.Project(w, direction), Stat.NormalCdf));
            double ss = w.Sum(row => row.Select((v, j) => (v - wMean[j]) * (v - wMean[j])).Sum());
            pValues.Add(Stat.ChiSquareTwoSided(ss, (double)(n - 1) * d));
            if (d >= 2)
            {
                pValues.Add(OffDiagonalPValue(w));
            }
        }

        return Stat.Bonferroni(pValues);
    }

    /// <summary>
    /// Tests that the off-diagonal terms of the covariance of <paramref name="w"/> (n x d, mean known to be 0) vanish:
    /// T = n sum_{i &lt; j} S_ij^2 with S = w^T w / n. Under w ~ N(0, I), E T = m = d (d - 1) / 2 exactly and
    /// Var T = 2 m (1 + 3 / n + 2 (d - 2) / n) (pairs of terms sharing a coordinate are correlated), so T is referred
    /// to c chi-square(m / c) with c = Var T / (2 m), which matches both moments (Satterthwaite).
    /// </summary>
    public static double OffDiagonalPValue(double[][] w)
    {
        int n = w.Length, d = w[0].Length;
        var s = new double[d * d];
        foreach (double[] row in w)
        {
            for (int i = 0; i < d; i++)
            {
                for (int j = i + 1; j < d; j++)
                {
                    s[(i * d) + j] += row[i] * row[j];
                }
            }
        }

        double t = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = i + 1; j < d; j++)
            {
                t += s[(i * d) + j] * s[(i * d) + j] / n;
            }
        }

        double m = d * (d - 1) / 2.0, scale = 1 + (3.0 / n) + (2.0 * (d - 2) / n);
        return Stat.ChiSquareSf(t / scale, m / scale);
    }
}

/// <summary>
/// m(x, t) = alpha_t x + U_t (V^T x) + c_t with rank-2 U_t V^T: an affine denoiser whose off-diagonal structure is full
/// (the output covariance is dense) while a row costs O(d). alpha_t = 0.8 + 0.4 tau, U_t = U1 + tau U2, entries of U1,
/// U2, V N(0, 0.3^2 / d) and c_t = c1 + tau c2 with N(0, 1) entries (tau = t / T). Rows in double, batch-invariant.
/// </summary>
internal sealed class LowRankAffineDenoiser : AnalyticDenoiser
{
    private const int Rank = 2;
    private readonly double[] _u1, _u2, _v, _c1, _c2;

    public LowRankAffineDenoiser(int d, DiffusionSchedule schedule, ulong seed)
        : base(d, 0, schedule, null)
    {
        var rng = new System.Random((int)(seed % int.MaxValue) ^ 0x10AF);
        double[] Draw(int count, double sd) => [.. Enumerable.Range(0, count).Select(_ => sd * RejectionSamplerProperty.Gaussian(rng))];
        double small = 0.3 / Math.Sqrt(d);
        (_u1, _u2, _v, _c1, _c2) = (Draw(d * Rank, small), Draw(d * Rank, small), Draw(d * Rank, small), Draw(d, 1), Draw(d, 1));
    }

    /// <summary>A_t (dense, row-major) and c_t, for the closed-form moments.</summary>
    public (double[] A, double[] C) Dense(int t)
    {
        int d = SampleSize;
        double tau = (double)t / Schedule.TrainSteps;
        var a = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                double acc = i == j ? 0.8 + (0.4 * tau) : 0;
                for (int r = 0; r < Rank; r++)
                {
                    acc += (_u1[(r * d) + i] + (tau * _u2[(r * d) + i])) * _v[(r * d) + j];
                }

                a[(i * d) + j] = acc;
            }
        }

        return (a, [.. _c1.Select((v, i) => v + (tau * _c2[i]))]);
    }

    protected override void ComputeX0(ReadOnlySpan<float> x, int timestep, ReadOnlySpan<float> condition, Span<double> x0)
    {
        int d = SampleSize;
        double tau = (double)timestep / Schedule.TrainSteps;
        Span<double> vx = stackalloc double[Rank];
        for (int r = 0; r < Rank; r++)
        {
            double acc = 0;
            for (int j = 0; j < d; j++)
            {
                acc += _v[(r * d) + j] * x[j];
            }

            vx[r] = acc;
        }

        for (int i = 0; i < d; i++)
        {
            double acc = ((0.8 + (0.4 * tau)) * x[i]) + _c1[i] + (tau * _c2[i]);
            for (int r = 0; r < Rank; r++)
            {
                acc += (_u1[(r * d) + i] + (tau * _u2[(r * d) + i])) * vx[r];
            }

            x0[i] = acc;
        }
    }
}
