namespace Asd.Tests.Cli;

/// <summary>
/// What someone trying asd for the first time meets (issue 14, item 6): every mistake is one line on stderr, exit
/// code 2, naming the flag they typed. tests/cli/run.sh repeats the typo check on the published executable.
/// </summary>
public sealed class FirstUserEdgeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-edges-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static string OneLine(string err)
    {
        string[] lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got {lines.Length}:\n{err}");
        return lines[0];
    }

    [Theory]
    [InlineData("sample", "--step", "10", "--steps")]
    [InlineData("sample", "--spec-lens", "4", "--spec-len")]
    [InlineData("sample", "--sed", "3", "--seed")]
    [InlineData("bench", "--repeat", "3", "--repeats")]
    [InlineData("bench", "--spec-len", "4", "--spec-lens")]
    [InlineData("selftest", "--paht", "x", "--path")]
    public void AWrongFlagIsOneLineWithTheNearestFlag(string command, string typo, string value, string meant)
    {
        var (code, output, err) = Run(command, typo, value);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        string line = OneLine(err);
        Assert.StartsWith($"asd: error: unknown option '{typo}' for 'asd {command}' (did you mean {meant}?)", line, StringComparison.Ordinal);
        Assert.EndsWith($"see 'asd {command} --help'.", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("builtin:mixture", "--device", "cuda", "--device cuda: model 'builtin:mixture' runs on the CPU only (a device is chosen for ONNX models); use --device cpu or auto.")]
    [InlineData("builtin:policy", "--device", "CUDA", "--device CUDA: model 'builtin:policy' runs on the CPU only")]
    [InlineData("builtin:mixture", "--device", "gpu", "--device gpu: expected cpu, cuda or auto.")]
    [InlineData("builtin:mixture", "--row-parallel", "on", "--row-parallel on: model 'builtin:mixture' is not an ONNX model; the flag sets how an ONNX model (a .onnx file or a model folder) is run.")]
    [InlineData("builtin:mixture", "--batch-buckets", "on", "--batch-buckets on: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--cuda-graphs", "on", "--cuda-graphs on: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--onnx-sample", "x", "--onnx-sample: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--onnx-timestep", "t", "--onnx-timestep: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--onnx-cond", "c", "--onnx-cond: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--onnx-output", "y", "--onnx-output: model 'builtin:mixture' is not an ONNX model")]
    [InlineData("builtin:mixture", "--guidance-null", "zeros", "--guidance-null: model 'builtin:mixture' is not an ONNX model")]
    public void AFlagOnlyAnOnnxModelTakesIsRefusedOnAnyOtherNamingIt(string model, string flag, string value, string expected)
    {
        // They were ignored: --device cuda sampled on the CPU and said nothing (C and Python refused it).
        foreach (string command in new[] { "sample", "bench" })
        {
            string[] args = ["--model", model, flag, value, "--steps", "5"];
            var (code, output, err) = command == "sample" ? Run([command, .. args, "--no-plot"]) : Run([command, .. args]);
            Assert.Equal(2, code);
            Assert.Equal("", output);
            Assert.StartsWith($"asd: error: {expected}", OneLine(err), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--spec-len 4: --sampler ddpm takes no speculation length (it is ASD's).", "--sampler", "ddpm", "--spec-len", "4")]
    [InlineData("--spec-len auto: --sampler ddpm takes no speculation length", "--sampler", "ddpm", "--spec-len", "auto")]
    [InlineData("--recalibrate: only --spec-len auto measures a cost curve, and this run has a fixed length or none.", "--spec-len", "4", "--recalibrate")]
    [InlineData("--recalibrate: only --spec-len auto measures a cost curve", "--sampler", "ddpm", "--recalibrate")]
    [InlineData("--recalibrate: --cost-curve gives the curve, so none is measured.", "--cost-curve", "CURVE", "--recalibrate")]
    [InlineData("--vs-ddpm-repeats: this run makes no comparison with DDPM (give --vs-ddpm).", "--vs-ddpm-repeats", "3")]
    [InlineData("--vs-ddpm-repeats: this run makes no comparison with DDPM", "--sampler", "ddpm", "--vs-ddpm", "--vs-ddpm-repeats", "3")]
    [InlineData("--vs-ddpm-repeats: one request at a time pairs every request with DDPM's", "--vs-ddpm", "--one-by-one", "--vs-ddpm-repeats", "3")]
    [InlineData("--plot x.png and --no-plot: give one of them.", "--plot", "x.png", "--no-plot")]
    public void AFlagThisRunWouldNotUseIsRefusedNamingIt(string expected, params string[] flags)
    {
        // Each was ignored without a word (as --cost-curve beside a fixed length never was): a DDPM run with a length,
        // a recalibration that measured nothing, repeats of a comparison not made, a picture asked for and not drawn.
        string curve = Path.Combine(_dir, "curve.json");
        File.WriteAllText(curve, "{\"format\": \"asd-cost-curve\", \"version\": 1, \"model\": \"builtin:mixture\", \"row_overhead_seconds\": 0, \"seconds\": [1e-6, 2e-6]}");
        string[] args = ["sample", "--model", "builtin:mixture", "--steps", "5", .. flags.Select(f => f == "CURVE" ? curve : f)];
        var (code, output, err) = CliRun.Run(args); // not Run: --no-plot is one of the flags under test
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"asd: error: {expected}", OneLine(err), StringComparison.Ordinal);
    }

    /// <summary>
    /// The pictures are PNG images: a --plot name with another extension (or none) is refused before the run, naming the
    /// flag; `--plot x.svg` had written PNG bytes under an SVG name. The control: the same run with .PNG (any case) draws.
    /// </summary>
    [Theory]
    [InlineData("sample", "x.svg")]
    [InlineData("sample", "x.png.txt")]
    [InlineData("sample", "picture")]
    [InlineData("bench", "bars.jpg")]
    public void APlotNameNotEndingInPngIsRefused(string command, string name)
    {
        string path = Path.Combine(_dir, name);
        string[] rest = command == "sample" ? ["--steps", "5"] : ["--steps", "5", "--repeats", "1", "--spec-lens", "2"];
        var (code, output, err) = CliRun.Run([command, "--model", "builtin:mixture", .. rest, "--plot", path]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"asd: error: --plot {path}: the picture is a PNG image; give a file name ending in .png.", OneLine(err), StringComparison.Ordinal);
        Assert.False(File.Exists(path));

        string png = Path.ChangeExtension(path, ".PNG");
        (code, _, err) = CliRun.Run([command, "--model", "builtin:mixture", .. rest, "--plot", png]);
        Assert.True(code == 0, err);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
    }

    /// <summary>
    /// Samples are written as a float32 .npy: an --out name with another extension is refused before the run (asd
    /// sample) or the merge (asd merge), naming the flag; `--out x.csv` had written .npy bytes under a CSV name.
    /// </summary>
    [Theory]
    [InlineData("sample", "x.csv", "the samples are a float32 .npy array")]
    [InlineData("sample", "samples", "the samples are a float32 .npy array")]
    [InlineData("merge", "all.bin", "the merged samples are a float32 .npy array")]
    public void AnOutNameNotEndingInNpyIsRefused(string command, string name, string what)
    {
        string path = Path.Combine(_dir, name), shard = Path.Combine(_dir, "shard.npy");
        string[] sample = ["sample", "--model", "builtin:mixture", "--steps", "5", "--no-plot", "--out"];
        if (command == "merge")
        {
            var (made, _, madeErr) = CliRun.Run([.. sample, shard]); // a shard to merge: the refusal is of the name alone
            Assert.True(made == 0, madeErr);
        }

        var (code, output, err) = CliRun.Run(command == "sample" ? [.. sample, path] : ["merge", shard, "--out", path]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"asd: error: --out {path}: {what}; give a file name ending in .npy.", OneLine(err), StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("10001")] // a study of hours, run without a word
    public void VsDdpmRepeatsOutsideTheirRangeAreRefused(string pairs)
    {
        var (code, output, err) = CliRun.Run(["sample", "--model", "builtin:mixture", "--steps", "5", "--vs-ddpm", "--one-by-one", "false", "--vs-ddpm-repeats", pairs, "--no-plot"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"asd: error: --vs-ddpm-repeats must be from 1 to 10000 (got {pairs}).", OneLine(err), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--stats X.npy: the same file as --out X.npy;", "sample", "--out", "X.npy", "--stats", "X.npy", "--no-plot")]
    [InlineData("--stats X.npy.json: the same file as the manifest X.npy.json that --out X.npy writes;", "sample", "--out", "X.npy", "--stats", "X.npy.json", "--no-plot")]
    [InlineData("--plot X.npy: the same file as --out X.npy;", "sample", "--out", "X.npy", "--plot", "X.npy")]
    [InlineData("--plot X.json: the same file as --stats X.json;", "sample", "--stats", "X.json", "--plot", "X.json")]
    [InlineData("--json X.json: the same file as --plot X.json;", "bench", "--plot", "X.json", "--json", "X.json", "--repeats", "1")]
    [InlineData("--json X.json: the same file as --save-cost-curve X.json;", "bench", "--save-cost-curve", "X.json", "--json", "X.json", "--repeats", "1")]
    public void TwoOutputsNamingOneFileAreRefusedBeforeTheRun(string expected, string command, params string[] flags)
    {
        // The later write replaced the earlier: --out x.npy --plot x.npy left a PNG named x.npy and no samples.
        string X(string f) => f.StartsWith("X.", StringComparison.Ordinal) ? Path.Combine(_dir, "x." + f[2..]) : f;
        string[] args = [command, "--model", "builtin:mixture", "--steps", "5", .. flags.Select(X)];
        var (code, output, err) = CliRun.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"asd: error: {expected.Replace("X.", Path.Combine(_dir, "x."), StringComparison.Ordinal)} one would replace the other. Give each output its own name.", OneLine(err), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir)); // refused before the run: nothing written
    }

    [Theory]
    [InlineData("--sampler", "ddpm", "--no-plot")]
    [InlineData("--recalibrate", "--no-plot")]
    [InlineData("--recalibrate", "false", "--spec-len", "4", "--no-plot")]
    [InlineData("--vs-ddpm", "--one-by-one", "false", "--vs-ddpm-repeats", "2", "--no-plot")]
    [InlineData("--spec-len", "4", "--vs-ddpm", "--vs-ddpm-repeats", "2", "--no-plot")]
    public void TheSameFlagsWhereTheRunUsesThemSample(params string[] flags)
    {
        var (code, output, err) = CliRun.Run(["sample", "--model", "builtin:mixture", "--steps", "5", "--samples", "2", .. flags]);
        Assert.True(code == 0, err);
        Assert.Contains("sequential model calls per chain", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--device", "auto")]
    [InlineData("--device", "cpu")]
    [InlineData("--row-parallel", "off")]
    [InlineData("--batch-buckets", "off")]
    [InlineData("--onnx-native", "on")]
    public void SettingsThatHoldForAnyModelStillSampleABuiltin(string flag, string value)
    {
        // Control: what a built-in does anyway (the CPU, no ONNX Runtime; --onnx-native on asks for asd's engine) passes.
        var (code, output, err) = Run("sample", "--model", "builtin:mixture", flag, value, "--steps", "5", "--samples", "2", "--no-plot");
        Assert.True(code == 0, err);
        Assert.Contains("sequential model calls per chain", output, StringComparison.Ordinal);
    }

    [Fact]
    public void AChainRangePastTheLastIdSaysWhereItMustEnd()
    {
        // The range's end (offset + samples) is a 64-bit id in a shard's manifest, so the last usable id is 2^64 - 2;
        // the line had said "chain ids past 2^64 - 1", one off from the limit it gave.
        var (code, _, err) = Run("sample", "--model", "builtin:mixture", "--steps", "2", "--samples", "2", "--chain-offset", "18446744073709551614");
        Assert.Equal(2, code);
        Assert.Equal("asd: error: --chain-offset 18446744073709551614 --samples 2: the run's chains [offset, offset + samples) must end by 2^64 - 1 (a shard records its end as a 64-bit id; ids that wrapped would repeat another shard's chains); at most 18446744073709551613 for 2 samples.", OneLine(err));
        var (ok, _, okErr) = Run("sample", "--model", "builtin:mixture", "--steps", "2", "--samples", "2", "--chain-offset", "18446744073709551613");
        Assert.True(ok == 0, okErr);
    }

    [Fact]
    public void AFlagWithNothingNearGetsNoGuess()
    {
        var (code, _, err) = Run("info", "--jsn");
        Assert.Equal(2, code);
        Assert.Equal("asd: error: unknown option '--jsn' for 'asd info'; see 'asd info --help'.", OneLine(err));
    }

    [Fact]
    public void AWrongCommandIsOneLineWithTheNearestCommand()
    {
        var (code, _, err) = Run("smaple");
        Assert.Equal(2, code);
        Assert.StartsWith("asd: error: unknown command 'smaple' (did you mean sample?)", OneLine(err), StringComparison.Ordinal);
    }

    [Fact]
    public void AValueOfTheWrongTypeIsOneLine()
    {
        var (code, _, err) = Run("sample", "--steps", "ten");
        Assert.Equal(2, code);
        string line = OneLine(err);
        Assert.Contains("'ten'", line, StringComparison.Ordinal);
        Assert.Contains("--steps", line, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpStillPrintsHelp()
    {
        var (code, output, _) = Run("sample", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--spec-len", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("4,eight")]
    [InlineData("infinity")]
    public void BenchSpecLensErrorsNameTheFlagTyped(string lengths)
    {
        var (code, _, err) = Run("bench", "--model", "builtin:mixture", "--steps", "5", "--repeats", "1", "--spec-lens", lengths);
        Assert.Equal(2, code);
        Assert.StartsWith("asd: error: --spec-lens ", OneLine(err), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sample", "--out")]
    [InlineData("sample", "--stats")]
    [InlineData("sample", "--plot")]
    [InlineData("bench", "--json")]
    public void AnOutputThatIsAFolderSaysSo(string command, string flag)
    {
        var (code, output, err) = Run(command, "--model", "builtin:mixture", "--steps", "5", flag, _dir);
        Assert.Equal(2, code);
        Assert.Equal($"asd: error: {flag} {_dir}: is a folder; give a file name.", OneLine(err));
        Assert.DoesNotContain("Is a directory", err, StringComparison.Ordinal);
        Assert.DoesNotContain("sequential model calls", output, StringComparison.Ordinal); // checked before any run
    }

    [Fact]
    public void AnOutWhoseManifestNameIsAFolderSaysSoBeforeSampling()
    {
        // The .npy and its manifest land together (AtomicFile.CommitTogether); a manifest that could not land was found
        // only after the whole run.
        string outPath = Path.Combine(_dir, "x.npy");
        Directory.CreateDirectory(outPath + ".json");
        var (code, output, err) = Run("sample", "--model", "builtin:mixture", "--steps", "5", "--out", outPath);
        Assert.Equal(2, code);
        Assert.Equal($"asd: error: --out {outPath}: its manifest {outPath}.json is a folder; move it or give another name.", OneLine(err));
        Assert.DoesNotContain("sequential model calls", output, StringComparison.Ordinal);
        Assert.False(File.Exists(outPath));
    }
}
