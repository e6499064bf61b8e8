namespace Asd.Tests.Schedules;

public sealed class ScheduleTests
{
    [Theory]
    [InlineData(BetaSchedule.Linear)]
    [InlineData(BetaSchedule.ScaledLinear)]
    [InlineData(BetaSchedule.SquaredCosCapV2)]
    public void StochasticLocalizationFormEqualsTheXForm(BetaSchedule betas)
    {
        // docs/math.md section 2: with y = sqrt(s (1 + s)) x, the fixed_small step is y' = y + (s' - s) m + sqrt(s' - s) z.
        var schedule = new DiffusionSchedule(new SchedulerConfig { BetaSchedule = betas, BetaStart = 0.00085, BetaEnd = 0.012 });
        InferencePlan plan = schedule.Plan(50);
        var rng = new System.Random(3);
        const int d = 5;
        for (int i = 0; i < plan.Steps - 1; i++)
        {
            float[] x = [.. Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 4 - 2))];
            float[] m = [.. Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
            float[] z = [.. Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
            var next = new float[d];
            plan.Step(i, x, m, z, next);
            double s = plan.AlphaBar[i] / (1 - plan.AlphaBar[i]);
            double s2 = plan.AlphaBarNext[i] / (1 - plan.AlphaBarNext[i]);
            for (int j = 0; j < d; j++)
            {
                double y = Math.Sqrt(s * (1 + s)) * x[j];
                double ySl = y + ((s2 - s) * m[j]) + (Math.Sqrt(s2 - s) * z[j]);
                double yX = Math.Sqrt(s2 * (1 + s2)) * next[j];
                Assert.True(Math.Abs(ySl - yX) <= 2e-5 * (1 + Math.Abs(ySl)), $"step {i}: SL form {ySl} vs x form {yX}");
            }
        }
    }

    [Fact]
    public void LastStepOutputsTheDenoisedSample()
    {
        var plan = new DiffusionSchedule(new SchedulerConfig()).Plan(10);
        Assert.Equal(0.0, plan.A[9]);
        Assert.Equal(1.0, plan.B[9]);
        Assert.Equal(0.0, plan.Sigma[9]);

        // trailing + fixed_large: the last timestep is above 0, so the last step adds noise like diffusers.
        var large = new DiffusionSchedule(new SchedulerConfig { TimestepSpacing = TimestepSpacing.Trailing, VarianceType = VarianceType.FixedLarge }).Plan(10);
        Assert.True(large.Timesteps[9] > 0);
        Assert.Equal(Math.Sqrt(1 - large.AlphaBar[9]), large.Sigma[9], 12);
    }

    [Theory]
    [InlineData(PredictionType.Epsilon)]
    [InlineData(PredictionType.VPrediction)]
    [InlineData(PredictionType.Sample)]
    public void EveryPredictionTypeConvertsBackToTheSameX0(PredictionType prediction)
    {
        // The analytic mixture expresses its exact x0 in the schedule's prediction type; the plan's single
        // conversion must recover it.
        var schedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = prediction });
        InferencePlan plan = schedule.Plan(20);
        var sampleSchedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Sample });
        GaussianMixture mixture = GaussianMixture.Builtin(4);
        var typed = new MixtureDenoiser(mixture, schedule);
        var direct = new MixtureDenoiser(mixture, sampleSchedule);
        var rng = new System.Random(1);
        for (int i = 0; i < plan.Steps; i++)
        {
            float[] x = [.. Enumerable.Range(0, 4).Select(_ => (float)(rng.NextDouble() * 6 - 3))];
            var raw = new float[4];
            var expected = new float[4];
            typed.Denoise(x, [plan.Timesteps[i]], default, raw);
            direct.Denoise(x, [plan.Timesteps[i]], default, expected);
            var x0 = new float[4];
            plan.ToX0(i, x, raw, x0);
            for (int j = 0; j < 4; j++)
            {
                Assert.True(Math.Abs(x0[j] - expected[j]) <= 1e-3 * (1 + Math.Abs(expected[j])), $"{prediction} step {i}: {x0[j]} vs {expected[j]}");
            }
        }
    }

    [Fact]
    public void ClipSampleClampsTheX0Estimate()
    {
        var plan = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Sample, ClipSample = true, ClipSampleRange = 1.5 }).Plan(5);
        var x0 = new float[3];
        plan.ToX0(0, [0, 0, 0], [-7f, 0.25f, 9f], x0);
        Assert.Equal([-1.5f, 0.25f, 1.5f], x0);
    }

    [Fact]
    public void InvalidSchedulesGiveClearErrors()
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 100 });
        Assert.Contains("cannot exceed num_train_timesteps", Assert.Throws<ArgumentException>(() => schedule.Plan(101)).Message);
        Assert.Contains(">= 1", Assert.Throws<ArgumentException>(() => schedule.Plan(0)).Message);
        Assert.Contains("Unknown beta schedule 'cosine'", Assert.Throws<ArgumentException>(() => ScheduleNames.ParseBetaSchedule("cosine")).Message);
        Assert.Contains("Unknown timestep spacing", Assert.Throws<ArgumentException>(() => ScheduleNames.ParseSpacing("uniform")).Message);
        Assert.Contains("learned variances are not supported", Assert.Throws<ArgumentException>(() => ScheduleNames.ParseVariance("learned_range")).Message);
        Assert.Contains("Unknown prediction type", Assert.Throws<ArgumentException>(() => ScheduleNames.ParsePrediction("x0")).Message);
        Assert.Throws<ArgumentException>(() => new DiffusionSchedule(new SchedulerConfig { BetaStart = 0 }));
        Assert.Throws<ArgumentException>(() => new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 3, TrainedBetas = [0.1, 0.2] }));
        Assert.Throws<ArgumentException>(() => new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 2, TrainedBetas = [0.1, 1.5] }));
        var offset = new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 10, StepsOffset = 1 });
        Assert.Contains("outside 0..9", Assert.Throws<ArgumentException>(() => offset.Timesteps(10)).Message);
    }
}
