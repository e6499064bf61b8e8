using Asd.Native.Denoising;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Tests.Statistics;
using FsCheck;
using FsCheck.Fluent;

namespace Asd.Tests.Properties;

/// <summary>
/// Property 7d: with an affine denoiser m = A_t x + c_t the DDPM output is exactly Gaussian, with mean and
/// covariance from the linear recursion mu' = M mu + b c, S' = M S M^T + sigma^2 I (M = a I + b A). ASD's output
/// (L in {2, 4, 8, unbounded}) is tested against those closed-form moments, not against another sampler.
/// </summary>
internal static class ClosedFormProperty
{
    /// <summary>Chains per speculation length and case.</summary>
    public const int SampleSize = 4000;

    /// <summary>20 cases at alpha = 0.01; fails at 5 or more rejecting cases (false alarm 1.4e-6).</summary>
    public static PropertyRule Rule { get; } = new(20, 0.01, PropertyRule.SuiteBeta);

    public sealed record Case(SchedulerConfig Scheduler, int Steps, int Dimension, ulong Seed)
    {
        public override string ToString() => $"affine d={Dimension} K={Steps} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>Random schedules without clipping (clipping makes m nonlinear), K in 3..20, d in 1..5.</summary>
    public static Gen<Case> Cases { get; } =
        from scheduler in CaseGen.Scheduler(50, 1000)
        from k in Gen.Choose(3, 20)
        from d in Gen.Choose(1, 5)
        from seed in CaseGen.Seed
        select new Case(scheduler with { ClipSample = false }, Math.Min(k, scheduler.NumTrainTimesteps / 2), d, seed);

    public static PropertyOutcome Run(ulong seed, AsdFault fault)
    {
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases))
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
        int d = c.Dimension;
        (double[] A, double[] C) Coefficients(int t) => RandomModels.Affine(d, schedule.TrainSteps, c.Seed, t);
        var denoiser = new AffineDenoiser(d, Coefficients, schedule);
        (double[] mu, double[] cov) = ExactMoments(plan, Coefficients, d);
        double[] chol = Linear.Cholesky(cov, d);
        var rng = new System.Random((int)(c.Seed % int.MaxValue) ^ 0x7D7D);
        double[] direction = RejectionSamplerProperty.RandomUnit(rng, d);
        var pValues = new List<double>();
        ulong sampleSeed = c.Seed * 0x9E3779B97F4A7C15UL;
        for (int l = 0; l < SameLawProperty.Lengths.Length; l++)
        {
            var asd = new AsdSampler(denoiser, plan, SameLawProperty.Options(SameLawProperty.Lengths[l], SampleSize)).WithFault(fault);
            double[][] x = SameLawProperty.Draw(asd, sampleSeed, (ulong)l * SampleSize, d, SampleSize);

            // Whiten with the exact moments: under the property w ~ N(0, I).
            double[][] w = [.. x.Select(row => Linear.SolveLower(chol, [.. row.Zip(mu, (v, m) => v - m)], d))];
            double[] wMean = new double[d];
            foreach (double[] row in w)
            {
                for (int j = 0; j < d; j++)
                {
                    wMean[j] += row[j] / SampleSize;
                }
            }

            pValues.Add(Stat.ChiSquareSf(SampleSize * wMean.Sum(v => v * v), d));
            pValues.Add(Stat.KsOneSample([.. w.Select(row => row[0])], Stat.NormalCdf));
            pValues.Add(Stat.KsOneSample(TwoSample.Project(w, direction), Stat.NormalCdf));
            double ss = w.Sum(row => row.Select((v, j) => (v - wMean[j]) * (v - wMean[j])).Sum());
            pValues.Add(Stat.ChiSquareTwoSided(ss, (double)(SampleSize - 1) * d));
        }

        return Stat.Bonferroni(pValues);
    }
}
