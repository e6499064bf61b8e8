using Asd.Cli.Bench;
using Asd.Cli.Output;
using Asd.Native.Schedules;

namespace Asd.Cli.Commands;

/// <summary><c>asd sample</c>: run DDPM or ASD and report what speculation saved.</summary>
internal static class SampleCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var flags = new ModelFlags();
        var cond = new Option<string?>("--cond") { Description = "Conditioning: comma-separated numbers (shared by all samples) or a .npy file ([C] or [N, C])." };
        var sampler = new Option<string>("--sampler") { Description = "asd or ddpm.", DefaultValueFactory = _ => SamplerRequest.Default.Kind.ToString().ToLowerInvariant() };
        var steps = new Option<int>("--steps") { Description = "Inference steps K (<= train steps).", DefaultValueFactory = _ => SamplerRequest.DefaultSteps };
        var specLen = new Option<string>("--spec-len") { Description = "Speculation length L: an integer >= 1, inf, or auto (chosen per round from the cost curve and the running acceptance).", DefaultValueFactory = _ => SamplerRequest.Default.SpecLength.ToString() };
        var samples = new Option<int?>("--samples") { Description = $"Number of samples (chains) N (default 16; builtin:policy without --cond: {PolicyDemo.ChainsPerObservation} for each of its demo observations)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the counter-based RNG.", DefaultValueFactory = _ => 0UL };
        var chainOffset = new Option<ulong>("--chain-offset") { Description = "Id of the first chain (split one run across processes).", DefaultValueFactory = _ => 0UL };
        var output = new Option<string?>("--out") { Description = "Write samples as float32 .npy with shape [N, ...sample shape], and its shard manifest X.npy.json (asd merge)." };
        var stats = new Option<string?>("--stats") { Description = "Write run statistics as JSON." };
        var maxRows = new Option<int>("--max-batch-rows") { Description = "Most rows per denoiser call.", DefaultValueFactory = _ => SamplerRequest.DefaultMaxBatchRows };
        var plot = new Option<string>("--plot") { Description = "Picture of the samples (PNG): trajectories for the policy, a scatter over the density for 2-D mixtures, a grid for image models.", DefaultValueFactory = _ => "asd-sample.png" };
        var noPlot = new Option<bool>("--no-plot") { Description = "Do not write the picture." };
        var vsDdpm = new Option<bool?>("--vs-ddpm") { Description = "Also run sequential DDPM on the same chains and compare wall time (default: on for the builtin:policy demo; --vs-ddpm false turns it off)." };
        var oneByOne = new Option<bool?>("--one-by-one") { Description = "Sample each chain as its own request (one chain per call sequence, as a robot controller issues them) and report the median latency per request (default: on for the builtin:policy demo; --one-by-one false turns it off)." };
        var recalibrate = new Option<bool>("--recalibrate") { Description = "Measure the batch-cost curve again for --spec-len auto, replacing the remembered one (ASD_CACHE_DIR, else $XDG_CACHE_HOME/asd or ~/.cache/asd; ASD_NO_CACHE=1 turns remembering off)." };
        var vsDdpmRepeats = new Option<int>("--vs-ddpm-repeats") { Description = "Paired ASD/DDPM runs behind --vs-ddpm's wall-clock ratio (its median and interval).", DefaultValueFactory = _ => 5 };
        var costCurve = new Option<string?>("--cost-curve") { Description = "Batch-cost curve (asd-cost-curve JSON, from asd bench --save-cost-curve) for --spec-len auto: makes auto deterministic." };

        var command = new Command("sample", "Draw samples with ASD or DDPM and print what speculation saved.")
        {
            sampler, steps, specLen, samples, seed, chainOffset, output, stats, maxRows, cond, plot, noPlot, costCurve, vsDdpm, oneByOne, recalibrate, vsDdpmRepeats,
        };
        flags.AddTo(command);

        command.SetAction(parse =>
        {
            // Parse: every flag checked, every output path probed, before the model loads.
            SamplerKind kind = SamplerFactory.ParseKind(parse.GetValue(sampler)!);
            SpecLength l = SpecLength.Parse(parse.GetValue(specLen)!, "--spec-len");
            bool demo = PolicyDemo.Applies(parse.GetValue(flags.Model)!, parse.GetValue(cond));
            int n = parse.GetValue(samples) ?? PolicyDemo.DefaultSamples(demo);
            if (n < 1)
            {
                throw new ArgumentException($"--samples must be >= 1 (got {n}).");
            }

            bool compare = kind == SamplerKind.Asd && (parse.GetValue(vsDdpm) ?? PolicyDemo.CompareByDefault(demo));
            bool oneAtATime = parse.GetValue(oneByOne) ?? PolicyDemo.CompareByDefault(demo);

            // A flag typed that this run would not use is refused, as --cost-curve is beside a fixed length: each of
            // these was ignored without a word.
            if (kind == SamplerKind.Ddpm && FieldFlags.Given(parse, specLen))
            {
                throw new ArgumentException($"--spec-len {parse.GetValue(specLen)}: --sampler ddpm takes no speculation length (it is ASD's).");
            }

            if (parse.GetValue(recalibrate))
            {
                string? unused = kind != SamplerKind.Asd || !l.IsAuto ? "only --spec-len auto measures a cost curve, and this run has a fixed length or none"
                    : parse.GetValue(costCurve) is not null ? "--cost-curve gives the curve, so none is measured"
                    : null;
                if (unused is not null)
                {
                    throw new ArgumentException($"--recalibrate: {unused}.");
                }
            }

            if (FieldFlags.Given(parse, vsDdpmRepeats) && (!compare || oneAtATime))
            {
                throw new ArgumentException(compare
                    ? "--vs-ddpm-repeats: one request at a time pairs every request with DDPM's; the repeats are for batched chains (--one-by-one false)."
                    : "--vs-ddpm-repeats: this run makes no comparison with DDPM (give --vs-ddpm).");
            }

            if (parse.GetValue(noPlot) && FieldFlags.Given(parse, plot))
            {
                throw new ArgumentException($"--plot {parse.GetValue(plot)} and --no-plot: give one of them.");
            }

            string? outPath = parse.GetValue(output), statsPath = parse.GetValue(stats), plotPath = parse.GetValue(noPlot) ? null : parse.GetValue(plot);
            OutputPaths.Check(outPath, "--out", withSidecar: true);
            OutputPaths.Check(statsPath, "--stats");
            OutputPaths.Check(plotPath, "--plot");
            OutputPaths.CheckDistinct(("--out", outPath, true), ("--stats", statsPath, false), ("--plot", plotPath, false));
            RunInputs inputs = OutputPaths.Inputs(parse.GetValue(flags.Model)!, ("the --cond file", parse.GetValue(cond)), ("the --cost-curve file", parse.GetValue(costCurve)));
            OutputPaths.CheckNotAnInput(outPath, "--out", inputs, withSidecar: true, outsideModelFolder: true);
            OutputPaths.CheckNotAnInput(statsPath, "--stats", inputs);
            OutputPaths.CheckNotAnInput(plotPath, "--plot", inputs);
            OutputPaths.CheckExtension(plotPath, "--plot", ".png", "the picture is a PNG image");
            OutputPaths.CheckExtension(outPath, "--out", ".npy", "the samples are a float32 .npy array");
            int threadCount = flags.ThreadCount(parse);

            // A shard's manifest names the model and cost curve by content: hashed before they are read, and again
            // before the samples are written, so a file replaced during the run cannot label them.
            ShardSidecar.InputDigests? digestsAtStart = outPath is null ? null : ShardSidecar.InputDigests.AtStart(parse.GetValue(flags.Model)!, parse.GetValue(costCurve));
            var request = FieldFlags.Map(() => new SamplerRequest
            {
                Kind = kind,
                Steps = parse.GetValue(steps),
                SpecLength = l,
                MaxBatchRows = parse.GetValue(maxRows),
                CostCurve = parse.GetValue(costCurve) is string cc ? LoadCostCurve(cc) : null,
                Guidance = parse.GetValue(flags.Guidance),
                Threads = threadCount,
                Schedule = flags.Overrides(parse),
                Calibration = CalibrationLimits.Default with { Refresh = parse.GetValue(recalibrate) },
            }.Validate());
            int pairs = parse.GetValue(vsDdpmRepeats);
            if (pairs is < 1 or > BenchCommand.MaxRepeats)
            {
                throw new ArgumentException($"--vs-ddpm-repeats must be from 1 to {BenchCommand.MaxRepeats} (got {pairs}).");
            }

            using IDiffusionModel m = flags.Open(parse, threadCount);
            flags.NoteDefaultSchedule(parse, m, stderr);
            if (m.DeviceFallback is { } why)
            {
                stdout.WriteLine($"device     auto: CUDA is not available ({why}); running on the CPU");
            }

            CheckRunValues(n, m);
            float[] conditioning = demo ? PolicyDemo.Observations(n) : ReadConditioning(parse.GetValue(cond), m.ConditionSize, n, m.ConditionLayout);
            using var pool = new CorePool(SamplerFactory.PoolThreads(m, threadCount)); // shared by the DDPM twin
            using Sampler s = FieldFlags.Map(() => SamplerFactory.Create(m, request, pool));
            using Sampler? ddpm = compare ? SamplerFactory.Create(m, request with { Kind = SamplerKind.Ddpm, CostCurve = null }, pool) : null;
            CheckRunSize(n, [s, ddpm], parse.GetValue(chainOffset));

            // Run.
            var run = new SampleRun(s, ddpm, n, parse.GetValue(seed), parse.GetValue(chainOffset), conditioning, m.ConditionSize);
            SampleOutcome outcome = oneAtATime
                ? run.OneRequestAtATime(stdout, $"{kind.ToString().ToUpperInvariant()} {m.Name}, one request at a time")
                : run.Batched(stdout, kind.ToString().ToUpperInvariant(), m.Name, pairs);

            // Report.
            if (outPath is not null)
            {
                OutputPaths.Write(outPath, "--out", () =>
                    ShardSidecar.Write(outPath, parse, parse.GetValue(flags.Model)!, m, outcome.Stats, outcome.Samples, parse.GetValue(seed), parse.GetValue(chainOffset), conditioning, digestsAtStart!)); // X.npy + X.npy.json, for asd merge
            }

            if (statsPath is not null)
            {
                OutputPaths.Write(statsPath, "--stats", () => WriteStats(statsPath, outcome.Stats, m.Name));
            }

            Report(stdout, m, request.Steps, outcome, outPath, statsPath);
            if (m.ConditionSize == PolicyTask.ObservationSize && s.Denoiser.SampleSize == PolicyTask.Waypoints * 2)
            {
                PolicyQuality q = PolicyTask.Evaluate(conditioning, outcome.Samples);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"policy     {q.ReachedShare:0%} reach the goal, {q.CollisionFreeShare:0%} avoid the obstacle, {q.LeftShare:0%} pass it on the left"));
            }

            if (plotPath is not null)
            {
                string? what = null;
                OutputPaths.Write(plotPath, "--plot", () => what = SamplePictures.Write(plotPath, m, outcome.Samples, n, conditioning, outcome.Stats));
                stdout.WriteLine(what is null ? "picture    none for this sample shape (trajectories, 2-D scatter and image grids are drawn)" : $"wrote      {plotPath} ({what})");
            }

            return 0;
        });
        return command;
    }

    /// <summary>What <c>asd sample</c> ran and measured.</summary>
    /// <param name="Gain">DDPM's wall time over ASD's: the median of paired ratios with its interval (null without DDPM).</param>
    /// <param name="Paired">Every ASD run behind <paramref name="Gain"/>, merged (what "ran as DDPM" is judged on).</param>
    /// <param name="Explanation">The automatic length's account of the run that produced the samples.</param>
    private sealed record SampleOutcome(float[] Samples, SamplingStats Stats, WallRatio? Gain, SamplingStats? Paired, string? Explanation, double[]? Latency, double[]? DdpmLatency);

    /// <summary>One <c>asd sample</c> run: the sampler, and DDPM on the same chains when comparing.</summary>
    private const string SplitAdvice = "ask for fewer, or split the run into shards (asd sample --chain-offset --out, then asd merge)";

    /// <summary>
    /// Hostile sizes: the run holds its <paramref name="n"/> samples in one float array, a working copy of them, and
    /// each sampler its chains' state, so more values than an array holds, or more bytes than this process may use,
    /// is refused before sampling with a message (2 x 10^9 samples of the policy died of an OverflowException, exit
    /// 134; 6 x 10^7 of the 32-D mixture failed with "Count must be positive ..."); and chain ids past 2^64 too.
    /// </summary>
    internal static void CheckRunValues(int n, IDiffusionModel m)
    {
        ArgumentNullException.ThrowIfNull(m);
        int sampleSize = Asd.Native.Validation.Shapes.SampleSize(m.SampleShape, $"model '{m.Name}' sample shape"), conditionSize = m.ConditionSize;
        long values = (long)n * sampleSize, condValues = (long)n * conditionSize;
        if (Math.Max(values, condValues) > Array.MaxLength)
        {
            string what = values >= condValues ? $"{n} samples of {sampleSize} values are {values:N0} values" : $"{n} rows of {conditionSize} conditioning values are {condValues:N0} values";
            throw new ArgumentException($"--samples {n}: {what}, more than one run holds ({Array.MaxLength:N0}); {SplitAdvice}.");
        }
    }

    /// <summary>The memory and chain-id part of the check (<see cref="CheckRunValues"/>), once the samplers exist.</summary>
    internal static void CheckRunSize(int n, IEnumerable<Sampler?> samplers, ulong chainOffset)
    {
        Sampler[] all = [.. samplers.OfType<Sampler>()];
        long need = n * ((2 * 4L * all[0].Denoiser.SampleSize) + all.Sum(s => s.BytesPerChain)), available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && need > available)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"--samples {n}: the samples and the samplers' chains need {need / (double)(1L << 30):F1} GiB, more than the {available / (double)(1L << 30):F1} GiB this process may use; {SplitAdvice}."));
        }

        if (chainOffset > ulong.MaxValue - (ulong)n)
        {
            throw new ArgumentException($"--chain-offset {chainOffset} --samples {n}: the run's chains [offset, offset + samples) must end by 2^64 - 1 (a shard records its end as a 64-bit id; ids that wrapped would repeat another shard's chains); at most {ulong.MaxValue - (ulong)n} for {n} samples.");
        }
    }

    private sealed record SampleRun(Sampler Sampler, Sampler? Ddpm, int N, ulong Seed, ulong FirstChain, float[] Conditioning, int ConditionSize)
    {
        private int D => Sampler.Denoiser.SampleSize;

        private Sampler[] Settings => Ddpm is null ? [Sampler] : [Sampler, Ddpm];

        /// <summary>Chain i's conditioning: shared by all chains, or its own row.</summary>
        private ReadOnlySpan<float> Cond(int i) => Conditioning.Length == ConditionSize ? Conditioning : Conditioning.AsSpan(i * ConditionSize, ConditionSize);

        /// <summary>
        /// One chain per run, as a controller asks for one action chunk at a time: the latency of a request is what
        /// matters there, and it is where speculation pays. Chain i keeps its id (FirstChain + i), so the samples
        /// have the same law as one batched run. DDPM requests interleave with ASD's (the bench's discipline).
        /// </summary>
        public SampleOutcome OneRequestAtATime(TextWriter stdout, string title)
        {
            var result = new float[checked(N * D)];
            var scratch = new float[result.Length];
            var runs = new List<SamplingStats>(N);
            double[][] latency = [.. Settings.Select(_ => new double[N])];
            SampleProgress.Run(stdout, title, p =>
            {
                SideBySide.Run(Settings.Length, N, warmUp: Ddpm is not null, shuffle: null, (round, k) =>
                {
                    int i = Math.Max(0, round - 1);
                    Span<float> into = k == 0 && round > 0 ? result.AsSpan(i * D, D) : scratch.AsSpan(i * D, D);
                    SamplingStats st = Settings[k].Sample(1, Seed, into, Cond(i), chainOffset: FirstChain + (ulong)i, progress: round > 0 ? p : null);
                    if (round > 0)
                    {
                        latency[k][i] = st.WallSeconds;
                        if (k == 0)
                        {
                            runs.Add(st.Clone());
                        }
                    }
                });
                return 0;
            });
            SamplingStats merged = SamplingStats.Merge(runs);
            return new SampleOutcome(result, merged, Ddpm is null ? null : WallRatio.Of(latency[1], latency[0]), merged, (Sampler as AsdSampler)?.ExplainAuto($"auto, last of the {N} requests"), latency[0], Ddpm is null ? null : latency[1]);
        }

        /// <summary>
        /// All chains in one run; with DDPM, the same chains through sequential DDPM, in <paramref name="pairs"/>
        /// paired runs (a fresh seeded order each pair): what ASD saved in wall-clock, with its spread over the pairs.
        /// The first pair's ASD run gives the samples.
        /// </summary>
        public SampleOutcome Batched(TextWriter stdout, string kind, string model, int pairs)
        {
            var result = new float[checked(N * D)];
            var scratch = Ddpm is null ? [] : new float[result.Length];
            SamplingStats? stats = null;
            string? explanation = null;
            var walls = new List<double>[] { [], [] };
            var asdRuns = new List<SamplingStats>();
            SideBySide.Run(Settings.Length, Ddpm is null ? 1 : pairs, warmUp: Ddpm is not null, Ddpm is null ? null : new Random(unchecked((int)Seed) ^ 0x5eed), (round, k) =>
            {
                if (round == 0)
                {
                    Settings[k].Sample(N, Seed, scratch, Conditioning, chainOffset: FirstChain);
                }
                else if (round == 1)
                {
                    SamplingStats st = k == 0
                        ? SampleProgress.Run(stdout, $"{kind} {model}", p => Sampler.Sample(N, Seed, result, Conditioning, chainOffset: FirstChain, progress: p)).Clone()
                        : SampleProgress.Run(stdout, $"DDPM {model}", p => Ddpm!.Sample(N, Seed, scratch, Conditioning, chainOffset: FirstChain, progress: p));
                    if (k == 0)
                    {
                        stats = st;
                        explanation = (Sampler as AsdSampler)?.AutoExplanation; // of this run (later pairs may learn more)
                        asdRuns.Add(st);
                    }

                    walls[k].Add(st.WallSeconds);
                }
                else
                {
                    SamplingStats st = Settings[k].Sample(N, Seed, scratch, Conditioning, chainOffset: FirstChain);
                    walls[k].Add(st.WallSeconds);
                    if (k == 0)
                    {
                        asdRuns.Add(st.Clone());
                    }
                }
            });
            return Ddpm is null
                ? new SampleOutcome(result, stats!, null, null, explanation, null, null)
                : new SampleOutcome(result, stats!, WallRatio.Of(walls[1], walls[0]), SamplingStats.Merge(asdRuns), explanation, null, null);
        }
    }

    private static void Report(TextWriter stdout, IDiffusionModel m, int steps, SampleOutcome r, string? outPath, string? statsPath)
    {
        SamplingStats st = r.Stats;
        PrintSummary(stdout, m.Name, st, outPath, statsPath, r.Latency is null ? "" : $" (all {r.Latency.Length} requests)");
        if (r.Explanation is { } autoLine)
        {
            stdout.WriteLine(autoLine);
        }

        var inv = CultureInfo.InvariantCulture;
        if (m.RuntimeSummary is { } runtime)
        {
            stdout.WriteLine($"device     {runtime}");
        }

        if (r.Latency is { } latency)
        {
            double asdMedian = BenchResult.Median(latency);
            string line = string.Create(inv, $"latency    one request (1 chain, K={steps}), median of {latency.Length}: {st.Sampler.ToUpperInvariant()} {asdMedian * 1e3:F2} ms");
            if (r.DdpmLatency is { } ddpmLatency && r.Gain is { } g)
            {
                double ddpmMedian = BenchResult.Median(ddpmLatency);
                line += string.Create(inv, $", DDPM {ddpmMedian * 1e3:F2} ms  ->  {Compare(g, st)}");
            }

            stdout.WriteLine(line);
        }
        else if (r.Gain is { } g)
        {
            stdout.WriteLine(string.Create(inv, $"vs DDPM    same chains through sequential DDPM ({steps} sequential calls)  ->  {Compare(g, r.Paired ?? st)}"));
        }
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
            "class" => new NullCondition.Value(ParseNumbers(arg, "--guidance-null class") is [float id] ? [id]
                : throw new ArgumentException($"--guidance-null '{text}' names more than one class; class:ID takes one (value:a,b,... gives a whole row).")),
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

    /// <summary>
    /// --cond as numbers or a .npy file; empty when the model is unconditional and nothing was given. <paramref name="layout"/>,
    /// when given, says what a sample's values are (a ConditionalUnet1D with local conditioning), for the errors.
    /// </summary>
    internal static float[] ReadConditioning(string? text, int conditionSize, int samples, string? layout = null)
    {
        string what = layout is null ? "" : $": {layout}";
        if (text is null)
        {
            return conditionSize == 0
                ? []
                : throw new ArgumentException($"This model is conditional: give --cond with {conditionSize} numbers (shared by all samples{what}) or a .npy file of shape [{conditionSize}], [1, {conditionSize}] or [{samples}, {conditionSize}].");
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
                throw new ArgumentException($"--cond {text}: shape [{string.Join(", ", shape)}] does not fit; expected [{conditionSize}] or [1, {conditionSize}] (shared by all samples) or [{samples}, {conditionSize}] (one row per sample){what}.");
            }

            // Named here, by file and element: the sampler's own check said "Conditioning value 1 is NaN ... (Parameter
            // 'conditioning')", naming neither the flag nor the file. A float64 beyond float32's range is infinite.
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
            {
                string at = shape.Length == 2 ? $"[{bad / conditionSize}, {bad % conditionSize}]" : $"[{bad}]";
                throw new ArgumentException($"--cond {text}: element {at} is {(float.IsNaN(values[bad]) ? "NaN" : "infinite, or beyond float32's range")}; conditioning must be finite.");
            }
        }
        else
        {
            values = ParseNumbers(text, "--cond");
            if (values.Length != conditionSize && values.Length != samples * conditionSize)
            {
                throw new ArgumentException($"--cond has {values.Length} numbers; this model takes {conditionSize} per sample ({conditionSize} shared, or {samples} x {conditionSize}){what}.");
            }
        }

        return values.Length == samples * conditionSize || values.Length == conditionSize ? values : values[..conditionSize];
    }

    private static void WriteStats(string path, SamplingStats stats, string model)
    {
        AtomicFile.WriteJson(path, w => stats.WriteJson(w, model));
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
