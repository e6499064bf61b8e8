namespace Asd.Tests.Cli;

/// <summary>The fixed flags of <c>asd sample</c> (issue: outside checks rely on them), run in-process.</summary>
public sealed class SampleCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Pictures are tested below with --plot; elsewhere they would land in the working folder.
    private static (int Code, string Out, string Err) Run(params string[] args) =>
        CliRun.Run(args.Length > 0 && args[0] == "sample" && !args.Contains("--plot") ? [.. args, "--no-plot"] : args);

    public static TheoryData<string, string> OverwrittenInputs => new()
    {
        // Each of these ran and replaced the input with the output (checked: a model.onnx became the stats JSON), or
        // wrote shards into a model folder, whose hash then differed from shard to shard so that asd merge refused them.
        { "stats-is-the-onnx-file", "--stats MODEL.onnx: is the model file" },
        { "out-sidecar-is-the-json", "writes its manifest" },
        { "plot-is-the-weights", "is the model's weights" },
        { "stats-is-the-cond-file", "is the --cond file" },
        { "out-in-the-model-folder", "inside the model folder" },
        { "bench-json-is-the-json", "--json MODEL.json: is the model's JSON" },
    };

    [Theory]
    [MemberData(nameof(OverwrittenInputs))]
    public void AnOutputNeverReplacesWhatTheRunReads(string scenario, string message)
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
        string folder = Path.Combine(_dir, "unet16"), mlp = Path.Combine(_dir, "mlp"), onnx = Path.Combine(folder, "model.onnx");
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(mlp);
        foreach (string f in Directory.GetFiles(Path.Combine(fixtures, "onnx", "unet16")))
        {
            File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        }

        foreach (string f in (string[])["mlp_small.json", "mlp_small.safetensors"])
        {
            File.Copy(Path.Combine(fixtures, "mlp_small", f), Path.Combine(mlp, f));
        }

        string json = Path.Combine(mlp, "mlp_small.json"), weights = Path.Combine(mlp, "mlp_small.safetensors"), cond = Path.Combine(_dir, "cond.npy");
        Npy.Write(cond, [0.5f, -0.25f, 1f], [3]);
        string[] mlpRun = ["sample", "--model", json, "--cond", cond, "--steps", "5", "--samples", "2"];
        string[] args = scenario switch
        {
            "stats-is-the-onnx-file" => ["sample", "--model", onnx, "--steps", "5", "--samples", "1", "--stats", onnx],
            "out-sidecar-is-the-json" => [.. mlpRun, "--out", Path.ChangeExtension(json, null)],
            "plot-is-the-weights" => [.. mlpRun, "--plot", weights],
            "stats-is-the-cond-file" => [.. mlpRun, "--stats", cond],
            "out-in-the-model-folder" => ["sample", "--model", folder, "--steps", "5", "--samples", "1", "--out", Path.Combine(folder, "shard.npy")],
            "bench-json-is-the-json" => ["bench", "--model", json, "--cond", cond, "--steps", "5", "--repeats", "1", "--json", json],
            _ => throw new ArgumentException(scenario),
        };
        var before = Directory.GetFiles(_dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message.Replace("MODEL.onnx", onnx, StringComparison.Ordinal).Replace("MODEL.json", json, StringComparison.Ordinal), err, StringComparison.Ordinal);
        var after = Directory.GetFiles(_dir, "*", SearchOption.AllDirectories);
        Assert.Equal(before.Keys.Order(), after.Order());
        Assert.All(before, kv => Assert.Equal(kv.Value, File.ReadAllBytes(kv.Key)));

        // The control: the same run writing beside the inputs, not over them, runs and leaves them as they were.
        string elsewhere = Path.Combine(_dir, "out");
        string[] control = [.. args.Take(args.Length - 2), args[^2], elsewhere + args[^2] switch { "--out" => ".npy", "--plot" => ".png", _ => ".json" }];
        (code, _, err) = Run(control);
        Assert.True(code == 0, err);
        Assert.All(before, kv => Assert.Equal(kv.Value, File.ReadAllBytes(kv.Key)));
    }

    /// <summary>
    /// A --cond file is taken as [c] or [1, c] (shared by every sample, the same bits) or [n, c] (one row a sample); any
    /// other shape is refused naming the three (the message listed two, leaving out the [1, c] it accepts).
    /// </summary>
    [Fact]
    public void ACondFileTakesItsThreeShapesAndRefusesOthersNamingThem()
    {
        float[] row = [0.8f, 0.1f, -0.75f, -0.05f];
        byte[] Sample(string cond)
        {
            string npy = Path.Combine(_dir, "s.npy");
            var (code, _, err) = Run("sample", "--cond", cond, "--samples", "2", "--steps", "5", "--spec-len", "2", "--seed", "4", "--out", npy);
            Assert.True(code == 0, err);
            return File.ReadAllBytes(npy);
        }

        string flat = Path.Combine(_dir, "flat.npy"), one = Path.Combine(_dir, "one.npy"), each = Path.Combine(_dir, "each.npy");
        Npy.Write(flat, row, [4]);
        Npy.Write(one, row, [1, 4]);
        Npy.Write(each, [.. row, .. row], [2, 4]);
        byte[] shared = Sample(flat);
        Assert.Equal(shared, Sample(one));
        Assert.Equal(shared, Sample(each));
        foreach (int[] shape in (int[][])[[4, 2], [2, 1, 4], [3, 4]])
        {
            string bad = Path.Combine(_dir, $"bad{shape.Length}{shape[0]}.npy");
            Npy.Write(bad, new float[shape.Aggregate(1, (a, b) => a * b)], shape);
            var (code, _, err) = Run("sample", "--cond", bad, "--samples", "2", "--steps", "5");
            Assert.Equal(2, code);
            Assert.Contains($"shape [{string.Join(", ", shape)}] does not fit; expected [4] or [1, 4] (shared by all samples) or [2, 4] (one row per sample)", err, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A --cond file with a NaN or an infinity is refused naming the flag, the file and the element: the sampler's own
    /// check had said "Conditioning value 1 is NaN; conditioning must be finite. (Parameter 'conditioning')". The
    /// control: the same file with the element finite runs.
    /// </summary>
    [Theory]
    [InlineData(1, 2, float.NaN, "element [1, 2] is NaN")]
    [InlineData(0, 3, float.PositiveInfinity, "element [0, 3] is infinite, or beyond float32's range")]
    [InlineData(-1, 1, float.NegativeInfinity, "element [1] is infinite, or beyond float32's range")]
    public void ACondFileWithANonFiniteElementIsRefusedNamingIt(int row, int column, float value, string expected)
    {
        float[] values = [0.8f, 0.1f, -0.75f, -0.05f, 0.8f, 0.1f, -0.75f, -0.05f];
        int[] shape = row < 0 ? [4] : [2, 4];
        string path = Path.Combine(_dir, "cond.npy");
        float[] data = values[..shape.Aggregate(1, (a, b) => a * b)];
        data[(Math.Max(row, 0) * 4) + column] = value;
        Npy.Write(path, data, shape);
        var (code, output, err) = Run("sample", "--cond", path, "--samples", "2", "--steps", "5", "--no-plot");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains($"--cond {path}: {expected}; conditioning must be finite.", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", err, StringComparison.Ordinal);

        data[(Math.Max(row, 0) * 4) + column] = 0.5f;
        Npy.Write(path, data, shape);
        (code, _, err) = Run("sample", "--cond", path, "--samples", "2", "--steps", "5", "--no-plot");
        Assert.True(code == 0, err);
    }

    [Theory]
    [InlineData("asd", "8", "8")]
    [InlineData("asd", "inf", "inf")]
    [InlineData("ddpm", null, "-")] // DDPM takes no --spec-len (FirstUserEdgeTests)
    public void SampleWritesNpyAndStats(string sampler, string? specLen, string expectedSpecLen)
    {
        string npy = Path.Combine(_dir, "x.npy"), json = Path.Combine(_dir, "x.json");
        string[] length = specLen is null ? [] : ["--spec-len", specLen];
        var (code, output, err) = Run(["sample", "--model", "builtin:mixture?dim=4", "--sampler", sampler, "--steps", "50",
            .. length, "--samples", "6", "--seed", "3", "--out", npy, "--stats", json]);
        Assert.True(code == 0, err);
        Assert.Contains("sequential model calls", output);

        (float[] data, int[] shape) = Npy.Read(npy);
        Assert.Equal([6, 4], shape);
        Assert.All(data, v => Assert.True(float.IsFinite(v)));

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement s = doc.RootElement;
        Assert.Equal(sampler, s.GetProperty("sampler").GetString());
        Assert.Equal(50, s.GetProperty("steps").GetInt32());
        Assert.Equal(expectedSpecLen, s.GetProperty("spec_len").GetString());
        Assert.Equal(6, s.GetProperty("samples").GetInt32());
        foreach (string key in (string[])["spec_len_effective", "sequential_model_calls", "sequential_model_calls_max", "denoiser_invocations", "rows_evaluated", "rounds", "acceptance_by_position", "wall_seconds"])
        {
            Assert.True(s.TryGetProperty(key, out _), $"stats JSON lacks '{key}'");
        }

        if (sampler == "ddpm")
        {
            Assert.Equal(50.0, s.GetProperty("sequential_model_calls").GetDouble());
        }
    }

    [Fact]
    public void ScheduleFlagsAndChainOffsetAreHonoured()
    {
        string a = Path.Combine(_dir, "a.npy"), b = Path.Combine(_dir, "b.npy"), all = Path.Combine(_dir, "all.npy");
        string[] common = ["sample", "--model", "builtin:mixture", "--steps", "40", "--train-steps", "500", "--beta-schedule", "squaredcos_cap_v2", "--prediction-type", "v_prediction",
            "--variance-type", "fixed_large", "--timestep-spacing", "trailing", "--clip-sample", "--clip-sample-range", "6", "--spec-len", "4", "--seed", "9"];
        Assert.Equal(0, Run([.. common, "--samples", "5", "--out", all]).Code);
        Assert.Equal(0, Run([.. common, "--samples", "2", "--out", a]).Code);
        Assert.Equal(0, Run([.. common, "--samples", "3", "--chain-offset", "2", "--out", b]).Code);
        float[] whole = Npy.Read(all).Data;
        float[] joined = [.. Npy.Read(a).Data, .. Npy.Read(b).Data];
        Assert.Equal(whole, joined);
    }

    /// <summary>
    /// Hostile sizes are refused before sampling, naming the flag: 2 x 10^9 samples of the policy died of an
    /// unhandled OverflowException (exit 134); chain ids past 2^64 - 1 ran, repeating chain 0 of a run from 0.
    /// </summary>
    [Theory]
    [InlineData("more than one run holds", "--samples", "2000000000")]
    [InlineData("GiB, more than the", "--model", "builtin:mixture?dim=2", "--samples", "1000000000")]
    [InlineData("must end by 2^64 - 1", "--model", "builtin:mixture", "--chain-offset", "18446744073709551615", "--samples", "2")]
    public void HostileRunSizesAreRefusedBeforeSampling(string message, params string[] args)
    {
        string npy = Path.Combine(_dir, "never.npy");
        var (code, output, err) = Run(["sample", .. args, "--out", npy]);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.StartsWith("asd: error: --", err, StringComparison.Ordinal); // the message starts with the flag
        Assert.DoesNotContain("sequential model calls", output, StringComparison.Ordinal);
        Assert.False(File.Exists(npy));
    }

    [Theory]
    [InlineData("must be >= 1", "--spec-len", "0")]
    [InlineData("must be >= 1", "--spec-len", "-2")]
    [InlineData("cannot exceed num_train_timesteps", "--steps", "1001")]
    [InlineData("Unknown beta schedule", "--beta-schedule", "cosine")]
    [InlineData("Unknown sampler", "--sampler", "ddim")]
    [InlineData("even dimension", "--model", "builtin:mixture?dim=5")]
    [InlineData("Unknown built-in model", "--model", "builtin:cat")]
    [InlineData("--samples must be >= 1", "--samples", "0")]
    public void BadInputExitsWithAClearMessage(string message, string flag, string value)
    {
        string npy = Path.Combine(_dir, "never.npy");
        var (code, _, err) = Run("sample", flag, value, "--out", npy);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.False(File.Exists(npy), "a failed run must not leave a partial output file");
    }

    [Fact]
    public void InfoReportsKernelsOnnxRuntimeAndBuild()
    {
        var (code, output, _) = Run("info");
        Assert.Equal(0, code);
        Assert.Contains("kernels", output);
        Assert.Contains("asd-rng-1", output);
        Assert.Matches(@"onnxruntime 1\.\d+\.\d+, providers: .*CPUExecutionProvider", output);
        Assert.Contains("build      JIT", output);
        Assert.Contains("builtin:policy", output);
    }

    [Fact]
    public void DefaultRunSamplesThePolicyPrintsTheSummaryAndDrawsIt()
    {
        string png = Path.Combine(_dir, "asd-sample.png");
        var (code, output, err) = Run("sample", "--plot", png);
        Assert.True(code == 0, err);
        Assert.Contains("model      builtin:policy", output);
        Assert.Contains("spec_len=auto (ran auto ", output);
        Assert.Contains("samples=32", output);
        Assert.Contains("sequential model calls per chain: DDPM 100", output);
        Assert.Contains("acceptance by draft position", output);
        // The gain comes with its interval over the 32 paired requests, and is called faster or slower only beyond noise.
        Assert.Matches(@"latency    one request \(1 chain, K=100\), median of 32: ASD [0-9.]+ ms, DDPM [0-9.]+ ms  ->  (ASD is [0-9.]+x (faster|slower \([0-9.]+x\)) in wall-clock here|no wall-clock difference beyond noise|ASD ran as DDPM \(L = 1 [^)]*\): the same work, so no speedup to report \(wall-clock ratio):? ?[0-9.]+x \(\d+% interval [0-9.]+-[0-9.]+, 32 paired repeats\)", output);
        Assert.Matches(@"policy     \d+% reach the goal", output);
        Assert.Contains("(trajectories)", output);
        Assert.True(new FileInfo(png).Length > 10_000);
    }

    [Fact]
    public void OneByOneGivesTheBatchedRunsSamplesAndCounts()
    {
        // With a fixed L every chain's bytes depend only on its id, so requests of one chain each reproduce the
        // batched run, and the merged statistics count the same calls per chain, rows and rounds.
        string a = Path.Combine(_dir, "batched.npy"), b = Path.Combine(_dir, "one.npy");
        string sa = Path.Combine(_dir, "batched.json"), sb = Path.Combine(_dir, "one.json");
        string[] common = ["sample", "--model", "builtin:mixture?dim=4", "--steps", "60", "--spec-len", "4", "--samples", "5", "--seed", "3", "--chain-offset", "7"];
        Assert.Equal(0, Run([.. common, "--out", a, "--stats", sa]).Code);
        var (code, output, err) = Run([.. common, "--one-by-one", "--vs-ddpm", "--out", b, "--stats", sb]);
        Assert.True(code == 0, err);
        Assert.Equal(Npy.Read(a).Data, Npy.Read(b).Data);
        Assert.Matches(@"median of 5: ASD [0-9.]+ ms, DDPM [0-9.]+ ms", output);
        using var ja = System.Text.Json.JsonDocument.Parse(File.ReadAllText(sa));
        using var jb = System.Text.Json.JsonDocument.Parse(File.ReadAllText(sb));
        foreach (string field in (string[])["samples", "sequential_model_calls", "sequential_model_calls_max", "rows_evaluated", "rounds"])
        {
            Assert.Equal(ja.RootElement.GetProperty(field).GetRawText(), jb.RootElement.GetProperty(field).GetRawText());
        }

        Assert.Equal(ja.RootElement.GetProperty("acceptance_by_position").GetRawText(), jb.RootElement.GetProperty("acceptance_by_position").GetRawText());
        Assert.Equal(ja.RootElement.GetProperty("round_lengths").GetRawText(), jb.RootElement.GetProperty("round_lengths").GetRawText());
    }

    [Fact]
    public void OneRequestAtATimeExplainsAutoOfTheLastRequest()
    {
        // The "ran auto" histogram merges every request; the explanation line is one sampler's account of its last run,
        // so it must say whose it is.
        var (code, output, err) = Run("sample", "--model", "builtin:mixture", "--steps", "50", "--samples", "3", "--one-by-one", "--no-plot");
        Assert.True(code == 0, err);
        Assert.Matches(@"\nauto, last of the 3 requests: (L = \d+ in \d+% of rounds|best predicted gain|ran L = 1)", output);
        Assert.DoesNotMatch(@"\nauto: ", output);
    }

    [Fact]
    public void BatchedVsDdpmComparesTheSameChains()
    {
        var (code, output, err) = Run("sample", "--model", "builtin:mixture", "--steps", "50", "--vs-ddpm");
        Assert.True(code == 0, err);
        Assert.Matches(@"vs DDPM    same chains through sequential DDPM \(50 sequential calls\)  ->  (ASD is [0-9.]+x (faster|slower \([0-9.]+x\)) in wall-clock here|no wall-clock difference beyond noise|ASD ran as DDPM \(L = 1 [^)]*\): the same work, so no speedup to report \(wall-clock ratio):? ?[0-9.]+x \(\d+% interval [0-9.]+-[0-9.]+, 5 paired repeats\)", output);
        Assert.Matches(@"auto: (L = \d+ in \d+% of rounds|best predicted gain|ran L = 1)", output);
    }

    [Fact]
    public void MixtureGetsAScatterAndOtherShapesSayWhyNoPicture()
    {
        string png = Path.Combine(_dir, "m.png");
        var (code, output, err) = Run("sample", "--model", "builtin:mixture", "--steps", "50", "--plot", png);
        Assert.True(code == 0, err);
        Assert.Contains("scatter over the target density", output);
        Assert.True(File.Exists(png));

        string none = Path.Combine(_dir, "none.png");
        (code, output, err) = Run("sample", "--model", "builtin:mixture?dim=4", "--steps", "20", "--plot", none);
        Assert.True(code == 0, err);
        Assert.Contains("picture    none for this sample shape", output);
        Assert.False(File.Exists(none));
    }

    [Fact]
    public void ImageModelsGetAGrid()
    {
        string png = Path.Combine(_dir, "grid.png");
        string unet = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "unet16");
        var (code, output, err) = Run("sample", "--model", unet, "--steps", "10", "--samples", "4", "--plot", png);
        Assert.True(code == 0, err);
        Assert.Contains("(image grid)", output);
        Assert.True(File.Exists(png));
    }

    [Fact]
    public void BatchBucketsAreReportedAndKeepTheSamplesOfAFixedLength()
    {
        // Buckets change which session and batch size run a row, not the sampler: at a fixed L the accept/reject
        // decisions and the call counts are the same, and the summary names the device and the sessions used.
        string unet = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "unet16");
        string a = Path.Combine(_dir, "a.json"), b = Path.Combine(_dir, "b.json");
        var (code, output, err) = Run("sample", "--model", unet, "--steps", "20", "--samples", "3", "--spec-len", "4", "--batch-buckets", "on", "--vs-ddpm", "--stats", a);
        Assert.True(code == 0, err);
        Assert.Matches(@"device     cpu \(ONNX Runtime\), batch buckets on: calls padded to a power of two, [1-9][0-9]* sessions", output);
        Assert.Matches(@"(ASD is [0-9.]+x (faster|slower \([0-9.]+x\)) in wall-clock here|no wall-clock difference beyond noise|ASD ran as DDPM \(L = 1 [^)]*\): the same work, so no speedup to report \(wall-clock ratio)", output);
        (code, output, err) = Run("sample", "--model", unet, "--steps", "20", "--samples", "3", "--spec-len", "4", "--stats", b);
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^device     cpu \(ONNX Runtime\)\r?$", output);
        using JsonDocument ja = JsonDocument.Parse(File.ReadAllText(a)), jb = JsonDocument.Parse(File.ReadAllText(b));
        Assert.Equal(jb.RootElement.GetProperty("sequential_model_calls").GetDouble(), ja.RootElement.GetProperty("sequential_model_calls").GetDouble());
        Assert.Equal(jb.RootElement.GetProperty("rows_evaluated").GetInt64(), ja.RootElement.GetProperty("rows_evaluated").GetInt64());

        (code, _, err) = Run("sample", "--model", unet, "--steps", "5", "--batch-buckets", "maybe");
        Assert.Equal(2, code);
        Assert.Contains("--batch-buckets must be auto, on or off", err);
    }

    [Fact]
    public void CondTakesNumbersOrNpyAndCostCurveMakesAutoRepeatable()
    {
        string cond = Path.Combine(_dir, "cond.npy"), curve = Path.Combine(_dir, "curve.json"), a = Path.Combine(_dir, "a.npy"), b = Path.Combine(_dir, "b.npy");
        Npy.Write(cond, [0f, -0.8f, 0f, 0.8f, -0.8f, 0f, 0.8f, 0f], [2, 4]);
        new Asd.Native.Sampling.CostCurve([1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.4, 1.5]).Save(curve);
        Assert.Equal(0, Run("sample", "--cond", cond, "--samples", "2", "--cost-curve", curve, "--out", a).Code);
        Assert.Equal(0, Run("sample", "--cond", "0,-0.8,0,0.8,-0.8,0,0.8,0", "--samples", "2", "--cost-curve", curve, "--out", b).Code);
        Assert.Equal(Npy.Read(a).Data, Npy.Read(b).Data);

        var (code, _, err) = Run("sample", "--sampler", "ddpm", "--cost-curve", curve);
        Assert.Equal(2, code);
        Assert.Contains("--cost-curve is used only by the automatic speculation length", err);
        (code, _, err) = Run("sample", "--cond", "1,2,3");
        Assert.Equal(2, code);
        Assert.Contains("this model takes 4 per sample", err);
    }
}
