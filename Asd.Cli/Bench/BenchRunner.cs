namespace Asd.Cli.Bench;

/// <summary>One sampler configuration <c>asd bench</c> times.</summary>
/// <param name="Sampler">"ddpm", "asd" or "ddpm-onnxruntime".</param>
/// <param name="SpecLen">The speculation length string of docs/math.md section 7 ("-" for DDPM).</param>
internal sealed record BenchSetting(string Sampler, string SpecLen)
{
    public string Label => Sampler switch
    {
        "asd" => $"ASD L={SpecLen}",
        "ddpm" => "DDPM",
        BenchRunner.ControlSampler => "DDPM (control)",
        _ => "DDPM (ONNX Runtime)",
    };

    /// <summary>The label of a bar in the plot (<see cref="Label"/>, shorter).</summary>
    public string ShortLabel => Sampler switch
    {
        "asd" => "L=" + SpecLen,
        "ddpm" => "DDPM",
        BenchRunner.ControlSampler => "DDPM ctl",
        _ => "DDPM ORT",
    };
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

    /// <summary>
    /// The curve that the predictions and the ceiling use: <see cref="CostCurve"/> with T(B) at the fixed lengths'
    /// sizes and DDPM's call timed again between the repeats (<see cref="CostCurve.Retiming"/>); the curve itself when
    /// given (--cost-curve).
    /// </summary>
    public required CostCurve PredictionCurve { get; init; }

    /// <summary>The sizes re-timed between the repeats and the passes timed (none for a given curve).</summary>
    public IReadOnlyList<int> RetimedSizes { get; init; } = [];

    /// <summary>Passes of <see cref="RetimedSizes"/> timed.</summary>
    public int RetimedPasses { get; init; }

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

    /// <summary>The pool's cache-line transfer time before and between the repeats; null with one thread.</summary>
    public CoreTransfer? CoreTransfer { get; init; }

    /// <summary>The ceiling with an acceptance given from elsewhere (--acceptance-from): its source, speedup and L.</summary>
    public (string Source, double Speedup, int Length)? GivenAcceptanceCeiling { get; init; }

    /// <summary>
    /// The ceiling at the physical bounds (with <see cref="Physics"/>): the cost model with every call of B rows at
    /// the larger of the weight-stream bound and B rows at the FMA peak, this run's acceptance; its speedup and L.
    /// </summary>
    public (double Speedup, int Length)? BoundsCeiling { get; init; }

    /// <summary>As <see cref="BoundsCeiling"/> with the acceptance of <see cref="GivenAcceptanceCeiling"/>'s source.</summary>
    public (double Speedup, int Length)? GivenAcceptanceBoundsCeiling { get; init; }

    /// <summary>ONNX Runtime's own T(B) on the same network (with --vs-onnxruntime).</summary>
    public CostCurve? OnnxCostCurve { get; init; }

    /// <summary>Row-parallel ONNX models: how calls of one row ran (one lane or intra-op threads) and the timing that chose it.</summary>
    public string? SingleRowMode { get; init; }

    /// <summary>Native ConditionalUnet1D on a pool: how one-sample calls ran (one lane or the columns split) and the timing that chose it.</summary>
    public string? OneSampleMode { get; init; }

    /// <summary>Seconds of one denoiser call of <see cref="Chains"/> rows in the given setting's sequential run.</summary>
    public double SecondsPerCall(BenchResult r) => r.MedianWall * Chains / Steps;

    public BenchResult? Find(string sampler, string specLen) =>
        Results.FirstOrDefault(r => r.Setting.Sampler == sampler && r.Setting.SpecLen == specLen);
}

/// <summary>
/// How long a cache line took to move between the benchmark pool's first two threads (<see cref="MachineLimits.CoreTransferSeconds"/>),
/// probed before the repeats and before each of them: the median, the fastest and slowest probe, and each probe
/// (index 0 before the repeats, then repeat by repeat; NaN where a probe did not complete).
/// </summary>
internal sealed record CoreTransfer(double MedianSeconds, double LowSeconds, double HighSeconds, int Probes, double[] ByRepeatSeconds)
{
    /// <summary>
    /// Whether the probes fall in two groups, the upper quartile more than twice the lower: the threads' placement
    /// changed during the bench, as a VM's hypervisor moves its vCPUs between core complexes (29-41 against 162-187 ns
    /// on the project's Zen 4 VM). Quartiles, so that one slow probe (a preempted thread) does not count.
    /// </summary>
    public bool Moved => !double.IsNaN(SplitSeconds);

    /// <summary>Where <see cref="Moved"/> probes split into the two placements (the quartiles' geometric mean); NaN otherwise.</summary>
    public double SplitSeconds { get; init; } = double.NaN;

    /// <summary>The summary of <paramref name="byRepeat"/>; null when no probe completed (a pool of one thread).</summary>
    public static CoreTransfer? Of(double[] byRepeat)
    {
        double[] valid = [.. byRepeat.Where(double.IsFinite).Order()];
        if (valid.Length == 0)
        {
            return null;
        }

        double lower = valid[(valid.Length - 1) / 4], upper = valid[3 * (valid.Length - 1) / 4];
        return new CoreTransfer(valid[valid.Length / 2], valid[0], valid[^1], valid.Length, byRepeat) { SplitSeconds = upper > 2 * lower ? Math.Sqrt(lower * upper) : double.NaN };
    }

    /// <summary>The repeats (1-based) whose probe before them read below (<paramref name="near"/>) or above the split.</summary>
    public IEnumerable<int> RepeatsPlaced(bool near) =>
        Enumerable.Range(1, ByRepeatSeconds.Length - 1).Where(r => double.IsFinite(ByRepeatSeconds[r]) && (ByRepeatSeconds[r] < SplitSeconds) == near);
}

/// <summary>What bounds one call of a dense network here: its weights streamed at the measured read bandwidth, its arithmetic at the measured FMA peak.</summary>
/// <param name="WeightBytes">Packed weight bytes one call reads.</param>
/// <param name="Precision">How the weights are stored.</param>
/// <param name="FlopsPerSample">Arithmetic of one row.</param>
/// <param name="ReadBandwidth">Measured read bandwidth from memory (bytes per second), with the benchmark's threads.</param>
/// <param name="FmaPeak">Measured FMA peak (FLOP per second), with the benchmark's threads.</param>
internal sealed record BenchPhysics(long WeightBytes, string Precision, long FlopsPerSample, double ReadBandwidth, double FmaPeak)
{
    /// <summary>With probes between the repeats: the slowest and fastest of them (<see cref="ReadBandwidth"/> is their median).</summary>
    public double ReadBandwidthLow { get; init; } = ReadBandwidth;

    /// <inheritdoc cref="ReadBandwidthLow"/>
    public double ReadBandwidthHigh { get; init; } = ReadBandwidth;

    /// <summary>Bandwidth probes taken between the repeats (0: one probe before them, best of 5 passes).</summary>
    public int ReadBandwidthProbes { get; init; }

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

    /// <summary>The sampler name of the control row (<see cref="DdpmControl"/>).</summary>
    public const string ControlSampler = "ddpm-control";

    /// <summary>
    /// Also time a second DDPM sampler of its own (<c>--ddpm-control</c>): the same work as the DDPM row, timed the same
    /// way, so its ratio to DDPM is the measurement's own noise (an A/A comparison), the yardstick for any other
    /// setting's ratio of this run.
    /// </summary>
    public bool DdpmControl { get; init; }

    /// <summary>Untimed runs of an auto sampler in the warm-up pass (other settings have one).</summary>
    public const int AutoWarmUpRuns = 3;

    /// <summary>The untimed pause after each ONNX Runtime run, for its spinning threads to park.</summary>
    public static readonly TimeSpan OnnxRuntimeSettle = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Models whose packed weights exceed this (the last-level cache of the machines we target, 32 MB) get a bandwidth
    /// probe before every repeat, and their stream bound is taken at the median of those probes: their calls read the
    /// weights from memory, whose speed on a shared machine moves within minutes. Smaller models keep one probe before
    /// the repeats: a probe sweeps 1 GB through the caches, and would evict weights that such a model reads from them.
    /// </summary>
    public long InterleavedProbeMinWeightBytes { get; init; } = DefaultInterleavedProbeMinWeightBytes;

    /// <summary>The default of <see cref="InterleavedProbeMinWeightBytes"/>.</summary>
    public const long DefaultInterleavedProbeMinWeightBytes = 32L << 20;

    /// <summary>What every setting shares (steps, row cap, guidance, threads, scheduler overrides); each setting sets its sampler and L.</summary>
    public required SamplerRequest Request { get; init; }

    /// <summary>The batch-cost curve to use (--cost-curve); null: the engine's, measured once.</summary>
    public CostCurve? GivenCostCurve { get; init; }

    private int Steps => Request.Steps;

    private int MaxBatchRows => Request.MaxBatchRows;

    public required int Chains { get; init; }

    public required float[] Conditioning { get; init; }

    public required ulong Seed { get; init; }

    public required int Repeats { get; init; }

    public required IReadOnlyList<SpecLength> SpecLengths { get; init; }

    /// <summary>Acceptance by position from another run (--acceptance-from), for a second ceiling.</summary>
    public (string Source, IReadOnlyList<PositionAcceptance> Counts)? GivenAcceptance { get; init; }

    public Action<string>? Status { get; init; }

    /// <summary>Told each timed run, as one line (<c>--trace-runs</c>); null: nothing.</summary>
    public Action<string>? TraceRun { get; init; }

    /// <summary>Measure the curve again instead of using a remembered one (<c>--recalibrate</c>).</summary>
    public bool Recalibrate { get; init; }

    public BenchReport Run(string machine, string? quality)
    {
        // One pool for every setting (they run one at a time), sized as the engine sizes a model's pool.
        using var pool = new CorePool(SamplerFactory.PoolThreads(Model, Request.Threads));
        var samplers = new List<(BenchSetting Setting, Sampler Sampler)>();
        try
        {
            SamplerRequest ddpm = Request with { Kind = SamplerKind.Ddpm, CostCurve = null };
            samplers.Add((new BenchSetting("ddpm", "-"), SamplerFactory.Create(Model, ddpm, pool)));
            if (DdpmControl)
            {
                samplers.Add((new BenchSetting(ControlSampler, "-"), SamplerFactory.Create(Model, ddpm, pool)));
            }

            Status?.Invoke("measuring the batch-cost curve T(B)");
            CostCurve curve = GivenCostCurve ?? SamplerFactory.CostCurveFor(Model, Request with { Calibration = Request.Calibration with { Refresh = Recalibrate } }, pool);
            foreach (SpecLength l in SpecLengths)
            {
                SamplerRequest asd = Request with { Kind = SamplerKind.Asd, SpecLength = l, CostCurve = l.IsAuto ? curve : null };
                samplers.Add((new BenchSetting("asd", l.ToString()), SamplerFactory.Create(Model, asd, pool)));
            }

            // Every setting holds its chains' state at once: their sum must fit (hostile --samples).
            Commands.SampleCommand.CheckRunSize(Chains, samplers.Select(x => x.Sampler), 0);
            CostCurve? onnxCurve = null;
            if (OnnxModel is not null)
            {
                SamplerRequest ortRequest = ddpm with { Guidance = null };
                Sampler ort = SamplerFactory.Create(OnnxModel, ortRequest, pool);
                samplers.Add((new BenchSetting(OnnxRuntimeSampler, "-"), ort));
                Status?.Invoke("measuring ONNX Runtime's T(B) on the same network");
                int trainSteps = ortRequest.Schedule.Apply(OnnxModel.DefaultScheduler).NumTrainTimesteps;
                onnxCurve = CostCurve.Measure(ort.Denoiser, Math.Min(16, MaxBatchRows), trainSteps, repeats: 5, model: OnnxModel.Name);
                Thread.Sleep(OnnxRuntimeSettle);
            }

            // Where the pool's threads sit (their cores' cache-line transfer time), before and between the repeats: on a
            // VM it moves, and 2-thread calls with it (MachineLimits.CoreTransferSeconds).
            // A model that runs on one pool thread with threads of its own (ONNX Runtime's intra-op threads) is probed
            // with two threads of a pool made for the probe: the placement is the machine's, and such calls move with it
            // most (README, "Flat batch cost").
            using CorePool? probePool = pool.Threads < 2 && Request.Threads >= 2 ? new CorePool(2) : null;
            var transferByRepeat = new double[Repeats + 1];
            transferByRepeat[0] = MachineLimits.CoreTransferSeconds(probePool ?? pool);

            BenchPhysics? physics = null;
            MachineLimits.BandwidthProbe? probe = null;
            var bandwidths = new List<double>();
            double fmaPeak = 0;
            if (Model is IStreamedWeights streamed)
            {
                Status?.Invoke("measuring the read bandwidth and the FMA peak");
                probe = new MachineLimits.BandwidthProbe(pool);
                fmaPeak = MachineLimits.FmaPeak(pool);
                long streamedBytes = streamed.StreamedWeightBytesFor(pool.Threads);
                physics = new BenchPhysics(streamedBytes, streamed.WeightPrecisionFor(pool.Threads), streamed.FlopsPerSample, probe.Best(5), fmaPeak);
                if (streamedBytes <= InterleavedProbeMinWeightBytes)
                {
                    probe = null;
                }
            }

            // The predictions' T(B): the sizes the fixed lengths call and DDPM's call, timed again before every repeat
            // (untimed for the runs), so that a prediction and the runs it predicts share their minutes. A given
            // curve is the caller's and is used as given.
            int sharing = Math.Clamp(Chains, 1, MaxBatchRows);
            int FixedRows(int fixedL) => Math.Max(1, Math.Min(fixedL, Math.Min(Steps - 1, MaxBatchRows / Math.Max(1, Chains))));
            CostCurve.Retiming? retiming = GivenCostCurve is null
                ? new CostCurve.Retiming(
                    samplers[0].Sampler.Denoiser,
                    SpecLengths.Where(l => l.IsFixed).Select(l => sharing * FixedRows(l.Encoded)).Append(sharing),
                    Request.Schedule.Apply(Model.DefaultScheduler).NumTrainTimesteps)
                : null;
            var results = samplers.Select(s => new BenchResult(s.Setting, Steps)).ToList();
            var attempts = new SortedDictionary<int, (long Attempts, long Accepted)>();
            int d = Model.SampleShape.Aggregate(1, (a, b) => a * b);
            var output = new float[Chains * d];
            var shuffle = new Random(unchecked((int)Seed) ^ 0x5eed);
            SideBySide.Run(samplers.Count, Repeats, warmUp: true, shuffle, (r, i) =>
            {
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
                    if (samplers[i].Sampler is AsdSampler { CostCurve: not null })
                    {
                        // auto takes some of its paths first in a later run: learning (not in a remembered curve's
                        // first run), DDPM's steps (never in the first run), exploring, switching lengths. A JIT
                        // build compiles each at its first call, inside a timed repeat: on the 2-D mixture, whose run
                        // takes 70 us, one such repeat took 0.5-2 ms. Untimed runs put them in the warm-up.
                        for (int extra = 1; extra < AutoWarmUpRuns; extra++)
                        {
                            samplers[i].Sampler.Sample(Chains, Seed, output, Conditioning);
                        }
                    }

                    return;
                }

                BenchResult res = results[i];
                if (TraceRun is { } trace)
                {
                    BenchSetting s = samplers[i].Setting;
                    string lengths = string.Join(' ', st.RoundLengths.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Length}:{kv.Rounds}")));
                    trace(string.Create(CultureInfo.InvariantCulture, $"repeat {r} {s.Sampler} L={s.SpecLen}: {st.WallSeconds * 1e3:F3} ms, {st.SequentialModelCalls} sequential calls, {st.RowsEvaluated} rows{(lengths.Length > 0 ? ", L per round " + lengths : "")}{(samplers[i].Sampler is AsdSampler { AutoExplanation: { } why } ? "; " + why : "")}"));
                }

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
            }, r =>
            {
                if (r > 0)
                {
                    // First, while the caches and the cores are as the last run left them (a bandwidth or FMA probe
                    // in between had the policy's 8-row call timed at 185 us where its runs took about 140).
                    retiming?.Pass();
                }

                if (r > 0)
                {
                    transferByRepeat[r] = MachineLimits.CoreTransferSeconds(probePool ?? pool);
                }

                if (probe is not null && r > 0)
                {
                    // The bound of this repeat's minutes (untimed, before the repeat's settings run).
                    bandwidths.Add(probe.Best(2));
                }

                if (physics is not null && r > 0)
                {
                    // The FMA peak again (untimed): the arithmetic's peak does not change between repeats, but a probe
                    // that a preempted thread or another process slows reads low, and one probe taken once had put it
                    // at 285 GFLOP/s on the 2-vCPU VM where every other run read 430-460 (tools/unet1d_bench.sh, the
                    // deployment-size stage, 2026-12-05 03:25 UTC). The best of them all is the bound.
                    fmaPeak = Math.Max(fmaPeak, MachineLimits.FmaPeak(pool));
                }

                Status?.Invoke(r == 0 ? "warm-up pass (not timed)" : string.Create(CultureInfo.InvariantCulture, $"repeat {r} of {Repeats}"));
            });
            probe = null;
            if (physics is not null && bandwidths.Count > 0)
            {
                double[] sorted = [.. bandwidths.Order()];
                physics = physics with { ReadBandwidth = sorted[sorted.Length / 2], ReadBandwidthLow = sorted[0], ReadBandwidthHigh = sorted[^1], ReadBandwidthProbes = sorted.Length };
            }

            if (physics is not null)
            {
                physics = physics with { FmaPeak = fmaPeak };
            }

            double ddpmWall = results[0].MedianWall;
            CostCurve predicting = retiming?.Apply(curve) ?? curve;
            var cost = new SpeculationCostModel.SharedCost(predicting, sharing);

            // The baseline of every prediction: a DDPM step per chain (the model's call and DDPM's own work), not
            // ASD's round of L = 1, which does more bookkeeping.
            double ddpmStep = predicting.DdpmSeconds(sharing) / sharing;
            foreach (BenchResult res in results)
            {
                res.WallSpeedup = ddpmWall / res.MedianWall;
                res.Gain = WallRatio.Of(results[0].WallPerSample, res.WallPerSample);
                if (res.Setting.Sampler == "asd" && int.TryParse(res.Setting.SpecLen, NumberStyles.None, CultureInfo.InvariantCulture, out int fixedL))
                {
                    // What the cost model predicts for this L, from the curve and this L's own acceptance: so that a
                    // gap between prediction and measurement is the cost model's, not the acceptance estimate's.
                    int l = FixedRows(fixedL);
                    var own = new MeasuredAcceptance(res.Acceptance.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted)));
                    // L = 1 throughout: each one-row call follows another (CostCurve.SteadySeconds).
                    res.PredictedSpeedup = l == 1
                        ? ddpmStep * sharing / predicting.SteadySeconds(sharing)
                        : ddpmStep * SpeculationCostModel.Rate(own, cost, l);
                }
            }

            List<PositionAcceptance> pooled = [.. attempts.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted))];
            int maxLength = Math.Max(1, Math.Min(Steps - 1, Math.Min(256, MaxBatchRows / Math.Max(1, Chains))));
            // L = 1 throughout makes its calls one row right after another, as its own prediction above reads them
            // (SteadySeconds): the ceiling, the best of every L, takes L = 1 at that rate, so it is never below L = 1's
            // prediction (on a given curve whose T(1) is twice DDPM's back-to-back call it read 0.5x at L = 1 beside L = 1
            // predicted at 1.0x: BenchCommandTests.TheCeilingIsNeverBelowLOnesOwnPrediction).
            double steadyOne = sharing / predicting.SteadySeconds(sharing);
            (int Length, double Rate) Best(MeasuredAcceptance acceptance)
            {
                int length = SpeculationCostModel.BestLength(acceptance, cost, maxLength, out double rate);
                return steadyOne > rate ? (1, steadyOne) : (length, rate);
            }

            (int ceilingLength, double bestRate) = Best(new MeasuredAcceptance(pooled));
            (string, double, int)? givenCeiling = null;
            if (GivenAcceptance is { } ga)
            {
                (int length, double rate) = Best(new MeasuredAcceptance(ga.Counts));
                givenCeiling = (ga.Source, ddpmStep * rate, length);
            }

            // The same cost model on a machine-made curve: every call at the larger of its two physical bounds (the
            // weights streamed once, B rows at the FMA peak), nothing else. What ASD could gain with this acceptance
            // if the engine ran at the bounds: a goal above it needs more bandwidth or arithmetic than the machine has.
            (double, int)? boundsCeiling = null, givenBoundsCeiling = null;
            if (physics is not null)
            {
                BenchPhysics ph = physics;
                var bounds = new CostCurve([.. Enumerable.Range(1, Math.Clamp(MaxBatchRows, 2, 1 << 14)).Select(b => Math.Max(ph.StreamSeconds, ph.ComputeSeconds(b)))], Model.Name);
                var boundCost = new SpeculationCostModel.SharedCost(bounds, sharing);
                double boundStep = bounds.DdpmSeconds(sharing) / sharing;
                (double, int) AtBounds(MeasuredAcceptance acceptance)
                {
                    int length = SpeculationCostModel.BestLength(acceptance, boundCost, maxLength, out double rate);
                    return rate * boundStep > 1 ? (rate * boundStep, length) : (1, 1);
                }

                boundsCeiling = AtBounds(new MeasuredAcceptance(pooled));
                givenBoundsCeiling = GivenAcceptance is { } gb ? AtBounds(new MeasuredAcceptance(gb.Counts)) : null;
            }

            return new BenchReport
            {
                Machine = machine,
                Model = Model.Name,
                Steps = Steps,
                Chains = Chains,
                Threads = Request.Threads,
                Repeats = Repeats,
                CostCurve = curve,
                PredictionCurve = predicting,
                RetimedSizes = retiming?.Sizes ?? [],
                RetimedPasses = retiming?.Passes ?? 0,
                Results = results,
                Acceptance = pooled,
                // Against DDPM's step, so below 1 where even ASD's best L loses to DDPM (its bookkeeping on a model
                // whose call costs less than a microsecond).
                CeilingWallSpeedup = ddpmStep * bestRate,
                CeilingLength = ceilingLength,
                Quality = quality,
                Physics = physics,
                OnnxCostCurve = onnxCurve,
                SingleRowMode = samplers.Select(x => x.Sampler.Denoiser).OfType<Asd.Native.Backends.Onnx.OnnxRowParallelDenoiser>().FirstOrDefault()?.SingleRowMode,
                OneSampleMode = samplers.Select(x => x.Sampler.Denoiser).OfType<Asd.Native.Backends.Unet1d.Unet1dDenoiser>().FirstOrDefault()?.OneSampleMode,
                GivenAcceptanceCeiling = givenCeiling,
                CoreTransfer = CoreTransfer.Of(transferByRepeat),
                BoundsCeiling = boundsCeiling,
                GivenAcceptanceBoundsCeiling = givenBoundsCeiling,
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
