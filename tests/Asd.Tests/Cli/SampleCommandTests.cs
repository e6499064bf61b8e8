using System.Text.Json;
using Asd.Cli;
using Asd.Native.IO;
using Xunit;

namespace Asd.Tests.Cli;

/// <summary>The fixed flags of <c>asd sample</c> (issue: outside checks rely on them), run in-process.</summary>
public sealed class SampleCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("asd", "8", "8")]
    [InlineData("asd", "inf", "inf")]
    [InlineData("ddpm", "8", "-")]
    public void SampleWritesNpyAndStats(string sampler, string specLen, string expectedSpecLen)
    {
        string npy = Path.Combine(_dir, "x.npy"), json = Path.Combine(_dir, "x.json");
        var (code, output, err) = Run("sample", "--model", "builtin:mixture?dim=4", "--sampler", sampler, "--steps", "50",
            "--spec-len", specLen, "--samples", "6", "--seed", "3", "--out", npy, "--stats", json);
        Assert.True(code == 0, err);
        Assert.Contains("sequential model calls", output);

        (float[] data, int[] shape) = Npy.Read(npy);
        Assert.Equal([6, 4], shape);
        Assert.All(data, v => Assert.True(float.IsFinite(v)));

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement s = doc.RootElement;
        Assert.Equal(sampler, s.GetProperty("sampler").GetString());
        Assert.Equal(50, s.GetProperty("steps").GetInt32());
        Assert.Equal(expectedSpecLen, s.GetProperty("spec_len").GetString());
        Assert.Equal(6, s.GetProperty("samples").GetInt32());
        foreach (string key in (string[])["spec_len_effective", "sequential_model_calls", "sequential_model_calls_max", "denoiser_invocations", "rows_evaluated", "rounds", "acceptance_by_position", "wall_seconds"])
        {
            Assert.True(s.TryGetProperty(key, out _), $"stats JSON lacks '{key}'");
        }

        if (sampler == "ddpm")
        {
            Assert.Equal(50.0, s.GetProperty("sequential_model_calls").GetDouble());
        }
    }

    [Fact]
    public void ScheduleFlagsAndChainOffsetAreHonoured()
    {
        string a = Path.Combine(_dir, "a.npy"), b = Path.Combine(_dir, "b.npy"), all = Path.Combine(_dir, "all.npy");
        string[] common = ["sample", "--steps", "40", "--train-steps", "500", "--beta-schedule", "squaredcos_cap_v2", "--prediction-type", "v_prediction",
            "--variance-type", "fixed_large", "--timestep-spacing", "trailing", "--clip-sample", "--clip-sample-range", "6", "--spec-len", "4", "--seed", "9"];
        Assert.Equal(0, Run([.. common, "--samples", "5", "--out", all]).Code);
        Assert.Equal(0, Run([.. common, "--samples", "2", "--out", a]).Code);
        Assert.Equal(0, Run([.. common, "--samples", "3", "--chain-offset", "2", "--out", b]).Code);
        float[] whole = Npy.Read(all).Data;
        float[] joined = [.. Npy.Read(a).Data, .. Npy.Read(b).Data];
        Assert.Equal(whole, joined);
    }

    [Theory]
    [InlineData("must be >= 1", "sample", "--spec-len", "0")]
    [InlineData("must be >= 1", "sample", "--spec-len", "-2")]
    [InlineData("cannot exceed num_train_timesteps", "sample", "--steps", "1001")]
    [InlineData("Unknown beta schedule", "sample", "--beta-schedule", "cosine")]
    [InlineData("Unknown sampler", "sample", "--sampler", "ddim")]
    [InlineData("even dimension", "sample", "--model", "builtin:mixture?dim=5")]
    [InlineData("Unknown built-in model", "sample", "--model", "builtin:cat")]
    [InlineData("--samples must be >= 1", "sample", "--samples", "0")]
    public void BadInputExitsWithAClearMessage(string message, params string[] args)
    {
        string npy = Path.Combine(_dir, "never.npy");
        var (code, _, err) = Run([.. args, "--out", npy]);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.False(File.Exists(npy), "a failed run must not leave a partial output file");
    }

    [Fact]
    public void InfoReportsTheKernelPath()
    {
        var (code, output, _) = Run("info");
        Assert.Equal(0, code);
        Assert.Contains("kernels", output);
        Assert.Contains("asd-rng-1", output);
    }
}
