namespace Asd.Tests.Denoising;

[Collection(Simd.IsaCollection.Name)]
public sealed class MlpTests(ITestOutputHelper output)
{
    private static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);

    [Theory]
    [InlineData("mlp_small.json")]
    [InlineData("mlp_small_halves.json")]
    public void MatchesTheIndependentFloat64Reference(string file)
    {
        // tests/fixtures/mlp_small/reference.json: outputs of tools/mlp_common.py's numpy float64 forward. The small
        // model uses every format feature (time MLP, input order, GELU, Mish, ReLU, residual, layer norm; F16/BF16
        // weights in the "halves" copy). Tolerance 1e-4 absolute: float32 rounding through 6 layers (torch float32
        // differs from the reference by 3.4e-6).
        using MlpModel model = MlpModel.Load(Fixture("mlp_small", file));
        Assert.Equal([3, 2], model.SampleShape);
        Assert.Equal(3, model.ConditionSize);
        Assert.Equal(PredictionType.VPrediction, model.DefaultScheduler.PredictionType);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Fixture("mlp_small", "reference.json")));
        double worst = 0;
        MlpDenoiser denoiser = model.CreateDenoiser();
        foreach (JsonElement row in doc.RootElement.GetProperty("rows").EnumerateArray())
        {
            float[] x = [.. row.GetProperty("sample").EnumerateArray().Select(v => v.GetSingle())];
            float[] cond = [.. row.GetProperty("cond").EnumerateArray().Select(v => v.GetSingle())];
            double[] expected = [.. row.GetProperty("out").EnumerateArray().Select(v => v.GetDouble())];
            var y = new float[6];
            denoiser.Denoise(x, [row.GetProperty("timestep").GetInt32()], cond, y);
            for (int j = 0; j < 6; j++)
            {
                worst = Math.Max(worst, Math.Abs(y[j] - expected[j]));
            }
        }

        output.WriteLine($"{file}: worst absolute deviation from the float64 reference {worst:E2}");
        Assert.True(worst < 1e-4, $"deviation {worst}");
    }

    [Fact]
    public void RowsAreBatchInvariantAcrossBatchSizePositionThreadsAndIsaPaths()
    {
        using MlpModel model = MlpModel.Load(Path.Combine(AppContext.BaseDirectory, "models", "mlp_bench.json"));
        const int rows = 45;
        var rng = new Random(5);
        float[] x = [.. Enumerable.Range(0, rows * 32).Select(_ => (float)(rng.NextDouble() * 4 - 2))];
        float[] cond = [.. Enumerable.Range(0, rows * 4).Select(_ => (float)rng.NextDouble())];
        int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
        var reference = new float[rows * 32];
        for (int r = 0; r < rows; r++)
        {
            model.CreateDenoiser(1).Denoise(x.AsSpan(r * 32, 32), t.AsSpan(r, 1), cond.AsSpan(r * 4, 4), reference.AsSpan(r * 32, 32));
        }

        try
        {
            foreach (IsaPath path in Isa.Supported())
            {
                Isa.Force(path);
                foreach (int threads in (int[])[1, 2, 3])
                {
                    using var pool = new CorePool(threads);
                    // With 2 or 3 threads, passes of 1 and 3 rows split each layer's columns, passes of 7 and 45 split
                    // whole rows (MlpModel.RowSplitRows, 6): both ways meet the reference.
                    foreach (int maxRows in (int[])[1, 7, 64])
                    {
                        var y = new float[rows * 32];
                        model.CreateDenoiser(maxRows, pool).Denoise(x, t, cond, y);
                        Assert.True(reference.AsSpan().SequenceEqual(y), $"{path}, {threads} threads, {maxRows} rows per pass: bits differ");
                    }

                    // A row placed elsewhere in a different batch.
                    var shifted = new float[3 * 32];
                    model.CreateDenoiser(64, pool).Denoise(x.AsSpan(10 * 32, 3 * 32), t.AsSpan(10, 3), cond.AsSpan(40, 12), shifted);
                    Assert.True(reference.AsSpan(10 * 32, 3 * 32).SequenceEqual(shifted));
                }
            }
        }
        finally
        {
            Isa.Force(null);
        }
    }

    [Fact]
    public void MissingOrMalformedFilesAreReported()
    {
        Assert.Throws<FileNotFoundException>(() => MlpModel.Load(Fixture("mlp_small", "nope.json")));
        using var folder = new ScratchModelFolder("asd-mlp-", Fixture("mlp_small", "mlp_small.safetensors"), "m.safetensors");
        string json = File.ReadAllText(Fixture("mlp_small", "mlp_small.json"));
        string Refused(string text) => Assert.Throws<InvalidDataException>(() => MlpModel.Load(folder.WriteJson(text))).Message;
        Assert.Contains("unknown key 'cond_dims'", Refused(json.Replace("\"cond_dim\"", "\"cond_dims\"")));
        Assert.Contains("Unknown activation 'gelu'", Refused(json.Replace("\"gelu_tanh\"", "\"gelu\"")));
        Assert.Contains("not valid JSON", Refused("{ not json"));
        File.WriteAllBytes(Path.Combine(folder.Dir, "x.safetensors"), [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(Path.Combine(folder.Dir, "x.safetensors"))).Message);
    }

    [Fact]
    public void BenchModelIsThePinnedNetwork()
    {
        using MlpModel model = MlpModel.Load(Path.Combine(AppContext.BaseDirectory, "models", "mlp_bench.json"));
        Assert.Equal(164, model.InputWidth);
        Assert.Equal(2 * ((164 * 512) + (512 * 512 * 2) + (512 * 32)), model.FlopsPerRow);
    }

    [Fact]
    public void AsdIsExactThroughTheMlpToo()
    {
        // ASD(L = 1) equals DDPM bit for bit with the neural denoiser as well (batch invariance makes it so).
        using MlpModel model = MlpModel.Load(Fixture("mlp_small", "mlp_small.json"));
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        InferencePlan plan = schedule.Plan(30);
        float[] cond = [0.1f, -0.5f, 0.3f];
        var a = new float[5 * 6];
        var b = new float[5 * 6];
        new DdpmSampler(model.CreateDenoiser(schedule, new DenoiserOptions()), plan).Sample(5, 1, a, cond);
        new AsdSampler(model.CreateDenoiser(schedule, new DenoiserOptions()), plan, new SamplerOptions { SpecLength = SpecLength.Fixed(1) }).Sample(5, 1, b, cond);
        Assert.Equal(a, b);
    }
}
