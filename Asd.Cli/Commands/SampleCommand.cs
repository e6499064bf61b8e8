using System.CommandLine;
using System.Globalization;
using Asd.Cli.Bench;
using Asd.Cli.Output;
using Asd.Native.Denoising;
using Asd.Native.IO;
using Asd.Native.Models;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Cli.Commands;

/// <summary><c>asd sample</c>: run DDPM or ASD and report what speculation saved.</summary>
internal static class SampleCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = new Option<string>("--model") { Description = "Model: builtin:policy (default), builtin:mixture, builtin:mixture?dim=32, a model folder (model.onnx + scheduler_config.json [+ asd.json]), a .onnx file or an asd-mlp .json.", DefaultValueFactory = _ => ModelCatalog.DefaultModel };
        var cond = new Option<string?>("--cond") { Description = "Conditioning: comma-separated numbers (shared by all samples) or a .npy file ([C] or [N, C])." };
        var guidance = new Option<double?>("--guidance") { Description = "Classifier-free guidance scale w (models with a null condition)." };
        var guidanceNull = new Option<string?>("--guidance-null") { Description = "Null condition for guidance: zeros, class:ID, value:a,b,..., or input:NAME (overrides asd.json)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto (ONNX models; auto falls back to the CPU and says so).", DefaultValueFactory = _ => "cpu" };
        var batchBuckets = new Option<string>("--batch-buckets") { Description = "ONNX models: pad each call up to a power-of-two batch, one session per size (auto: on for CUDA, whose convolutions re-plan on every change of shape; on; off).", DefaultValueFactory = _ => "auto" };
        var onnxSample = new Option<string?>("--onnx-sample") { Description = "Name of the ONNX input holding the noisy sample." };
        var onnxTimestep = new Option<string?>("--onnx-timestep") { Description = "Name of the ONNX timestep input." };
        var onnxCond = new Option<string[]>("--onnx-cond") { Description = "Names of the ONNX conditioning inputs, in order (repeat the flag).", AllowMultipleArgumentsPerToken = true };
        var onnxOutput = new Option<string?>("--onnx-output") { Description = "Name of the ONNX output to use." };
        var sampler = new Option<string>("--sampler") { Description = "asd or ddpm.", DefaultValueFactory = _ => "asd" };
        var steps = new Option<int>("--steps") { Description = "Inference steps K (<= train steps).", DefaultValueFactory = _ => 100 };
        var specLen = new Option<string>("--spec-len") { Description = "Speculation length L: an integer >= 1, inf, or auto (chosen per round from the cost curve and the running acceptance).", DefaultValueFactory = _ => "auto" };
        var samples = new Option<int?>("--samples") { Description = "Number of samples (chains) N (default 16; builtin:policy without --cond: 8 for each of its 4 demo observations)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the counter-based RNG.", DefaultValueFactory = _ => 0UL };
        var chainOffset = new Option<ulong>("--chain-offset") { Description = "Id of the first chain (split one run across processes).", DefaultValueFactory = _ => 0UL };
        var output = new Option<string?>("--out") { Description = "Write samples as float32 .npy with shape [N, ...sample shape]." };
        var stats = new Option<string?>("--stats") { Description = "Write run statistics as JSON." };
        var maxRows = new Option<int>("--max-batch-rows") { Description = "Most rows per denoiser call.", DefaultValueFactory = _ => SamplerOptions.DefaultMaxBatchRows };
        var threads = new Option<int>("--threads") { Description = "Threads for the denoiser (0 = one per core).", DefaultValueFactory = _ => 0 };
        var plot = new Option<string>("--plot") { Description = "Picture of the samples (PNG): trajectories for the policy, a scatter over the density for 2-D mixtures, a grid for image models.", DefaultValueFactory = _ => "asd-sample.png" };
        var noPlot = new Option<bool>("--no-plot") { Description = "Do not write the picture." };
        var vsDdpm = new Option<bool?>("--vs-ddpm") { Description = "Also run sequential DDPM on the same chains and compare wall time (default: on for the builtin:policy demo)." };
        var oneByOne = new Option<bool?>("--one-by-one") { Description = "Sample each chain as its own request (one chain per call sequence, as a robot controller issues them) and report the median latency per request (default: on for the builtin:policy demo)." };
        var recalibrate = new Option<bool>("--recalibrate") { Description = "Measure the batch-cost curve again for --spec-len auto, replacing the remembered one (ASD_CACHE_DIR, else $XDG_CACHE_HOME/asd or ~/.cache/asd; ASD_NO_CACHE=1 turns remembering off)." };
        var vsDdpmRepeats = new Option<int>("--vs-ddpm-repeats") { Description = "Paired ASD/DDPM runs behind --vs-ddpm's wall-clock ratio (its median and interval).", DefaultValueFactory = _ => 5 };
        var costCurve = new Option<string?>("--cost-curve") { Description = "Batch-cost curve (asd-cost-curve JSON, from asd bench --save-cost-curve) for --spec-len auto: makes auto deterministic." };
        var trainSteps = new Option<int?>("--train-steps") { Description = "Override num_train_timesteps." };
        var betaSchedule = new Option<string?>("--beta-schedule") { Description = "Override beta_schedule: linear, scaled_linear, squaredcos_cap_v2, sigmoid." };
        var betaStart = new Option<double?>("--beta-start") { Description = "Override beta_start." };
        var betaEnd = new Option<double?>("--beta-end") { Description = "Override beta_end." };
        var prediction = new Option<string?>("--prediction-type") { Description = "Override prediction_type: epsilon, v_prediction, sample." };
        var variance = new Option<string?>("--variance-type") { Description = "Override variance_type: fixed_small, fixed_large." };
        var spacing = new Option<string?>("--timestep-spacing") { Description = "Override timestep_spacing: leading, trailing, linspace." };
        var stepsOffset = new Option<int?>("--steps-offset") { Description = "Override steps_offset." };
        var clip = new Option<bool?>("--clip-sample") { Description = "Override clip_sample (clamp x0 estimates)." };
        var clipRange = new Option<double?>("--clip-sample-range") { Description = "Override clip_sample_range." };

        var command = new Command("sample", "Draw samples with ASD or DDPM and print what speculation saved.")
        {
            model, sampler, steps, specLen, samples, seed, chainOffset, output, stats, maxRows, threads,
            trainSteps, betaSchedule, betaStart, betaEnd, prediction, variance, spacing, stepsOffset, clip, clipRange,
            cond, guidance, guidanceNull, device, batchBuckets, onnxSample, onnxTimestep, onnxCond, onnxOutput, plot, noPlot, costCurve, vsDdpm, oneByOne, recalibrate, vsDdpmRepeats,
        };

        command.SetAction(parse =>
        {
            SamplerKind kind = SamplerFactory.ParseKind(parse.GetValue(sampler)!);
            SpecLength l = SpecLength.Parse(parse.GetValue(specLen)!);
            string spec = parse.GetValue(model)!;
            bool policyDemo = spec == ModelCatalog.DefaultModel && parse.GetValue(cond) is null;
            int n = parse.GetValue(samples) ?? (policyDemo ? 8 * (PolicyTask.DefaultObservations().Length / PolicyTask.ObservationSize) : 16);
            if (n < 1)
            {
                throw new ArgumentException($"--samples must be >= 1 (got {n}).");
            }

            // Every output path is checked before the run, so a typo never costs a run (or its results).
            OutputPaths.Check(parse.GetValue(output), "--out");
            OutputPaths.Check(parse.GetValue(stats), "--stats");
            if (!parse.GetValue(noPlot))
            {
                OutputPaths.Check(parse.GetValue(plot), "--plot");
            }

            CostCurve? curve = parse.GetValue(costCurve) is string cc ? LoadCostCurve(cc) : null;
            if (curve is not null && (kind != SamplerKind.Asd || !l.IsAuto))
            {
                throw new ArgumentException("--cost-curve is used only by --spec-len auto with --sampler asd.");
            }

            string[] condNames = parse.GetValue(onnxCond) ?? [];
            var onnx = new OnnxIoConfig
            {
                Sample = parse.GetValue(onnxSample),
                Timestep = parse.GetValue(onnxTimestep),
                Cond = condNames.Length > 0 ? condNames : null,
                Output = parse.GetValue(onnxOutput),
                Guidance = parse.GetValue(guidanceNull) is string gn ? new GuidanceConfig(ParseNullCondition(gn), parse.GetValue(guidance) ?? 1.0) : null,
            };
            int threadCount = CliThreads.Resolve(parse.GetValue(threads));
            using IDiffusionModel m = ModelCatalog.Open(spec, new ModelOpenOptions { Device = parse.GetValue(device)!, Threads = threadCount, Onnx = onnx, BatchBuckets = ParseBuckets(parse.GetValue(batchBuckets)!) });
            if (m is OnnxModel { DeviceFallback: { } why })
            {
                stdout.WriteLine($"device     auto: CUDA is not available ({why}); running on the CPU");
            }

            float[] conditioning = policyDemo ? DemoObservations(n) : ReadConditioning(parse.GetValue(cond), m.ConditionSize, n);
            SchedulerConfig config = m.DefaultScheduler;
            if (parse.GetValue(trainSteps) is int t)
            {
                config = config with { NumTrainTimesteps = t };
            }

            if (parse.GetValue(betaSchedule) is string bs)
            {
                config = config with { BetaSchedule = ScheduleNames.ParseBetaSchedule(bs), TrainedBetas = null };
            }

            if (parse.GetValue(betaStart) is double b0)
            {
                config = config with { BetaStart = b0 };
            }

            if (parse.GetValue(betaEnd) is double b1)
            {
                config = config with { BetaEnd = b1 };
            }

            if (parse.GetValue(prediction) is string p)
            {
                config = config with { PredictionType = ScheduleNames.ParsePrediction(p) };
            }

            if (parse.GetValue(variance) is string v)
            {
                config = config with { VarianceType = ScheduleNames.ParseVariance(v) };
            }

            if (parse.GetValue(spacing) is string sp)
            {
                config = config with { TimestepSpacing = ScheduleNames.ParseSpacing(sp) };
            }

            if (parse.GetValue(stepsOffset) is int so)
            {
                config = config with { StepsOffset = so };
            }

            if (parse.GetValue(clip) is bool cs)
            {
                config = config with { ClipSample = cs };
            }

            if (parse.GetValue(clipRange) is double cr)
            {
                config = config with { ClipSampleRange = cr };
            }

            if (parse.GetValue(maxRows) < 1)
            {
                throw new ArgumentException($"--max-batch-rows must be >= 1 (got {parse.GetValue(maxRows)}).");
            }

            var options = new SamplerOptions { MaxBatchRows = parse.GetValue(maxRows), SpecLength = l, CostCurve = curve };
            if (parse.GetValue(recalibrate))
            {
                options = options with { Calibration = options.Calibration with { Refresh = true } };
            }

            int pairs = parse.GetValue(vsDdpmRepeats);
            if (pairs < 1)
            {
                throw new ArgumentException($"--vs-ddpm-repeats must be >= 1 (got {pairs}).");
            }
            using var pool = new CorePool(m is OnnxModel ? 1 : threadCount);
            using Sampler s = SamplerFactory.Create(m, config, parse.GetValue(steps), kind, options, pool, parse.GetValue(guidance));
            int d = s.Denoiser.SampleSize;
            var result = new float[checked(n * d)];
            ulong seedValue = parse.GetValue(seed), firstChain = parse.GetValue(chainOffset);
            bool compare = kind == SamplerKind.Asd && (parse.GetValue(vsDdpm) ?? policyDemo);
            using Sampler? ddpm = compare ? SamplerFactory.Create(m, config, parse.GetValue(steps), SamplerKind.Ddpm, options with { CostCurve = null }, pool, parse.GetValue(guidance)) : null;
            var scratch = compare ? new float[result.Length] : [];
            SamplingStats st;
            SamplingStats? asdPaired = null; // every ASD run behind the comparison, merged
            string? explanation = null;
            WallRatio? gain = null;
            double[]? latency = null, ddpmLatency = null;
            bool requests = parse.GetValue(oneByOne) ?? policyDemo;
            if (ddpm is not null)
            {
                // One untimed run of each sampler on the shapes it will see, so that one-time costs (ONNX Runtime's
                // first run per batch size, a CUDA batch bucket's session, page faults) land in neither timing.
                int warm = requests ? 1 : n;
                ReadOnlySpan<float> wc = requests && conditioning.Length != m.ConditionSize ? conditioning.AsSpan(0, m.ConditionSize) : conditioning;
                s.Sample(warm, seedValue, scratch.AsSpan(0, warm * d), wc, chainOffset: firstChain);
                ddpm.Sample(warm, seedValue, scratch.AsSpan(0, warm * d), wc, chainOffset: firstChain);
            }

            if (requests)
            {
                // One chain per run, as a controller asks for one action chunk at a time: the latency of a request
                // is what matters there, and it is where speculation pays. Chain i keeps its id (firstChain + i),
                // so the samples have the same law as one batched run. DDPM requests interleave with ASD's, so drift
                // in the machine's speed hits both alike.
                int c = m.ConditionSize;
                var runs = new List<SamplingStats>(n);
                latency = new double[n];
                ddpmLatency = compare ? new double[n] : null;
                SampleProgress.Run(stdout, $"{kind.ToString().ToUpperInvariant()} {m.Name}, one request at a time", p =>
                {
                    for (int i = 0; i < n; i++)
                    {
                        ReadOnlySpan<float> ci = conditioning.Length == c ? conditioning : conditioning.AsSpan(i * c, c); // shared or per chain
                        SamplingStats r = s.Sample(1, seedValue, result.AsSpan(i * d, d), ci, chainOffset: firstChain + (ulong)i, progress: p);
                        latency[i] = r.WallSeconds;
                        runs.Add(r.Clone());
                        if (ddpm is not null)
                        {
                            ddpmLatency![i] = ddpm.Sample(1, seedValue, scratch.AsSpan(i * d, d), ci, chainOffset: firstChain + (ulong)i, progress: p).WallSeconds;
                        }
                    }

                    return 0;
                });
                st = SamplingStats.Merge(runs);
                gain = ddpmLatency is null ? null : WallRatio.Of(ddpmLatency, latency);
            }
            else
            {
                st = SampleProgress.Run(stdout, $"{kind.ToString().ToUpperInvariant()} {m.Name}", p => s.Sample(n, seedValue, result, conditioning, chainOffset: firstChain, progress: p)).Clone();
                explanation = (s as AsdSampler)?.AutoExplanation; // of this run (the paired runs below may learn more)
                if (ddpm is not null)
                {
                    // The same chains through sequential DDPM, in pairs run back to back (alternating which goes
                    // first): what ASD saved in wall-clock on this machine, with its spread over the pairs.
                    var asdWalls = new List<double> { st.WallSeconds };
                    var asdRuns = new List<SamplingStats> { st };
                    var ddpmWalls = new List<double>();
                    ddpmWalls.Add(SampleProgress.Run(stdout, $"DDPM {m.Name}", p => ddpm.Sample(n, seedValue, scratch, conditioning, chainOffset: firstChain, progress: p).WallSeconds));
                    for (int r = 1; r < pairs; r++)
                    {
                        bool ddpmFirst = r % 2 == 1;
                        if (ddpmFirst)
                        {
                            ddpmWalls.Add(ddpm.Sample(n, seedValue, scratch, conditioning, chainOffset: firstChain).WallSeconds);
                        }

                        asdRuns.Add(s.Sample(n, seedValue, scratch, conditioning, chainOffset: firstChain).Clone());
                        asdWalls.Add(asdRuns[^1].WallSeconds);
                        if (!ddpmFirst)
                        {
                            ddpmWalls.Add(ddpm.Sample(n, seedValue, scratch, conditioning, chainOffset: firstChain).WallSeconds);
                        }
                    }

                    gain = WallRatio.Of(ddpmWalls, asdWalls);
                    asdPaired = SamplingStats.Merge(asdRuns);
                }
            }

            if (parse.GetValue(output) is string outPath)
            {
                int[] shape = [n, .. m.SampleShape];
                OutputPaths.Write(outPath, "--out", () => Npy.Write(outPath, result, shape));
            }

            if (parse.GetValue(stats) is string statsPath)
            {
                OutputPaths.Write(statsPath, "--stats", () => WriteStats(statsPath, st, m.Name));
            }

            PrintSummary(stdout, m.Name, st, parse.GetValue(output), parse.GetValue(stats), latency is null ? "" : $" (all {n} requests)");
            if ((explanation ?? (s as AsdSampler)?.AutoExplanation) is { } autoLine)
            {
                stdout.WriteLine(autoLine);
            }

            var inv = CultureInfo.InvariantCulture;
            if (m is OnnxModel om)
            {
                stdout.WriteLine(om.BatchBuckets
                    ? $"device     {om.Device} (ONNX Runtime), batch buckets on: calls padded to a power of two, {om.BucketSessionCount} sessions"
                    : $"device     {om.Device} (ONNX Runtime)");
            }

            if (latency is not null)
            {
                double asdMedian = BenchResult.Median(latency);
                string line = string.Create(inv, $"latency    one request (1 chain, K={parse.GetValue(steps)}), median of {n}: {st.Sampler.ToUpperInvariant()} {asdMedian * 1e3:F2} ms");
                if (ddpmLatency is not null && gain is { } g)
                {
                    double ddpmMedian = BenchResult.Median(ddpmLatency);
                    line += string.Create(inv, $", DDPM {ddpmMedian * 1e3:F2} ms  ->  {Compare(g, st)}");
                }

                stdout.WriteLine(line);
            }
            else if (gain is { } g)
            {
                stdout.WriteLine(string.Create(inv, $"vs DDPM    same chains through sequential DDPM ({parse.GetValue(steps)} sequential calls)  ->  {Compare(g, asdPaired ?? st)}"));
            }

            if (m.ConditionSize == PolicyTask.ObservationSize && d == PolicyTask.Waypoints * 2)
            {
                PolicyQuality q = PolicyTask.Evaluate(conditioning, result);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"policy     {q.ReachedShare:0%} reach the goal, {q.CollisionFreeShare:0%} avoid the obstacle, {q.LeftShare:0%} pass it on the left"));
            }

            if (!parse.GetValue(noPlot))
            {
                string plotPath = parse.GetValue(plot)!;
                string? what = null;
                OutputPaths.Write(plotPath, "--plot", () => what = SamplePictures.Write(plotPath, m, result, n, conditioning, st));
                stdout.WriteLine(what is null ? "picture    none for this sample shape (trajectories, 2-D scatter and image grids are drawn)" : $"wrote      {plotPath} ({what})");
            }

            return 0;
        });
        return command;
    }

    /// <summary>--cost-curve FILE, with the flag named in any error.</summary>
    internal static CostCurve LoadCostCurve(string path)
    {
        try
        {
            return CostCurve.Load(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--cost-curve: {e.Message}", e);
        }
    }

    /// <summary>The policy demo: chain i gets demo observation i * 4 / N (consecutive chains share one).</summary>
    private static float[] DemoObservations(int n)
    {
        float[] demo = PolicyTask.DefaultObservations();
        int count = demo.Length / PolicyTask.ObservationSize;
        var cond = new float[n * PolicyTask.ObservationSize];
        for (int i = 0; i < n; i++)
        {
            int o = (int)((long)i * count / n);
            demo.AsSpan(o * PolicyTask.ObservationSize, PolicyTask.ObservationSize).CopyTo(cond.AsSpan(i * PolicyTask.ObservationSize));
        }

        return cond;
    }

    /// <summary>
    /// The wall-clock comparison with DDPM, honest about noise: when ASD ran L = 1 (DDPM's work) in all rounds but
    /// its exploration, it says so instead of a speedup; otherwise the median paired ratio with its interval, called
    /// faster or slower only when the interval excludes 1.
    /// </summary>
    internal static string Compare(WallRatio gain, SamplingStats st)
    {
        long rounds = st.RoundLengths.Sum(r => r.Rounds);
        long ones = st.RoundLengths.Where(r => r.Length == 1).Sum(r => r.Rounds);
        if (rounds > 0 && ones >= 0.97 * rounds)
        {
            string share = ones == rounds ? "L = 1 throughout" : string.Create(CultureInfo.InvariantCulture, $"L = 1 in {(double)ones / rounds:0.#%} of rounds, the rest exploring");
            return string.Create(CultureInfo.InvariantCulture, $"ASD ran as DDPM ({share}): the same work, so no speedup to report (wall-clock ratio {gain})");
        }

        return gain.Sign == 0
            ? $"no wall-clock difference beyond noise: {gain}"
            : $"ASD is {Speed(gain.Median)} in wall-clock here: {gain}";
    }

    /// <summary>"2.98x faster", or "1.75x slower (0.57x)" when speculation lost: a ratio below 1 is never called faster.</summary>
    internal static string Speed(double ratio) => ratio >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{ratio:F2}x faster")
        : string.Create(CultureInfo.InvariantCulture, $"{1 / ratio:F2}x slower ({ratio:F2}x)");

    internal static bool? ParseBuckets(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => null,
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"--batch-buckets must be auto, on or off (got '{text}')."),
    };

    /// <summary>zeros | class:ID | value:a,b,... | input:NAME.</summary>
    internal static NullCondition ParseNullCondition(string text)
    {
        string t = text.Trim();
        if (t == "zeros")
        {
            return new NullCondition.Zeros();
        }

        int colon = t.IndexOf(':', StringComparison.Ordinal);
        string kind = colon < 0 ? t : t[..colon], arg = colon < 0 ? "" : t[(colon + 1)..];
        return kind switch
        {
            "class" => new NullCondition.Value([ParseNumbers(arg, "--guidance-null class")[0]]),
            "value" => new NullCondition.Value(ParseNumbers(arg, "--guidance-null value")),
            "input" when arg.Length > 0 => new NullCondition.FlagInput(arg),
            _ => throw new ArgumentException($"--guidance-null '{text}' is not one of: zeros, class:ID, value:a,b,..., input:NAME."),
        };
    }

    /// <summary>
    /// A comma-separated list of finite numbers: no empty entries ("1,,2" and a trailing comma are errors, not
    /// skipped), spaces around entries allowed, at most <see cref="Asd.Native.Validation.ResourceLimits.MaxConditionSize"/> values.
    /// </summary>
    internal static float[] ParseNumbers(string text, string what)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException($"{what}: no numbers given.");
        }

        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > Asd.Native.Validation.ResourceLimits.MaxConditionSize)
        {
            throw new ArgumentException($"{what}: {parts.Length} numbers is more than the limit of {Asd.Native.Validation.ResourceLimits.MaxConditionSize}.");
        }
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0)
            {
                throw new ArgumentException($"{what}: entry {i + 1} of '{(text.Length <= 80 ? text : text[..80] + "...")}' is empty.");
            }

            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
            {
                throw new ArgumentException($"{what}: '{(parts[i].Length <= 40 ? parts[i] : parts[i][..40] + "...")}' is not a finite number.");
            }
        }

        return values.Length > 0 ? values : throw new ArgumentException($"{what}: no numbers given.");
    }

    /// <summary>--cond as numbers or a .npy file; empty when the model is unconditional and nothing was given.</summary>
    internal static float[] ReadConditioning(string? text, int conditionSize, int samples)
    {
        if (text is null)
        {
            return conditionSize == 0
                ? []
                : throw new ArgumentException($"This model is conditional: give --cond with {conditionSize} numbers (shared by all samples) or a .npy file of shape [{conditionSize}] or [{samples}, {conditionSize}].");
        }

        if (conditionSize == 0)
        {
            throw new ArgumentException("This model is unconditional; --cond does not apply.");
        }

        float[] values;
        if (text.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            int[] shape;
            try
            {
                (values, shape) = Npy.Read(text, "--cond");
            }
            catch (InvalidDataException e)
            {
                throw new ArgumentException($"--cond: {e.Message}", e);
            }

            bool ok = (shape.Length == 1 && shape[0] == conditionSize) || (shape.Length == 2 && shape[1] == conditionSize && (shape[0] == samples || shape[0] == 1));
            if (!ok)
            {
                throw new ArgumentException($"--cond {text}: shape [{string.Join(", ", shape)}] does not fit; expected [{conditionSize}] or [{samples}, {conditionSize}].");
            }
        }
        else
        {
            values = ParseNumbers(text, "--cond");
            if (values.Length != conditionSize && values.Length != samples * conditionSize)
            {
                throw new ArgumentException($"--cond has {values.Length} numbers; this model takes {conditionSize} per sample ({conditionSize} shared, or {samples} x {conditionSize}).");
            }
        }

        return values.Length == samples * conditionSize || values.Length == conditionSize ? values : values[..conditionSize];
    }

    private static void WriteStats(string path, SamplingStats stats, string model)
    {
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var w = new System.Text.Json.Utf8JsonWriter(stream, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            // The stats object with the model's name added in front.
            using var doc = System.Text.Json.JsonDocument.Parse(stats.ToJson(indented: false));
            w.WriteStartObject();
            w.WriteString("model", model);
            foreach (System.Text.Json.JsonProperty prop in doc.RootElement.EnumerateObject())
            {
                prop.WriteTo(w);
            }

            w.WriteEndObject();
        }

        File.Move(temp, path, overwrite: true);
    }

    private static void PrintSummary(TextWriter o, string model, SamplingStats s, string? outPath, string? statsPath, string wallNote = "")
    {
        var ci = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(ci, $"model      {model}"));
        o.WriteLine(string.Create(ci, $"sampler    {s.Sampler}  steps K={s.Steps}  spec_len={s.SpecLength} (ran {s.SpecLengthEffective})  samples={s.Samples}"));
        o.WriteLine(string.Create(ci, $"sequential model calls per chain: DDPM {s.Steps}, this run {s.SequentialModelCalls:F2} (max {s.SequentialModelCallsMax})  ->  algorithmic speedup {s.AlgorithmicSpeedup:F2}x"));
        o.WriteLine(string.Create(ci, $"denoiser invocations {s.DenoiserInvocations}, rows evaluated {s.RowsEvaluated}, rounds {s.Rounds}"));
        IReadOnlyList<PositionAcceptance> acc = s.AcceptanceByPosition;
        if (acc.Count > 0)
        {
            var parts = acc.Take(16).Select(a => string.Create(ci, $"{a.Position}:{(double)a.Accepted / a.Attempts:0%}"));
            o.WriteLine("acceptance by draft position  " + string.Join("  ", parts) + (acc.Count > 16 ? "  ..." : ""));
        }

        o.WriteLine(string.Create(ci, $"wall time  {s.WallSeconds:F3} s{wallNote}"));
        if (outPath is not null)
        {
            o.WriteLine($"wrote      {outPath}");
        }

        if (statsPath is not null)
        {
            o.WriteLine($"wrote      {statsPath}");
        }
    }
}
