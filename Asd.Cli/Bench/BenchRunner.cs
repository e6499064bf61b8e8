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

    /// <summary>Acceptance by draft position over this setting's timed runs.</summary>
    public SortedDictionary<int, (long Attempts, long Accepted)> Acceptance { get; } = [];

    /// <summary>DDPM's time over this setting's, per repeat (the pairs share a repeat): median and interval.</summary>
    public WallRatio Gain { get; set; }

    /// <summary>The wall-clock speedup the cost model predicts for this fixed L from the curve and this setting's own acceptance (NaN for DDPM rows and auto).</summary>
    public double PredictedSpeedup { get; set; } = double.NaN;

    /// <summary>The share of this setting's rounds that ran L = 1.</summary>
    public double ShareOfLengthOne => ChosenLengths.Count == 0 ? double.NaN : (double)ChosenLengths.GetValueOrDefault(1) / ChosenLengths.Values.Sum();

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

    public BenchResult? Find(string sampler, string specLen) =>
        Results.FirstOrDefault(r => r.Setting.Sampler == sampler && r.Setting.SpecLen == specLen);
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

    /// <summary>Measure the curve again instead of using a remembered one (<c>--recalibrate</c>).</summary>
    public bool Recalibrate { get; init; }

    public BenchReport Run(string machine, string? quality)
    {
        using var pool = new CorePool(Threads);
        var samplers = new List<(BenchSetting Setting, Sampler Sampler)>();
        try
        {
            Sampler ddpm = SamplerFactory.Create(Model, Scheduler, Steps, SamplerKind.Ddpm, new SamplerOptions { MaxBatchRows = MaxBatchRows }, pool);
            samplers.Add((new BenchSetting("ddpm", "-"), ddpm));
            Status?.Invoke("measuring the batch-cost curve T(B)");
            int calibrationRows = Math.Min(CostCurveCache.CalibrationRows, MaxBatchRows);
            CostCurve curve = GivenCostCurve ?? CostCurveCache.GetOrMeasure(
                Model,
                Threads,
                false,
                () => CostCurve.Measure(ddpm.Denoiser, calibrationRows, Scheduler.NumTrainTimesteps, model: Model.Name),
                () => CostCurveKey.For(Model, ddpm.Denoiser, Threads, false, calibrationRows, (Model as Asd.Native.Models.OnnxModel)?.Device ?? "cpu"),
                Recalibrate);
            foreach (SpecLength l in SpecLengths)
            {
                var options = new SamplerOptions { MaxBatchRows = MaxBatchRows, SpecLength = l, CostCurve = l.IsAuto ? curve : null };
                samplers.Add((new BenchSetting("asd", l.ToString()), SamplerFactory.Create(Model, Scheduler, Steps, SamplerKind.Asd, options, pool)));
            }

            if (OnnxModel is not null)
            {
                samplers.Add((new BenchSetting(OnnxRuntimeSampler, "-"), SamplerFactory.Create(OnnxModel, Scheduler, Steps, SamplerKind.Ddpm, new SamplerOptions { MaxBatchRows = MaxBatchRows }, pool)));
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
                            res.Acceptance.TryGetValue(p.Position, out sum);
                            res.Acceptance[p.Position] = (sum.Attempts + p.Attempts, sum.Accepted + p.Accepted);
                        }

                        foreach ((int length, long rounds) in st.RoundLengths)
                        {
                            res.ChosenLengths[length] = res.ChosenLengths.GetValueOrDefault(length) + rounds;
                        }
                    }
                }
            }

            double ddpmWall = results[0].MedianWall;
            var cost = new SpeculationCostModel.SharedCost(curve, Math.Clamp(Chains, 1, MaxBatchRows));
            foreach (BenchResult res in results)
            {
                res.WallSpeedup = ddpmWall / res.MedianWall;
                res.Gain = WallRatio.Of(results[0].WallPerSample, res.WallPerSample);
                if (res.Setting.Sampler == "asd" && int.TryParse(res.Setting.SpecLen, NumberStyles.None, CultureInfo.InvariantCulture, out int fixedL))
                {
                    // What the cost model predicts for this L, from the curve and this L's own acceptance: so that a
                    // gap between prediction and measurement is the cost model's, not the acceptance estimate's.
                    int l = Math.Max(1, Math.Min(fixedL, Math.Min(Steps - 1, MaxBatchRows / Math.Max(1, Chains))));
                    var own = new MeasuredAcceptance(res.Acceptance.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted)));
                    res.PredictedSpeedup = cost.Seconds(1) * SpeculationCostModel.Rate(own, cost, l);
                }
            }

            List<PositionAcceptance> pooled = [.. attempts.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted))];
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
