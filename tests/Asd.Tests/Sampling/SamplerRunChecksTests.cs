using Asd.Native.Threading;

namespace Asd.Tests.Sampling;

/// <summary>
/// What every sampler checks and owns, written for the survivors of the mutation study over Sampler.cs
/// (tools/mutation/RESULTS.md, "the sampler target"): a conditional run's refusals (a non-finite value at index 0 went
/// untested), the batch buffers' ceiling for wide conditioning rows (a 2^20-float row sized them at 4 GiB), what a
/// factory-made sampler disposes, and a reused sampler's per-chain counts.
/// </summary>
public sealed class SamplerRunChecksTests
{
    private static readonly DiffusionSchedule Schedule = new(new SchedulerConfig());

    private static Sampler Make(string kind, IDenoiser denoiser, int steps = 10) => kind == "ddpm"
        ? new DdpmSampler(denoiser, Schedule.Plan(steps))
        : new AsdSampler(denoiser, Schedule.Plan(steps), new SamplerOptions { SpecLength = SpecLength.Fixed(4) });

    [Theory]
    [InlineData("ddpm")]
    [InlineData("asd")]
    public void AConditionalRunIsCheckedBeforeAnyWork(string kind)
    {
        var denoiser = new FakeDenoiser(sampleSize: 2, conditionSize: 3);
        using Sampler sampler = Make(kind, denoiser);
        float[] output = [7, 7, 7, 7, 7, 7, 7, 7];
        string Refused(float[] conditioning, float[]? initialNoise = null) =>
            Assert.Throws<ArgumentException>(() => sampler.Sample(4, 0, output, conditioning, initialNoise ?? default(ReadOnlySpan<float>))).Message;

        Assert.StartsWith("This model is conditional: give 3 conditioning values (shared by all samples) or 4 x 3.", Refused([]), StringComparison.Ordinal);
        Assert.StartsWith("Conditioning holds 5 values; expected 3 (shared) or 4 x 3 = 12.", Refused(new float[5]), StringComparison.Ordinal);
        // The first and the last value of each layout: a scan that starts at 1, or stops one short, lets them through.
        Assert.StartsWith("Conditioning value 0 is NaN;", Refused([float.NaN, 0, 0]), StringComparison.Ordinal);
        float[] perChain = new float[12];
        perChain[11] = float.PositiveInfinity;
        Assert.StartsWith("Conditioning value 11 is ", Refused(perChain), StringComparison.Ordinal);
        float[] noise = new float[8];
        noise[0] = float.NegativeInfinity;
        Assert.StartsWith("Initial noise value 0 is ", Refused(new float[3], noise), StringComparison.Ordinal);
        Assert.Equal(0, denoiser.Calls);
        Assert.All(output, v => Assert.Equal(7f, v));

        // The control: the same run with valid values samples.
        sampler.Sample(4, 0, output, new float[3]);
        Assert.True(denoiser.Calls > 0);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ASamplerRefusesNullsAndAnEmptySample()
    {
        var plan = Schedule.Plan(10);
        Assert.Equal("denoiser", Assert.Throws<ArgumentNullException>(() => new DdpmSampler(null!, plan)).ParamName);
        Assert.Equal("plan", Assert.Throws<ArgumentNullException>(() => new DdpmSampler(new FakeDenoiser(2, 0), null!)).ParamName);
        Assert.StartsWith("The denoiser's sample size must be >= 1 (got 0).", Assert.Throws<ArgumentException>(() => new DdpmSampler(new FakeDenoiser(0, 0), plan)).Message, StringComparison.Ordinal);
        Assert.Contains("The number of samples must be >= 1 (got 0)", Assert.Throws<ArgumentOutOfRangeException>(() => new DdpmSampler(new FakeDenoiser(2, 0), plan).Sample(0, 0, [])).Message, StringComparison.Ordinal);
        var output = Assert.Throws<ArgumentException>(() => new DdpmSampler(new FakeDenoiser(2, 0), plan).Sample(2, 0, new float[3]));
        Assert.StartsWith("The output buffer holds 3 floats; 2 samples of 2 need 4.", output.Message, StringComparison.Ordinal);
        Assert.Equal("output", output.ParamName);
    }

    /// <summary>The refusal names the last chain offset that fits, so that a caller can split the run there.</summary>
    [Fact]
    public void ARefusedChainOffsetNamesTheLastOneThatFits()
    {
        using Sampler sampler = Make("ddpm", new FakeDenoiser(2, 0));
        string message = Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(2, 0, new float[4], chainOffset: ulong.MaxValue - 1)).Message;
        Assert.Contains($"(at most {ulong.MaxValue - 2} for 2 samples)", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A run's per-chain arrays hold count x max(sample, conditioning row) values: more than one array holds is refused
    /// by name before anything is allocated (a conditioning row of 2^20 floats, 2048 chains: 2^31 values).
    /// </summary>
    [Fact]
    public void ChainsWhoseConditioningOutgrowsAnArrayAreRefused()
    {
        using Sampler sampler = Make("ddpm", new FakeDenoiser(1, 1 << 20), steps: 2);
        string message = Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(2048, 0, new float[2048], new float[1 << 20])).Message;
        Assert.Contains("2048 chains in one run need arrays of 2,147,483,648 values (1048576 per chain), more than one array holds", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A run whose per-chain state needs more than 1 GiB and more than this process may use is refused before anything is
    /// allocated, naming both sizes (512 chains of a 2^20-float conditioning row: 2.0 GiB).
    /// </summary>
    [Fact]
    public void ARunLargerThanTheMemoryThisProcessMayUseIsRefused()
    {
        using Sampler sampler = Make("ddpm", new FakeDenoiser(1, 1 << 20), steps: 2);
        Assert.Equal((4L * ((1 << 20) + 1)) + 4, sampler.BytesPerChain);
        sampler.AvailableMemory = () => 3L << 29; // 1.5 GiB
        float[] output = new float[512], conditioning = new float[1 << 20];
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(512, 0, output, conditioning));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the refused run allocated its state");
        Assert.Equal("count", e.ParamName);
        Assert.Contains("512 chains in one run need 2.0 GiB of sampler state, more than the 1.5 GiB this process may use", e.Message, StringComparison.Ordinal);

        // The controls: with room for it, or below 1 GiB (never asked), the run gets past the size check and stops at
        // the next one (no conditioning given), before allocating.
        sampler.AvailableMemory = () => 3L << 30;
        Assert.Contains("This model is conditional", Assert.Throws<ArgumentException>(() => sampler.Sample(512, 0, new float[512])).Message, StringComparison.Ordinal);
        sampler.AvailableMemory = () => 1;
        Assert.Contains("This model is conditional", Assert.Throws<ArgumentException>(() => sampler.Sample(255, 0, new float[255])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(257, 0, new float[257]));
    }

    /// <summary>Noise injected for one run (tests replay recorded noise) does not outlive it: the next run draws its own.</summary>
    [Theory]
    [InlineData("ddpm")]
    [InlineData("asd")]
    public void InjectedNoiseEndsWhenTheOverrideIsRemoved(string kind)
    {
        var mixture = new MixtureDenoiser(GaussianMixture.Builtin(2), Schedule);
        var fresh = new float[8];
        using (Sampler s = Make(kind, mixture, steps: 20))
        {
            s.Sample(4, 5, fresh);
        }

        using Sampler reused = Make(kind, mixture, steps: 20);
        reused.NoiseOverride = new ConstantNoise();
        var injected = new float[8];
        reused.Sample(4, 5, injected);
        Assert.NotEqual(fresh, injected);
        reused.NoiseOverride = null;
        var after = new float[8];
        reused.Sample(4, 5, after);
        Assert.Equal(fresh, after);
    }

    private sealed class ConstantNoise : INoiseSource
    {
        public void Gaussian(ulong chain, int step, NoisePurpose purpose, Span<float> destination) => destination.Fill(0.25f);

        public double Uniform(ulong chain, int step, NoisePurpose purpose) => 0.5;
    }

    /// <summary>
    /// Every batch buffer holds at most 2^24 floats (ResourceLimits.MaxBatchFloats), the conditioning buffer too: a
    /// model may take conditioning rows of 2^20 floats, and 1024 rows of them made a 4 GiB buffer in the sampler (and
    /// another in the denoiser, which the factory sized the same way). Now the rows per call drop to 16; the samples
    /// are the same, split into more calls.
    /// </summary>
    [Fact]
    public void WideConditioningRowsLowerTheRowsPerCallNotTheBufferCeiling()
    {
        const int C = 1 << 20;
        Assert.Equal(16, new SamplerOptions().RowsFor(2, C));
        Assert.Equal(1024, new SamplerOptions().RowsFor(2, 3));
        Assert.Equal(1, new SamplerOptions().RowsFor(1 << 24, C));

        var wide = new FakeDenoiser(2, C);
        long before = GC.GetAllocatedBytesForCurrentThread();
        using Sampler sampler = new DdpmSampler(wide, Schedule.Plan(2));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(allocated, 0, (1L << 26) + (1L << 20)); // one 64 MiB conditioning buffer, small others

        var output = new float[40];
        sampler.Sample(20, 3, output, new float[C]);
        Assert.Equal(16, wide.MaxRowsSeen);
        Assert.Equal(2 * 2, wide.Calls); // 20 chains in calls of 16 and 4, at each of 2 steps

        // The same bytes as a sampler of a narrow model that calls with all 20 rows at once.
        var narrow = new FakeDenoiser(2, 1);
        var reference = new float[40];
        using (var s = new DdpmSampler(narrow, Schedule.Plan(2)))
        {
            s.Sample(20, 3, reference, new float[1]);
        }

        Assert.Equal(20, narrow.MaxRowsSeen);
        Assert.Equal(reference, output);

        // The calibration's probe and the factory's denoiser obey the same ceiling.
        var probed = new FakeDenoiser(2, C);
        CostCurve.Measure(probed, 64, 1000, repeats: 1, limits: new CalibrationLimits(5));
        Assert.Equal(16, probed.MaxRowsSeen);
        using var model = new FakeModel(2, C);
        using (Sampler made = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Ddpm, Steps = 2 }))
        {
            Assert.Equal(16, model.Created!.MaxBatchRows);
        }
    }

    /// <summary>A sampler the factory made owns its denoiser and its core pool; disposing it releases both.</summary>
    [Fact]
    public void AFactoryMadeSamplerDisposesItsDenoiserAndPool()
    {
        using var model = new FakeModel(2, 0);
        Sampler sampler = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Ddpm, Steps = 2, Threads = 2 });
        FakeDenoiser denoiser = model.Created!;
        CorePool pool = model.Pool!;
        sampler.Sample(3, 0, new float[6]);
        Assert.False(denoiser.Disposed);
        sampler.Dispose();
        Assert.True(denoiser.Disposed);
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new NoWork(), 2));

        // A sampler built directly does not own what it was given.
        var given = new FakeDenoiser(2, 0);
        new DdpmSampler(given, Schedule.Plan(2)).Dispose();
        Assert.False(given.Disposed);
    }

    /// <summary>
    /// A sampler reused for runs of other sizes counts each chain's sequential calls as a fresh one does. A chain's call
    /// is counted once per invocation by stamping it with the invocation's number, which restarts at 1 every run: a stamp
    /// left by the last run equal to this run's first invocation (one step: every stamp is 1) hid that call.
    /// </summary>
    [Theory]
    [InlineData("ddpm", 1)]
    [InlineData("asd", 1)]
    [InlineData("ddpm", 40)]
    [InlineData("asd", 40)]
    public void AReusedSamplerCountsAsAFreshOne(string kind, int steps)
    {
        var mixture = new MixtureDenoiser(GaussianMixture.Builtin(2), Schedule);
        int[] Calls(Sampler s, int n, ulong seed)
        {
            s.Sample(n, seed, new float[2 * n]);
            return s.Stats.CallsPerChain.ToArray();
        }

        int[] fresh3, fresh5;
        using (Sampler s = Make(kind, mixture, steps))
        {
            fresh3 = Calls(s, 3, 11);
        }

        using (Sampler s = Make(kind, mixture, steps))
        {
            fresh5 = Calls(s, 5, 12);
        }

        using Sampler reused = Make(kind, mixture, steps);
        Assert.Equal(fresh3, Calls(reused, 3, 11));
        Assert.Equal(fresh3, Calls(reused, 3, 11));
        Assert.Equal(fresh5, Calls(reused, 5, 12));
        Assert.Equal(fresh3, Calls(reused, 3, 11));
        Assert.All(fresh3, c => Assert.InRange(c, 1, steps));
        Assert.Equal(steps == 1 ? 1 : fresh3.Average(), reused.Stats.SequentialModelCalls);
    }

    private sealed class NoWork : IRangeWork
    {
        public void Execute(int start, int end)
        {
        }
    }

    /// <summary>
    /// x0 = 0.5 x + the first conditioning value (a row depends on its own inputs only); counts calls and the largest
    /// batch, and records whether it was disposed.
    /// </summary>
    internal sealed class FakeDenoiser(int sampleSize, int conditionSize) : IDenoiser, IDisposable
    {
        public int Calls { get; private set; }

        public int MaxRowsSeen { get; private set; }

        public bool Disposed { get; private set; }

        public int MaxBatchRows { get; init; }

        public int SampleSize => sampleSize;

        public int ConditionSize => conditionSize;

        public bool IsBatchInvariant => true;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            DenoiserChecks.CheckBatch(this, samples.Length, timesteps.Length, conditioning.Length, output.Length);
            Calls++;
            MaxRowsSeen = Math.Max(MaxRowsSeen, timesteps.Length);
            for (int r = 0; r < timesteps.Length; r++)
            {
                float shift = conditionSize > 0 ? conditioning[r * conditionSize] : 0f;
                for (int j = 0; j < sampleSize; j++)
                {
                    output[(r * sampleSize) + j] = (0.5f * samples[(r * sampleSize) + j]) + shift;
                }
            }
        }

        public void Dispose() => Disposed = true;
    }

    /// <summary>A model of <see cref="FakeDenoiser"/>s (x0 prediction), remembering the last one made and its pool.</summary>
    private sealed class FakeModel(int sampleSize, int conditionSize) : IDiffusionModel
    {
        public FakeDenoiser? Created { get; private set; }

        public CorePool? Pool { get; private set; }

        public string Name => "fake";

        public IReadOnlyList<int> SampleShape => [sampleSize];

        public int ConditionSize => conditionSize;

        public SchedulerConfig DefaultScheduler => new() { PredictionType = PredictionType.Sample };

        public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options)
        {
            Pool = options.Pool;
            return Created = new FakeDenoiser(sampleSize, conditionSize) { MaxBatchRows = options.MaxBatchRows };
        }

        public void Dispose()
        {
        }
    }
}
