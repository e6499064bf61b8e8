namespace Asd.Tests.Onnx;

/// <summary>
/// The trained 28x28 image UNet of tools/make_unet28_fixture.py (tests/fixtures/onnx/unet28), the fixture whose call
/// costs milliseconds: loaded through the model catalogue, sampled by DDPM and by ASD, and its samples scored by the
/// script's shape heuristic (<see cref="ShapeHeuristic"/>) against the threshold its quality.json states; noise,
/// random -1/+1 pixels and the model fed the wrong timestep must score far below it.
/// </summary>
public sealed class OnnxUnet28Tests(ITestOutputHelper output)
{
    // 96 samples: the trained model draws a valid shape with probability 0.705 (DDPM, 512 samples of this engine, seeds
    // 11 and 12), so a sample set scores under valid_min = 0.5 with probability 8e-6 (binomial, 96 draws). Another CPU
    // gives ONNX Runtime other rounding and so other samples, a new draw: with 16 samples that failed 2.3% of the time.
    private const int Samples = 96;
    private const int ControlSamples = 16;
    private const int Steps = 100;
    private const ulong Seed = 28;

    private static string Folder => OnnxTestFiles.Fixture("unet28");

    /// <summary>The threshold quality.json states (the script and these tests share it), never looser than 0.5 / 0.85.</summary>
    private static ShapeHeuristic.Threshold Threshold()
    {
        using JsonDocument q = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "quality.json")));
        JsonElement t = q.RootElement.GetProperty("threshold");
        var threshold = new ShapeHeuristic.Threshold(t.GetProperty("valid_min").GetDouble(), t.GetProperty("clean_min").GetDouble());
        Assert.True(threshold.ValidMin >= 0.5 && threshold.CleanMin >= 0.85, $"quality.json loosens the threshold: {threshold}");
        return threshold;
    }

    [Fact]
    public void TheFixtureIsAnImageUnetWithTheDdpmScheduleOfUnet16()
    {
        using var model = (OnnxModel)ModelCatalog.Open(Folder);
        Assert.Equal(("noisy_images", "t", "noise_pred"), (model.SampleInput.Name, model.TimestepInput.Name, model.Output.Name));
        Assert.Equal([1, 28, 28], model.SampleShape);
        Assert.Equal(0, model.StaticBatch);
        Assert.Equal(0, model.ConditionSize);
        Assert.Equal(1000, model.DefaultScheduler.NumTrainTimesteps);
        Assert.Equal(BetaSchedule.Linear, model.DefaultScheduler.BetaSchedule);
        Assert.Equal(PredictionType.Epsilon, model.DefaultScheduler.PredictionType);
    }

    [Theory]
    [InlineData(SamplerKind.Ddpm)]
    [InlineData(SamplerKind.Asd)]
    public void SamplesAreRecognisedShapes(SamplerKind kind)
    {
        ShapeHeuristic.Threshold threshold = Threshold();
        using IDiffusionModel model = ModelCatalog.Open(Folder, new ModelOpenOptions { Threads = 1 });
        using Sampler sampler = SamplerFactory.Create(model, new SamplerRequest { Kind = kind, Steps = Steps, Threads = 1, SpecLength = SpecLength.Fixed(4), MaxBatchRows = 4 * Samples });
        var x = new float[Samples * 28 * 28];
        SamplingStats stats = sampler.Sample(Samples, Seed, x);
        ShapeHeuristic.Score score = ShapeHeuristic.Evaluate(x);
        output.WriteLine($"unet28, {kind}, K = {Steps}, {Samples} samples: {score} (threshold valid >= {threshold.ValidMin}, clean >= {threshold.CleanMin}); {stats.SequentialModelCalls:F0} sequential calls, {stats.WallSeconds:F1} s");
        Assert.True(score.Passes(threshold), $"{kind}: {score}");
    }

    [Fact]
    public void NoiseRandomSignsAndTheModelToldTheWrongTimestepScoreFarBelowTheThreshold()
    {
        // Margin: a control fails the threshold and misses one of its two minimums by at least half. One control for each
        // half of the check: the model told t = 0 draws sign patterns that are often discs, but far from +-1 (it takes
        // every sample for clean), which the clean half rejects; random -1/+1 pixels are clean but no shape, which the
        // shape half rejects. And N(0, 1) noise, which both reject.
        ShapeHeuristic.Threshold threshold = Threshold();
        var rng = new Random(28);
        float[] noise = [.. Enumerable.Range(0, ControlSamples * 28 * 28).Select(_ => (float)Gaussian(rng))];
        ShapeHeuristic.Score noiseScore = ShapeHeuristic.Evaluate(noise);
        float[] signs = [.. Enumerable.Range(0, ControlSamples * 28 * 28).Select(_ => rng.Next(2) == 0 ? -1f : 1f)];
        ShapeHeuristic.Score signScore = ShapeHeuristic.Evaluate(signs);

        // The trained model through the same DDPM run, told t = 0 (no noise left) at every step.
        using var model = (OnnxModel)ModelCatalog.Open(Folder, new ModelOpenOptions { Threads = 1 });
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        var wrongTimestep = new FixedTimestepDenoiser(model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = ControlSamples }), 0);
        using var ddpm = new DdpmSampler(wrongTimestep, schedule.Plan(Steps)) { OwnsDenoiser = true };
        var x = new float[ControlSamples * 28 * 28];
        ddpm.Sample(ControlSamples, Seed, x);
        ShapeHeuristic.Score wrongScore = ShapeHeuristic.Evaluate(x);

        output.WriteLine($"N(0, 1) noise: {noiseScore}");
        output.WriteLine($"random -1/+1 pixels: {signScore}");
        output.WriteLine($"DDPM with t = 0 at every step: {wrongScore}");
        Assert.True(wrongScore.Clean <= threshold.CleanMin / 2, $"the clean half must reject {wrongScore}");
        Assert.True(signScore.Valid <= threshold.ValidMin / 2, $"the shape half must reject {signScore}");
        foreach (ShapeHeuristic.Score s in (ShapeHeuristic.Score[])[noiseScore, signScore, wrongScore])
        {
            Assert.True(FarBelow(s, threshold), $"control {s} is not far below the threshold");
        }
    }

    [Fact]
    public void TheCommittedQualitySummaryPassesAndItsControlsDoNot()
    {
        // What the script measured when it trained the fixture (64 torch DDPM samples of 100 steps), kept with it.
        ShapeHeuristic.Threshold threshold = Threshold();
        using JsonDocument q = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "quality.json")));
        static ShapeHeuristic.Score Read(JsonElement e)
        {
            int[] c = [.. e.GetProperty("classes").EnumerateArray().Select(v => v.GetInt32())];
            return new ShapeHeuristic.Score(e.GetProperty("valid").GetDouble(), e.GetProperty("clean").GetDouble(), c[0], c[1], c[2], c[3]);
        }

        Assert.True(Read(q.RootElement.GetProperty("trained")).Passes(threshold));
        Assert.True(Read(q.RootElement.GetProperty("data")).Passes(threshold));
        foreach (JsonProperty control in q.RootElement.GetProperty("controls").EnumerateObject())
        {
            ShapeHeuristic.Score s = Read(control.Value);
            Assert.True(FarBelow(s, threshold), $"{control.Name}: {s}");
        }

        Assert.Equal(new FileInfo(Path.Combine(Folder, "model.onnx")).Length, q.RootElement.GetProperty("onnx_bytes").GetInt64());
    }

    [Fact]
    public void TheHeuristicRecognisesEveryDrawnShapeAndRejectsBlankAndTwoShapeImages()
    {
        // The data families of the script (square side 6-18, disc radius 4-9.5 on the grid or between pixels, bar
        // 3-5 x 14-26), drawn here: the heuristic must name each one, and reject what is not one shape.
        var rng = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            var shape = (ShapeHeuristic.Shape)(i % 3);
            float[] im = Draw(shape, rng);
            Assert.Equal(shape, ShapeHeuristic.Classify(im));
        }

        float[] blank = [.. Enumerable.Repeat(-1f, 28 * 28)];
        Assert.Equal(ShapeHeuristic.Shape.None, ShapeHeuristic.Classify(blank));
        float[] two = Draw(ShapeHeuristic.Shape.Square, new Random(1), size: 6, y0: 2, x0: 2);
        float[] other = Draw(ShapeHeuristic.Shape.Square, new Random(1), size: 6, y0: 18, x0: 18);
        float[] both = [.. two.Zip(other, Math.Max)];
        Assert.Equal(ShapeHeuristic.Shape.None, ShapeHeuristic.Classify(both));
        Assert.Equal(new ShapeHeuristic.Score(1, 1, 1, 0, 0, 0), ShapeHeuristic.Evaluate(two));
    }

    private static float[] Draw(ShapeHeuristic.Shape shape, Random rng, int size = 0, int y0 = -1, int x0 = -1)
    {
        const int n = ShapeHeuristic.Size;
        var im = new float[n * n];
        Func<int, int, bool> inside;
        switch (shape)
        {
            case ShapeHeuristic.Shape.Square:
                int s = size > 0 ? size : rng.Next(6, 19);
                int sy = y0 >= 0 ? y0 : rng.Next(0, n + 1 - s), sx = x0 >= 0 ? x0 : rng.Next(0, n + 1 - s);
                inside = (y, x) => y >= sy && y < sy + s && x >= sx && x < sx + s;
                break;
            case ShapeHeuristic.Shape.Disc:
                double r = 4.0 + (5.5 * rng.NextDouble());
                double lo = r - 0.5, hi = n - 0.5 - r;
                double cy = Math.Floor((lo + ((hi - lo) * rng.NextDouble())) * 2) / 2, cx = Math.Floor((lo + ((hi - lo) * rng.NextDouble())) * 2) / 2;
                inside = (y, x) => ((y - cy) * (y - cy)) + ((x - cx) * (x - cx)) <= r * r;
                break;
            default:
                int th = rng.Next(3, 6), ln = rng.Next(14, 27);
                int a0 = rng.Next(0, n + 1 - ln), b0 = rng.Next(0, n + 1 - th);
                bool horizontal = rng.Next(2) == 0;
                inside = horizontal
                    ? (y, x) => y >= b0 && y < b0 + th && x >= a0 && x < a0 + ln
                    : (y, x) => x >= b0 && x < b0 + th && y >= a0 && y < a0 + ln;
                break;
        }

        for (int y = 0; y < n; y++)
        {
            for (int x = 0; x < n; x++)
            {
                im[(y * n) + x] = inside(y, x) ? 1f : -1f;
            }
        }

        return im;
    }

    /// <summary>Fails the threshold, and one of its two minimums by at least half.</summary>
    private static bool FarBelow(ShapeHeuristic.Score s, ShapeHeuristic.Threshold t) =>
        !s.Passes(t) && (s.Valid <= t.ValidMin / 2 || s.Clean <= t.CleanMin / 2);

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Feeds the model one timestep for every row, whatever the sampler asks: a model given the wrong input.</summary>
    private sealed class FixedTimestepDenoiser(IDenoiser inner, int timestep) : IDenoiser, IDisposable
    {
        private int[] _t = [];

        public int SampleSize => inner.SampleSize;

        public int ConditionSize => inner.ConditionSize;

        public bool IsBatchInvariant => inner.IsBatchInvariant;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            if (_t.Length < timesteps.Length)
            {
                _t = new int[timesteps.Length];
            }

            Array.Fill(_t, timestep);
            inner.Denoise(samples, _t.AsSpan(0, timesteps.Length), conditioning, output);
        }

        public void Dispose() => (inner as IDisposable)?.Dispose();
    }
}
