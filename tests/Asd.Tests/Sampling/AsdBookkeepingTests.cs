namespace Asd.Tests.Sampling;

/// <summary>
/// What the ASD round loop reports and schedules, beside the samples: progress, round counts, the automatic length's
/// evidence and the order in which chains share capped calls. None of it changes the law, so the statistical
/// properties cannot see it; these exact tests can (the mutation study found each of these unchecked).
/// </summary>
public sealed class AsdBookkeepingTests
{
    private static readonly DiffusionSchedule Schedule = new(new SchedulerConfig { PredictionType = PredictionType.Sample });

    private sealed class ProgressLog : ISamplingProgress
    {
        public List<SamplingProgress> Reports { get; } = [];

        public bool OnProgress(in SamplingProgress progress)
        {
            Reports.Add(progress);
            return true;
        }
    }

    public static TheoryData<string, int> Settings => new()
    {
        { "1", 0 }, { "4", 0 }, { "4", 3 }, { "inf", 0 }, { "inf", 5 }, { "auto", 0 },
    };

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(5)] // the chains fill the cap exactly: no empty call after the last full one
    public void DdpmCountsEveryStepOnceOneCallPerStepAndRowCap(int maxRows)
    {
        // DDPM's loop kept its own counts (a mutation study found none of them checked, tools/mutation/RESULTS.md):
        // K calls (K x ceil(N / cap) with a row cap), N K rows, N (K - 1) rounds, progress after every call.
        const int chains = 5, steps = 12;
        InferencePlan plan = Schedule.Plan(steps);
        var denoiser = new Properties.NonlinearDenoiser(2, Schedule.TrainSteps, 11);
        var sampler = new DdpmSampler(denoiser, plan, new SamplerOptions { MaxBatchRows = maxRows > 0 ? maxRows : SamplerOptions.DefaultMaxBatchRows });
        var log = new ProgressLog();
        var seen = new List<int>();
        sampler.StepObserver = (step, _) => seen.Add(step);
        SamplingStats stats = sampler.Sample(chains, 3, new float[chains * 2], progress: log);

        int callsPerStep = maxRows > 0 ? (chains + maxRows - 1) / maxRows : 1;
        Assert.Equal("ddpm", stats.Sampler);
        Assert.Equal((long)steps * callsPerStep, stats.DenoiserInvocations);
        Assert.Equal((long)chains * steps, stats.RowsEvaluated);
        Assert.Equal((long)chains * (steps - 1), stats.Rounds);
        Assert.Equal(steps, stats.SequentialModelCalls);
        Assert.Equal([.. Enumerable.Range(0, steps)], seen);
        Assert.Equal(stats.DenoiserInvocations, log.Reports.Count);
        long done = 0;
        for (int i = 0; i < log.Reports.Count; i++)
        {
            // Each call completes one step of the chains it evaluated.
            int rows = maxRows > 0 ? Math.Min(maxRows, chains - (i % callsPerStep * maxRows)) : chains;
            done += rows;
            Assert.Equal(new SamplingProgress(done, (long)chains * steps, i + 1), log.Reports[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void ProgressCountsEveryStepOnceAndRoundsAddUp(string specLen, int maxRows)
    {
        const int chains = 5, steps = 30;
        InferencePlan plan = Schedule.Plan(steps);
        var denoiser = new Properties.NonlinearDenoiser(2, Schedule.TrainSteps, 11);
        SpecLength length = SpecLength.Parse(specLen);
        var options = new SamplerOptions
        {
            SpecLength = length,
            MaxBatchRows = maxRows > 0 ? maxRows : SamplerOptions.DefaultMaxBatchRows,
            CostCurve = length.IsAuto ? Properties.SameLawProperty.SublinearCurve(chains) : null,
        };
        var sampler = new AsdSampler(denoiser, plan, options);
        var log = new ProgressLog();
        SamplingStats stats = sampler.Sample(chains, 3, new float[chains * 2], progress: log);

        Assert.Equal("asd", stats.Sampler);
        Assert.True(stats.AcceptanceByPosition.Sum(a => a.Attempts) > stats.AcceptanceByPosition.Sum(a => a.Accepted) || specLen == "1",
            "the setting must reject some drafts, or the rejection path's counting goes untested");
        long total = (long)chains * steps;
        Assert.NotEmpty(log.Reports);
        Assert.All(log.Reports, r => Assert.Equal(total, r.TotalSteps));
        for (int i = 1; i < log.Reports.Count; i++)
        {
            Assert.True(log.Reports[i].CompletedSteps >= log.Reports[i - 1].CompletedSteps, $"progress went back at report {i}");
            Assert.True(log.Reports[i].Invocations == log.Reports[i - 1].Invocations + 1, $"report {i} is not one call after the previous");
        }

        Assert.Equal(total, log.Reports[^1].CompletedSteps);
        Assert.Equal(stats.DenoiserInvocations, log.Reports[^1].Invocations);
        Assert.Equal(stats.Rounds, stats.RoundLengths.Sum(r => r.Rounds));
        Assert.True(stats.Rounds >= (steps - 1) / Math.Min(steps - 1, length.Limit), $"{stats.Rounds} rounds");
    }

    [Fact]
    public void AutoFeedsEveryDecisionIntoItsEstimateAndAgesItEachRound()
    {
        // One chain: the estimator's pooled attempts are the run's decisions, each aged by Decay per later round.
        InferencePlan plan = Schedule.Plan(60);
        var denoiser = new Properties.NonlinearDenoiser(2, Schedule.TrainSteps, 5);
        var sampler = new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = Properties.SameLawProperty.SublinearCurve(1) });
        SamplingStats stats = sampler.Sample(1, 8, new float[2]);
        long decisions = stats.AcceptanceByPosition.Sum(a => a.Attempts), accepted = stats.AcceptanceByPosition.Sum(a => a.Accepted);
        Assert.True(stats.Rounds >= 5 && decisions >= 5 && accepted < decisions, $"{stats.Rounds} rounds, {accepted} of {decisions} accepted: too few to test");

        (double attempts, double acceptedWeight) = sampler.Auto!.PooledCounts(0);
        Assert.True(attempts > 0, "no decision reached the estimate");
        Assert.True(attempts < decisions, $"the estimate holds {attempts} attempts for {decisions} decisions: its counts never aged");
        Assert.True(acceptedWeight <= attempts, $"{acceptedWeight} accepted of {attempts}");

        // Aged by 0.85 per round, at most L attempts a round: the weight is bounded by max L / (1 - 0.85).
        int longest = stats.RoundLengths.Max(r => r.Length);
        Assert.True(attempts <= longest / (1 - AutoSpeculation.Decay) + 1e-9, $"{attempts} attempts exceed the aged bound");
    }

    /// <summary>Records the chain (its conditioning value) of every row of every call.</summary>
    private sealed class ChainRecorder : IDenoiser
    {
        public List<float[]> Calls { get; } = [];

        public int SampleSize => 1;

        public int ConditionSize => 1;

        public bool IsBatchInvariant => true;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            DenoiserChecks.CheckBatch(this, samples.Length, timesteps.Length, conditioning.Length, output.Length);
            Calls.Add(conditioning.ToArray());
            for (int r = 0; r < timesteps.Length; r++)
            {
                output[r] = 0.3f * samples[r];
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void CappedCallsServeTheChainsInTurn(int specLen)
    {
        // One row per call: the next call starts with the first chain the last one left out, so chains take turns.
        const int chains = 3;
        var recorder = new ChainRecorder();
        var sampler = new AsdSampler(recorder, Schedule.Plan(12), new SamplerOptions { SpecLength = SpecLength.Fixed(specLen), MaxBatchRows = 1 });
        sampler.Sample(chains, 1, new float[chains], conditioning: [0, 1, 2]);

        Assert.All(recorder.Calls, c => Assert.Single(c));
        int[] order = [.. recorder.Calls.Select(c => (int)c[0])];
        int turns = 3 * chains;
        Assert.True(order.Length >= turns, $"{order.Length} calls");
        Assert.Equal(Enumerable.Range(0, turns).Select(i => i % chains), order.Take(turns));
    }
}
