using Asd.Cli.Bench;
namespace Asd.Tests.Cli;

/// <summary><c>asd bench</c>: the table, the markdown, the plot and the JSON whose schema outside checks rely on.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private static readonly string[] RowFields = ["sampler", "spec_len", "sequential_model_calls", "algorithmic_speedup", "rows_per_step", "wall_seconds_per_sample", "wall_speedup"];

    private readonly string _dir = Directory.CreateTempSubdirectory("asd-bench-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void BenchWritesTheFixedJsonSchemaTableAndPlot()
    {
        string json = Path.Combine(_dir, "b.json"), png = Path.Combine(_dir, "b.png"), curve = Path.Combine(_dir, "c.json");
        var (code, output, err) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "30", "--repeats", "2", "--threads", "1",
            "--spec-lens", "1,4,inf,auto", "--json", json, "--plot", png, "--save-cost-curve", curve);
        Assert.True(code == 0, err + output);
        Assert.Contains("cost-model ceiling", output);
        Assert.Contains("ASD L=auto", output);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        // The machine names the CPU as the cost-curve cache keys it (family, model, stepping), not by its model name alone.
        Assert.StartsWith(Asd.Native.Sampling.CostCurveKey.CpuModel() + ", ", root.GetProperty("machine").GetString());
        Assert.Equal("builtin:mixture?dim=4", root.GetProperty("model").GetString());
        Assert.Equal(30, root.GetProperty("steps").GetInt32());
        AssertCeilingFollowsFromTheCurveAndAcceptance(root, steps: 30);
        JsonElement[] rows = [.. root.GetProperty("rows").EnumerateArray()];
        Assert.Equal(["-", "1", "4", "inf", "auto"], rows.Select(r => r.GetProperty("spec_len").GetString()));
        Assert.Equal(["ddpm", "asd", "asd", "asd", "asd"], rows.Select(r => r.GetProperty("sampler").GetString()));
        foreach (JsonElement row in rows)
        {
            Assert.Equal(RowFields, row.EnumerateObject().Select(p => p.Name));
            Assert.True(row.GetProperty("wall_seconds_per_sample").GetDouble() > 0);
            Assert.True(row.GetProperty("rows_per_step").GetDouble() >= 1.0 - 1e-9);
        }

        // DDPM and ASD L = 1 make K sequential calls; the DDPM row is the reference of both speedups.
        Assert.Equal(30.0, rows[0].GetProperty("sequential_model_calls").GetDouble());
        Assert.Equal(1.0, rows[0].GetProperty("wall_speedup").GetDouble());
        Assert.Equal(1.0, rows[0].GetProperty("algorithmic_speedup").GetDouble());
        Assert.Equal(30.0, rows[1].GetProperty("sequential_model_calls").GetDouble());
        Assert.True(rows[3].GetProperty("algorithmic_speedup").GetDouble() > 1.5, "unbounded speculation on the mixture saves calls");

        byte[] header = File.ReadAllBytes(png)[..8];
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, header);

        // The saved curve makes a second run's auto use the same costs.
        var (code2, output2, err2) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "30", "--repeats", "1", "--threads", "1",
            "--spec-lens", "auto", "--cost-curve", curve, "--markdown");
        Assert.True(code2 == 0, err2);
        Assert.Contains("| setting | sequential calls | algorithmic speedup | rows / step | wall / sample | wall speedup |", output2);
        Assert.Contains("| ASD L=auto |", output2);
    }

    /// <summary>
    /// With two threads the bench states how long a cache line took between them, probed before and between the
    /// repeats, in its text and its JSON (one probe per repeat and one before); with one thread there is no pair of
    /// cores to probe, and neither says anything (the control).
    /// </summary>
    [Theory]
    [InlineData(2, true)]
    [InlineData(1, false)]
    public void TheBenchStatesTheCoreToCoreTransferOfItsThreads(int threads, bool probed)
    {
        string json = Path.Combine(_dir, $"t{threads}.json");
        var (code, output, err) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "10", "--repeats", "3", "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--spec-lens", "2", "--json", json);
        Assert.True(code == 0, err + output);
        Assert.Equal(probed, output.Contains("core-to-core: a cache line moved between two of the bench's threads in ", StringComparison.Ordinal));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = doc.RootElement;
        Assert.Equal(probed, root.TryGetProperty("core_transfer_seconds", out JsonElement median));
        if (probed)
        {
            Assert.InRange(median.GetDouble(), 1e-9, 20e-6);
            Assert.Equal(4, root.GetProperty("core_transfer_seconds_by_repeat").GetArrayLength());
            Assert.InRange(root.GetProperty("core_transfer_probes").GetInt32(), 1, 4);
            Assert.True(root.GetProperty("core_transfer_low_seconds").GetDouble() <= median.GetDouble());
            Assert.True(root.GetProperty("core_transfer_high_seconds").GetDouble() >= median.GetDouble());
        }
    }

    /// <summary>
    /// When the probes fall in two groups the bench gives each placement its own numbers: here DDPM took 117 and 119 ms
    /// a sample in the repeats whose probe read ~31 ns and 181 and 185 ms in those at ~170 ns (as unet28's did on the
    /// Zen 4 VM), auto 105-115 ms throughout, so auto is 1.11x in one placement and 1.61x in the other where one median
    /// over all four would say neither. The control: probes of one placement give no such line.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)] // the control
    public void WhenThePlacementMovedEachPlacementGetsItsOwnNumbers(bool moved)
    {
        var curve = new Asd.Native.Sampling.CostCurve([1e-3, 1.2e-3, 1.4e-3, 1.6e-3]);
        var ddpm = new BenchResult(new BenchSetting("ddpm", "-"), 100);
        var auto = new BenchResult(new BenchSetting("asd", "auto"), 100);
        ddpm.WallPerSample.AddRange([0.117, 0.181, 0.119, 0.185]);
        auto.WallPerSample.AddRange([0.105, 0.113, 0.107, 0.115]);
        foreach (BenchResult r in (BenchResult[])[ddpm, auto])
        {
            r.SequentialCalls.AddRange([100, 100, 100, 100]);
            r.RowsPerStep.AddRange([1, 1, 1, 1]);
            r.WallSpeedup = ddpm.MedianWall / r.MedianWall;
            r.Gain = WallRatio.Of(ddpm.WallPerSample, r.WallPerSample);
        }

        double[] probes = moved ? [30e-9, 32e-9, 170e-9, 31e-9, 175e-9] : [30e-9, 32e-9, 33e-9, 31e-9, 34e-9];
        var report = new BenchReport
        {
            Machine = "test", Model = "test", Steps = 100, Chains = 1, Threads = 2, Repeats = 4, CostCurve = curve, PredictionCurve = curve,
            Results = [ddpm, auto], Acceptance = [], CeilingWallSpeedup = 1.5, CeilingLength = 2, CoreTransfer = CoreTransfer.Of(probes),
        };
        var text = new StringWriter();
        BenchOutput.WriteTable(text, report);
        string o = text.ToString();
        Assert.True(moved == o.Contains("the threads' placement changed during the bench", StringComparison.Ordinal), o);
        Assert.True(moved == o.Contains("2 repeat(s) below 73 ns: DDPM 118.00 ms per sample, ASD (auto) 1.11x; 2 repeat(s) above 73 ns: DDPM 183.00 ms per sample, ASD (auto) 1.61x", StringComparison.Ordinal), o);
        Assert.Equal(moved, o.Contains("by placement", StringComparison.Ordinal));
    }

    [Fact]
    public void DdpmControlTimesASecondDdpmSamplerAndStatesTheRunsNoise()
    {
        string json = Path.Combine(_dir, "control.json");
        var (code, output, err) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "20", "--repeats", "5", "--threads", "1",
            "--spec-lens", "2", "--ddpm-control", "--json", json, "--trace-runs");
        Assert.True(code == 0, err + output);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement[] rows = [.. doc.RootElement.GetProperty("rows").EnumerateArray()];
        Assert.Equal(["ddpm", "ddpm-control", "asd"], rows.Select(r => r.GetProperty("sampler").GetString()));

        // The control does DDPM's work: K sequential calls of one row each, timed in every repeat.
        Assert.Equal(20.0, rows[1].GetProperty("sequential_model_calls").GetDouble());
        Assert.Equal(1.0, rows[1].GetProperty("rows_per_step").GetDouble());
        Assert.Equal(5, err.Split('\n').Count(l => l.Trim().StartsWith("repeat ", StringComparison.Ordinal) && l.Contains(" ddpm-control L=-:", StringComparison.Ordinal)));
        Assert.Contains("DDPM (control)", output);
        Assert.Matches(@"measurement noise \(A/A control, a second DDPM sampler timed the same way\): DDPM over the control [0-9.]+x \(\d+% interval [0-9.]+-[0-9.]+, 5 paired repeats\)", output);

        // Without the flag: no control row, no noise line.
        var (code2, output2, err2) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "20", "--repeats", "2", "--threads", "1", "--spec-lens", "2");
        Assert.True(code2 == 0, err2 + output2);
        Assert.DoesNotContain("control", output2);
    }

    /// <summary>
    /// A model whose weights exceed the probe threshold gets a bandwidth probe before every timed repeat, and its stream
    /// bound is taken at their median; one under it keeps the single probe before the repeats (the control: a probe
    /// sweeps the caches such a model reads its weights from). The threshold is lowered to make the 5 MB policy count.
    /// </summary>
    [Fact]
    public void ALargeModelsStreamBoundUsesBandwidthProbesTakenBetweenTheRepeats()
    {
        using Asd.Native.Denoising.IDiffusionModel model = Asd.Native.Models.ModelCatalog.Open("builtin:policy");
        BenchReport Bench(long threshold) => new BenchRunner
        {
            Model = model,
            Request = new Asd.Native.Sampling.SamplerRequest { Steps = 10, Threads = 1 },
            Chains = 1,
            Conditioning = Asd.Cli.Commands.PolicyDemo.BenchObservation(),
            Seed = 1,
            Repeats = 4,
            SpecLengths = [Asd.Native.Sampling.SpecLength.Parse("2", "--spec-lens")],
            InterleavedProbeMinWeightBytes = threshold,
        }.Run("test machine", null);

        BenchReport probed = Bench(0);
        BenchPhysics ph = probed.Physics!;
        Assert.Equal(4, ph.ReadBandwidthProbes);
        Assert.True(ph.ReadBandwidthLow > 0 && ph.ReadBandwidthLow <= ph.ReadBandwidth && ph.ReadBandwidth <= ph.ReadBandwidthHigh, $"{ph}");
        var text = new StringWriter();
        BenchOutput.WriteTable(text, probed);
        Assert.Matches(@"GB/s \(read bandwidth, 1 thread\(s\), 1024 MB; median of 4 probes between the repeats, [0-9.]+-[0-9.]+\) = ", text.ToString());
        Assert.Contains("GFLOP/s (FMA peak, the best of the probes before and between the repeats)", text.ToString());

        BenchPhysics once = Bench(Asd.Cli.Bench.BenchRunner.DefaultInterleavedProbeMinWeightBytes).Physics!;
        Assert.Equal(0, once.ReadBandwidthProbes);
        Assert.Equal(once.ReadBandwidth, once.ReadBandwidthLow);
    }

    /// <summary>
    /// The ceiling, the best predicted speedup of every L, is never below L = 1's own prediction. On a given curve where
    /// a call costs its rows (T(B) = 10 B us) and DDPM's one-row call, back to back, 5 us, L = 1 throughout is
    /// predicted at exactly 1.0x (its calls come one right after another); the ceiling took L = 1 at the curve's T(1)
    /// instead, 0.5x, below it.
    /// </summary>
    [Fact]
    public void TheCeilingIsNeverBelowLOnesOwnPrediction()
    {
        using Asd.Native.Denoising.IDiffusionModel model = Asd.Native.Models.ModelCatalog.Open("builtin:mixture");
        BenchReport Bench(Func<int, double> seconds, double ddpmCall, params string[] lengths) => new BenchRunner
        {
            Model = model,
            Request = new Asd.Native.Sampling.SamplerRequest { Steps = 20, Threads = 1 },
            Chains = 1,
            Conditioning = [],
            Seed = 1,
            Repeats = 1,
            SpecLengths = [.. lengths.Select(l => Asd.Native.Sampling.SpecLength.Parse(l, "--spec-lens"))],
            GivenCostCurve = new Asd.Native.Sampling.CostCurve([.. Enumerable.Range(1, 64).Select(seconds)]) { DdpmCallSeconds = ddpmCall },
        }.Run("test machine", null);

        BenchReport report = Bench(b => 10e-6 * b, 5e-6, "1", "4");
        BenchResult one = report.Results.Single(r => r.Setting.Sampler == "asd" && r.Setting.SpecLen == "1");
        Assert.Equal(1.0, one.PredictedSpeedup, 12);
        Assert.Equal(1, report.CeilingLength);
        Assert.Equal(1.0, report.CeilingWallSpeedup, 12);

        // Control: where drafting pays (a call of any size costs the same), the ceiling is a longer L, above 1.
        BenchReport flat = Bench(_ => 10e-6, 10e-6, "4");
        Assert.True(flat.CeilingLength > 1 && flat.CeilingWallSpeedup > 1, $"{flat.CeilingLength} {flat.CeilingWallSpeedup}");
    }

    /// <summary>A row-parallel bench says how its calls of one row ran (and the timing that chose it); the control, with intra-op threads, has no such line.</summary>
    [Fact]
    public void ARowParallelBenchSaysHowCallsOfOneRowRan()
    {
        string model = Asd.Tests.Onnx.OnnxTestFiles.Fixture("unet16");
        var (code, output, err) = Run("bench", "--model", model, "--steps", "10", "--repeats", "1", "--threads", "2", "--spec-lens", "2", "--row-parallel", "on");
        Assert.True(code == 0, err + output);
        Assert.Matches(@"row-parallel: calls of one row run on (one lane \(one thread\)|2 intra-op threads) now, [^\n]*one row: \d+ us on one lane, \d+ us on 2 intra-op threads", output);

        var (code2, output2, err2) = Run("bench", "--model", model, "--steps", "10", "--repeats", "1", "--threads", "2", "--spec-lens", "2");
        Assert.True(code2 == 0, err2 + output2);
        Assert.DoesNotContain("row-parallel:", output2);
    }

    [Fact]
    public void TraceRunsPrintsEveryTimedRunOfEverySettingWithItsRoundLengths()
    {
        var (code, output, err) = Run("bench", "--model", "builtin:mixture?dim=4", "--steps", "20", "--repeats", "3", "--threads", "1",
            "--spec-lens", "1,4", "--trace-runs");
        Assert.True(code == 0, err + output);
        string[] lines = [.. err.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("repeat ", StringComparison.Ordinal))];

        // Three timed repeats of three settings (DDPM, L = 1, L = 4); the warm-up pass is not timed, so not traced.
        Assert.Equal(9, lines.Length);
        foreach (string setting in (string[])["ddpm L=-", "asd L=1", "asd L=4"])
        {
            Assert.Equal([1, 2, 3], lines.Where(l => l.Contains(" " + setting + ":", StringComparison.Ordinal)).Select(l => int.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).Order());
        }

        Assert.All(lines.Where(l => l.Contains("ddpm", StringComparison.Ordinal)), l => Assert.Contains(" 20 sequential calls, 20 rows", l));
        Assert.All(lines.Where(l => l.Contains("asd L=4", StringComparison.Ordinal)), l => Assert.Contains("L per round ", l));
        Assert.DoesNotContain("repeat 0", err);
    }

    /// <summary>
    /// The ceiling recomputed from the JSON's own prediction curve (the calibration with T(B) at the fixed lengths' sizes
    /// and DDPM's call timed again between the repeats) and acceptance with the README's formula, written out here
    /// independently: max over L of T_ddpm E[steps](L) / E[cost](L), with T(B) = seconds[B] + call overhead + B row overhead (one chain)
    /// and T_ddpm = DDPM's back-to-back call (seconds[1] when the JSON has none) + DDPM's row overhead (ASD's overheads when none),
    /// q_k = accepted / attempts (a position without attempts takes the q of the last one before it that has some, 1 if none), L up to K - 1.
    /// </summary>
    private static void AssertCeilingFollowsFromTheCurveAndAcceptance(JsonElement root, int steps)
    {
        double[] seconds = [.. root.GetProperty("prediction_cost_curve_seconds").EnumerateArray().Select(v => v.GetDouble())];
        Assert.Equal(root.GetProperty("cost_curve_seconds").GetArrayLength(), seconds.Length);
        Assert.True(root.GetProperty("prediction_ddpm_call_seconds").GetDouble() > 0);
        double overhead = root.GetProperty("prediction_row_overhead_seconds").GetDouble();
        double perCall = root.GetProperty("prediction_call_overhead_seconds").GetDouble();
        double T(int rows) => seconds[rows - 1] + perCall + (rows * overhead);

        // The baseline is DDPM's step: DDPM's back-to-back call (the curve's T(1) if not measured) plus DDPM's own work
        // per row (ASD's overheads if not measured).
        JsonElement ddpm = root.GetProperty("prediction_ddpm_row_overhead_seconds");
        JsonElement ddpmCallJson = root.GetProperty("prediction_ddpm_call_seconds");
        double ddpmCall = ddpmCallJson.ValueKind == JsonValueKind.Null ? seconds[0] : ddpmCallJson.GetDouble();
        double ddpmStep = ddpm.ValueKind == JsonValueKind.Null ? ddpmCall + perCall + overhead : ddpmCall + ddpm.GetDouble();
        // L = 1 throughout makes its calls one row right after another: DDPM's back-to-back call and ASD's overheads.
        (double best, int bestL) = Ceiling(T, ddpmStep, ddpmStep / (ddpmCall + perCall + overhead), Acceptance(root), Math.Min(steps - 1, seconds.Length));
        Assert.Equal(best, root.GetProperty("ceiling_wall_speedup").GetDouble(), 9);
        Assert.Equal(bestL, root.GetProperty("ceiling_spec_len").GetInt32());
    }

    /// <summary>q_k = accepted / attempts from a bench JSON (a position without attempts takes the q of the last one before it that has some, 1 if none).</summary>
    private static Func<int, double> Acceptance(JsonElement root)
    {
        var q = new SortedDictionary<int, double>();
        foreach (JsonElement p in root.GetProperty("acceptance_by_position").EnumerateArray().Where(p => p.GetProperty("attempts").GetInt64() > 0))
        {
            q[p.GetProperty("position").GetInt32()] = p.GetProperty("accepted").GetDouble() / p.GetProperty("attempts").GetDouble();
        }

        return k => q.TryGetValue(k, out double v) ? v : q.Where(kv => kv.Key < k).Select(kv => kv.Value).DefaultIfEmpty(1).Last();
    }

    /// <summary>The README's ceiling: the best over L of T_ddpm E[steps](L) / E[cost](L), and L = 1 throughout at <paramref name="steady"/>.</summary>
    private static (double Best, int Length) Ceiling(Func<int, double> T, double ddpmStep, double steady, Func<int, double> Q, int maxLength)
    {
        double best = ddpmStep / T(1);
        int bestL = 1;
        for (int l = 2; l <= maxLength; l++)
        {
            double expectedSteps = 1, reach = 1;
            for (int j = 1; j < l; j++)
            {
                expectedSteps += reach;
                reach *= Q(j);
            }

            double speedup = ddpmStep * expectedSteps / (T(l) + ((1 - reach) * T(1)));
            if (speedup > best * (1 + 1e-12))
            {
                (best, bestL) = (speedup, l);
            }
        }

        return steady > best ? (steady, 1) : (best, bestL);
    }

    /// <summary>
    /// The ceiling at the bounds, recomputed from the JSON: the same formula on T(B) = max(weight bytes / read
    /// bandwidth, B x FLOP per row / FMA peak), DDPM's step at T(1); with the run's own acceptance and with the one
    /// --acceptance-from gives. The control: a model without weights to stream (the analytic mixture) has none.
    /// </summary>
    [Fact]
    public void TheCeilingAtTheBoundsFollowsFromTheBoundsAndTheAcceptance()
    {
        string first = Path.Combine(_dir, "first.json"), second = Path.Combine(_dir, "second.json"), mixture = Path.Combine(_dir, "mixture.json");
        string[] common = ["bench", "--model", "builtin:policy", "--steps", "20", "--repeats", "1", "--threads", "1", "--spec-lens", "2"];
        var (code, output, err) = Run([.. common, "--json", first]);
        Assert.True(code == 0, err + output);
        var (code2, output2, err2) = Run("bench", "--model", "builtin:mixture", "--steps", "20", "--repeats", "1", "--threads", "1", "--spec-lens", "4", "--json", mixture);
        Assert.True(code2 == 0, err2 + output2);
        Assert.DoesNotContain("ceiling at the bounds", output2);
        using (JsonDocument m = JsonDocument.Parse(File.ReadAllText(mixture)))
        {
            Assert.False(m.RootElement.TryGetProperty("bounds_ceiling_wall_speedup", out _));
        }

        var (code3, output3, err3) = Run([.. common, "--json", second, "--acceptance-from", mixture]);
        Assert.True(code3 == 0, err3 + output3);
        Assert.Matches(@"ceiling at the bounds: [0-9.]+x wall-clock \(at L = \d+; the cost model with every call of B rows at the larger of the weight-stream bound and B rows at the FMA peak, nothing else\); with the acceptance of builtin:mixture: [0-9.]+x \(at L = \d+\)", output3);

        foreach ((string path, string? given) in (IEnumerable<(string, string?)>)[(first, null), (second, mixture)])
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement root = doc.RootElement;
            double stream = root.GetProperty("weight_bytes").GetDouble() / root.GetProperty("read_bandwidth_bytes_per_second").GetDouble();
            if (given is not null)
            {
                // Where DDPM's call beat the memory stream (weights read from cache), the line says it is an upper estimate.
                double ddpmCall = root.GetProperty("rows").EnumerateArray().First(r => r.GetProperty("sampler").GetString() == "ddpm").GetProperty("wall_seconds_per_sample").GetDouble() / 20;
                Assert.Equal(ddpmCall < stream, output3.Contains("; an upper estimate here: DDPM's call took ", StringComparison.Ordinal));
            }

            double row = root.GetProperty("flops_per_sample").GetDouble() / root.GetProperty("fma_peak_flops").GetDouble();
            double T(int b) => Math.Max(stream, b * row);
            (double best, int bestL) = Ceiling(T, T(1), 1, Acceptance(root), 19);
            Assert.Equal(best, root.GetProperty("bounds_ceiling_wall_speedup").GetDouble(), 9);
            Assert.Equal(bestL, root.GetProperty("bounds_ceiling_spec_len").GetInt32());
            if (given is null)
            {
                Assert.False(root.TryGetProperty("given_acceptance_bounds_ceiling_wall_speedup", out _));
                continue;
            }

            using JsonDocument other = JsonDocument.Parse(File.ReadAllText(given));
            (double gBest, int gL) = Ceiling(T, T(1), 1, Acceptance(other.RootElement), 19);
            Assert.Equal(gBest, root.GetProperty("given_acceptance_bounds_ceiling_wall_speedup").GetDouble(), 9);
            Assert.Equal(gL, root.GetProperty("given_acceptance_bounds_ceiling_spec_len").GetInt32());
            // At the policy's bounds (a row far below the weight stream) drafting pays: the comparison would be empty
            // if the ceilings sat at L = 1.
            Assert.True(gL > 1 && gBest > 1 && bestL > 1 && best > 1, $"{gL} {gBest} {bestL} {best}");
        }
    }

    [Fact]
    public void PolicyBenchComparesWithOnnxRuntime()
    {
        string json = Path.Combine(_dir, "p.json");
        var (code, output, err) = Run("bench", "--steps", "12", "--repeats", "1", "--spec-lens", "4", "--vs-onnxruntime", "--skip-quality", "--json", json);
        Assert.True(code == 0, err + output);
        Assert.Contains("DDPM (ONNX Runtime)", output);
        Assert.Contains("builtin:policy", output);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement ort = doc.RootElement.GetProperty("rows").EnumerateArray().Last();
        Assert.Equal("ddpm-onnxruntime", ort.GetProperty("sampler").GetString());
        Assert.Equal("-", ort.GetProperty("spec_len").GetString());
        Assert.Equal(12.0, ort.GetProperty("sequential_model_calls").GetDouble());
    }

    /// <summary>
    /// asd bench takes every model flag asd sample takes (one option set, ModelFlags): a bare .onnx, which carries no
    /// scheduler, is benched with the schedule overrides, and an override that breaks the model's schedule is refused
    /// by name, as by asd sample.
    /// </summary>
    [Fact]
    public void BenchTakesSamplesModelFlagsSoABareOnnxCanBeBenched()
    {
        string bare = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "policy_mlp", "model.onnx");
        string json = Path.Combine(_dir, "bare.json");
        string[] schedule = ["--train-steps", "100", "--beta-schedule", "squaredcos_cap_v2", "--clip-sample", "false"];
        var (code, output, err) = Run(["bench", "--model", bare, .. schedule, "--cond", "-0.6,-0.6,0.6,0.6", "--steps", "50", "--repeats", "1",
            "--spec-lens", "8", "--threads", "1", "--device", "cpu", "--batch-buckets", "off", "--json", json]);
        Assert.True(code == 0, err);
        Assert.Contains("ASD L=8", output, StringComparison.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement asd = doc.RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("sampler").GetString() == "asd");
        Assert.True(asd.GetProperty("sequential_model_calls").GetDouble() < 50, "speculation saved calls on the policy");

        (code, _, err) = Run(["bench", "--model", bare, .. schedule, "--cond", "-0.6,-0.6,0.6,0.6", "--steps", "101", "--repeats", "1"]);
        Assert.Equal(2, code);
        Assert.Contains("cannot exceed num_train_timesteps", err, StringComparison.Ordinal);
        (code, _, err) = Run(["bench", "--model", bare, "--train-steps", "0", "--cond", "-0.6,-0.6,0.6,0.6", "--repeats", "1"]);
        Assert.Equal(2, code);
        Assert.Contains("--train-steps", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("must be >= 1", "--spec-lens", "0")]
    [InlineData("not a number", "--spec-lens", "eight")]
    [InlineData("--spec-lens '' names no length", "--spec-lens", "")]
    [InlineData("--spec-lens ' , ' names no length", "--spec-lens", " , ")]
    [InlineData("--repeats must be from 1 to 10000 (got 0)", "--repeats", "0")]
    [InlineData("--repeats must be from 1 to 10000 (got 100000000)", "--repeats", "100000000")] // ran silently for hours
    [InlineData("needs the same network as ONNX", "--model", "builtin:mixture", "--vs-onnxruntime")]
    [InlineData("not an asd cost-curve file", "--model", "builtin:mixture", "--cost-curve", "BAD")]
    [InlineData("--recalibrate: --cost-curve gives the curve, so none is measured.", "--model", "builtin:mixture", "--cost-curve", "BAD", "--recalibrate")] // was ignored
    [InlineData("is the --cost-curve file", "--model", "builtin:mixture", "--cost-curve", "BAD", "--json", "BAD")] // the bench's JSON replaced the curve it read
    [InlineData("is the --cost-curve file (", "--model", "builtin:mixture", "--cost-curve", "BAD", "--plot", "BAD")]
    [InlineData("--samples 2000000000: 2000000000 samples of 32 values", "--samples", "2000000000")] // was an unhandled OverflowException (exit 134)
    // --acceptance-from's counts, named with the file and field: before, accepted above attempts and a position 0 were
    // refused only by the cost model ("Invalid acceptance counts at position 1: 9 of 8. (Parameter 'counts')", no file
    // named), a string count with a bare "requires an element of type 'Number'", broken JSON as "not an asd bench JSON".
    [InlineData("\"acceptance_by_position[0].accepted\" must be an integer from 0 to 8 (got 9)", "--model", "builtin:mixture", "--acceptance-from", "ACC:{\"acceptance_by_position\": [{\"position\": 1, \"attempts\": 8, \"accepted\": 9}]}")]
    [InlineData("\"acceptance_by_position[1].position\" must be an integer from 1 to", "--model", "builtin:mixture", "--acceptance-from", "ACC:{\"acceptance_by_position\": [{\"position\": 1, \"attempts\": 8, \"accepted\": 7}, {\"position\": 0, \"attempts\": 8, \"accepted\": 7}]}")]
    [InlineData("\"acceptance_by_position[0].attempts\" must be an integer from 0 to", "--model", "builtin:mixture", "--acceptance-from", "ACC:{\"acceptance_by_position\": [{\"position\": 1, \"attempts\": \"8\", \"accepted\": 7}]}")]
    [InlineData("\"acceptance_by_position\" must be a list (got nothing)", "--model", "builtin:mixture", "--acceptance-from", "ACC:{\"acceptance\": []}")]
    [InlineData("not valid JSON", "--model", "builtin:mixture", "--acceptance-from", "ACC:{\"acceptance_by_position\": [")]
    public void BadInputIsAClearError(string message, params string[] args)
    {
        string bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "{\"format\": \"nope\"}");
        string acceptance = Path.Combine(_dir, "acceptance.json");
        if (args.FirstOrDefault(a => a.StartsWith("ACC:", StringComparison.Ordinal)) is string text)
        {
            File.WriteAllText(acceptance, text["ACC:".Length..]);
            args = [.. args.Select(a => a == text ? acceptance : a)];
        }

        string[] repeats = args.Contains("--repeats") ? [] : ["--repeats", "1"];
        var (code, _, err) = Run(["bench", "--steps", "5", .. repeats, .. args.Select(a => a == "BAD" ? bad : a)]);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }
}
