using System.Globalization;
using Asd.Native.Denoising;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Cli.Bench;

/// <summary>One sampler configuration <c>asd bench</c> times.</summary>
/// <param name="Sampler">"ddpm", "asd" or "ddpm-onnxruntime".</param>
/// <param name="SpecLen">The speculation length string of docs/math.md section 7 ("-" for DDPM).</param>
internal sealed record BenchSetting(string Sampler, string SpecLen)
{
    public string Label => Sampler == "asd" ? $"ASD L={SpecLen}" : Sampler == "ddpm" ? "DDPM" : "DDPM (ONNX Runtime)";
}

/// <summary>What one setting measured over the timed repeats.</summary>
internal sealed class BenchResult(BenchSetting setting, int steps)
{
    public BenchSetting Setting { get; } = setting;

    public List<double> WallPerSample { get; } = [];

    public List<double> SequentialCalls { get; } = [];

    public List<double> RowsPerStep { get; } = [];

    public Dictionary<int, long> ChosenLengths { get; } = [];

    public double MeanSequentialCalls => SequentialCalls.Average();

    public double AlgorithmicSpeedup => steps / MeanSequentialCalls;

    public double MeanRowsPerStep => RowsPerStep.Average();

    public double MedianWall => Median(WallPerSample);

    /// <summary>The wall-clock speedup against the engine's DDPM of the same run (set once every setting ran).</summary>
    public double WallSpeedup { get; set; }

    internal static double Median(IEnumerable<double> values)
    {
        double[] s = [.. values.Order()];
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[(s.Length / 2) - 1] + s[s.Length / 2]);
    }
}

/// <summary>The whole measurement: every setting, the cost curve, the pooled acceptance and the ceiling.</summary>
internal sealed class BenchReport
{
    public required string Machine { get; init; }

    public required string Model { get; init; }

    public required int Steps { get; init; }

    public required int Chains { get; init; }

    public required int Threads { get; init; }

    public required int Repeats { get; init; }

    public required CostCurve CostCurve { get; init; }

    public required IReadOnlyList<BenchResult> Results { get; init; }

    /// <summary>Acceptance by draft position pooled over every timed ASD run.</summary>
    public required IReadOnlyList<PositionAcceptance> Acceptance { get; init; }

    /// <summary>The best wall-clock speedup the cost model allows (README, "The cost-model ceiling").</summary>
    public required double CeilingWallSpeedup { get; init; }

    /// <summary>The L at which the ceiling is reached.</summary>
    public required int CeilingLength { get; init; }

    public string? Quality { get; init; }

    /// <summary>The bounds of a dense network's call on this machine (models that stream all their weights per call).</summary>
    public BenchPhysics? Physics { get; init; }

    /// <summary>ONNX Runtime's own T(B) on the same network (with --vs-onnxruntime).</summary>
    public CostCurve? OnnxCostCurve { get; init; }

    /// <summary>Seconds of one denoiser call of <see cref="Chains"/> rows in the given setting's sequential run.</summary>
    public double SecondsPerCall(BenchResult r) => r.MedianWall * Chains / Steps;

    public BenchResult? Find(string sampler, string specLen) =>
        Results.FirstOrDefault(r => r.Setting.Sampler == sampler && r.Setting.SpecLen == specLen);
}

/// <summary>What bounds one call of a dense network here: its weights streamed at the measured read bandwidth, its arithmetic at the measured FMA peak.</summary>
/// <param name="WeightBytes">Packed weight bytes one call reads.</param>
/// <param name="Precision">How the weights are stored.</param>
/// <param name="FlopsPerSample">Arithmetic of one row.</param>
/// <param name="ReadBandwidth">Measured read bandwidth from memory (bytes per second), with the benchmark's threads.</param>
/// <param name="FmaPeak">Measured FMA peak (FLOP per second), with the benchmark's threads.</param>
internal sealed record BenchPhysics(long WeightBytes, string Precision, long FlopsPerSample, double ReadBandwidth, double FmaPeak)
{
    /// <summary>The weight-stream bound: the time to read every weight once.</summary>
    public double StreamSeconds => WeightBytes / ReadBandwidth;

    /// <summary>The compute bound of a call of <paramref name="rows"/> rows.</summary>
    public double ComputeSeconds(int rows) => rows * (double)FlopsPerSample / FmaPeak;
}

/// <summary>
/// Runs every setting <see cref="Repeats"/> times, interleaved (repeat r runs all settings in a freshly shuffled,
/// seeded order, so a drift in the machine's speed hits all of them alike), after one untimed warm-up pass.
/// </summary>
internal sealed class BenchRunner
{
    public required IDiffusionModel Model { get; init; }

    public IDiffusionModel? OnnxModel { get; init; }

    /// <summary>The sampler name of the ONNX Runtime row.</summary>
    public const string OnnxRuntimeSampler = "ddpm-onnxruntime";

    /// <summary>The untimed pause after each ONNX Runtime run, for its spinning threads to park.</summary>
    public static readonly TimeSpan OnnxRuntimeSettle = TimeSpan.FromMilliseconds(200);

    public required SchedulerConfig Scheduler { get; init; }

    public required int Steps { get; init; }

    public required int Chains { get; init; }

    public required int Threads { get; init; }

    public required float[] Conditioning { get; init; }

    public required ulong Seed { get; init; }

    public required int Repeats { get; init; }

    public required int MaxBatchRows { get; init; }

    public required IReadOnlyList<SpecLength> SpecLengths { get; init; }

    public CostCurve? GivenCostCurve { get; init; }

    public Action<string>? Status { get; init; }

    public BenchReport Run(string machine, string? quality)
    {
        using var pool = new CorePool(Threads);
        var samplers = new List<(BenchSetting Setting, Sampler Sampler)>();
        try
        {
            Sampler ddpm = SamplerFactory.Create(Model, Scheduler, Steps, SamplerKind.Ddpm, new SamplerOptions { MaxBatchRows = MaxBatchRows }, pool);
            samplers.Add((new BenchSetting("ddpm", "-"), ddpm));
            Status?.Invoke("measuring the batch-cost curve T(B)");
            CostCurve curve = GivenCostCurve ?? CostCurveCache.GetOrMeasure(Model, Threads, false, () => CostCurve.Measure(
                ddpm.Denoiser, Math.Min(CostCurveCache.CalibrationRows, MaxBatchRows), Scheduler.NumTrainTimesteps, model: Model.Name));
            foreach (SpecLength l in SpecLengths)
            {
                var options = new SamplerOptions { MaxBatchRows = MaxBatchRows, SpecLength = l, CostCurve = l.IsAuto ? curve : null };
                samplers.Add((new BenchSetting("asd", l.ToString()), SamplerFactory.Create(Model, Scheduler, Steps, SamplerKind.Asd, options, pool)));
            }

            CostCurve? onnxCurve = null;
            if (OnnxModel is not null)
            {
                Sampler ort = SamplerFactory.Create(OnnxModel, Scheduler, Steps, SamplerKind.Ddpm, new SamplerOptions { MaxBatchRows = MaxBatchRows }, pool);
                samplers.Add((new BenchSetting(OnnxRuntimeSampler, "-"), ort));
                Status?.Invoke("measuring ONNX Runtime's T(B) on the same network");
                onnxCurve = CostCurve.Measure(ort.Denoiser, Math.Min(16, MaxBatchRows), Scheduler.NumTrainTimesteps, repeats: 5, model: OnnxModel.Name);
                Thread.Sleep(OnnxRuntimeSettle);
            }

            BenchPhysics? physics = null;
            if (Model is IStreamedWeights streamed)
            {
                Status?.Invoke("measuring the read bandwidth and the FMA peak");
                physics = new BenchPhysics(streamed.StreamedWeightBytes, streamed.WeightPrecision, streamed.FlopsPerSample, MachineLimits.ReadBandwidth(pool), MachineLimits.FmaPeak(pool));
            }

            var results = samplers.Select(s => new BenchResult(s.Setting, Steps)).ToList();
            var attempts = new SortedDictionary<int, (long Attempts, long Accepted)>();
            int d = Model.SampleShape.Aggregate(1, (a, b) => a * b);
            var output = new float[Chains * d];
            int[] order = [.. Enumerable.Range(0, samplers.Count)];
            var shuffle = new Random(unchecked((int)Seed) ^ 0x5eed);
            for (int r = 0; r <= Repeats; r++)
            {
                // A fresh order per repeat: drift in the machine's speed hits every setting alike, and no setting
                // always runs right after the same other one.
                shuffle.Shuffle(order);
                Status?.Invoke(r == 0 ? "warm-up pass (not timed)" : string.Create(CultureInfo.InvariantCulture, $"repeat {r} of {Repeats}"));
                for (int k = 0; k < samplers.Count; k++)
                {
                    int i = order[k];
                    SamplingStats st = samplers[i].Sampler.Sample(Chains, Seed + (ulong)r, output, Conditioning);
                    if (samplers[i].Setting.Sampler == OnnxRuntimeSampler)
                    {
                        // ONNX Runtime's intra-op threads spin-wait after a run (its default, which is its best
                        // latency); they would hold the cores while the next setting runs (measured: our DDPM at
                        // 36-39 ms instead of 21 ms right after it; a 20 ms pause was not enough, 200 ms is). An
                        // untimed pause lets them park first.
                        Thread.Sleep(OnnxRuntimeSettle);
                    }

                    if (r == 0)
                    {
                        continue;
                    }

                    BenchResult res = results[i];
                    res.WallPerSample.Add(st.WallSeconds / Chains);
                    res.SequentialCalls.Add(st.SequentialModelCalls);
                    res.RowsPerStep.Add((double)st.RowsEvaluated / ((double)Steps * Chains));
                    if (st.Sampler == "asd")
                    {
                        foreach (PositionAcceptance p in st.AcceptanceByPosition)
                        {
                            attempts.TryGetValue(p.Position, out (long Attempts, long Accepted) sum);
                            attempts[p.Position] = (sum.Attempts + p.Attempts, sum.Accepted + p.Accepted);
                        }

                        foreach ((int length, long rounds) in st.RoundLengths)
                        {
                            res.ChosenLengths[length] = res.ChosenLengths.GetValueOrDefault(length) + rounds;
                        }
                    }
                }
            }

            double ddpmWall = results[0].MedianWall;
            foreach (BenchResult res in results)
            {
                res.WallSpeedup = ddpmWall / res.MedianWall;
            }

            List<PositionAcceptance> pooled = [.. attempts.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted))];
            var cost = new SpeculationCostModel.SharedCost(curve, Math.Clamp(Chains, 1, MaxBatchRows));
            int ceilingLength = SpeculationCostModel.BestLength(
                new MeasuredAcceptance(pooled), cost, Math.Max(1, Math.Min(Steps - 1, Math.Min(256, MaxBatchRows / Math.Max(1, Chains)))), out double bestRate);
            return new BenchReport
            {
                Machine = machine,
                Model = Model.Name,
                Steps = Steps,
                Chains = Chains,
                Threads = Threads,
                Repeats = Repeats,
                CostCurve = curve,
                Results = results,
                Acceptance = pooled,
                // L = 1 runs at DDPM's rate 1 / T(1), so the ceiling is at least 1; T(1) * (1 / T(1)) can round to
                // 0.9999999999999999, which the JSON's consumers (tests/cli/check_bench_json.py) rightly reject.
                CeilingWallSpeedup = Math.Max(1.0, cost.Seconds(1) * bestRate),
                CeilingLength = ceilingLength,
                Quality = quality,
                Physics = physics,
                OnnxCostCurve = onnxCurve,
            };
        }
        finally
        {
            foreach ((_, Sampler s) in samplers)
            {
                s.Dispose();
            }
        }
    }
}
