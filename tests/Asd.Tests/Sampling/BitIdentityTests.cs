using FsCheck.Xunit;

namespace Asd.Tests.Sampling;

/// <summary>
/// Property 7b: ASD(L = 1) equals DDPM bit for bit (same calls, same inputs, same noise per step), for random
/// denoisers and schedules; with a constant denoiser every draft is exact, so ASD with any L equals DDPM bit for bit.
/// These are exact properties: each FsCheck case asserts, with fixed replay seeds.
/// </summary>
public sealed class BitIdentityTests
{
    /// <summary>A random bit-identity case.</summary>
    public sealed record Case(SchedulerConfig Scheduler, int Steps, int Dimension, int Chains, ulong Seed, int MaxBatchRows)
    {
        public override string ToString() => $"d={Dimension} K={Steps} N={Chains} rows<={MaxBatchRows} {CaseGen.Describe(Scheduler)} seed={Seed}";
    }

    /// <summary>FsCheck arbitraries for the cases.</summary>
    public static class Arbitraries
    {
        public static Arbitrary<Case> Cases() => Arb.From(
            from scheduler in CaseGen.Scheduler(20, 1000)
            from k in Gen.Choose(1, 40)
            from d in Gen.Choose(1, 9)
            from n in Gen.Choose(1, 12)
            from seed in CaseGen.Seed
            from rows in Gen.Elements(1, 3, 7, 64, 1024)
            select new Case(scheduler, Math.Min(k, scheduler.NumTrainTimesteps / 2), d, n, seed, rows));
    }

    private static float[] Run(Sampler sampler, Case c)
    {
        var output = new float[c.Chains * c.Dimension];
        sampler.Sample(c.Chains, c.Seed, output);
        return output;
    }

    [Property(MaxTest = 40, Replay = "(1234567,7654321)", Arbitrary = [typeof(Arbitraries)])]
    public void AsdWithLengthOneIsDdpmBitForBit(Case c)
    {
        var schedule = new DiffusionSchedule(c.Scheduler);
        InferencePlan plan = schedule.Plan(c.Steps);
        var denoiser = new NonlinearDenoiser(c.Dimension, schedule.TrainSteps, c.Seed);
        var options = new SamplerOptions { MaxBatchRows = c.MaxBatchRows, SpecLength = SpecLength.Fixed(1) };
        float[] ddpm = Run(new DdpmSampler(denoiser, plan, options), c);
        var asdSampler = new AsdSampler(denoiser, plan, options);
        float[] asd = Run(asdSampler, c);
        Assert.True(ddpm.AsSpan().SequenceEqual(asd), $"ASD(L=1) differs from DDPM for {c}");
        Assert.Equal((double)c.Steps, asdSampler.Stats.SequentialModelCalls);
    }

    [Property(MaxTest = 40, Replay = "(2345678,8765433)", Arbitrary = [typeof(Arbitraries)])]
    public void ConstantDenoiserMakesEveryDraftExact(Case c)
    {
        var schedule = new DiffusionSchedule(c.Scheduler with { PredictionType = PredictionType.Sample });
        InferencePlan plan = schedule.Plan(c.Steps);
        var rng = new System.Random((int)(c.Seed % int.MaxValue));
        var denoiser = new ConstantDenoiser([.. Enumerable.Range(0, c.Dimension).Select(_ => (float)((rng.NextDouble() * 4) - 2))]);
        float[] ddpm = Run(new DdpmSampler(denoiser, plan, new SamplerOptions { MaxBatchRows = c.MaxBatchRows }), c);
        foreach (SpecLength l in (SpecLength[])[SpecLength.Fixed(2), SpecLength.Fixed(8), SpecLength.Unbounded])
        {
            var asd = new AsdSampler(denoiser, plan, new SamplerOptions { MaxBatchRows = c.MaxBatchRows, SpecLength = l });
            float[] result = Run(asd, c);
            Assert.True(ddpm.AsSpan().SequenceEqual(result), $"ASD(L={l}) with a constant denoiser differs from DDPM for {c}");
            Assert.All(asd.Stats.AcceptanceByPosition, p => Assert.Equal(p.Attempts, p.Accepted));
        }
    }

    [Fact]
    public void DenoiserOfXIsNotBitIdentical()
    {
        // The bit-identity above is a real check: as soon as m depends on x, drafts are rejected and ASD(L > 1)
        // takes other paths than DDPM (same law, other bytes).
        var schedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Sample });
        InferencePlan plan = schedule.Plan(20);
        var denoiser = new AffineDenoiser(2, t => ([0.5, 0, 0, 0.5], [t / 100.0, -t / 50.0]), schedule);
        var a = new float[16];
        var b = new float[16];
        new DdpmSampler(denoiser, plan).Sample(8, 3, a);
        new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = SpecLength.Fixed(4) }).Sample(8, 3, b);
        Assert.False(a.AsSpan().SequenceEqual(b));
    }
}
