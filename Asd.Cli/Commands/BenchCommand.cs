using Asd.Cli.Bench;
using Asd.Cli.Output;

namespace Asd.Cli.Commands;

/// <summary><c>asd bench</c>: DDPM against ASD at several speculation lengths, timed side by side.</summary>
internal static class BenchCommand
{
    /// <summary>The most timed repeats one run takes (<c>--repeats</c>, and <c>asd sample --vs-ddpm-repeats</c>).</summary>
    internal const int MaxRepeats = 10000;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var flags = new ModelFlags();
        var steps = new Option<int>("--steps") { Description = "Inference steps K.", DefaultValueFactory = _ => SamplerRequest.DefaultSteps };
        var samples = new Option<int>("--samples") { Description = "Chains per run (1 = the latency of one sample).", DefaultValueFactory = _ => 1 };
        var cond = new Option<string?>("--cond") { Description = "Conditioning (numbers or .npy); builtin:policy defaults to a symmetric observation." };
        var specLens = new Option<string>("--spec-lens") { Description = "Speculation lengths to time, comma-separated (DDPM always runs).", DefaultValueFactory = _ => "1,2,4,8,16,inf,auto" };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats per setting, 1 to 10000 (interleaved; one warm-up pass is excluded).", DefaultValueFactory = _ => 15 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the first repeat (repeat r uses seed + r).", DefaultValueFactory = _ => 0UL };
        var maxRows = new Option<int>("--max-batch-rows") { Description = "Most rows per denoiser call.", DefaultValueFactory = _ => SamplerRequest.DefaultMaxBatchRows };
        var costCurve = new Option<string?>("--cost-curve") { Description = "Use this batch-cost curve (asd-cost-curve JSON) instead of measuring one: makes auto deterministic." };
        var saveCurve = new Option<string?>("--save-cost-curve") { Description = "Write the batch-cost curve used to this file." };
        var markdown = new Option<bool>("--markdown") { Description = "Print the table as markdown." };
        var plot = new Option<string?>("--plot") { Description = "Write a bar chart (PNG) of the speedups." };
        var json = new Option<string?>("--json") { Description = "Write the results as JSON (fixed schema, see README)." };
        var vsOrt = new Option<bool>("--vs-onnxruntime") { Description = "Also time sequential DDPM through ONNX Runtime CPU on the same network." };
        var traceRuns = new Option<bool>("--trace-runs") { Description = "Print every timed run to stderr: setting, wall-clock, sequential calls, rows and the L of its rounds (why a setting's repeats differ)." };
        var control = new Option<bool>("--ddpm-control") { Description = "Also time a second, separate DDPM sampler: the same work as DDPM, so its ratio to DDPM is this run's measurement noise (an A/A control)." };
        var recalibrate = new Option<bool>("--recalibrate") { Description = "Measure the batch-cost curve again, replacing the remembered one." };
        var skipQuality = new Option<bool>("--skip-quality") { Description = "builtin:policy: skip the quality test that runs before timing." };
        var acceptanceFrom = new Option<string?>("--acceptance-from") { Description = "Also state the cost-model ceiling with the acceptance by position of another asd bench JSON (for example a trained model's, when this one's weights are random)." };

        var command = new Command("bench", "Time DDPM and ASD (L = 1, 2, 4, 8, 16, inf, auto) side by side, with the cost-model ceiling.")
        {
            steps, samples, cond, specLens, repeats, seed, maxRows, costCurve, saveCurve, markdown, plot, json, vsOrt, skipQuality, acceptanceFrom, recalibrate, traceRuns, control,
        };
        flags.AddTo(command);
        command.SetAction(parse =>
        {
            string spec = parse.GetValue(flags.Model)!;
            int k = parse.GetValue(steps), n = parse.GetValue(samples), r = parse.GetValue(repeats);
            if (n < 1)
            {
                throw new ArgumentException($"--samples must be >= 1 (got {n}).");
            }

            if (r is < 1 or > MaxRepeats)
            {
                // Each repeat runs every setting once and keeps its timings: 100,000,000 ran silently for hours.
                throw new ArgumentException($"--repeats must be from 1 to {MaxRepeats} (got {r}); a longer study is several runs, each with its own --json.");
            }

            List<SpecLength> lengths = [.. parse.GetValue(specLens)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => SpecLength.Parse(t, "--spec-lens")).Distinct()];
            if (lengths.Count == 0)
            {
                // An empty list (an unset shell variable) timed DDPM alone and printed a ceiling for lengths never run.
                throw new ArgumentException($"--spec-lens '{parse.GetValue(specLens)}' names no length: give one or more of 1, 2, ..., inf or auto, comma-separated (DDPM always runs beside them).");
            }
            int threadCount = flags.ThreadCount(parse);
            OutputPaths.Check(parse.GetValue(saveCurve), "--save-cost-curve");
            OutputPaths.Check(parse.GetValue(plot), "--plot");
            OutputPaths.Check(parse.GetValue(json), "--json");
            OutputPaths.CheckDistinct(("--save-cost-curve", parse.GetValue(saveCurve), false), ("--plot", parse.GetValue(plot), false), ("--json", parse.GetValue(json), false));
            RunInputs inputs = OutputPaths.Inputs(parse.GetValue(flags.Model)!, ("the --cond file", parse.GetValue(cond)), ("the --acceptance-from file", parse.GetValue(acceptanceFrom)), ("the --cost-curve file", parse.GetValue(costCurve)));
            OutputPaths.CheckNotAnInput(parse.GetValue(saveCurve), "--save-cost-curve", inputs);
            OutputPaths.CheckNotAnInput(parse.GetValue(plot), "--plot", inputs);
            OutputPaths.CheckNotAnInput(parse.GetValue(json), "--json", inputs);
            OutputPaths.CheckExtension(parse.GetValue(plot), "--plot", ".png", "the picture is a PNG image");
            if (parse.GetValue(recalibrate) && parse.GetValue(costCurve) is not null)
            {
                throw new ArgumentException("--recalibrate: --cost-curve gives the curve, so none is measured.");
            }

            CostCurve? given = parse.GetValue(costCurve) is string cc ? SampleCommand.LoadCostCurve(cc) : null;
            var request = FieldFlags.Map(() => new SamplerRequest
            {
                Steps = k,
                MaxBatchRows = parse.GetValue(maxRows),
                Guidance = parse.GetValue(flags.Guidance),
                Threads = threadCount,
                Schedule = flags.Overrides(parse),
            }.Validate());
            using IDiffusionModel m = flags.Open(parse, threadCount);
            flags.NoteDefaultSchedule(parse, m, stderr);
            SampleCommand.CheckRunValues(n, m);
            float[] conditioning = PolicyDemo.Applies(spec, parse.GetValue(cond))
                ? PolicyDemo.BenchObservation()
                : SampleCommand.ReadConditioning(parse.GetValue(cond), m.ConditionSize, n, m.ConditionLayout);
            using IDiffusionModel? ort = parse.GetValue(vsOrt) ? OpenOnnxTwin(spec, m, threadCount) : null;
            bool interactive = !Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out);
            Action<string>? status = interactive ? s => stderr.Write($"\r\u001b[K{s}") : null;

            string? quality = null;
            if (PolicyDemo.RunsQualityTest(spec) && !parse.GetValue(skipQuality))
            {
                // A policy smoothed to buy acceptance must not get timed: the quality test runs first.
                status?.Invoke("quality test: 200 observations + 200 symmetric, DDPM");
                using var pool = new CorePool(SamplerFactory.PoolThreads(m, threadCount));
                PolicyAssessment assessment = PolicyTask.Assess(m, k, pool: pool);
                quality = assessment.ToString();
                if (!assessment.Passed)
                {
                    throw new InvalidOperationException($"builtin:policy fails its quality test, so nothing is timed: {quality}");
                }
            }

            var runner = new BenchRunner
            {
                Model = m,
                OnnxModel = ort,
                Request = request,
                Chains = n,
                Conditioning = conditioning,
                Seed = parse.GetValue(seed),
                Repeats = r,
                SpecLengths = lengths,
                GivenCostCurve = given,
                GivenAcceptance = parse.GetValue(acceptanceFrom) is string af ? BenchOutput.ReadAcceptance(af) : null,
                Status = status,
                Recalibrate = parse.GetValue(recalibrate),
                TraceRun = parse.GetValue(traceRuns) ? stderr.WriteLine : null,
                DdpmControl = parse.GetValue(control),
            };
            BenchReport report = FieldFlags.Map(() => runner.Run(BenchOutput.DescribeMachine(), quality)); // the engine's field names, as flags
            status?.Invoke("");
            if (parse.GetValue(markdown))
            {
                BenchOutput.WriteMarkdown(stdout, report);
            }
            else
            {
                BenchOutput.WriteTable(stdout, report);
            }

            if (parse.GetValue(saveCurve) is string save)
            {
                OutputPaths.Write(save, "--save-cost-curve", () => report.CostCurve.Save(save));
                stdout.WriteLine($"wrote      {save}");
            }

            if (parse.GetValue(json) is string jsonPath)
            {
                OutputPaths.Write(jsonPath, "--json", () => BenchOutput.WriteJson(jsonPath, report));
                stdout.WriteLine($"wrote      {jsonPath}");
            }

            if (parse.GetValue(plot) is string plotPath)
            {
                OutputPaths.Write(plotPath, "--plot", () => BenchOutput.WritePlot(plotPath, report));
                stdout.WriteLine($"wrote      {plotPath}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>The same network for ONNX Runtime: builtin:policy's embedded export, NAME.onnx beside an asd-mlp NAME.json, or the ONNX file a native ConditionalUnet1D was taken from.</summary>
    private static IDiffusionModel OpenOnnxTwin(string spec, IDiffusionModel model, int threads)
    {
        var options = new ModelOpenOptions { Threads = threads };
        if (spec == "builtin:policy")
        {
            return OnnxModel.OpenBytes(BuiltinResources.PolicyOnnx(), "builtin:policy (ONNX Runtime)", model.DefaultScheduler, options);
        }

        if (model is Asd.Native.Backends.Unet1d.Unet1dModel { ImportedFrom: not null })
        {
            // An ONNX file the native engine took over: the same file through ONNX Runtime.
            return ModelCatalog.Open(spec, options with { NativeOnnx = false });
        }

        if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && Path.ChangeExtension(spec, ".onnx") is { } onnx && Asd.Native.IO.ModelFiles.IsRegularFile(onnx))
        {
            return OnnxModel.OpenBytes(Asd.Native.IO.ModelFiles.ReadAllBytes(onnx, "--vs-onnxruntime ONNX model", Array.MaxLength), Path.GetFileName(onnx) + " (ONNX Runtime)", model.DefaultScheduler, options);
        }

        throw new ArgumentException($"--vs-onnxruntime needs the same network as ONNX: builtin:policy, an asd-mlp or asd-unet1d NAME.json with NAME.onnx beside it (tools/export_mlp_onnx.py), or an ONNX ConditionalUnet1D the native engine runs; '{spec}' has none.");
    }
}

/// <summary>Resolves --threads: 0 means one per core.</summary>
internal static class CliThreads
{
    public static int Resolve(int threads) => threads switch
    {
        0 => Math.Min(Environment.ProcessorCount, Asd.Native.Validation.ResourceLimits.MaxThreads),
        _ => Asd.Native.Validation.ResourceLimits.CheckThreads(threads, "--threads"),
    };
}

/// <summary>Files embedded in the CLI (not in libasd, which stays small for edge boards).</summary>
internal static class BuiltinResources
{
    public static byte[] PolicyOnnx()
    {
        using Stream stream = typeof(BuiltinResources).Assembly.GetManifestResourceStream("asd.builtin.policy.onnx")
            ?? throw new InvalidOperationException("The embedded ONNX export of builtin:policy is missing from this build.");
        // Copied rather than sized by Length: a resource stream need not report its length (Native AOT's may not).
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
