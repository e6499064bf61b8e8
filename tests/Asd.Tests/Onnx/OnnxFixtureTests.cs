namespace Asd.Tests.Onnx;

/// <summary>
/// The trained ONNX fixtures of tools/make_onnx_fixtures.py (tests/fixtures/onnx): exports with arbitrary input names,
/// a static batch with a [B, 1] timestep, a class-conditional model with guidance, a policy with a float timestep, a
/// float16 model, and broken files.
/// </summary>
public sealed class OnnxFixtureTests(ITestOutputHelper output)
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", name);

    private static readonly DiffusionSchedule AnySchedule = new(new SchedulerConfig());

    [Theory]
    [InlineData("unet16")]
    [InlineData("unet16_static3")]
    [InlineData("unet16_class")]
    [InlineData("policy_mlp")]
    [InlineData("unet16_fp16")]
    public void OutputsMatchTorchOnTheReferenceRows(string name)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Fixture("reference.json")));
        JsonElement f = doc.RootElement.GetProperty("fixtures").GetProperty(name);
        double atol = f.GetProperty("atol").GetDouble();
        using var model = (OnnxModel)ModelCatalog.Open(Fixture(name));
        Dictionary<string, double[]> inputs = f.GetProperty("inputs").EnumerateArray()
            .ToDictionary(i => i.GetProperty("name").GetString()!, i => i.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToArray());
        double[] expected = [.. f.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetDouble())];
        int d = model.SampleShape.Aggregate(1, (a, b) => a * b), c = model.ConditionSize;
        float[] x = [.. inputs[model.SampleInput.Name].Select(v => (float)v)];
        double[] t = inputs[model.TimestepInput.Name];
        float[] cond = c == 0 ? [] : [.. model.CondInputs.SelectMany((p, _) => inputs[p.Name]).Select(v => (float)v)];
        IDenoiser den = model.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 3 });
        if (den is GuidedDenoiser)
        {
            den = new OnnxDenoiser(model, 3, flagged: false);
        }

        var y = new float[3 * d];
        den.Denoise(x, [.. t.Select(v => (int)Math.Round(v))], cond, y);
        double worst = 0;
        for (int r = 0; r < 3; r++)
        {
            // Diffusers samplers use integer timesteps only; a fractional reference timestep cannot be expressed.
            if (t[r] != Math.Round(t[r]))
            {
                continue;
            }

            for (int j = 0; j < d; j++)
            {
                worst = Math.Max(worst, Math.Abs(y[(r * d) + j] - expected[(r * d) + j]));
            }
        }

        output.WriteLine($"{name}: roles sample {model.SampleInput.Describe()}, timestep {model.TimestepInput.Describe()}, cond [{string.Join(", ", model.CondInputs.Select(p => p.Describe()))}]; worst |ORT - torch| = {worst:E2} (atol {atol})");
        Assert.True(worst <= atol, $"{name}: {worst} > {atol}");
        (den as IDisposable)?.Dispose();
    }

    [Fact]
    public void RolesAreDetectedFromShapesAndTypes()
    {
        using var unet = (OnnxModel)ModelCatalog.Open(Fixture("unet16"));
        Assert.Equal(("noisy_images", "t", "noise_pred"), (unet.SampleInput.Name, unet.TimestepInput.Name, unet.Output.Name));
        Assert.Equal([1, 16, 16], unet.SampleShape);
        Assert.Equal(0, unet.StaticBatch);
        using var policy = (OnnxModel)ModelCatalog.Open(Fixture("policy_mlp"));
        Assert.Equal(("noisy_action", "timestep", "obs"), (policy.SampleInput.Name, policy.TimestepInput.Name, policy.CondInputs[0].Name));
        Assert.Equal(4, policy.ConditionSize);
        Assert.Equal(BetaSchedule.SquaredCosCapV2, policy.DefaultScheduler.BetaSchedule);
        Assert.Equal(100, policy.DefaultScheduler.NumTrainTimesteps);
        Assert.False(policy.DefaultScheduler.ClipSample);
        using var fixedBatch = (OnnxModel)ModelCatalog.Open(Fixture("unet16_static3"));
        Assert.Equal(3, fixedBatch.StaticBatch);
        Assert.Equal([3, 1], fixedBatch.TimestepInput.Dims);
        using var guided = (OnnxModel)ModelCatalog.Open(Fixture("unet16_class"));
        Assert.Equal(3.0, guided.Guidance!.Scale);
        Assert.IsType<GuidedDenoiser>(guided.CreateDenoiser(AnySchedule, new DenoiserOptions()));
    }

    [Fact]
    public void StaticBatchPaddingGivesTheRowsOfTheDynamicModel()
    {
        using var dynamicModel = (OnnxModel)ModelCatalog.Open(Fixture("unet16"));
        using var staticModel = (OnnxModel)ModelCatalog.Open(Fixture("unet16_static3"));
        var rng = new Random(2);
        const int rows = 7;
        float[] x = [.. Enumerable.Range(0, rows * 256).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
        var a = new float[rows * 256];
        var b = new float[rows * 256];
        dynamicModel.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 16 }).Denoise(x, t, default, a);
        IDenoiser padded = staticModel.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 16 });
        Assert.Equal(3, padded.MaxRowsPerCall);
        padded.Denoise(x, t, default, b);
        double worst = a.Zip(b, (p, q) => (double)Math.Abs(p - q)).Max();
        output.WriteLine($"static batch 3 (7 rows = 3 + 3 + 1 padded) vs dynamic: worst difference {worst:E2}");
        Assert.True(worst < 1e-5, $"{worst}");
    }

    [Fact]
    public void BatchBucketsGiveTheRowsOfOneSessionWithASessionPerPowerOfTwo()
    {
        // Forced on here on the CPU (CUDA turns them on by default): every call is padded up to a power of two and
        // each size runs on its own session, so a session sees one input shape only.
        using var plain = (OnnxModel)ModelCatalog.Open(Fixture("unet16"));
        using var bucketed = (OnnxModel)ModelCatalog.Open(Fixture("unet16"), new ModelOpenOptions { BatchBuckets = true });
        Assert.False(plain.BatchBuckets);
        Assert.True(bucketed.BatchBuckets);
        Assert.Equal(0, bucketed.BucketSessionCount);
        var rng = new Random(5);
        IDenoiser a = plain.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 12 });
        IDenoiser b = bucketed.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 12 });
        double worst = 0;
        foreach (int rows in (int[])[1, 3, 5, 9, 12, 2, 7])
        {
            float[] x = [.. Enumerable.Range(0, rows * 256).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
            int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
            var ya = new float[rows * 256];
            var yb = new float[rows * 256];
            a.Denoise(x, t, default, ya);
            b.Denoise(x, t, default, yb);
            worst = Math.Max(worst, ya.Zip(yb, (p, q) => (double)Math.Abs(p - q)).Max());
        }

        output.WriteLine($"batch buckets vs one session: worst difference {worst:E2}, {bucketed.BucketSessionCount} sessions");
        Assert.True(worst < 1e-5, $"{worst}");
        Assert.Equal(5, bucketed.BucketSessionCount); // 1, 4, 8, 16 (9 and 12 rows) and 2

        // A second denoiser of the same model shares the sessions; a static batch never uses buckets.
        IDenoiser c = bucketed.CreateDenoiser(AnySchedule, new DenoiserOptions { MaxBatchRows = 4 });
        c.Denoise(new float[3 * 256], [1, 2, 3], default, new float[3 * 256]);
        Assert.Equal(5, bucketed.BucketSessionCount);
        using var staticModel = (OnnxModel)ModelCatalog.Open(Fixture("unet16_static3"), new ModelOpenOptions { BatchBuckets = true });
        Assert.False(staticModel.BatchBuckets);
        foreach (IDenoiser den in (IDenoiser[])[a, b, c])
        {
            (den as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void AutoLengthCalibratesModelsWithIntegerConditioning()
    {
        // The default length is auto, whose calibration runs the model before any real conditioning exists: it must
        // feed values an Int64 class input accepts (it fed random fractions, and "asd sample --cond 3" failed).
        using var model = (OnnxModel)ModelCatalog.Open(Fixture("unet16_class"));
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64, model.CondInputs[0].Type);
        using Sampler asd = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 10, Threads = 1, SpecLength = SpecLength.Auto, MaxBatchRows = 8, Guidance = 3.0 });
        var x = new float[2 * 256];
        SamplingStats stats = asd.Sample(2, 1, x, [3f]);
        Assert.StartsWith("auto", stats.SpecLengthEffective, StringComparison.Ordinal);
        Assert.All(x, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void RoleOverridesAndBadConditioningAreReported()
    {
        string bare = Path.Combine(Fixture("unet16_class"), "model.onnx");
        var e = Assert.Throws<InvalidDataException>(() => ModelCatalog.Open(bare, new ModelOpenOptions { Onnx = new OnnxIoConfig { Sample = "nope" } }));
        Assert.Contains("sample input 'nope' not found", e.Message);
        Assert.Contains("'x'", e.Message);
        using var m = (OnnxModel)ModelCatalog.Open(bare, new ModelOpenOptions { Onnx = new OnnxIoConfig { Sample = "x", Timestep = "timesteps", Output = "eps" } });
        IDenoiser den = m.CreateDenoiser(AnySchedule, new DenoiserOptions());
        var y = new float[256];
        Assert.Contains("not an integer", Assert.Throws<ArgumentException>(() => den.Denoise(new float[256], [10], [1.5f], y)).Message);
        // A negative label ran: ONNX's Gather read -1 as the last class. Past Int64's range it saturated.
        Assert.Contains("received -1: integer inputs such as class labels count from 0", Assert.Throws<ArgumentException>(() => den.Denoise(new float[256], [10], [-1f], y)).Message);
        Assert.Contains("must fit Int64", Assert.Throws<ArgumentException>(() => den.Denoise(new float[256], [10], [1e19f], y)).Message);
        den.Denoise(new float[256], [10], [0f], y);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Contains("defines no null condition", Assert.Throws<InvalidOperationException>(() => m.CreateDenoiser(AnySchedule, new DenoiserOptions { GuidanceScale = 2 })).Message);
    }

    [Theory]
    [InlineData("input 'obs' is named twice as conditioning; each input plays one role, once.", null, "obs", "obs")]
    [InlineData("input 'noisy_action' is named as the sample and again as conditioning;", null, "noisy_action", "obs")]
    [InlineData("input 'timestep' is named as the timestep and again as conditioning;", null, "timestep", "obs")]
    public void AnInputNamedTwiceOrForTwoRolesIsRefused(string expected, string? sample, params string[] cond)
    {
        // --onnx-cond obs --onnx-cond obs sampled with obs fed twice from 8 --cond values; the sample listed as
        // conditioning took 20 values per row. The control: obs once.
        string bare = Path.Combine(Fixture("policy_mlp"), "model.onnx");
        var e = Assert.Throws<InvalidDataException>(() => ModelCatalog.Open(bare, new ModelOpenOptions { Onnx = new OnnxIoConfig { Sample = sample, Cond = cond } }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        using IDiffusionModel once = ModelCatalog.Open(bare, new ModelOpenOptions { Onnx = new OnnxIoConfig { Cond = ["obs"] } });
        Assert.Equal(4, once.ConditionSize);
    }

    [Fact]
    public void GuidanceCombinesBothHalvesFromOneCall()
    {
        using var model = (OnnxModel)ModelCatalog.Open(Fixture("unet16_class"));
        var inner = new OnnxDenoiser(model, 8, flagged: false);
        var counting = new CountingDenoiser(inner);
        var guided = new GuidedDenoiser(counting, new NullCondition.Value([3f]), 2.5);
        var rng = new Random(4);
        float[] x = [.. Enumerable.Range(0, 2 * 256).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        int[] t = [100, 700];
        float[] cls = [0f, 2f];
        var y = new float[512];
        guided.Denoise(x, t, cls, y);
        Assert.Equal(1, counting.Calls);
        var cond = new float[512];
        var uncond = new float[512];
        inner.Denoise(x, t, cls, cond);
        inner.Denoise(x, t, [3f, 3f], uncond);
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(uncond[i] + (2.5f * (cond[i] - uncond[i])), y[i], 1e-4f);
        }
    }

    [Fact]
    public void TrainedUnetAtOneHundredStepsReportsAcceptanceAndSpeedup()
    {
        // Not a threshold test: the numbers depend on the trained weights. It reports them and checks the basics.
        using IDiffusionModel model = ModelCatalog.Open(Fixture("unet16"));
        using Sampler asd = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 100, Threads = 1, SpecLength = SpecLength.Fixed(8) });
        var x = new float[8 * 256];
        SamplingStats stats = asd.Sample(8, 11, x);
        output.WriteLine($"unet16, K = 100, L = 8, 8 samples: {stats.SequentialModelCalls:F1} sequential calls, algorithmic speedup {stats.AlgorithmicSpeedup:F2}x");
        output.WriteLine("acceptance by position: " + string.Join("  ", stats.AcceptanceByPosition.Select(p => $"{p.Position}:{(double)p.Accepted / p.Attempts:P0}")));
        Assert.True(stats.SequentialModelCalls < 100);
        Assert.All(x, v => Assert.True(float.IsFinite(v)));
    }
}
