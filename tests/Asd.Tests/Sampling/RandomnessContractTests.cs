namespace Asd.Tests.Sampling;

/// <summary>
/// The keyed-randomness contract (asd-math section 6), exactly: for DDPM and ASD at L in {1, 2, 8, inf, auto}, with
/// rejections happening, across row caps, thread counts and runs split by chain offset (across the 2^32 chain-id
/// boundary), every draw is identified by (seed, chain, absolute step, purpose, element) as the algorithm assigns it,
/// no two identities read the same counter block, and each purpose has its own stream (<see cref="KeyedRandomness"/>).
/// Its negative controls: U keyed by the draft position, and U drawn from the step-noise purpose, must fail it.
/// </summary>
public sealed class RandomnessContractTests(ITestOutputHelper output)
{
    private const ulong Seed = 424242;
    private const int Chains = 13;

    /// <summary>Chain ids start just below 2^32, so a run's chains have both high words 0 and 1.</summary>
    private const ulong Base = (1UL << 32) - 6;

    public static TheoryData<string> Samplers => ["ddpm", "1", "2", "8", "inf", "auto"];

    private sealed record Run(List<string> Violations, Dictionary<ulong, List<int>> Uniforms, float[] Output, long Attempts, long Accepted);

    private static Run Record(string sampler, int maxRows, int threads, (int First, int Count)[] parts, AsdFault fault = AsdFault.None)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig { VarianceType = VarianceType.FixedLarge, TimestepSpacing = TimestepSpacing.Trailing });
        InferencePlan plan = schedule.Plan(40);
        using var pool = threads > 1 ? new CorePool(threads) : null;
        var tagging = new ChainTaggingDenoiser(new MixtureDenoiser(GaussianMixture.Builtin(6), schedule, pool), plan);
        int d = tagging.SampleSize;
        Sampler s = sampler == "ddpm"
            ? new DdpmSampler(tagging, plan, new SamplerOptions { MaxBatchRows = maxRows })
            : new AsdSampler(tagging, plan, sampler == "auto"
                ? new SamplerOptions { SpecLength = SpecLength.Auto, MaxBatchRows = maxRows, CostCurve = SameLawProperty.SublinearCurve(Chains) }
                : new SamplerOptions { SpecLength = SpecLength.Parse(sampler), MaxBatchRows = maxRows }).WithFault(fault);
        var noise = new RecordingNoise(Seed);
        s.NoiseOverride = noise;
        var violations = new List<string>();
        var uniforms = new Dictionary<ulong, List<int>>();
        var outputs = new float[Chains * d];
        long attempts = 0, accepted = 0;
        foreach ((int first, int count) in parts)
        {
            var trace = new RunTrace();
            noise.Trace = trace;
            tagging.Trace = trace;
            tagging.ChainOffset = Base + (ulong)first;
            SamplingStats stats = s.Sample(count, Seed, outputs.AsSpan(first * d, count * d), ChainTaggingDenoiser.Tags(count), chainOffset: Base + (ulong)first);
            attempts += stats.AcceptanceByPosition.Sum(p => p.Attempts);
            accepted += stats.AcceptanceByPosition.Sum(p => p.Accepted);
            violations.AddRange(KeyedRandomness.Check(trace, Seed, plan, Base + (ulong)first, count, d));
            foreach (Draw u in trace.Events.OfType<Draw>().Where(x => x.Kind == DrawKind.Uniform))
            {
                (uniforms.TryGetValue(u.Chain, out List<int>? list) ? list : uniforms[u.Chain] = []).Add(u.Index);
            }
        }

        violations.AddRange(noise.Inconsistencies);
        return new Run(violations, uniforms, outputs, attempts, accepted);
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void EveryDrawIsKeyedByChainStepPurposeAndElement(string sampler)
    {
        (int, int)[] whole = [(0, Chains)];
        Run reference = Record(sampler, 1024, 1, whole);
        Assert.True(reference.Violations.Count == 0, string.Join("\n", reference.Violations.Take(10)));
        if (sampler is not ("ddpm" or "1"))
        {
            Assert.True(reference.Accepted < reference.Attempts, $"L={sampler}: no rejection happened, so the contract was not exercised where it matters");
            Assert.True(reference.Attempts >= 3 * Chains, $"L={sampler}: too few decisions ({reference.Attempts})");
        }

        output.WriteLine($"L={sampler}: {reference.Attempts} decisions, {reference.Attempts - reference.Accepted} rejections");
        var variants = new List<(string Name, Run Run)> { ("2 threads", Record(sampler, 1024, 2, whole)) };
        if (sampler != "auto")
        {
            // The automatic length plans with the row cap and the number of chains sharing a call, so only a fixed
            // length keeps its rounds when either changes (its law never does).
            variants.Add(("split by chain offset", Record(sampler, 1024, 1, [(0, 5), (5, 1), (6, Chains - 6)])));
            variants.Add(("max_batch_rows 1", Record(sampler, 1, 1, whole)));
            variants.Add(("max_batch_rows 5", Record(sampler, 5, 1, whole)));
        }

        foreach ((string name, Run run) in variants)
        {
            Assert.True(run.Violations.Count == 0, $"{name}: {string.Join("\n", run.Violations.Take(10))}");
            Assert.True(reference.Output.AsSpan().SequenceEqual(run.Output), $"L={sampler}, {name}: other bytes");
            Assert.Equal(reference.Uniforms.Keys.Order(), run.Uniforms.Keys.Order());
            foreach ((ulong chain, List<int> steps) in reference.Uniforms)
            {
                Assert.True(steps.SequenceEqual(run.Uniforms[chain]), $"L={sampler}, {name}: chain {chain} decided other steps");
            }
        }
    }

    /// <summary>Each control breaks the contract in each of the ways it should be seen (the parts of the checker each catch it).</summary>
    [Theory]
    [InlineData(AsdFault.UniformByDraftPosition, "two decisions share one uniform")]
    [InlineData(AsdFault.UniformByDraftPosition, "read after a call with rows")]
    [InlineData(AsdFault.UniformFromStepNoise, "read the same counter block")]
    [InlineData(AsdFault.UniformFromStepNoise, "no such identity")]
    internal void Control_IsCaught(AsdFault fault, string violation)
    {
        Run run = Record("8", 1024, 1, [(0, Chains)], fault);
        List<string> matching = [.. run.Violations.Where(v => v.Contains(violation, StringComparison.Ordinal))];
        output.WriteLine($"{Faults.Describe(fault)}: {run.Violations.Count} violations, {matching.Count} '{violation}', e.g.\n{string.Join("\n", matching.Take(3))}");
        Assert.NotEmpty(matching);
    }

    [Fact]
    public void CounterRngReadsTheDocumentedBlocks()
    {
        // The blocks the contract checker assigns to a draw are the ones CounterRng reads: recompute every draw from
        // Philox4x32 blocks and the Box-Muller transform, as the scheme's documentation states them.
        var rng = new System.Random(12);
        foreach (int n in (int[])[1, 2, 3, 6, 7, 8, 33, 64, 1025])
        {
            for (int trial = 0; trial < 20; trial++)
            {
                ulong seed = (ulong)rng.NextInt64(), chain = trial % 3 == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(1000);
                int index = rng.Next(2000);
                var purpose = (NoisePurpose)rng.Next(1, 16);
                var draw = new Draw(DrawKind.Gaussian, chain, index, purpose, n);
                uint[] words = [.. KeyedRandomness.Blocks(seed, draw).SelectMany(b =>
                {
                    var (x0, x1, x2, x3) = Philox4x32.Block(b.C0, b.C1, b.C2, b.C3, b.K0, b.K1);
                    return (uint[])[x0, x1, x2, x3];
                })];
                int h = (n + 1) / 2;
                var expected = new float[n];
                VecMath.BoxMuller(words.AsSpan(0, h), words.AsSpan(h, h), expected.AsSpan(0, h), expected.AsSpan(h));
                var actual = new float[n];
                new CounterNoise(seed).Gaussian(chain, index, purpose, actual);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"{draw} with seed {seed}");

                var (w, _, _, _) = KeyedRandomness.Blocks(seed, draw with { Kind = DrawKind.Uniform, Length = 1 }).Select(b => Philox4x32.Block(b.C0, b.C1, b.C2, b.C3, b.K0, b.K1)).Single();
                Assert.Equal((w + 0.5) / 4294967296.0, new CounterNoise(seed).Uniform(chain, index, purpose));
            }
        }
    }
}
