namespace Asd.Tests.Properties;

/// <summary>FsCheck generators for the statistical properties, sampled with fixed seeds so every run sees the same cases.</summary>
public static class CaseGen
{
    /// <summary>Draws <paramref name="count"/> values of <paramref name="gen"/> from the seeded FsCheck generator.</summary>
    public static T[] Draw<T>(Gen<T> gen, ulong seed, int count) =>
        Gen.Sample(gen, count, new Rnd(seed), 50);

    /// <summary>A double uniform in [lo, hi] on a grid of 1e6 points.</summary>
    public static Gen<double> Uniform(double lo, double hi) =>
        Gen.Choose(0, 1_000_000).Select(i => lo + ((hi - lo) * i / 1e6));

    /// <summary>A 64-bit seed.</summary>
    public static Gen<ulong> Seed { get; } =
        Gen.Choose(0, int.MaxValue).SelectMany(a => Gen.Choose(0, int.MaxValue), (a, b) => ((ulong)(uint)a << 31) ^ (uint)b);

    /// <summary>
    /// Random DDPM schedules: T, beta schedule (betas scaled with T so abar spans a similar range), spacing,
    /// steps_offset, variance and prediction type, clip_sample sometimes.
    /// </summary>
    public static Gen<SchedulerConfig> Scheduler(int minT, int maxT) =>
        from t in Gen.Choose(minT, maxT)
        from beta in Gen.Elements(BetaSchedule.Linear, BetaSchedule.ScaledLinear, BetaSchedule.SquaredCosCapV2)
        from spacing in Gen.Elements(TimestepSpacing.Leading, TimestepSpacing.Trailing, TimestepSpacing.Linspace)
        from offset in Gen.Elements(0, 1)
        from variance in Gen.Elements(VarianceType.FixedSmall, VarianceType.FixedLarge)
        from prediction in Gen.Elements(PredictionType.Epsilon, PredictionType.VPrediction, PredictionType.Sample)
        from clip in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        let scale = 1000.0 / t
        select new SchedulerConfig
        {
            NumTrainTimesteps = t,
            BetaSchedule = beta,
            BetaStart = beta == BetaSchedule.ScaledLinear ? 0.00085 * scale : 0.0001 * scale,
            BetaEnd = Math.Min(0.5, (beta == BetaSchedule.ScaledLinear ? 0.012 : 0.02) * scale),
            TimestepSpacing = spacing,
            StepsOffset = offset,
            VarianceType = variance,
            PredictionType = prediction,
            ClipSample = clip,
            ClipSampleRange = 3.0,
        };

    /// <summary>A short description of a scheduler for failure messages.</summary>
    public static string Describe(SchedulerConfig c) =>
        $"T={c.NumTrainTimesteps} {ScheduleNames.Name(c.BetaSchedule)} {ScheduleNames.Name(c.TimestepSpacing)}+{c.StepsOffset} {ScheduleNames.Name(c.VarianceType)} {ScheduleNames.Name(c.PredictionType)}{(c.ClipSample ? " clip" : "")}";
}
