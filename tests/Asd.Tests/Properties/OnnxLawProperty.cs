namespace Asd.Tests.Properties;

/// <summary>
/// ASD has the DDPM's law through the ONNX Runtime path: property 7c's harness at a small scale, on a conditional
/// ONNX model (the asd-mlp fixture exported by tools/export_mlp_onnx.py), with random schedules, K and conditioning;
/// half the cases run with classifier-free guidance (the guided m is just another denoiser, so ASD must stay exact).
/// ONNX Runtime is not batch-invariant, so this path is checked in law only.
/// </summary>
internal static class OnnxLawProperty
{
    /// <summary>Chains per sampler and case.</summary>
    public const int SampleSize = 2000;

    /// <summary>10 cases at alpha = 0.01; fails at 4 or more rejecting cases (false alarm 2.0e-6).</summary>
    public static PropertyRule Rule { get; } = new(10, 0.01, PropertyRule.SuiteBeta);

    public sealed record Case(SchedulerConfig Scheduler, int Steps, float[] Condition, double? Guidance, ulong Seed)
    {
        public override string ToString() => $"onnx mlp_small K={Steps} {CaseGen.Describe(Scheduler)} cond=[{string.Join(", ", Condition.Select(v => v.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}]{(Guidance is { } w ? $" guidance w={w:F2}" : "")} seed={Seed}";
    }

    public static Gen<Case> Cases { get; } =
        from scheduler in CaseGen.Scheduler(100, 1000)
        from k in Gen.Choose(5, 20)
        from c0 in CaseGen.Uniform(-2, 2)
        from c1 in CaseGen.Uniform(-2, 2)
        from c2 in CaseGen.Uniform(-2, 2)
        from guided in Gen.Elements(false, true)
        from w in CaseGen.Uniform(1.5, 4)
        from seed in CaseGen.Seed
        select new Case(scheduler, k, [(float)c0, (float)c1, (float)c2], guided ? w : null, seed);

    public static string ModelPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small", "mlp_small.onnx");

    public static PropertyOutcome Run(ulong seed, AsdFault fault)
    {
        using var model = (OnnxModel)ModelCatalog.Open(ModelPath);
        var results = new List<CaseResult>();
        foreach (Case c in CaseGen.Draw(Cases, seed, Rule.Cases))
        {
            results.Add(new CaseResult(c.ToString(), CasePValue(model, c, fault)));
        }

        return Rule.Decide("ASD has the DDPM's law through ONNX Runtime", results);
    }

    private static double CasePValue(OnnxModel model, Case c, AsdFault fault)
    {
        var schedule = new DiffusionSchedule(c.Scheduler);
        InferencePlan plan = schedule.Plan(c.Steps);
        int d = model.SampleShape.Aggregate(1, (a, b) => a * b);
        ulong sampleSeed = c.Seed * 0x9E3779B97F4A7C15UL;
        double[][] Draw(Sampler s, ulong offset)
        {
            var output = new float[SampleSize * d];
            s.Sample(SampleSize, sampleSeed, output, c.Condition, chainOffset: offset);
            return [.. Enumerable.Range(0, SampleSize).Select(i => output.AsSpan(i * d, d).ToArray().Select(v => (double)v).ToArray())];
        }

        IDenoiser Denoiser()
        {
            IDenoiser inner = model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 8 * SampleSize });
            return c.Guidance is { } w ? new GuidedDenoiser(inner, new NullCondition.Zeros(), w) : inner;
        }

        using var ddpm = new DdpmSampler(Denoiser(), plan) { OwnsDenoiser = true };
        double[][] reference = Draw(ddpm, 0);
        var rng = new System.Random((int)(c.Seed % int.MaxValue));
        double[][] directions = [RejectionSamplerProperty.RandomUnit(rng, d), RejectionSamplerProperty.RandomUnit(rng, d)];
        var pValues = new List<double>();
        for (int l = 0; l < SameLawProperty.Lengths.Length; l++)
        {
            using var asd = new AsdSampler(Denoiser(), plan, SameLawProperty.Options(SameLawProperty.Lengths[l], SampleSize, 2048)) { OwnsDenoiser = true }.WithFault(fault);
            pValues.AddRange(TwoSample.ProjectionPValues(reference, Draw(asd, (ulong)(l + 1) * SampleSize), directions));
        }

        return Stat.Bonferroni(pValues);
    }
}
