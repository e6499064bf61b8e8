using System.Text;
using Asd.Native.Backends.Unet1d;

namespace Asd.Tests.Denoising;

/// <summary>
/// ONNX exports of the ConditionalUnet1D run on the native engine (<see cref="Unet1dOnnx"/>): the weights and the
/// architecture taken from the graph give the asd-unet1d model's outputs; other graphs, the opt-out and ONNX Runtime's
/// own settings keep ONNX Runtime; a graph that cannot be taken over names the tensor and still runs; hostile bytes
/// give an <see cref="InvalidDataException"/> and nothing worse.
/// </summary>
[Collection(Simd.IsaCollection.Name)]
public sealed class Unet1dOnnxTests(ITestOutputHelper output)
{
    private static string Fixture(params string[] parts) => Unet1dTests.Fixture(parts);

    private static string PolicyOnnx => Path.Combine(AppContext.BaseDirectory, "unet-policy", "policy.onnx");

    /// <summary>Both models' denoiser outputs on the same seeded rows (timesteps from 0 to T - 1).</summary>
    private static (float[] A, float[] B) Outputs(IDiffusionModel a, IDiffusionModel b, int rows = 7)
    {
        var schedule = new DiffusionSchedule(a.DefaultScheduler);
        IDenoiser da = a.CreateDenoiser(schedule, new DenoiserOptions()), db = b.CreateDenoiser(schedule, new DenoiserOptions());
        var rng = new Random(15);
        int d = da.SampleSize, c = da.ConditionSize;
        float[] x = [.. Enumerable.Range(0, rows * d).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
        float[] cond = [.. Enumerable.Range(0, rows * c).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        int[] t = [.. Enumerable.Range(0, rows).Select(i => i == 0 ? 0 : i == 1 ? 99 : rng.Next(100))];
        var ya = new float[rows * d];
        var yb = new float[rows * d];
        da.Denoise(x, t, cond, ya);
        db.Denoise(x, t, cond, yb);
        (da as IDisposable)?.Dispose();
        (db as IDisposable)?.Dispose();
        return (ya, yb);
    }

    private static void SameArchitecture(Unet1dConfig a, Unet1dConfig b)
    {
        Assert.Equal(
            (a.Horizon, a.InputDim, a.GlobalCondDim, a.LocalCondDim, a.StepEmbedDim, a.KernelSize, a.Groups, a.FinalGroups, a.CondPredictScale, a.GroupNormEpsilon),
            (b.Horizon, b.InputDim, b.GlobalCondDim, b.LocalCondDim, b.StepEmbedDim, b.KernelSize, b.Groups, b.FinalGroups, b.CondPredictScale, b.GroupNormEpsilon));
        Assert.Equal(a.DownDims, b.DownDims);
    }

    [Fact]
    public void TheSmallFixturesExportRunsNativelyWithTheBitsOfItsAsdUnet1dModel()
    {
        // small.onnx was exported by tools/make_unet1d_models.py from small.safetensors (float32, 4 groups, FiLM
        // scale, the final block at 8 groups): the same weights and architecture must give the same bits.
        using var json = (Unet1dModel)ModelCatalog.Open(Fixture("unet1d", "small.json"));
        IDiffusionModel opened = ModelCatalog.Open(Fixture("unet1d", "small.onnx"));
        using var native = Assert.IsType<Unet1dModel>(opened);
        Assert.EndsWith("small.onnx", native.ImportedFrom);
        Assert.Contains("--onnx-native off", native.RuntimeSummary);
        SameArchitecture(json.Config, native.Config);
        Assert.Equal(json.Parameters, native.Parameters);
        (float[] a, float[] b) = Outputs(json, native);
        Assert.Equal(a, b);
    }

    [Fact]
    public void AnExportWithLocalConditioningRunsNativelyWithTheBitsOfItsAsdUnet1dModel()
    {
        // small_local.onnx: inputs sample, timestep, cond and local_cond, the U-Net's parameters under "unet." (the
        // export wraps it), and no local_cond_encoder.1 (its output is unused, so the exporter pruned it).
        using var json = (Unet1dModel)ModelCatalog.Open(Fixture("unet1d", "small_local.json"));
        using var native = Assert.IsType<Unet1dModel>(ModelCatalog.Open(Fixture("unet1d", "small_local.onnx")));
        SameArchitecture(json.Config, native.Config);
        Assert.Equal(3 + (8 * 4), native.ConditionSize);
        Assert.True(native.Parameters < json.Parameters, "the export holds one local block, the state dict two");
        Assert.Equal(json.FlopsPerSample, native.FlopsPerSample);
        (float[] a, float[] b) = Outputs(json, native);
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData("small_f16")]
    [InlineData("unet-policy")]
    public void ExportsOfFloat16ModelsMatchTheirAsdUnet1dModel(string which)
    {
        // These asd-unet1d files keep float16 weights; their ONNX exports hold the same values widened to float32, so
        // the outputs agree to float32 rounding (the kernels widen float16 on another path).
        (string json, string onnx) = which == "unet-policy"
            ? (Path.Combine(AppContext.BaseDirectory, "unet-policy", "policy.json"), PolicyOnnx)
            : (Fixture("unet1d", which + ".json"), Fixture("unet1d", which + ".onnx"));
        using var reference = (Unet1dModel)ModelCatalog.Open(json);
        using var native = Assert.IsType<Unet1dModel>(ModelCatalog.Open(onnx));
        SameArchitecture(reference.Config, native.Config);
        (float[] a, float[] b) = Outputs(reference, native);
        double rel = Unet1dTests.Relative(b, [.. a.Select(v => (double)v)]);
        output.WriteLine($"{which}: native from ONNX vs asd-unet1d, relative difference {rel:E2}");
        Assert.True(rel <= 1e-5, $"{which}: {rel}");
    }

    [Fact]
    public void OtherGraphsTheOptOutAndOnnxRuntimeSettingsKeepOnnxRuntime()
    {
        string small = Fixture("unet1d", "small.onnx");
        using (var m = Assert.IsType<OnnxModel>(ModelCatalog.Open(Fixture("onnx", "unet16"))))
        {
            Assert.Null(Unet1dOnnx.TryImport(Path.Combine(Fixture("onnx", "unet16"), "model.onnx"), "unet16", m.DefaultScheduler, out string? why));
            Assert.Null(why); // an image UNet is not a ConditionalUnet1D: nothing to say
        }

        using (IDiffusionModel m = ModelCatalog.Open(small, new ModelOpenOptions { NativeOnnx = false }))
        {
            Assert.IsType<OnnxModel>(m);
        }

        using (IDiffusionModel m = ModelCatalog.Open(small, new ModelOpenOptions { RowParallel = true }))
        {
            Assert.IsType<OnnxModel>(m);
        }

        using (IDiffusionModel m = ModelCatalog.Open(small, new ModelOpenOptions { Onnx = new OnnxIoConfig { Sample = "sample" } }))
        {
            Assert.IsType<OnnxModel>(m);
        }

        var e = Assert.Throws<ArgumentException>(() => ModelCatalog.Open(small, new ModelOpenOptions { NativeOnnx = true, RowParallel = true }));
        Assert.Contains("row-parallel", e.Message);
        var notUnet = Assert.Throws<InvalidDataException>(() => ModelCatalog.Open(Fixture("onnx", "unet16"), new ModelOpenOptions { NativeOnnx = true }));
        Assert.Contains("not an export of diffusion_policy's ConditionalUnet1D", notUnet.Message);
    }

    [Fact]
    public void TheEnvironmentVariableReadsAutoOnAndOffAndNamesItselfOtherwise()
    {
        Assert.Null(ModelCatalog.NativeOnnxSetting(null));
        Assert.Null(ModelCatalog.NativeOnnxSetting(" Auto "));
        Assert.True(ModelCatalog.NativeOnnxSetting("on"));
        Assert.False(ModelCatalog.NativeOnnxSetting("OFF"));
        Assert.False(ModelCatalog.NativeOnnxSetting("0"));
        var e = Assert.Throws<ArgumentException>(() => ModelCatalog.NativeOnnxSetting("onnxruntime"));
        Assert.Contains("ASD_ONNX_NATIVE=onnxruntime", e.Message);
    }

    /// <summary>Opens <paramref name="spec"/> and returns the model with the notes that name it.</summary>
    private static (IDiffusionModel Model, string[] Notes) OpenNoting(string spec, ModelOpenOptions? options = null)
    {
        var notes = new List<string>();
        Action<string> before = ModelCatalog.Warn;
        ModelCatalog.Warn = m => { lock (notes) { notes.Add(m); } };
        try
        {
            IDiffusionModel m = ModelCatalog.Open(spec, options);
            lock (notes)
            {
                return (m, [.. notes.Where(n => n.Contains(spec, StringComparison.Ordinal))]);
            }
        }
        finally
        {
            ModelCatalog.Warn = before;
        }
    }

    /// <summary>A file of tests/fixtures/unet1d_variants, which the native engine must take, within a hundredth of the check's bar of ONNX Runtime.</summary>
    private Unet1dModel OpenedNatively(string variant)
    {
        (IDiffusionModel opened, string[] notes) = OpenNoting(Fixture("unet1d_variants", variant + ".onnx"));
        var native = Assert.IsType<Unet1dModel>(opened);
        double apart = native.CheckedAgainstRuntime ?? double.NaN;
        output.WriteLine($"{variant}: {apart:E2} from ONNX Runtime; notes: {string.Join(" | ", notes)}");
        Assert.True(apart <= NativeOnnxCheck.Bar / 100, $"{variant}.onnx is {apart} from ONNX Runtime");
        return native;
    }

    [Fact]
    public void AnExportStoringItsWeightsInFloat16AndCastingThemRunsNativelyOnTheFloat16Weights()
    {
        // tiny_f16.onnx (tools/make_unet1d_models.py --variants): tiny.onnx with every weight stored in float16 as
        // NAME.f16 and cast to float32 as NAME where it is used (tools/export_mlp_onnx.py's naming; sigmoid_f16 below
        // keeps NAME and casts it to a new name). The import read weights only where an initializer feeds the layer, so
        // it found no group norm here ("the group count was not found") and the file ran on ONNX Runtime; it now takes
        // each cast's initializer, exactly (the float16 values ONNX Runtime multiplies), and keeps it in float16.
        using Unet1dModel native = OpenedNatively("tiny_f16");
        Assert.Equal("float16", native.WeightPrecision);

        // The same network as tiny.onnx, its weights rounded to float16: the outputs move by that rounding, not more.
        using var single = Assert.IsType<Unet1dModel>(ModelCatalog.Open(Fixture("unet1d_variants", "tiny.onnx")));
        SameArchitecture(single.Config, native.Config);
        Assert.Equal(single.Parameters, native.Parameters);
        Assert.Equal("float32", single.WeightPrecision);
        (float[] a, float[] b) = Outputs(single, native);
        double rel = Unet1dTests.Relative(b, [.. a.Select(v => (double)v)]);
        output.WriteLine($"tiny_f16 against tiny.onnx: relative difference {rel:E2}");
        Assert.True(rel is > 1e-6 and < 1e-2, $"float16 weights moved the outputs by {rel}");
    }

    [Fact]
    public void AWholeFloat16ExportRunsNativelyInFloat32OnItsFloat16Weights()
    {
        // tiny_half.onnx (tools/make_unet1d_models.py --variants): tiny.onnx with every float tensor float16, the inputs,
        // the output and every intermediate value too, as a model.half() export is. ONNX Runtime computes it in
        // float16; the native engine takes the same float16 weights and computes in float32: the network tiny_f16.onnx
        // describes, to the bit. The check against ONNX Runtime sees float16 arithmetic's rounding (well above the two
        // engines' float32 differences), which stays below the bar, and the device line reports it.
        (IDiffusionModel opened, string[] notes) = OpenNoting(Fixture("unet1d_variants", "tiny_half.onnx"));
        using var native = Assert.IsType<Unet1dModel>(opened);
        double apart = native.CheckedAgainstRuntime ?? double.NaN;
        output.WriteLine($"tiny_half: {apart:E2} from ONNX Runtime's float16 arithmetic; notes: {string.Join(" | ", notes)}");
        Assert.True(apart is > 1e-5 and <= NativeOnnxCheck.Bar, $"tiny_half.onnx is {apart} from ONNX Runtime");
        Assert.Equal("float16", native.WeightPrecision);
        Assert.Contains($"outputs {apart:G2} from ONNX Runtime's", native.RuntimeSummary);

        using Unet1dModel stored = OpenedNatively("tiny_f16");
        SameArchitecture(stored.Config, native.Config);
        (float[] a, float[] b) = Outputs(stored, native);
        Assert.Equal(a, b);

        // ONNX Runtime runs the file as it is (float16 in and out, converted at the boundary): the same function up to
        // float16 arithmetic.
        using IDiffusionModel runtime = ModelCatalog.Open(Fixture("unet1d_variants", "tiny_half.onnx"), new ModelOpenOptions { NativeOnnx = false });
        Assert.IsType<OnnxModel>(runtime);
        (float[] r, float[] n) = Outputs(runtime, native);
        double rel = Unet1dTests.Relative(r, [.. n.Select(v => (double)v)]);
        output.WriteLine($"tiny_half through ONNX Runtime against native: relative difference {rel:E2}");
        Assert.True(rel is > 1e-5 and < 1e-2, $"ONNX Runtime's float16 run is {rel} from the native one");
    }

    [Fact]
    public void AWrappedExportWhosePrefixIsLongerThanTheExportersOwnNamesRunsNatively()
    {
        // wrapped.onnx (tools/make_unet1d_models.py --variants): tiny.onnx's network inside the wrapper of Chi et al.'s
        // notebook (nets.noise_pred_net), exported whole. Its prefix, "nets.noise_pred_net.", is longer than the
        // exporter's own names ("onnx::Mul_546"), and cutting it off every initializer's name threw
        // ArgumentOutOfRangeException out of the import (found reading the import after the CI fuzz smoke's crash of
        // 2026-12-06), which TryImport took for a refusal: the file ran on ONNX Runtime with a note quoting that
        // exception, not natively. Same weights as tiny.onnx, so the same bits.
        using Unet1dModel native = OpenedNatively("wrapped");
        using var tiny = Assert.IsType<Unet1dModel>(ModelCatalog.Open(Fixture("unet1d_variants", "tiny.onnx")));
        SameArchitecture(tiny.Config, native.Config);
        Assert.Equal(tiny.Parameters, native.Parameters);
        (float[] a, float[] b) = Outputs(tiny, native);
        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData("empty-tensor-huge-dim.onnx", "tensor 'diffusion_step_encoder.1.weight' has the shape [0, 3000000000]")]
    [InlineData("prefix-overlaps-block-name.onnx", "'down_modules.0.0.blocks.0.block.0.weight' is missing")]
    public void AHostileShapeOrNameIsAModelErrorNamingTheTensor(string file, string reason)
    {
        // tools/fuzz/make_onnx_unet1d_regressions.py: an empty tensor whose other dimension overflowed the
        // configuration's int (OverflowException), and a prefix that overlaps a convolution's ".block.0.weight"
        // (ArgumentOutOfRangeException). Both are now the import's InvalidDataException, naming the tensor.
        byte[] bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "fuzz", "onnx-unet1d", file));
        var e = Assert.Throws<InvalidDataException>(() => Unet1dOnnx.Import(bytes, file, "m", new SchedulerConfig { ClipSample = true }));
        output.WriteLine(e.Message);
        Assert.StartsWith(file + ": ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Theory]
    [InlineData(float.NaN, "group_norm_eps (NaN)")]
    [InlineData(-1e-5f, "group_norm_eps (-1E-05)")]
    [InlineData(0f, "group_norm_eps (0)")]
    public void AGroupNormEpsilonThatIsNotAPositiveNumberIsAModelError(float epsilon, string reason)
    {
        // The epsilon attribute of every InstanceNormalization (AttributeProto: name "epsilon", then field 2, a
        // float32) rewritten in place. A JSON model's group_norm_eps was checked to be in (0, 1); an export's went
        // into the model unchecked, and NaN ran to NaN outputs. The control: the untouched bytes import.
        byte[] clean = File.ReadAllBytes(Fixture("unet1d_variants", "tiny.onnx"));
        byte[] b = (byte[])clean.Clone();
        byte[] key = [0x0A, 7, .. Encoding.UTF8.GetBytes("epsilon"), 0x15];
        int rewritten = 0;
        for (int at = 0; (at = b.AsSpan(at).IndexOf(key) is var i and >= 0 ? at + i : -1) >= 0; at += key.Length + 4, rewritten++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(at + key.Length), epsilon);
        }

        Assert.True(rewritten >= 10, $"{rewritten} epsilon attributes");
        var scheduler = new SchedulerConfig { ClipSample = true };
        using (Unet1dModel control = Unet1dOnnx.Import(clean, "tiny.onnx", "m", scheduler))
        {
            Assert.Equal(1e-5, control.Config.GroupNormEpsilon);
        }

        var e = Assert.Throws<InvalidDataException>(() => Unet1dOnnx.Import(b, "edited.onnx", "m", scheduler));
        output.WriteLine(e.Message);
        Assert.Contains(reason + " must be a number in (0, 1)", e.Message);
    }

    [Theory]
    [InlineData("sincos")]
    [InlineData("sigmoid")]
    [InlineData("sigmoid_f16")]
    public void AForkThatKeepsTheWeightsButChangesTheFunctionStaysOnOnnxRuntime(string fork)
    {
        // tools/make_unet1d_models.py --variants: tiny.onnx as exported, and one edit of its graph between the weights
        // (the step embedding's cosines first; one Mish's Tanh made a Sigmoid). The import recognises all three by
        // their weights and data path (the check off: the fork runs natively, so the import alone cannot tell), and
        // only the probe call beside ONNX Runtime tells the fork apart: it stays on ONNX Runtime with a note, and is
        // an error where the native engine is required. Margin: the fork's difference is at least 20 times the bar,
        // the unedited export's at most a hundredth of it.
        // sigmoid_f16: the sigmoid fork with its weights stored in float16 (each NAME cast to a new name where it is
        // used), whose note says what float16 arithmetic in ONNX Runtime alone could do; the note that the outputs
        // differ needs the import to have taken the graph first.
        bool half = fork.EndsWith("_f16", StringComparison.Ordinal);
        string tiny = Fixture("unet1d_variants", half ? "tiny_f16.onnx" : "tiny.onnx"), edited = Fixture("unet1d_variants", fork + ".onnx");
        (IDiffusionModel plain, string[] plainNotes) = OpenNoting(tiny);
        using (plain)
        {
            double apart = Assert.IsType<Unet1dModel>(plain).CheckedAgainstRuntime ?? double.NaN;
            output.WriteLine($"tiny: {apart:E2} from ONNX Runtime; notes: {string.Join(" | ", plainNotes)}");
            Assert.True(apart <= NativeOnnxCheck.Bar / 100, $"the unedited export is {apart} from ONNX Runtime");
            Assert.Contains("from ONNX Runtime's on a probe call", ((Unet1dModel)plain).RuntimeSummary);
        }

        using (var unchecked_ = Assert.IsType<Unet1dModel>(ModelCatalog.Open(edited, new ModelOpenOptions { CheckNativeOnnx = false })))
        {
            Assert.Null(unchecked_.CheckedAgainstRuntime);
            Assert.Contains("not checked against ONNX Runtime", unchecked_.RuntimeSummary);
        }

        (IDiffusionModel m, string[] notes) = OpenNoting(edited);
        using (m)
        {
            Assert.IsType<OnnxModel>(m);
        }

        string note = Assert.Single(notes, n => n.Contains("differ from ONNX Runtime's", StringComparison.Ordinal));
        output.WriteLine(note);
        Assert.Contains("running it through ONNX Runtime", note);
        Assert.Equal(half, note.Contains("its weights are float16", StringComparison.Ordinal));
        double difference = double.Parse(System.Text.RegularExpressions.Regex.Match(note, @"by ([0-9.Ee+-]+) \(relative").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(difference >= 20 * NativeOnnxCheck.Bar, $"{fork}: {difference} against the bar {NativeOnnxCheck.Bar}");

        var e = Assert.Throws<InvalidDataException>(() => ModelCatalog.Open(edited, new ModelOpenOptions { NativeOnnx = true }));
        Assert.Contains("differ from ONNX Runtime's", e.Message);
    }

    [Fact]
    public void TheCheckIsOnUnlessTurnedOffAndItsVariableNamesItselfWhenMistyped()
    {
        Assert.True(NativeOnnxCheck.Setting(null));
        Assert.True(NativeOnnxCheck.Setting(" On "));
        Assert.True(NativeOnnxCheck.Setting("auto"));
        Assert.False(NativeOnnxCheck.Setting("OFF"));
        Assert.False(NativeOnnxCheck.Setting("0"));
        Assert.False(NativeOnnxCheck.Enabled(false));
        Assert.True(NativeOnnxCheck.Enabled(true));
        var e = Assert.Throws<ArgumentException>(() => NativeOnnxCheck.Setting("skip"));
        Assert.Contains("ASD_ONNX_NATIVE_CHECK=skip", e.Message);
    }

    [Fact]
    public void ABareExportSaysItsScheduleIsDiffusersDefaultAndAFolderWithItsScheduleDoesNot()
    {
        // The trained policy as a bare .onnx gets 1000 linear steps and samples garbage without an error (0% reach);
        // the note names the flags. In a folder with its scheduler_config.json it gets its schedule and no note.
        string dir = Directory.CreateTempSubdirectory("asd-unet1d-onnx-").FullName;
        var notes = new List<string>();
        Action<string> before = ModelCatalog.Warn;
        ModelCatalog.Warn = m => { lock (notes) { notes.Add(m); } };
        try
        {
            string bare = Path.Combine(dir, "policy.onnx"), folder = Path.Combine(dir, "folder");
            File.Copy(PolicyOnnx, bare);
            Directory.CreateDirectory(folder);
            File.Copy(PolicyOnnx, Path.Combine(folder, "model.onnx"));
            File.WriteAllText(Path.Combine(folder, "scheduler_config.json"),
                """{"num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon", "clip_sample": true}""");
            using (IDiffusionModel m = ModelCatalog.Open(bare))
            {
                Assert.Equal(1000, m.DefaultScheduler.NumTrainTimesteps);
            }

            using (IDiffusionModel m = ModelCatalog.Open(folder))
            {
                Assert.Equal(100, m.DefaultScheduler.NumTrainTimesteps);
                Assert.Equal(BetaSchedule.SquaredCosCapV2, m.DefaultScheduler.BetaSchedule);
            }

            string[] mine;
            lock (notes)
            {
                mine = [.. notes.Where(n => n.Contains(dir, StringComparison.Ordinal))];
            }

            string note = Assert.Single(mine);
            Assert.Contains(bare, note);
            Assert.Contains("--train-steps 100 --beta-schedule squaredcos_cap_v2 (CLI)", note);
            Assert.Contains("""schedule={"train_steps": 100, "beta_schedule": "squaredcos_cap_v2"} (Python)""", note);
            Assert.Contains("asd_sampler_params.train_steps and .beta_schedule (C)", note);
        }
        finally
        {
            ModelCatalog.Warn = before;
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AnExportWhoseWeightLostItsNameRunsThroughOnnxRuntimeAndTheReasonNamesTheTensor()
    {
        // The same-length rename changes the initializer and the Conv's input alike, as an optimiser that renames
        // initializers would: the model is still valid ONNX, so ONNX Runtime runs it, but the native engine cannot
        // tell which layer the tensor is. The control, the untouched file, is taken over.
        byte[] bytes = File.ReadAllBytes(Fixture("unet1d", "small.onnx"));
        byte[] from = Encoding.UTF8.GetBytes("down_modules.0.0.blocks.0.block.0.weight"), to = Encoding.UTF8.GetBytes("down_modules.0.0.blocks.0.block.0.weighX");
        int replaced = 0;
        for (int at; (at = bytes.AsSpan().IndexOf(from)) >= 0; replaced++)
        {
            to.CopyTo(bytes, at);
        }

        Assert.True(replaced >= 2, $"{replaced} occurrences");
        string dir = Directory.CreateTempSubdirectory("asd-unet1d-onnx-").FullName;
        try
        {
            string renamed = Path.Combine(dir, "renamed.onnx"), control = Path.Combine(dir, "control.onnx");
            File.WriteAllBytes(renamed, bytes);
            File.Copy(Fixture("unet1d", "small.onnx"), control);
            var scheduler = new SchedulerConfig { ClipSample = true };
            Assert.Null(Unet1dOnnx.TryImport(renamed, "renamed", scheduler, out string? why));
            Assert.Contains("'down_modules.0.0.blocks.0.block.0.weight'", why);
            using (IDiffusionModel m = ModelCatalog.Open(renamed))
            {
                Assert.IsType<OnnxModel>(m);
            }

            using Unet1dModel? taken = Unet1dOnnx.TryImport(control, "control", scheduler, out string? none);
            Assert.NotNull(taken);
            Assert.Null(none);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void HostileBytesGiveAnInvalidDataExceptionAndNothingWorse()
    {
        // Truncations, random bytes and 0xFF runs (varints that never end, lengths past the end) anywhere in the file,
        // 600 of them from a fixed seed: the importer returns a model or throws InvalidDataException, never an
        // out-of-range read, an overflow, a huge allocation or a hang. Most mutations fail, some land in weights and
        // still load: both count.
        byte[] clean = File.ReadAllBytes(Fixture("unet1d", "small.onnx"));
        var rng = new Random(20261205);
        var scheduler = new SchedulerConfig { ClipSample = true };
        int rejected = 0, loaded = 0;
        for (int i = 0; i < 600; i++)
        {
            byte[] b;
            switch (i % 3)
            {
                case 0:
                    b = clean[..rng.Next(clean.Length)];
                    break;
                case 1:
                    b = (byte[])clean.Clone();
                    for (int k = rng.Next(1, 9); k > 0; k--)
                    {
                        b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    }

                    break;
                default:
                    b = (byte[])clean.Clone();
                    b.AsSpan(rng.Next(b.Length - 16), rng.Next(1, 16)).Fill(0xFF);
                    break;
            }

            try
            {
                using Unet1dModel m = Unet1dOnnx.Import(b, $"mutation {i}", "m", scheduler);
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
        }

        output.WriteLine($"{rejected} rejected, {loaded} loaded");
        Assert.True(rejected >= 200, $"{rejected} rejected");
    }
}
