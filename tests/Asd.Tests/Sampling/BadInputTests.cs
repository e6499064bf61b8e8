namespace Asd.Tests.Sampling;

/// <summary>Item 8: bad input gets a clear exception and no partial output.</summary>
public sealed class BadInputTests
{
    private static readonly DiffusionSchedule Schedule = new(new SchedulerConfig { PredictionType = PredictionType.Sample });

    [Fact]
    public void SpeculationLengthBelowOneIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecLength.Fixed(0));
        Assert.Contains(">= 1", Assert.Throws<ArgumentException>(() => SpecLength.Parse("0")).Message);
        Assert.Contains(">= 1", Assert.Throws<ArgumentException>(() => SpecLength.Parse("-3")).Message);
        Assert.Contains("not a number", Assert.Throws<ArgumentException>(() => SpecLength.Parse("eight")).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SpecLength.FromEncoded(-2));
        Assert.Equal("inf", SpecLength.Parse("inf").ToString());
        Assert.Equal("auto", SpecLength.FromEncoded(-1).ToString());
        Assert.Equal("12", SpecLength.Parse("12").ToString());
        Assert.Equal(0, SpecLength.Parse("inf").Encoded);
    }

    /// <summary>
    /// The one grammar of speculation lengths: the same table of spellings is tested against the Python package's
    /// encode_spec_len (tests/interop/test_asd.py), so the two sides accept exactly the same strings.
    /// </summary>
    [Fact]
    public void SpeculationLengthGrammarMatchesTheSharedTable()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "spec_len_grammar.json")));
        int rows = 0;
        foreach (System.Text.Json.JsonElement row in doc.RootElement.GetProperty("spellings").EnumerateArray())
        {
            string text = row[0].GetString()!;
            if (row[1].ValueKind == System.Text.Json.JsonValueKind.Null)
            {
                var e = Assert.Throws<ArgumentException>(() => SpecLength.Parse(text, "--spec-len"));
                Assert.StartsWith("--spec-len ", e.Message, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(row[1].GetInt32(), SpecLength.Parse(text).Encoded);
            }

            rows++;
        }

        Assert.True(rows >= 30, $"the table has {rows} rows");
    }

    /// <summary>
    /// The cost curve is measured in one place, SamplerFactory: a sampler built directly for auto without a curve
    /// refuses rather than timing its denoiser itself.
    /// </summary>
    [Fact]
    public void ASamplerNeverTimesItsDenoiser()
    {
        var counting = new CountingDenoiser(new MixtureDenoiser(GaussianMixture.Builtin(2), Schedule));
        var e = Assert.Throws<ArgumentException>(() => new AsdSampler(counting, Schedule.Plan(10), new SamplerOptions { SpecLength = SpecLength.Auto }));
        Assert.Contains("SamplerFactory", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, counting.Calls);
    }

    /// <summary>The request's rules speak field names (front-ends map them onto flags or struct fields).</summary>
    [Fact]
    public void TheRequestNamesTheFieldThatBreaksARule()
    {
        Assert.StartsWith("max_batch_rows = 0", Assert.Throws<ArgumentException>(() => new SamplerRequest { MaxBatchRows = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.StartsWith("steps = 0", Assert.Throws<ArgumentException>(() => new SamplerRequest { Steps = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.StartsWith("cost_curve ", Assert.Throws<ArgumentException>(() => new SamplerRequest { SpecLength = SpecLength.Fixed(4), CostCurve = CostCurve.AssumedLinear() }.Validate()).Message, StringComparison.Ordinal);
        Assert.StartsWith("guidance_scale = NaN", Assert.Throws<ArgumentException>(() => new SamplerRequest { Guidance = double.NaN }.Validate()).Message, StringComparison.Ordinal);
        Assert.StartsWith("train_steps = -1", Assert.Throws<ArgumentException>(() => new ScheduleOverrides { TrainSteps = -1 }.Apply(new SchedulerConfig())).Message, StringComparison.Ordinal);
        Assert.StartsWith("beta_schedule = cubic", Assert.Throws<ArgumentException>(() => new ScheduleOverrides { BetaSchedule = "cubic" }.Apply(new SchedulerConfig())).Message, StringComparison.Ordinal);
        Assert.Equal(SpecLength.Auto, SamplerRequest.Default.SpecLength); // the one default every interface shares
        Assert.Equal(SpecLength.Auto, new SamplerOptions().SpecLength);
    }

    [Fact]
    public void ShapeMismatchesAreRejectedBeforeAnyWork()
    {
        var denoiser = new MixtureDenoiser(GaussianMixture.Builtin(2), Schedule);
        var sampler = new AsdSampler(denoiser, Schedule.Plan(10), new SamplerOptions { SpecLength = SpecLength.Fixed(8) });
        Assert.Contains("need 8", Assert.Throws<ArgumentException>(() => sampler.Sample(4, 0, new float[7])).Message);
        Assert.Contains("unconditional", Assert.Throws<ArgumentException>(() => sampler.Sample(1, 0, new float[2], conditioning: new float[1])).Message);
        Assert.Contains("Initial noise holds 3", Assert.Throws<ArgumentException>(() => sampler.Sample(2, 0, new float[4], initialNoise: new float[3])).Message);
        Assert.Contains("must be finite", Assert.Throws<ArgumentException>(() => sampler.Sample(1, 0, new float[2], initialNoise: [0, float.NaN])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(0, 0, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsdSampler(denoiser, Schedule.Plan(10), new SamplerOptions { MaxBatchRows = 0 }));
    }

    /// <summary>
    /// Chain ids key the noise, so ids that wrapped past 2^64 - 1 would repeat another shard's chains 0, 1, ...: the
    /// old sampler ran chains [2^64 - 1, 2^64 + 1) as ids 2^64 - 1, 0 (the second equal to chain 0 of a run from 0).
    /// </summary>
    [Theory]
    [InlineData("ddpm")]
    [InlineData("asd")]
    public void ChainIdsPastTwoToTheSixtyFourAreRefused(string kind)
    {
        var denoiser = new MixtureDenoiser(GaussianMixture.Builtin(2), Schedule);
        Sampler sampler = kind == "ddpm" ? new DdpmSampler(denoiser, Schedule.Plan(10)) : new AsdSampler(denoiser, Schedule.Plan(10), new SamplerOptions { SpecLength = SpecLength.Fixed(4) });
        float[] output = [7, 7, 7, 7];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(2, 0, output, chainOffset: ulong.MaxValue));
        Assert.Contains("exceeds the 64-bit chain ids", e.Message, StringComparison.Ordinal);
        Assert.Equal([7, 7, 7, 7], output);

        // The control: the last offset that fits runs.
        sampler.Sample(2, 0, output, chainOffset: ulong.MaxValue - 2);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void UnknownModelsAndSchedulesAreRejected()
    {
        Assert.Contains("Unknown built-in model", Assert.Throws<ArgumentException>(() => ModelCatalog.Open("builtin:nothing")).Message);
        Assert.Contains("even dimension", Assert.Throws<ArgumentException>(() => ModelCatalog.Open("builtin:mixture?dim=3")).Message);
        Assert.Contains("not an integer", Assert.Throws<ArgumentException>(() => ModelCatalog.Open("builtin:mixture?dim=x")).Message);
        Assert.Contains("Unknown parameter", Assert.Throws<ArgumentException>(() => ModelCatalog.Open("builtin:mixture?size=4")).Message);
        Assert.Contains("cannot exceed", Assert.Throws<ArgumentException>(() => Schedule.Plan(1001)).Message);
    }

    /// <summary>Returns NaN for every row at one timestep.</summary>
    private sealed class NaNAtTimestep(int dimension, int badTimestep) : IDenoiser
    {
        public int SampleSize => dimension;

        public int ConditionSize => 0;

        public bool IsBatchInvariant => true;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            for (int r = 0; r < timesteps.Length; r++)
            {
                output.Slice(r * dimension, dimension).Fill(timesteps[r] == badTimestep ? float.NaN : 0.5f);
            }
        }
    }

    /// <remarks>
    /// With a constant model every ASD draft is accepted, so at L = 4 the rows fall in place: step 0 is the first call
    /// (the model at a chain's state), step 4 the last row of the first round (adopted as m after a full acceptance),
    /// step 7 a row inside the second round (checked as that round is verified). Each is checked at its own site.
    /// </remarks>
    [Theory]
    [InlineData("ddpm", 7)]
    [InlineData("ddpm", 0)]
    [InlineData("asd", 7)]
    [InlineData("asd", 4)]
    [InlineData("asd", 0)]
    public void NonFiniteModelOutputInAUsedRowNamesStepAndChain(string kind, int step)
    {
        InferencePlan plan = Schedule.Plan(20);
        var denoiser = new NaNAtTimestep(2, plan.Timesteps[step]);
        Sampler sampler = kind == "ddpm"
            ? new DdpmSampler(denoiser, plan)
            : new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = SpecLength.Fixed(4) });
        float[] output = [1, 2, 3, 4, 5, 6];
        var e = Assert.Throws<NonFiniteModelOutputException>(() => sampler.Sample(3, 0, output, chainOffset: 40));
        Assert.Contains("chain 40", e.Message);
        Assert.Contains($"step {step} of 20", e.Message);
        Assert.Contains($"timestep {plan.Timesteps[step]}", e.Message);
        Assert.Equal([1, 2, 3, 4, 5, 6], output);
    }

    /// <summary>
    /// m jumps from 0 to 100 at timestep <c>jump</c> (so the draft at that position is surely rejected), and the first
    /// invocation that carries timestep <c>poisoned</c> (later than the jump) returns NaN there: a discarded row.
    /// </summary>
    private sealed class NaNInDiscardedDraft(int jump, int poisoned) : IDenoiser
    {
        private bool _poisonedOnce;

        public int SampleSize => 1;

        public int ConditionSize => 0;

        public bool IsBatchInvariant => true;

        public bool Poisoned => _poisonedOnce;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            bool poisonNow = !_poisonedOnce && timesteps.Contains(poisoned);
            for (int r = 0; r < timesteps.Length; r++)
            {
                output[r] = poisonNow && timesteps[r] == poisoned ? float.NaN : timesteps[r] > jump ? 0f : 100f;
            }

            _poisonedOnce |= poisonNow;
        }
    }

    [Fact]
    public void NonFiniteValuesInDiscardedDraftRowsAreNotErrors()
    {
        InferencePlan plan = Schedule.Plan(20);
        var denoiser = new NaNInDiscardedDraft(plan.Timesteps[5], plan.Timesteps[12]);
        var sampler = new AsdSampler(denoiser, plan, new SamplerOptions { SpecLength = SpecLength.Unbounded });
        var output = new float[1];
        sampler.Sample(1, 0, output);
        Assert.True(denoiser.Poisoned, "the NaN row was never evaluated, so the test proves nothing");
        Assert.True(float.IsFinite(output[0]));
        Assert.Equal(100f, output[0]);
    }
}
