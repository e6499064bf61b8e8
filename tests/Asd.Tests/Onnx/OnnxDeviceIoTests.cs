namespace Asd.Tests.Onnx;

/// <summary>
/// The device I/O paths of the ONNX denoiser (issue 18), run without a GPU: the CPU provider is driven through the
/// path a device takes, with CPU memory standing in for device memory and real copies in between. On a device, ONNX
/// Runtime copies a host input when it is bound, so an input not bound again before a run is the previous call's
/// (the stale-input bug once seen on CUDA); the CUDA-graph path copies into fixed buffers, so a skipped copy is stale
/// too. Both show up here as outputs that do not match the host path's.
/// </summary>
public sealed class OnnxDeviceIoTests
{
    [Theory]
    [InlineData("Rebind")]
    [InlineData("Staged")]
    public void EveryCallSeesItsOwnInputsOnTheDevicePaths(string pathName)
    {
        var path = Enum.Parse<OnnxIoPath>(pathName);
        using var host = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Threads = 1, BatchBuckets = true });
        using var device = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Threads = 1, BatchBuckets = true, ForceIoPath = path });
        Assert.Equal(OnnxIoPath.Host, host.IoPath);
        Assert.Equal(path, device.IoPath);
        Assert.Same(OnnxDeviceMemory.Cpu.Instance, device.DeviceMemory);
        var a = (OnnxDenoiser)host.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = 4 });
        var b = (OnnxDenoiser)device.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = 4 });
        int d = a.SampleSize;
        var rng = new Random(18);
        float[]? previous = null;

        // Row counts repeat, so later calls reuse a cached binding (where stale inputs would come from).
        foreach (int rows in (int[])[1, 1, 2, 1, 2, 3, 3, 4, 1])
        {
            float[] x = [.. Enumerable.Range(0, rows * d).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
            int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
            var ya = new float[rows * d];
            var yb = new float[rows * d];
            a.Denoise(x, t, [], ya);
            b.Denoise(x, t, [], yb);
            double worst = 0;
            for (int i = 0; i < ya.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(ya[i] - yb[i]));
            }

            Assert.True(worst <= 1e-5, $"{path}, {rows} rows: the device path's output differs from the host path's by {worst}: stale inputs or output?");
            Assert.False(previous is not null && previous.AsSpan().SequenceEqual(yb.AsSpan(0, Math.Min(yb.Length, previous.Length))), "two calls gave the same output");
            previous = yb;
        }

        a.Dispose();
        b.Dispose();
    }

    /// <summary>
    /// Batch buckets round the rows up to a power of two so that a call of that many rows runs as one; where the rounded
    /// bucket's buffers would pass the batch ceiling (2^24 floats per buffer, which the caller's rows already respect),
    /// the bucket rounds down and the call runs in passes.
    /// </summary>
    [Theory]
    [InlineData(3, 1 << 22, 4)]
    [InlineData(3, (1 << 22) + 1, 2)]
    [InlineData(5, 1, 8)]
    [InlineData(1, 1 << 24, 1)]
    [InlineData(4, 1 << 22, 4)]
    [InlineData(0, 7, 1)]
    public void BatchBucketsStayWithinTheBatchCeiling(int maxRows, int rowFloats, int capacity) =>
        Assert.Equal(capacity, OnnxDenoiser.BucketCapacity(maxRows, rowFloats));

    [Fact]
    public void CudaGraphsOnTheCpuIsAnErrorNamingTheFlag()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { CudaGraphs = true }));
        Assert.Contains("--cuda-graphs", e.Message, StringComparison.Ordinal);
        Assert.Contains("--device cuda", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaGraphsWithoutBatchBucketsIsAnErrorNamingBothFlags()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Device = "cuda", CudaGraphs = true, BatchBuckets = false }));
        Assert.Contains("--cuda-graphs", e.Message, StringComparison.Ordinal);
        Assert.Contains("--batch-buckets off", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaGraphsWithoutTheCudaProviderSaysWhatIsMissing()
    {
        // This build (CI's) has the CPU-only ONNX Runtime, or no CUDA libraries: a clear error, never a CPU run.
        var e = Assert.Throws<PlatformNotSupportedException>(() => ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Device = "cuda", CudaGraphs = true }));
        Assert.StartsWith("--device cuda: ", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Contains("CPU-only", StringComparison.Ordinal) || e.Message.Contains("libcudart", StringComparison.Ordinal) || e.Message.Contains(".so", StringComparison.Ordinal), e.Message);
    }

    [Fact]
    public void CudaGraphsFallingBackToTheCpuSayTheyAreIgnored()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Device = "auto", CudaGraphs = true });
        Assert.Equal("cpu", model.Device);
        Assert.False(model.CudaGraphs);
        Assert.Equal(OnnxIoPath.Host, model.IoPath);
        Assert.Contains("--cuda-graphs is ignored on the CPU", model.DeviceFallback, StringComparison.Ordinal);
    }

    [Fact]
    public void TheGraphPathRefusesAShapeThatIsNotABucket()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Threads = 1, BatchBuckets = true, ForceIoPath = OnnxIoPath.Staged });
        var e = Assert.Throws<InvalidOperationException>(() => model.SessionFor(3));
        Assert.Contains("--cuda-graphs", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 rows is not a batch bucket", e.Message, StringComparison.Ordinal);
        Assert.NotNull(model.SessionFor(4));
        using var unbucketed = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { Threads = 1, BatchBuckets = false, ForceIoPath = OnnxIoPath.Staged });
        Assert.Throws<InvalidOperationException>(() => unbucketed.SessionFor(4));
    }
}
