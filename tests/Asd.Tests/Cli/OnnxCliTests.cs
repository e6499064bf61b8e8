namespace Asd.Tests.Cli;

/// <summary>The ONNX issue's "done when": model folders, the static-batch and guided fixtures, and a bare .onnx with flags.</summary>
public sealed class OnnxCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-onnx-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", name);

    private (int Code, string Out, string Err, JsonDocument? Stats) Run(params string[] args)
    {
        string stats = Path.Combine(_dir, $"s{Guid.NewGuid():N}.json");
        var (code, o, e) = CliRun.Run([.. args, "--stats", stats, "--no-plot"]);
        return (code, o, e, File.Exists(stats) ? JsonDocument.Parse(File.ReadAllText(stats)) : null);
    }

    [Fact]
    public void ModelFolderSamplesWithFewerSequentialCallsThanDdpm()
    {
        var asd = Run("sample", "--model", Fixture("unet16"), "--spec-len", "8", "--steps", "50", "--samples", "8");
        Assert.True(asd.Code == 0, asd.Err);
        var ddpm = Run("sample", "--model", Fixture("unet16"), "--sampler", "ddpm", "--steps", "50", "--samples", "8");
        Assert.True(ddpm.Code == 0, ddpm.Err);
        double asdCalls = asd.Stats!.RootElement.GetProperty("sequential_model_calls").GetDouble();
        Assert.Equal(50.0, ddpm.Stats!.RootElement.GetProperty("sequential_model_calls").GetDouble());
        Assert.True(asdCalls < 50, $"ASD made {asdCalls} sequential calls");
    }

    [Fact]
    public void StaticBatchGuidedAndBareOnnxFixturesRun()
    {
        var fixedBatch = Run("sample", "--model", Fixture("unet16_static3"), "--spec-len", "4", "--steps", "20", "--samples", "5");
        Assert.True(fixedBatch.Code == 0, fixedBatch.Err);

        var guided = Run("sample", "--model", Fixture("unet16_class"), "--cond", "1", "--guidance", "2.5", "--spec-len", "4", "--steps", "20", "--samples", "4");
        Assert.True(guided.Code == 0, guided.Err);

        string bare = Path.Combine(Fixture("policy_mlp"), "model.onnx");
        var policy = Run("sample", "--model", bare, "--train-steps", "100", "--beta-schedule", "squaredcos_cap_v2", "--clip-sample", "false",
            "--cond", "-0.6,-0.6,0.6,0.6", "--steps", "50", "--spec-len", "8", "--samples", "6");
        Assert.True(policy.Code == 0, policy.Err);
        Assert.True(policy.Stats!.RootElement.GetProperty("sequential_model_calls").GetDouble() < 50);
    }

    [Theory]
    [InlineData("This model is conditional", "sample", "--model", "fixtures/onnx/unet16_class")]
    [InlineData("defines no null condition", "sample", "--model", "fixtures/onnx/unet16", "--guidance", "2")]
    [InlineData("--device cuda", "sample", "--model", "fixtures/onnx/unet16", "--device", "cuda")]
    [InlineData("not an integer", "sample", "--model", "fixtures/onnx/unet16_class", "--cond", "1.5")]
    [InlineData("received -1: integer inputs such as class labels count from 0", "sample", "--model", "fixtures/onnx/unet16_class", "--cond", "-1")]
    [InlineData("takes integers from 0, not -2", "sample", "--model", "fixtures/onnx/unet16_class", "--cond", "1", "--guidance", "2", "--guidance-null", "class:-2")]
    [InlineData("names more than one class; class:ID takes one", "sample", "--model", "fixtures/onnx/unet16_class", "--cond", "1", "--guidance", "2", "--guidance-null", "class:1,2")]
    [InlineData("not a model ONNX Runtime can load", "sample", "--model", "fixtures/onnx/bad/truncated.onnx")]
    public void BadOnnxInputIsReported(string message, params string[] args)
    {
        args = [.. args.Select(a => a.StartsWith("fixtures/", StringComparison.Ordinal) ? Path.Combine(AppContext.BaseDirectory, a) : a)];
        var (code, _, err, _) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public void AConditionalUnet1dExportSaysItRunsNativelyAndTheFlagTurnsThatOff()
    {
        string small = Path.Combine(AppContext.BaseDirectory, "fixtures", "unet1d", "small.onnx");
        string[] args = ["sample", "--model", small, "--cond", "0.1,0.2,0.3,0.4,0.5", "--steps", "5", "--samples", "2"];
        var native = Run(args);
        Assert.True(native.Code == 0, native.Err);
        Assert.Contains("device     cpu (asd's native ConditionalUnet1D, weights taken from", native.Out);
        var runtime = Run([.. args, "--onnx-native", "off"]);
        Assert.True(runtime.Code == 0, runtime.Err);
        Assert.Contains("device     cpu (ONNX Runtime)", runtime.Out);
        var bad = Run([.. args, "--onnx-native", "maybe"]);
        Assert.Equal(2, bad.Code);
        Assert.Contains("--onnx-native must be auto, on or off", bad.Err);
    }

    [Fact]
    public void ABareOnnxWithoutScheduleFlagsSaysItsScheduleIsTheDefault()
    {
        // The policy MLP was trained with 100 squaredcos_cap_v2 steps; as a bare file it gets diffusers' 1000 linear
        // steps unless flags say otherwise, and sampling it so gives wrong actions with no error: the note must say so,
        // and point at the scheduler_config.json beside it. With a schedule flag there is nothing to say.
        string bare = Path.Combine(Fixture("policy_mlp"), "model.onnx");
        string[] args = ["sample", "--model", bare, "--cond", "-0.6,-0.6,0.6,0.6", "--steps", "5", "--samples", "2"];
        var plain = Run(args);
        Assert.True(plain.Code == 0, plain.Err);
        Assert.Contains("is a bare .onnx, so its noise schedule is diffusers' default (1000 train steps, linear betas", plain.Err);
        Assert.Contains($"pass --model {Fixture("policy_mlp")}", plain.Err);
        var flagged = Run([.. args, "--train-steps", "100", "--beta-schedule", "squaredcos_cap_v2"]);
        Assert.True(flagged.Code == 0, flagged.Err);
        Assert.DoesNotContain("bare .onnx", flagged.Err);
        var folder = Run(["sample", "--model", Fixture("policy_mlp"), "--cond", "-0.6,-0.6,0.6,0.6", "--steps", "5", "--samples", "2"]);
        Assert.True(folder.Code == 0, folder.Err);
        Assert.DoesNotContain("bare .onnx", folder.Err);
    }

    [Fact]
    public void AutoDeviceSaysWhyItRunsOnTheCpu()
    {
        var (code, output, err, _) = Run("sample", "--model", Fixture("unet16"), "--device", "auto", "--steps", "5", "--samples", "1");
        Assert.True(code == 0, err);
        Assert.Contains("running on the CPU", output);
    }
}
