namespace Asd.Tests.Sampling;

/// <summary>
/// Property 7f: for a fixed speculation length the same seed gives the same bytes whatever the thread count, the
/// row cap (how chains share batches) and how a run is split across processes by chain offset.
/// </summary>
public sealed class DeterminismTests
{
    public static TheoryData<string, int> Samplers => new()
    {
        { "ddpm", 0 },
        { "asd", 1 },
        { "asd", 4 },
        { "asd", 0 },
    };

    private static Sampler Create(string kind, int l, IDenoiser denoiser, InferencePlan plan, int maxRows) =>
        kind == "ddpm"
            ? new DdpmSampler(denoiser, plan, new SamplerOptions { MaxBatchRows = maxRows })
            : new AsdSampler(denoiser, plan, new SamplerOptions { MaxBatchRows = maxRows, SpecLength = SpecLength.FromEncoded(l) });

    private static float[] Sample(Sampler sampler, int n, ulong seed, ulong offset = 0)
    {
        var output = new float[n * sampler.Denoiser.SampleSize];
        sampler.Sample(n, seed, output, chainOffset: offset);
        return output;
    }

    /// <summary>ASD at a fixed speculation length over a sample-prediction schedule, on a 3-dimensional nonlinear denoiser.</summary>
    private static AsdSampler NonlinearAsd(int steps, int specLength, out IDenoiser denoiser, out InferencePlan plan)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Sample });
        plan = schedule.Plan(steps);
        denoiser = new NonlinearDenoiser(3, schedule.TrainSteps, 5);
        return new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = SpecLength.Fixed(specLength) });
    }

    [Theory]
    [MemberData(nameof(Samplers))]
    public void SameBytesAcrossThreadCountsRowCapsAndChainSplits(string kind, int l)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig { VarianceType = VarianceType.FixedLarge, TimestepSpacing = TimestepSpacing.Trailing });
        InferencePlan plan = schedule.Plan(60);
        GaussianMixture mixture = GaussianMixture.Builtin(6);
        const int n = 13;
        const ulong seed = 424242;

        float[] reference = Sample(Create(kind, l, new MixtureDenoiser(mixture, schedule), plan, 1024), n, seed);

        foreach (int threads in (int[])[2, 3])
        {
            using var pool = new CorePool(threads);
            float[] threaded = Sample(Create(kind, l, new MixtureDenoiser(mixture, schedule, pool), plan, 1024), n, seed);
            Assert.True(reference.AsSpan().SequenceEqual(threaded), $"{kind} L={l}: {threads} threads changed the bytes");
        }

        foreach (int rows in (int[])[1, 2, 5, 17])
        {
            float[] capped = Sample(Create(kind, l, new MixtureDenoiser(mixture, schedule), plan, rows), n, seed);
            Assert.True(reference.AsSpan().SequenceEqual(capped), $"{kind} L={l}: max_batch_rows={rows} changed the bytes");
        }

        Sampler split = Create(kind, l, new MixtureDenoiser(mixture, schedule), plan, 1024);
        float[] first = Sample(split, 5, seed, 0);
        float[] second = Sample(split, 8, seed, 5);
        Assert.True(reference.AsSpan().SequenceEqual([.. first, .. second]), $"{kind} L={l}: a run split by chain offset differs");

        float[] again = Sample(split, n, seed);
        Assert.True(reference.AsSpan().SequenceEqual(again), $"{kind} L={l}: reusing a sampler changed the bytes");

        float[] otherSeed = Sample(split, n, seed + 1);
        Assert.False(reference.AsSpan().SequenceEqual(otherSeed));
    }

    [Fact]
    public void InitialNoiseCanBeSupplied()
    {
        AsdSampler sampler = NonlinearAsd(steps: 30, specLength: 4, out _, out _);
        var drawn = new float[4 * 3];
        sampler.Sample(4, 9, drawn);

        // The same x_T as the engine draws (purpose Initial, index 0) gives the same output; another x_T does not.
        var latents = new float[4 * 3];
        var noise = new CounterNoise(9);
        for (int c = 0; c < 4; c++)
        {
            noise.Gaussian((ulong)c, 0, NoisePurpose.Initial, latents.AsSpan(c * 3, 3));
        }

        var supplied = new float[4 * 3];
        sampler.Sample(4, 9, supplied, initialNoise: latents);
        Assert.True(drawn.AsSpan().SequenceEqual(supplied));

        latents[0] += 1f;
        sampler.Sample(4, 9, supplied, initialNoise: latents);
        Assert.False(drawn.AsSpan().SequenceEqual(supplied));
    }

    [Fact]
    public void MergedStatsOfASplitRunEqualTheWholeRunsCounts()
    {
        AsdSampler sampler = NonlinearAsd(steps: 50, specLength: 6, out IDenoiser denoiser, out InferencePlan plan);
        var output = new float[7 * 3];
        SamplingStats whole = sampler.Sample(7, 11, output).Clone();
        var parts = new List<SamplingStats>();
        foreach ((int first, int count) in ((int, int)[])[(0, 2), (2, 1), (3, 4)])
        {
            parts.Add(sampler.Sample(count, 11, output.AsSpan(0, count * 3), chainOffset: (ulong)first).Clone());
        }

        SamplingStats merged = SamplingStats.Merge(parts);
        Assert.Equal(whole.Samples, merged.Samples);
        Assert.Equal(whole.CallsPerChain.ToArray(), merged.CallsPerChain.ToArray());
        Assert.Equal(whole.SequentialModelCalls, merged.SequentialModelCalls, 12);
        Assert.Equal(whole.SequentialModelCallsMax, merged.SequentialModelCallsMax);
        Assert.Equal(whole.RowsEvaluated, merged.RowsEvaluated);
        Assert.Equal(whole.Rounds, merged.Rounds);
        Assert.Equal(whole.AcceptanceByPosition, merged.AcceptanceByPosition);
        Assert.Equal(whole.RoundLengths, merged.RoundLengths);
        Assert.Equal(parts.Sum(p => p.DenoiserInvocations), merged.DenoiserInvocations);

        // A clone is a snapshot: the sampler's next run does not change it.
        long rounds = parts[0].Rounds;
        sampler.Sample(7, 12, output);
        Assert.Equal(rounds, parts[0].Rounds);

        var ddpm = new DdpmSampler(denoiser, plan, new SamplerOptions());
        SamplingStats other = ddpm.Sample(2, 11, output.AsSpan(0, 6)).Clone();
        Assert.Throws<ArgumentException>(() => SamplingStats.Merge([parts[0], other]));
        Assert.Throws<ArgumentException>(() => SamplingStats.Merge([]));
    }
}
