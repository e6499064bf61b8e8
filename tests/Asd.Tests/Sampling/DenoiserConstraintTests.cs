namespace Asd.Tests.Sampling;

/// <summary>
/// Models with a static batch or a scalar timestep (common in ONNX exports): samplers must respect the constraint
/// (so each Denoise call is one model evaluation and counts stay honest) without changing any sample.
/// </summary>
public sealed class DenoiserConstraintTests
{
    private sealed class Constrained(IDenoiser inner, int maxRows, bool sharedTimestep) : IDenoiser
    {
        public int Calls;

        public int SampleSize => inner.SampleSize;

        public int ConditionSize => inner.ConditionSize;

        public bool IsBatchInvariant => inner.IsBatchInvariant;

        public int MaxRowsPerCall => maxRows;

        public bool SharedTimestep => sharedTimestep;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            Calls++;
            Assert.True(maxRows == 0 || timesteps.Length <= maxRows, $"{timesteps.Length} rows sent to a model with a static batch of {maxRows}");
            if (sharedTimestep)
            {
                foreach (int t in timesteps)
                {
                    Assert.Equal(timesteps[0], t);
                }
            }

            inner.Denoise(samples, timesteps, conditioning, output);
        }
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(0, true)]
    [InlineData(2, true)]
    public void ConstraintsChangeCallsButNotSamples(int maxRows, bool shared)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Sample });
        InferencePlan plan = schedule.Plan(40);
        var plain = new NonlinearDenoiser(3, schedule.TrainSteps, 9);
        foreach (SpecLength l in (SpecLength[])[SpecLength.Fixed(1), SpecLength.Fixed(5), SpecLength.Unbounded])
        {
            var expected = new float[7 * 3];
            var asd = new AsdSampler(plain, plan, new SamplerOptions { SpecLength = l });
            asd.Sample(7, 4, expected);

            var constrained = new Constrained(plain, maxRows, shared);
            var got = new float[7 * 3];
            var sampler = new AsdSampler(constrained, plan, new SamplerOptions { SpecLength = l });
            SamplingStats stats = sampler.Sample(7, 4, got);
            Assert.Equal(expected, got);
            Assert.Equal(constrained.Calls, stats.DenoiserInvocations);
            Assert.True(stats.SequentialModelCallsMax <= stats.DenoiserInvocations);
        }

        var ddpmExpected = new float[7 * 3];
        new DdpmSampler(plain, plan).Sample(7, 4, ddpmExpected);
        var ddpm = new float[7 * 3];
        var c2 = new Constrained(plain, maxRows, shared);
        SamplingStats s2 = new DdpmSampler(c2, plan).Sample(7, 4, ddpm);
        Assert.Equal(ddpmExpected, ddpm);

        // With a static batch of B, DDPM needs ceil(N / B) calls per step, and each chain is in one per step.
        Assert.Equal(40.0, s2.SequentialModelCalls);
        Assert.Equal(40 * (maxRows > 0 ? (7 + maxRows - 1) / maxRows : 1), s2.DenoiserInvocations);
    }
}
