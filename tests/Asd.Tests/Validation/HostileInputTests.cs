using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text;
using Asd.Cli.Commands;
using Asd.Fuzz;
using Asd.Native.Validation;

namespace Asd.Tests.Validation;

/// <summary>
/// Issue 13's reproducers, one test each: hostile model files, specs and arguments get the documented exception
/// (InvalidDataException for a bad model file, ArgumentException for a bad argument or spec, FileNotFoundException
/// for a missing file) with a message that names the field, quickly, and never an overflow, a raw parser exception,
/// a hang on a device or an allocation sized by the input.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A copy of the mlp_small fixture in a fresh folder, with <paramref name="edit"/> applied to its JSON.</summary>
    private string MlpModelWith(Action<JsonObject> edit, string folder = "model")
    {
        string dir = Path.Combine(_dir, folder);
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine("fixtures", "mlp_small", "mlp_small.safetensors"), Path.Combine(dir, "m.safetensors"), overwrite: true);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine("fixtures", "mlp_small", "mlp_small.json")))!.AsObject();
        edit(json);
        string path = Path.Combine(dir, "m.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private static T Fast<T>(Func<T> call, double seconds = 20)
    {
        var watch = Stopwatch.StartNew();
        T result = call();
        Assert.True(watch.Elapsed.TotalSeconds < seconds, $"took {watch.Elapsed.TotalSeconds:F1} s (a hang guard, not a benchmark)");
        return result;
    }

    private static string Rejected<TException>(Action call)
        where TException : Exception
    {
        var watch = Stopwatch.StartNew();
        TException e = Assert.Throws<TException>(call);
        Assert.True(watch.Elapsed.TotalSeconds < 20, $"the rejection took {watch.Elapsed.TotalSeconds:F1} s");
        Assert.DoesNotContain('\n', e.Message.TrimEnd());
        return e.Message;
    }

    /// <summary>The rows of fixtures/hostile-inputs.tsv: check, a TAB, the input as a JSON string, a TAB, the expected message substring.</summary>
    private static IReadOnlyList<(string Check, string Input, string Expected)> Rows() =>
        [.. File.ReadLines(Path.Combine(AppContext.BaseDirectory, "fixtures", "hostile-inputs.tsv"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('\t') is [string check, string input, string expected] && check.Length > 0 && expected.Length > 0
                ? (check, JsonNode.Parse(input)!.GetValue<string>(), expected)
                : throw new InvalidDataException($"hostile-inputs.tsv: '{line}' is not CHECK<TAB>\"INPUT\"<TAB>MESSAGE"))];

    /// <summary>The hostile inputs a check takes, with the substring each one's error must contain.</summary>
    public static TheoryData<string, string> Cases(string check)
    {
        var data = new TheoryData<string, string>();
        foreach ((string _, string input, string expected) in Rows().Where(r => r.Check == check))
        {
            data.Add(input, expected);
        }

        return data;
    }

    /// <summary>Every row of the manifest names a check some test takes its cases from, so no row goes untested.</summary>
    [Fact]
    public void EveryRowBelongsToACheck()
    {
        HashSet<string> checks = [.. typeof(HostileInputTests).GetMethods()
            .SelectMany(m => m.GetCustomAttributes(typeof(MemberDataAttribute), false).Cast<MemberDataAttribute>())
            .Where(a => a.MemberName == nameof(Cases))
            .Select(a => (string)a.Parameters[0])];
        Assert.NotEmpty(checks);
        Assert.All(Rows(), r => Assert.Contains(r.Check, checks));
        Assert.All(checks, c => Assert.Contains(Rows(), r => r.Check == c));
    }

    // ---------------------------------------------------------------- item 2: files outside the model's folder

    [Theory]
    [MemberData(nameof(Cases), "weights")]
    public void WeightsMustBeARelativePathInsideTheFolder(string weights, string expected)
    {
        string json = MlpModelWith(j => j["weights"] = weights);
        string message = Rejected<InvalidDataException>(() => MlpModel.Load(json));
        Assert.Contains("\"weights\"", message);
        Assert.Contains(expected, message);
    }

    [Theory]
    [InlineData("/dev/urandom")]
    [InlineData("/dev/zero")]
    public void ASymbolicLinkToADeviceIsRefusedWithoutReadingIt(string device)
    {
        string json = MlpModelWith(j => j["weights"] = "w.safetensors");
        File.CreateSymbolicLink(Path.Combine(Path.GetDirectoryName(json)!, "w.safetensors"), device);
        string message = Rejected<InvalidDataException>(() => MlpModel.Load(json));
        Assert.Contains("outside the model's folder", message);
    }

    [Fact]
    public void AFolderModelWhoseModelOnnxLinksOutsideItIsRefusedNamingItOnce()
    {
        // It read "DIR/model.onnx: "model.onnx" 'model.onnx' resolves ...": the folder's own file named three times.
        string folder = Path.Combine(_dir, "linked");
        Directory.CreateDirectory(folder);
        string target = Path.Combine(_dir, "elsewhere.onnx");
        File.WriteAllBytes(target, [0]);
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), target);
        string message = Rejected<InvalidDataException>(() => ModelCatalog.Open(folder).Dispose());
        Assert.Equal($"{Path.Combine(folder, "model.onnx")} resolves (through a symbolic link) to '{target}', outside the model's folder '{folder}'.", message);
    }

    [Fact]
    public void ASymbolicLinkThatStaysInsideTheFolderIsFollowed()
    {
        string json = MlpModelWith(j => j["weights"] = "link.safetensors");
        File.CreateSymbolicLink(Path.Combine(Path.GetDirectoryName(json)!, "link.safetensors"), "m.safetensors");
        Assert.Equal(6, MlpModel.Load(json).SampleSize);
    }

    [Fact]
    public void AFifoInsideTheFolderIsRefusedWithoutWaitingForAWriter()
    {
        string json = MlpModelWith(j => j["weights"] = "fifo.safetensors");
        string fifo = Path.Combine(Path.GetDirectoryName(json)!, "fifo.safetensors");
        using (Process mk = Process.Start("mkfifo", fifo)!)
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        Assert.Contains("is a FIFO, not a regular file", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
    }

    [Fact]
    public void DevicesAndFoldersAreNotReadAsModelOrArgumentFiles()
    {
        Assert.Contains("a character device", Rejected<InvalidDataException>(() => ModelFiles.ReadAllBytes("/dev/zero", "--cond", ResourceLimits.MaxNpyBytes)));
        Assert.Contains("is a folder", Rejected<InvalidDataException>(() => ModelFiles.ReadAllBytes(_dir, "--cond", ResourceLimits.MaxNpyBytes)));
        string big = Path.Combine(_dir, "big.json");
        File.WriteAllBytes(big, new byte[ResourceLimits.MaxJsonBytes + 1]);
        Assert.Contains("the limit is", Rejected<InvalidDataException>(() => CostCurve.Load(big)));
    }

    /// <summary>A copy of the small_local asd-unet1d fixture (JSON and weights) in a fresh folder, its JSON text edited.</summary>
    private string Unet1dModelWith(Func<string, string> edit, string folder = "unet1d")
    {
        string dir = Path.Combine(_dir, folder);
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine("fixtures", "unet1d", "small_local.safetensors"), Path.Combine(dir, "u.safetensors"), overwrite: true);
        string path = Path.Combine(dir, "u.json");
        File.WriteAllText(path, edit(File.ReadAllText(Path.Combine("fixtures", "unet1d", "small_local.json"))));
        return path;
    }

    [Fact]
    public void AnAsdUnet1dJsonIsReadAsStrictlyAsAnAsdMlpOne()
    {
        // The asd-unet1d loader parsed its JSON with the plain reader: a second "weights" key (or any key) won
        // silently, and the file was read whole whatever its size. It now reads through StrictJson as asd-mlp does.
        // The control: the unedited copy loads.
        using (IDiffusionModel control = ModelCatalog.Open(Unet1dModelWith(j => j, "control")))
        {
            Assert.IsType<Asd.Native.Backends.Unet1d.Unet1dModel>(control);
        }

        string twice = Unet1dModelWith(j => j.Replace("\"horizon\": 8,", "\"horizon\": 8, \"horizon\": 16,", StringComparison.Ordinal), "twice");
        Assert.Contains("\"horizon\": 16", File.ReadAllText(twice));
        string message = Rejected<InvalidDataException>(() => ModelCatalog.Open(twice));
        Assert.Contains("u.json", message);
        Assert.Contains("horizon", message);

        string big = Unet1dModelWith(j => j.Replace("\"version\": 1,", "\"version\": 1, \"source\": \"" + new string('x', (int)ResourceLimits.MaxJsonBytes) + "\",", StringComparison.Ordinal), "big");
        Assert.Contains("the limit is", Rejected<InvalidDataException>(() => Asd.Native.Backends.Unet1d.Unet1dModel.Load(big)));
    }

    [Fact]
    public async Task AFifoNamedLikeAModelIsRefusedWithoutWaitingForAWriter()
    {
        // ModelCatalog tells asd-unet1d from asd-mlp JSON by reading the file's "format": that read opened the file
        // as it was, and opening a FIFO blocks until a writer comes, so `asd sample --model fifo.json` hung before any
        // loader could refuse it. The call runs on a worker so that the old behaviour fails the test, not the run.
        string fifo = Path.Combine(_dir, "model.json");
        using (Process mk = Process.Start("mkfifo", fifo)!)
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        // WaitAsync throws TimeoutException (the test fails) when the open does not return.
        string message = await Task.Run(() => Assert.Throws<InvalidDataException>(() => ModelCatalog.Open(fifo)).Message).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Contains("is a FIFO, not a regular file", message);
    }

    // ---------------------------------------------------------------- item 4: bad input is never an internal error

    [Fact]
    public void AnOnnxPortsRowSizeNeverWrapsToAPlausibleCount()
    {
        // The product of an ONNX input's non-batch dimensions was an unchecked int: [B, 641, 6700417] (2^32 + 1
        // elements) came out as 1, as did two dynamic dimensions, so a guidance flag input of either shape passed
        // the check that it holds one value per row. Both are -1 now, which that check refuses.
        Assert.Equal(1, new Asd.Native.Backends.Onnx.OnnxPort("flag", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [-1, 1]).RowSize);
        Assert.Equal(16, new Asd.Native.Backends.Onnx.OnnxPort("x", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [-1, 4, 4]).RowSize);
        Assert.Equal(-1, new Asd.Native.Backends.Onnx.OnnxPort("flag", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [-1, 641, 6700417]).RowSize);
        Assert.Equal(-1, new Asd.Native.Backends.Onnx.OnnxPort("flag", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [-1, -1, -1]).RowSize);
    }

    [Fact]
    public void AHugeVersionIsAModelError()
    {
        string json = MlpModelWith(j => j["version"] = JsonNode.Parse("9223372036854775807"));
        Assert.Contains("\"version\" is 9223372036854775807", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
        json = MlpModelWith(j => j["version"] = JsonNode.Parse("1e400"), "model2");
        Assert.Contains("\"version\"", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
    }

    [Fact]
    public void InvalidUtf8InsideAJsonStringIsAModelError()
    {
        // Found by the mlp-json fuzz target (tools/fuzz/regressions): the JSON reader accepts the structure and the
        // string's bytes fail only when read, as an InvalidOperationException (ASD_ERR_INTERNAL through libasd).
        byte[] json = File.ReadAllBytes(Path.Combine("fixtures", "fuzz", "mlp-json", "invalid-utf8-in-string.json"));
        Assert.Contains("not valid UTF-8", Rejected<InvalidDataException>(() => MlpModel.Parse(json, File.ReadAllBytes(Path.Combine("fixtures", "mlp_small", "mlp_small.safetensors")), "fuzz.json")));
        string dir = Path.Combine(_dir, "utf8");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "m.json"), json);
        Assert.Contains("not valid UTF-8", Rejected<InvalidDataException>(() => MlpModel.Load(Path.Combine(dir, "m.json"))));
    }

    [Fact]
    public void EveryFuzzReproducerIsRejectedCleanly()
    {
        // Every input the fuzz campaigns found crashing (tools/fuzz/regressions/TARGET/*) is now accepted or rejected
        // with a documented exception, through the same target code the harness runs.
        string root = Path.Combine("fixtures", "fuzz");
        int files = 0;
        foreach (string dir in Directory.GetDirectories(root))
        {
            foreach (string file in Directory.GetFiles(dir))
            {
                files++;
                byte[] bytes = File.ReadAllBytes(file);
                try
                {
                    FuzzTargets.Run(Path.GetFileName(dir), bytes);
                }
                catch (Exception e) when (e is InvalidDataException || e.GetType() == typeof(ArgumentException))
                {
                }
            }
        }

        Assert.True(files > 0, "no reproducers found: the test would prove nothing");
    }

    [Fact]
    public void EveryByteMutantOfASchedulerConfigParsesOrIsAModelError()
    {
        byte[] good = File.ReadAllBytes(Path.Combine("fixtures", "onnx", "unet16", "scheduler_config.json"));
        var rng = new Random(13);
        int rejected = 0;
        for (int i = 0; i < 300; i++)
        {
            byte[] m = (byte[])good.Clone();
            int edits = 1 + rng.Next(3);
            for (int e = 0; e < edits; e++)
            {
                m[rng.Next(m.Length)] = (byte)"{}[]\":,0123456789.e-tfn \x00\xff"[rng.Next(24)];
            }

            try
            {
                SchedulerConfigJson.Parse(m, "scheduler_config.json");
            }
            catch (InvalidDataException e)
            {
                Assert.StartsWith("scheduler_config.json:", e.Message);
                rejected++;
            }
        }

        Assert.True(rejected > 100, $"only {rejected} of 300 mutants were rejected: the mutation does not test the error path");
    }

    [Fact]
    public void ABrokenSchedulerConfigInAModelFolderIsAModelError()
    {
        string dir = Path.Combine(_dir, "onnx");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine("fixtures", "onnx", "unet16", "model.onnx"), Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(dir, "scheduler_config.json"), "{\"num_train_timesteps\": 1000,,}");
        Assert.Contains("scheduler_config.json: not valid JSON", Rejected<InvalidDataException>(() => ModelCatalog.Open(dir)));
        File.WriteAllText(Path.Combine(dir, "scheduler_config.json"), "{\"num_train_timesteps\": 2147483647}");
        Assert.Contains("\"num_train_timesteps\" must be an integer from 1 to 100000", Rejected<InvalidDataException>(() => ModelCatalog.Open(dir)));
    }

    [Fact]
    public void AnOutOfRangeGuidanceClassIsRejectedAtOpen()
    {
        string dir = Path.Combine(_dir, "class");
        Directory.CreateDirectory(dir);
        foreach (string f in (string[])["model.onnx", "scheduler_config.json"])
        {
            File.Copy(Path.Combine("fixtures", "onnx", "unet16_class", f), Path.Combine(dir, f));
        }

        string asd = File.ReadAllText(Path.Combine("fixtures", "onnx", "unet16_class", "asd.json"));
        File.WriteAllText(Path.Combine(dir, "asd.json"), asd.Replace("\"class_id\": 3", "\"class_id\": 9", StringComparison.Ordinal));
        string message = Rejected<InvalidDataException>(() => ModelCatalog.Open(dir));
        Assert.Contains("guidance.null_cond [9] is not accepted by the model", message);
        File.WriteAllText(Path.Combine(dir, "asd.json"), asd.Replace("\"class_id\": 3", "\"class_id\": -1", StringComparison.Ordinal));
        Assert.Contains("\"guidance.null_cond.class_id\" must be an integer from 0", Rejected<InvalidDataException>(() => ModelCatalog.Open(dir)));
        // Given as a value, -1 was taken: the network's Gather read it as the last class (here the null class itself).
        File.WriteAllText(Path.Combine(dir, "asd.json"), asd.Replace("\"class_id\": 3", "\"value\": [-1]", StringComparison.Ordinal));
        Assert.Contains("guidance.null_cond [-1]: the input 'class_labels'", Rejected<InvalidDataException>(() => ModelCatalog.Open(dir)));
        Assert.Contains("takes integers from 0, not -1", Rejected<InvalidDataException>(() => ModelCatalog.Open(dir)));
        File.WriteAllText(Path.Combine(dir, "asd.json"), asd.Replace("\"class_id\": 3", "\"value\": [3]", StringComparison.Ordinal));
        using (ModelCatalog.Open(dir))
        {
        }

        File.WriteAllText(Path.Combine(dir, "asd.json"), asd);
        using IDisposable ok = ModelCatalog.Open(dir); // the fixture's own class 3 still opens
    }

    // ---------------------------------------------------------------- item 5: overflow never shows through

    [Theory]
    [InlineData("[100000, 100000]")]
    [InlineData("[4294967299, 2]")]
    [InlineData("[65536, 65536, 65536]")]
    public void HugeSampleShapesNameTheLimitNotAWrappedProduct(string shape)
    {
        string json = MlpModelWith(j => j["sample_shape"] = JsonNode.Parse(shape));
        string message = Rejected<InvalidDataException>(() => MlpModel.Load(json));
        Assert.Contains($"more than {ResourceLimits.MaxSampleSize} values per sample", message);
        Assert.DoesNotContain("1410065427", message);
        Assert.DoesNotContain("invalid format", message);
    }

    [Theory]
    [InlineData("cond_dim", "2147483647")]
    [InlineData("cond_dim", "-1")]
    public void HugeConditioningIsRejectedByName(string key, string value)
    {
        string json = MlpModelWith(j => j[key] = JsonNode.Parse(value));
        Assert.Contains("\"cond_dim\" must be an integer from 0 to 1048576", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
    }

    [Fact]
    public void HugeTrainStepsAreRejectedAtOpen()
    {
        string json = MlpModelWith(j => j["scheduler"] = JsonNode.Parse("{\"num_train_timesteps\": 2147483647}"));
        Assert.Contains("num_train_timesteps", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => new SchedulerConfig { NumTrainTimesteps = ResourceLimits.MaxTrainSteps + 1 }.Validate()).Message);
    }

    [Fact]
    public void ATensorUsedByTwoLayersIsRejected()
    {
        // Each reference is copied into float32: one tensor named by many layers would multiply memory without bound.
        string json = MlpModelWith(j =>
        {
            var layers = j["layers"]!.AsArray();
            layers.Add(layers[^1]!.DeepClone());
        });
        Assert.Contains("is used by two layers", Rejected<InvalidDataException>(() => MlpModel.Load(json)));
    }

    // ---------------------------------------------------------------- item 6: strict specs

    [Theory]
    [MemberData(nameof(Cases), "spec")]
    public void LooseSpecsAreRejected(string spec, string expected)
    {
        Assert.Contains(expected, Rejected<ArgumentException>(() => ModelCatalog.Open(spec)));
    }

    [Fact]
    public void TheLargestMixtureOpens()
    {
        using IDisposable m = ModelCatalog.Open($"builtin:mixture?dim={ModelCatalog.MaxMixtureDimension}");
    }

    // ---------------------------------------------------------------- item 3: threads and calibration

    [Theory]
    [InlineData(257)]
    [InlineData(65536)]
    [InlineData(-1)]
    public void ThreadCountsOutsideTheLimitAreRejected(int threads)
    {
        string message = Rejected<ArgumentException>(() => ModelCatalog.Open("builtin:mixture", new ModelOpenOptions { Threads = threads }));
        Assert.Contains($"threads = {threads} is out of range", message);
    }

    [Fact]
    public void CalibrationOfALargeModelStaysWithinItsBudget()
    {
        // builtin:mixture?dim=65536 took 71 s and 534 MB to calibrate inside sampler creation.
        using IDiffusionModel m = ModelCatalog.Open("builtin:mixture?dim=65536");
        var watch = Stopwatch.StartNew();
        using Sampler s = SamplerFactory.Create(m, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 10, Threads = 1, SpecLength = SpecLength.Auto, Calibration = new CalibrationLimits(0.5) });
        Assert.True(watch.Elapsed.TotalSeconds < 30, $"a 0.5 s calibration took {watch.Elapsed.TotalSeconds:F1} s");
        Assert.NotNull(((AsdSampler)s).CostCurve);
    }

    [Fact]
    public void CalibrationCanBeCancelledAndIsNotCachedThen()
    {
        using IDiffusionModel m = ModelCatalog.Open("builtin:mixture?dim=6");
        int calls = 0;
        var cancel = new SamplerRequest { Steps = 10, Threads = 1, SpecLength = SpecLength.Auto, Calibration = new CalibrationLimits(60, (done, planned) => ++calls < 5) };
        Assert.Throws<CalibrationCancelledException>(() => { SamplerFactory.Create(m, cancel).Dispose(); });
        Assert.Equal(5, calls);
        Assert.False(CostCurveCache.Contains(m, 1));
        using Sampler s = SamplerFactory.Create(m, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 10, Threads = 1, SpecLength = SpecLength.Auto, Calibration = new CalibrationLimits(1) });
        Assert.True(CostCurveCache.Contains(m, 1));
    }

    [Fact]
    public void SkippedCalibrationAssumesALinearCostAndMeasuresNothing()
    {
        using IDiffusionModel m = ModelCatalog.Open("builtin:mixture?dim=8");
        int calls = 0;
        using Sampler s = SamplerFactory.Create(m, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 10, Threads = 1, SpecLength = SpecLength.Auto, Calibration = new CalibrationLimits(-1, (_, _) => ++calls > 0) });
        Assert.Equal(0, calls);
        Assert.False(CostCurveCache.Contains(m, 1));
        CostCurve curve = ((AsdSampler)s).CostCurve!;
        Assert.Equal(8.0, curve.CallSeconds(8) / curve.CallSeconds(1), 9);
    }

    [Fact]
    public void AHugeMaxBatchRowsIsBoundedByTheBufferLimitAndKeepsTheBytes()
    {
        using IDiffusionModel m = ModelCatalog.Open("builtin:mixture?dim=4");
        float[] Run(int rows)
        {
            using Sampler s = SamplerFactory.Create(m, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 30, Threads = 1, SpecLength = SpecLength.Fixed(8), MaxBatchRows = rows });
            var x = new float[5 * 4];
            s.Sample(5, 3, x);
            return x;
        }

        Assert.Equal(Run(16), Fast(() => Run(int.MaxValue)));
    }

    // ---------------------------------------------------------------- parsers of arguments

    [Theory]
    [MemberData(nameof(Cases), "cond")]
    public void CondListsAreStrict(string text, string expected)
    {
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => SampleCommand.ReadConditioning(text, 4, 1)).Message);
    }

    [Theory]
    [MemberData(nameof(Cases), "npy-header")]
    public void MalformedNpyHeadersAreRejected(string header, string expected)
    {
        string padded = header.PadRight(118) + "\n";
        byte[] bytes = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)padded.Length, 0, .. Encoding.ASCII.GetBytes(padded), .. new byte[16]];
        Assert.Contains(expected, Rejected<InvalidDataException>(() => Npy.Parse(bytes, "x.npy")));
    }

    [Fact]
    public void SafetensorsHeadersAreCheckedBeforeTheData()
    {
        byte[] Make(string header, int data)
        {
            byte[] h = Encoding.UTF8.GetBytes(header);
            return [.. BitConverter.GetBytes((ulong)h.Length), .. h, .. new byte[data]];
        }

        Assert.Contains("appears twice", Rejected<InvalidDataException>(() => SafeTensorsFile.Parse(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "t")));
        Assert.Contains("spans", Rejected<InvalidDataException>(() => SafeTensorsFile.Parse(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536],\"data_offsets\":[0,4]}}", 4), "t")));
        Assert.Contains("truncated", Rejected<InvalidDataException>(() => SafeTensorsFile.Parse(Make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "t")));
        Assert.Contains("header claims", Rejected<InvalidDataException>(() => SafeTensorsFile.Parse([255, 255, 255, 255, 255, 255, 255, 255, 0], "t")));
    }

    // ---------------------------------------------------------------- item 7: the CLI checks output paths first

    [Theory]
    [InlineData("--out", "nodir/x.npy")]
    [InlineData("--plot", "nodir/p.png")]
    [InlineData("--stats", "nodir/s.json")]
    public void OutputPathsAreCheckedBeforeSamplingAndNoFolderIsCreated(string flag, string relative)
    {
        string path = Path.Combine(_dir, relative);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string[] args = ["sample", "--model", "builtin:mixture", "--steps", "1000", "--spec-len", "1", "--samples", "64", flag, path];
        int code = Fast(() => CliApp.Run(flag == "--plot" ? args : [.. args, "--no-plot"], stdout, stderr), 10);
        Assert.Equal(2, code);
        Assert.Contains($"{flag} {path}: the folder", stderr.ToString());
        Assert.DoesNotContain(".tmp", stderr.ToString());
        Assert.DoesNotContain("sequential model calls", stdout.ToString()); // nothing was sampled
        Assert.False(Directory.Exists(Path.Combine(_dir, "nodir")));
    }

    [Fact]
    public void AnOutputPathThatIsAFolderIsRejectedByFlag()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, CliApp.Run(["sample", "--model", "builtin:mixture", "--no-plot", "--out", _dir], new StringWriter(), stderr));
        Assert.Contains($"--out {_dir}: is a folder", stderr.ToString());
    }
}
