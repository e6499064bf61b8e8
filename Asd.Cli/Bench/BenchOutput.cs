using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Asd.Cli.Bench;

/// <summary>The three renderings of a <see cref="BenchReport"/>: terminal table, markdown and the fixed JSON schema.</summary>
internal static class BenchOutput
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    private static readonly string[] Header = ["setting", "sequential calls", "algorithmic speedup", "rows / step", "wall / sample", "wall speedup", "interval", "predicted"];

    private static string[] Cells(BenchResult r) =>
    [
        r.Setting.Label,
        r.MeanSequentialCalls.ToString("F1", Ci),
        r.AlgorithmicSpeedup.ToString("F2", Ci) + "x",
        r.MeanRowsPerStep.ToString("F2", Ci),
        FormatSeconds(r.MedianWall),
        r.WallSpeedup.ToString("F2", Ci) + "x",
        r.Setting.Sampler == "ddpm" || r.Gain.Pairs == 0 ? "" : string.Create(Ci, $"{r.Gain.Low:F2}-{r.Gain.High:F2} ({r.Gain.Coverage:0%})"),
        double.IsNaN(r.PredictedSpeedup) ? "" : r.PredictedSpeedup.ToString("F2", Ci) + "x",
    ];

    /// <summary>DDPM's back-to-back call where the calibration timed it (CostCurve.DdpmCallSeconds), for the curve's line.</summary>
    private static string DdpmCall(CostCurve curve) =>
        double.IsNaN(curve.DdpmCallSeconds) ? "" : string.Create(Ci, $" DDPM's call, one row right after another, {FormatSeconds(curve.DdpmCallSeconds)};");

    public static string FormatSeconds(double s) => s >= 1 ? s.ToString("F2", Ci) + " s" : s >= 1e-3 ? (s * 1e3).ToString("F2", Ci) + " ms" : (s * 1e6).ToString("F1", Ci) + " us";

    /// <summary>A plain-text table for the terminal, plus the ceiling and the lines a reader looks for.</summary>
    public static void WriteTable(TextWriter o, BenchReport report)
    {
        o.WriteLine(string.Create(Ci, $"machine    {report.Machine}"));
        o.WriteLine(string.Create(Ci, $"model      {report.Model}  K={report.Steps}  chains={report.Chains}  threads={report.Threads}  repeats={report.Repeats} (interleaved, warm-up excluded; medians)"));
        if (report.Quality is { } q)
        {
            o.WriteLine($"quality    {q}");
        }

        o.WriteLine("cost curve T(B)/T(1)  " + string.Join("  ", CurvePoints(report.CostCurve).Select(p => string.Create(Ci, $"{p.Rows}:{p.Ratio:F2}")))
            + string.Create(Ci, $"   (T(1) = {FormatSeconds(report.CostCurve.Seconds(1))}: model call {FormatSeconds(report.CostCurve.CallSeconds(1))} + sampler {FormatSeconds(report.CostCurve.CallOverheadSeconds)} per call and {FormatSeconds(report.CostCurve.RowOverheadSeconds)} per row;{DdpmCall(report.CostCurve)} non-decreasing fit of lower-quartile timings, call-to-call spread {(double.IsNaN(report.CostCurve.Noise) ? "unknown (given curve)" : report.CostCurve.Noise.ToString("P0", Ci))})"));
        if (report.OnnxCostCurve is { } ort)
        {
            o.WriteLine("ONNX Runtime T(B)/T(1)  " + string.Join("  ", CurvePoints(ort).Select(p => string.Create(Ci, $"{p.Rows}:{p.Ratio:F2}")))
                + string.Create(Ci, $"   (T(1) = {FormatSeconds(ort.CallSeconds(1))}, {ort.CallSeconds(1) / report.CostCurve.CallSeconds(1):F2}x the engine's)"));
        }

        o.WriteLine("wall speedup: DDPM's median time over the setting's; interval: of the median of per-repeat paired ratios (distribution-free, its coverage in brackets); predicted: the cost model's speedup for that L from T(B) and that L's own acceptance");
        var rows = report.Results.Select(Cells).ToList();
        int[] widths = [.. Enumerable.Range(0, Header.Length).Select(c => Math.Max(Header[c].Length, rows.Max(r => r[c].Length)))];
        string Line(string[] cells) => string.Join("  ", cells.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c])));
        o.WriteLine();
        o.WriteLine(Line(Header));
        o.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (string[] r in rows)
        {
            o.WriteLine(Line(r));
        }

        o.WriteLine();
        foreach (string line in Findings(report))
        {
            o.WriteLine(line);
        }
    }

    /// <summary>The same table as GitHub markdown, with the machine named.</summary>
    public static void WriteMarkdown(TextWriter o, BenchReport report)
    {
        o.WriteLine(string.Create(Ci, $"`{report.Model}`, K = {report.Steps}, {report.Chains} chain(s), {report.Threads} thread(s), median of {report.Repeats} interleaved repeats; machine: {report.Machine}."));
        o.WriteLine();
        o.WriteLine("| " + string.Join(" | ", Header) + " |");
        o.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---:|", Header.Length - 1)));
        foreach (BenchResult r in report.Results)
        {
            o.WriteLine("| " + string.Join(" | ", Cells(r)) + " |");
        }

        o.WriteLine();
        foreach (string line in Findings(report))
        {
            o.WriteLine(line + "  ");
        }
    }

    private static IEnumerable<string> Findings(BenchReport report)
    {
        if (report.Physics is { } ph && report.Find("ddpm", "-") is { } ddpm)
        {
            double call = report.SecondsPerCall(ddpm);
            yield return string.Create(Ci, $"bounds: {ph.WeightBytes / 1e6:F1} MB of {ph.Precision} weights per call at {ph.ReadBandwidth / 1e9:F1} GB/s (read bandwidth, {report.Threads} thread(s), {MachineLimits.ProbeBytes >> 20} MB{(ph.ReadBandwidthProbes > 0 ? string.Create(Ci, $"; median of {ph.ReadBandwidthProbes} probes between the repeats, {ph.ReadBandwidthLow / 1e9:F1}-{ph.ReadBandwidthHigh / 1e9:F1}") : "")}) = {FormatSeconds(ph.StreamSeconds)}; {ph.FlopsPerSample / 1e6:F1} MFLOP per row at {ph.FmaPeak / 1e9:F0} GFLOP/s (FMA peak, the best of the probes before and between the repeats) = {FormatSeconds(ph.ComputeSeconds(1))} per row");
            yield return string.Create(Ci, $"DDPM per call ({report.Chains} row(s)): {FormatSeconds(call)} = {call / ph.StreamSeconds:F2}x the weight-stream bound");
            if (report.Find("ddpm-onnxruntime", "-") is { } ortDdpm)
            {
                yield return string.Create(Ci, $"DDPM per call through ONNX Runtime CPU: {FormatSeconds(report.SecondsPerCall(ortDdpm))}: the engine is {report.SecondsPerCall(ortDdpm) / call:F2}x faster");
            }
        }

        if (report.SingleRowMode is { } single)
        {
            yield return $"row-parallel: calls of one row run on {single}";
        }

        if (report.OneSampleMode is { } oneSample)
        {
            yield return $"ConditionalUnet1D: one-sample calls run on {oneSample}";
        }

        if (report.RetimedPasses > 0)
        {
            CostCurve p = report.PredictionCurve;
            yield return string.Create(Ci, $"T(B) for the predictions, timed again before every repeat ({report.RetimedPasses} passes of {CostCurve.Retiming.BlockCalls} calls per size back to back, the median of the passes' means): {string.Join("  ", report.RetimedSizes.Select(b => string.Create(Ci, $"{b}: {FormatSeconds(p.CallSeconds(b))}")))}; DDPM's call back to back {FormatSeconds(p.DdpmCallSeconds)}; beyond {report.RetimedSizes[^1]} rows the calibration's shape");
        }

        yield return string.Create(Ci, $"cost-model ceiling: {report.CeilingWallSpeedup:F2}x wall-clock (at L = {report.CeilingLength}, from the fitted T(B), DDPM's step and acceptance by position)");
        if (report.GivenAcceptanceCeiling is { } g)
        {
            yield return string.Create(Ci, $"cost-model ceiling with the acceptance by position of {g.Source}: {g.Speedup:F2}x wall-clock (at L = {g.Length}, this run's T(B)/T(1))");
        }

        if (report.BoundsCeiling is { } b)
        {
            // Weights that stay in cache stream faster than the memory probe reads, and a cheaper one-row call only
            // lowers this ceiling (the B-row calls' arithmetic weighs more against it): say so where DDPM's call shows it.
            double? ddpmCall = report.Find("ddpm", "-") is { } d ? report.SecondsPerCall(d) : null;
            string cached = report.Physics is { } p && ddpmCall < p.StreamSeconds
                ? string.Create(Ci, $"; an upper estimate here: DDPM's call took {ddpmCall / p.StreamSeconds:F2}x the weight-stream bound, its weights read from cache, whose faster stream only lowers this ceiling")
                : "";
            yield return string.Create(Ci, $"ceiling at the bounds: {b.Speedup:F2}x wall-clock (at L = {b.Length}; the cost model with every call of B rows at the larger of the weight-stream bound and B rows at the FMA peak, nothing else){(report.GivenAcceptanceBoundsCeiling is { } gb ? string.Create(Ci, $"; with the acceptance of {report.GivenAcceptanceCeiling?.Source}: {gb.Speedup:F2}x (at L = {gb.Length})") : "")}{cached}");
        }

        BenchResult[] predicted = [.. report.Results.Where(r => !double.IsNaN(r.PredictedSpeedup))];
        if (predicted.Length > 0)
        {
            double worst = predicted.Max(r => Math.Abs((r.PredictedSpeedup / r.WallSpeedup) - 1));
            yield return string.Create(Ci, $"cost model: predicted / measured wall speedup per fixed L: {string.Join("  ", predicted.Select(r => $"L={r.Setting.SpecLen} {r.PredictedSpeedup / r.WallSpeedup:F2}"))} (largest gap {worst:0%})");
        }

        if (report.Find(BenchRunner.ControlSampler, "-") is { } control)
        {
            yield return string.Create(Ci, $"measurement noise (A/A control, a second DDPM sampler timed the same way): DDPM over the control {control.Gain}; median-time ratio {control.WallSpeedup:F2}x");
        }

        if (report.CoreTransfer is { } ct)
        {
            yield return string.Create(Ci, $"core-to-core: a cache line moved between two of the bench's threads in {ct.MedianSeconds * 1e9:F0} ns (median of {ct.Probes} probes before and between the repeats; {ct.LowSeconds * 1e9:F0}-{ct.HighSeconds * 1e9:F0} ns){(ct.Moved ? "; the threads' placement changed during the bench (a VM's hypervisor moving its vCPUs), and multi-threaded calls can change speed with it" : "")}");
            if (ct.Moved && report.Find("ddpm", "-") is { } byDdpm)
            {
                // Each placement's own numbers: a median over repeats of both kinds describes neither (unet28's DDPM
                // took 117-121 ms a request in one core complex and 180-186 across two; README, "Flat batch cost").
                BenchResult? byAuto = report.Find("asd", "auto");
                string Placed(bool near)
                {
                    int[] reps = [.. ct.RepeatsPlaced(near)];
                    if (reps.Length == 0)
                    {
                        return string.Create(Ci, $"no repeat {(near ? "below" : "above")} {ct.SplitSeconds * 1e9:F0} ns");
                    }

                    double ddpm = BenchResult.Median(reps.Select(r => byDdpm.WallPerSample[r - 1]));
                    string auto = byAuto is null ? "" : string.Create(Ci, $", ASD (auto) {BenchResult.Median(reps.Select(r => byDdpm.WallPerSample[r - 1] / byAuto.WallPerSample[r - 1])):F2}x");
                    return string.Create(Ci, $"{reps.Length} repeat(s) {(near ? "below" : "above")} {ct.SplitSeconds * 1e9:F0} ns: DDPM {FormatSeconds(ddpm)} per sample{auto}");
                }

                yield return $"by placement (the probe before each repeat; medians of the repeats, auto as the median of its per-repeat ratios to DDPM): {Placed(near: true)}; {Placed(near: false)}";
            }
        }

        if (report.Find("asd", "auto") is { } auto)
        {
            string chosen = string.Join(" ", auto.ChosenLengths.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}:{kv.Value}"));
            yield return auto.ShareOfLengthOne >= 0.97
                ? string.Create(Ci, $"ASD (auto) ran as DDPM (L = 1 in {auto.ShareOfLengthOne:0.#%} of rounds, the rest exploring): no speedup to report; wall-clock ratio {auto.Gain}; L chosen per round: {chosen}")
                : string.Create(Ci, $"ASD (auto): {auto.Gain} against DDPM, {auto.WallSpeedup / report.CeilingWallSpeedup:0%} of the ceiling; L chosen per round: {chosen}");
            BenchResult? bestFixed = report.Results.Where(r => r.Setting.Sampler == "asd" && r.Setting.SpecLen != "auto").MaxBy(r => r.WallSpeedup);
            if (bestFixed is not null)
            {
                yield return string.Create(Ci, $"best fixed L in this run: {bestFixed.Setting.SpecLen} ({bestFixed.WallSpeedup:F2}x); auto / best fixed = {auto.WallSpeedup / bestFixed.WallSpeedup:F2}");
            }

            if (report.Find("ddpm-onnxruntime", "-") is { } ort)
            {
                yield return string.Create(Ci, $"ASD (auto) against sequential DDPM through ONNX Runtime CPU: {ort.MedianWall / auto.MedianWall:F2}x faster");
            }
        }
    }

    /// <summary>Writes the JSON whose schema outside checks rely on (README, "asd bench"): <see cref="BenchJson"/>.</summary>
    public static void WriteJson(string path, BenchReport report)
    {
        BenchResult? auto = report.Find("asd", "auto");
        var json = new BenchJson(
            report.Machine,
            report.Model,
            report.Steps,
            report.CeilingWallSpeedup,
            [.. report.Results.Select(r => new BenchJsonRow(r.Setting.Sampler, r.Setting.SpecLen, r.MeanSequentialCalls, r.AlgorithmicSpeedup, r.MeanRowsPerStep, r.MedianWall, r.WallSpeedup))],
            report.Chains,
            report.Threads,
            report.Repeats,
            report.CeilingLength,
            report.CostCurve.RowOverheadSeconds,
            report.CostCurve.CallOverheadSeconds,
            double.IsNaN(report.CostCurve.DdpmRowOverheadSeconds) ? null : report.CostCurve.DdpmRowOverheadSeconds,
            double.IsNaN(report.CostCurve.Noise) ? null : report.CostCurve.Noise,
            [.. Enumerable.Range(1, report.CostCurve.MaxRows).Select(report.CostCurve.MeasuredCallSeconds)],
            auto is null ? null : new SortedDictionary<int, long>(auto.ChosenLengths),
            [.. report.Results.Select(r => r.Gain.Pairs == 0
                ? new BenchJsonInterval(1, 1, 1, r.Gain.Coverage, Predicted(r))
                : new BenchJsonInterval(r.Gain.Median, r.Gain.Low, r.Gain.High, r.Gain.Coverage, Predicted(r)))],
            [.. Enumerable.Range(1, report.CostCurve.MaxRows).Select(report.CostCurve.CallSeconds)],
            AcceptanceJson(report.Acceptance),
            report.Quality,
            report.Physics?.WeightBytes,
            report.Physics?.Precision,
            report.Physics?.FlopsPerSample,
            report.Physics?.ReadBandwidth,
            report.Physics?.ReadBandwidthLow,
            report.Physics?.ReadBandwidthHigh,
            report.Physics?.ReadBandwidthProbes,
            report.Physics?.FmaPeak,
            report.Physics?.StreamSeconds,
            report.GivenAcceptanceCeiling?.Source,
            report.GivenAcceptanceCeiling?.Speedup,
            report.GivenAcceptanceCeiling?.Length,
            report.OnnxCostCurve is { } ort ? [.. Enumerable.Range(1, ort.MaxRows).Select(ort.CallSeconds)] : null,
            double.IsNaN(report.CostCurve.DdpmCallSeconds) ? null : report.CostCurve.DdpmCallSeconds,
            [.. Enumerable.Range(1, report.PredictionCurve.MaxRows).Select(report.PredictionCurve.CallSeconds)],
            double.IsNaN(report.PredictionCurve.DdpmCallSeconds) ? null : report.PredictionCurve.DdpmCallSeconds,
            report.PredictionCurve.RowOverheadSeconds,
            report.PredictionCurve.CallOverheadSeconds,
            double.IsNaN(report.PredictionCurve.DdpmRowOverheadSeconds) ? null : report.PredictionCurve.DdpmRowOverheadSeconds,
            report.BoundsCeiling?.Speedup,
            report.BoundsCeiling?.Length,
            report.GivenAcceptanceBoundsCeiling?.Speedup,
            report.GivenAcceptanceBoundsCeiling?.Length,
            report.CoreTransfer?.MedianSeconds,
            report.CoreTransfer?.LowSeconds,
            report.CoreTransfer?.HighSeconds,
            report.CoreTransfer?.Probes,
            report.CoreTransfer is { } ct ? [.. ct.ByRepeatSeconds.Select(t => double.IsFinite(t) ? t : (double?)null)] : null);
        AtomicFile.WriteJson(path, w => JsonSerializer.Serialize(w, json, BenchJsonContext.Default.BenchJson));

        static double? Predicted(BenchResult r) => double.IsNaN(r.PredictedSpeedup) ? null : r.PredictedSpeedup;
    }

    /// <summary>"acceptance_by_position" as the stats JSON writes it (SamplingStats.WriteAcceptance: one schema for both, read back by --acceptance-from).</summary>
    private static JsonElement AcceptanceJson(IReadOnlyList<PositionAcceptance> acceptance)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            SamplingStats.WriteAcceptance(w, acceptance);
            w.WriteEndObject();
        }

        using JsonDocument doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.GetProperty("acceptance_by_position").Clone();
    }

    /// <summary>The acceptance by position of an asd bench JSON (--acceptance-from).</summary>
    public static (string Source, IReadOnlyList<PositionAcceptance> Counts) ReadAcceptance(string path)
    {
        // Counts checked field by field here, so that a bad one is named with the option, its file and its field (the
        // cost model's own check, later, names neither).
        string source = $"--acceptance-from {path}";
        byte[] bytes;
        try
        {
            bytes = Asd.Native.IO.ModelFiles.ReadAllBytes(path, "--acceptance-from", Asd.Native.Validation.ResourceLimits.MaxJsonBytes);
        }
        catch (IOException e)
        {
            throw new ArgumentException(e is FileNotFoundException or DirectoryNotFoundException ? $"{source}: no such file." : $"{source}: {e.Message}", e);
        }

        using JsonDocument doc = Asd.Native.IO.StrictJson.Parse(bytes, source);
        JsonElement root = Asd.Native.IO.StrictJson.Object(doc, source);
        IReadOnlyList<PositionAcceptance> counts = Asd.Native.IO.ShardStats.ReadAcceptance(
            root.TryGetProperty("acceptance_by_position", out JsonElement list) ? list : default, "acceptance_by_position", source);
        string model = root.TryGetProperty("model", out JsonElement m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : path;
        return (model, counts);
    }

    /// <summary>A grouped bar chart: wall-clock and algorithmic speedup per setting, with the ceiling.</summary>
    public static void WritePlot(string path, BenchReport report)
    {
        BenchResult[] rows = [.. report.Results];
        Plotting.Plots.Bars(
            path,
            string.Create(Ci, $"asd bench: {report.Model}, K = {report.Steps}, {report.Threads} thread(s)"),
            report.Machine,
            [.. rows.Select(r => r.Setting.ShortLabel)],
            [("wall-clock speedup", [.. rows.Select(r => r.WallSpeedup)]), ("algorithmic speedup", [.. rows.Select(r => r.AlgorithmicSpeedup)])],
            "speedup over DDPM",
            (report.CeilingWallSpeedup, string.Create(Ci, $"cost-model ceiling {report.CeilingWallSpeedup:F2}x")));
    }

    private static IEnumerable<(int Rows, double Ratio)> CurvePoints(CostCurve curve)
    {
        foreach (int b in (int[])[1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64])
        {
            if (b <= curve.MaxRows)
            {
                yield return (b, curve.Ratio(b));
            }
        }
    }

    /// <summary>
    /// "CPU model (family, model, stepping), N logical cores, kernel path, OS/arch". The model name alone reads "AMD
    /// EPYC" on three cloud CPUs whose curves differ by up to 2x, so two outputs would look comparable when they are not;
    /// the text is the cost-curve cache's own key (<see cref="Asd.Native.Sampling.CostCurveKey.CpuModel()"/>).
    /// </summary>
    public static string DescribeMachine()
    {
        string cpu = Asd.Native.Sampling.CostCurveKey.CpuModel();
        var sb = new StringBuilder(cpu);
        sb.Append(Ci, $", {Environment.ProcessorCount} logical cores, {Asd.Simd.Isa.Name(Asd.Simd.Isa.Active)} kernels, {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}");
        return sb.ToString();
    }
}

/// <summary>
/// asd bench's JSON (--json), field for field in the order written, names in snake_case. The first five fields are
/// the fixed schema outside checks rely on (README, "asd bench"); the rest says how the numbers were taken. A null
/// field is left out: the noise of a given curve, auto's rounds per L without an auto setting, the bounds of a model
/// that does not stream its weights, the ceiling without --acceptance-from, ONNX Runtime's curve without
/// --vs-onnxruntime.
/// </summary>
/// <param name="Rows">One per setting, in the order run.</param>
/// <param name="CostCurveNoise">The call-to-call spread of the calibration.</param>
/// <param name="AutoRoundLengths">Rounds per L that auto ran over the timed repeats (tools/auto_stability.sh reads the dominant L).</param>
/// <param name="WallSpeedupIntervals">Per row of <paramref name="Rows"/>, in order: the paired-ratio interval and the cost model's prediction.</param>
internal sealed record BenchJson(
    string Machine,
    string Model,
    int Steps,
    double CeilingWallSpeedup,
    IReadOnlyList<BenchJsonRow> Rows,
    int Chains,
    int Threads,
    int Repeats,
    int CeilingSpecLen,
    double CostCurveRowOverheadSeconds,
    double CostCurveCallOverheadSeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? CostCurveDdpmRowOverheadSeconds,
    double? CostCurveNoise,
    double[] CostCurveSecondsMeasured,
    SortedDictionary<int, long>? AutoRoundLengths,
    IReadOnlyList<BenchJsonInterval> WallSpeedupIntervals,
    double[] CostCurveSeconds,
    JsonElement AcceptanceByPosition,
    string? Quality,
    long? WeightBytes,
    string? WeightPrecision,
    long? FlopsPerSample,
    double? ReadBandwidthBytesPerSecond,
    double? ReadBandwidthLowBytesPerSecond,
    double? ReadBandwidthHighBytesPerSecond,
    int? ReadBandwidthProbes,
    double? FmaPeakFlops,
    double? WeightStreamBoundSeconds,
    string? GivenAcceptanceSource,
    double? GivenAcceptanceCeilingWallSpeedup,
    int? GivenAcceptanceCeilingSpecLen,
    double[]? OnnxruntimeCostCurveSeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? CostCurveDdpmCallSeconds,
    double[] PredictionCostCurveSeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? PredictionDdpmCallSeconds,
    double PredictionRowOverheadSeconds,
    double PredictionCallOverheadSeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? PredictionDdpmRowOverheadSeconds,
    double? BoundsCeilingWallSpeedup,
    int? BoundsCeilingSpecLen,
    double? GivenAcceptanceBoundsCeilingWallSpeedup,
    int? GivenAcceptanceBoundsCeilingSpecLen,
    double? CoreTransferSeconds,
    double? CoreTransferLowSeconds,
    double? CoreTransferHighSeconds,
    int? CoreTransferProbes,
    double?[]? CoreTransferSecondsByRepeat);

/// <summary>One setting's row of <see cref="BenchJson.Rows"/>: means over the repeats, the wall time a median.</summary>
internal sealed record BenchJsonRow(string Sampler, string SpecLen, double SequentialModelCalls, double AlgorithmicSpeedup, double RowsPerStep, double WallSecondsPerSample, double WallSpeedup);

/// <summary>
/// One setting's paired-ratio interval (1, 1, 1 where no pairs were timed: DDPM against itself) and the cost model's
/// predicted wall speedup, written as null where there is none.
/// </summary>
internal sealed record BenchJsonInterval(double MedianRatio, double Low, double High, double Coverage, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? PredictedWallSpeedup);

/// <summary>The bench JSON's source-generated serializer (Native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchJson))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
