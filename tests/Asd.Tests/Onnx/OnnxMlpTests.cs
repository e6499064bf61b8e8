namespace Asd.Tests.Onnx;

/// <summary>The ONNX Runtime denoiser against the native MLP on identical weights (exports by tools/export_mlp_onnx.py).</summary>
public sealed class OnnxMlpTests(ITestOutputHelper output)
{
    private static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, .. parts]);

    [Theory]
    [InlineData("fixtures/mlp_small/mlp_small", 64)]
    [InlineData("models/mlp_bench", 7)]
    [InlineData("models/mlp_bench_f16", 7)]
    public void OnnxRuntimeEqualsTheNativeMlp(string stem, int rows)
    {
        // Tolerance 2e-5 relative to max(1, |y|): both compute the same float32 network, in different orders
        // (ONNX Runtime's kernels do not promise an accumulation order). mlp_bench_f16 (the bench's float16 case):
        // the engine packs its float16 weights as float16, ONNX Runtime casts the same values to float32.
        using MlpModel native = MlpModel.Load(Fixture(stem + ".json"));
        if (stem.StartsWith("models/mlp_bench", StringComparison.Ordinal))
        {
            Assert.Equal(stem.EndsWith("_f16", StringComparison.Ordinal) ? "float16" : "float32", native.WeightPrecision);
        }

        using var onnx = (OnnxModel)ModelCatalog.Open(Fixture(stem + ".onnx"));
        Assert.Equal(native.SampleShape, onnx.SampleShape);
        Assert.Equal(native.ConditionSize, onnx.ConditionSize);
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        IDenoiser a = native.CreateDenoiser(schedule, new DenoiserOptions());
        IDenoiser b = onnx.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = rows });
        var rng = new Random(3);
        int d = a.SampleSize, c = a.ConditionSize;
        float[] x = [.. Enumerable.Range(0, rows * d).Select(_ => (float)(rng.NextDouble() * 4 - 2))];
        float[] cond = [.. Enumerable.Range(0, rows * c).Select(_ => (float)rng.NextDouble())];
        int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
        var ya = new float[rows * d];
        var yb = new float[rows * d];
        a.Denoise(x, t, cond, ya);
        b.Denoise(x, t, cond, yb);
        double worst = 0;
        for (int i = 0; i < ya.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(ya[i] - yb[i]) / Math.Max(1, Math.Abs(ya[i])));
        }

        output.WriteLine($"{stem}: worst relative difference native vs ONNX Runtime {worst:E2}");
        Assert.True(worst < 2e-5, $"{stem}: {worst}");
        (b as IDisposable)?.Dispose();
    }

    // The device path of CUDA graphs (fixed buffers, copies) is run on the CPU here too (OnnxDeviceIoTests). The
    // Rebind path is not: ONNX Runtime's C# BindInput marshals the input's name to UTF-8 on every call (about 100
    // bytes per call), which the engine cannot avoid on that path.
    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(true, "Staged")]
    public void OnnxRunsAllocateNothingAfterTheFirstCallOfEachSize(bool batchBuckets, string? ioPath)
    {
        using var onnx = (OnnxModel)ModelCatalog.Open(Fixture("fixtures/mlp_small/mlp_small.onnx"), new ModelOpenOptions { BatchBuckets = batchBuckets, ForceIoPath = ioPath is null ? null : Enum.Parse<OnnxIoPath>(ioPath) });
        var den = (OnnxDenoiser)onnx.CreateDenoiser(new DiffusionSchedule(new SchedulerConfig()), new DenoiserOptions { MaxBatchRows = 8 });
        OnnxTestFiles.AssertNoAllocationAfterFirstCallOfEachSize(den);
        den.Dispose();
    }

    [Fact]
    public void TheAllocationCheckCatchesADenoiserThatAllocatesPerCall()
    {
        // The control of the check above: 40 bytes a call, in every pass.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => OnnxTestFiles.AssertNoAllocationAfterFirstCallOfEachSize(new AllocatingDenoiser()));
    }

    private sealed class AllocatingDenoiser : IDenoiser
    {
        public int SampleSize => 6;

        public int ConditionSize => 3;

        public bool IsBatchInvariant => true;

        private float[] _last = [];

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            // Kept in a field, so the array escapes and cannot live on the stack.
            _last = new float[4];
            _last[0] = samples[0];
            output.Fill(_last[0]);
        }
    }

    [Fact]
    public void CudaIsNeverSilentlyReplacedByTheCpu()
    {
        string path = Fixture("fixtures/mlp_small/mlp_small.onnx");
        string message = LoggedThrows.Message<PlatformNotSupportedException>(() => ModelCatalog.Open(path, new ModelOpenOptions { Device = "cuda" }), output);
        Assert.Contains("--device cuda", message);
        Assert.True(message.Contains("CPU-only", StringComparison.Ordinal) || message.Contains("libcudart", StringComparison.Ordinal) || message.Contains("CUDA", StringComparison.Ordinal));

        using var auto = (OnnxModel)ModelCatalog.Open(path, new ModelOpenOptions { Device = "auto" });
        Assert.Equal("cpu", auto.Device);
        Assert.False(string.IsNullOrEmpty(auto.DeviceFallback), "auto must say why it fell back");
        Assert.Throws<ArgumentException>(() => ModelCatalog.Open(path, new ModelOpenOptions { Device = "tpu" }));
    }
}
