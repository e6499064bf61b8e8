namespace Asd.Tests.Sampling;

/// <summary>After its first run a sampler allocates nothing: every buffer is owned and reused (counted, not timed).</summary>
public sealed class AllocationTests
{
    [Theory]
    [InlineData("ddpm", 0)]
    [InlineData("asd", 8)]
    [InlineData("asd", 0)]
    public void SecondRunAllocatesNothing(string kind, int l)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        InferencePlan plan = schedule.Plan(200);
        var denoiser = new MixtureDenoiser(GaussianMixture.Builtin(8), schedule);
        var options = new SamplerOptions { SpecLength = SpecLength.FromEncoded(l), MaxBatchRows = 64 };
        Sampler sampler = kind == "ddpm" ? new DdpmSampler(denoiser, plan, options) : new AsdSampler(denoiser, plan, options);
        var output = new float[10 * 8];
        sampler.Sample(10, 1, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        sampler.Sample(10, 2, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MlpForwardAllocatesNothing(int threads)
    {
        using var model = Asd.Native.Backends.Mlp.MlpModel.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small", "mlp_small.json"));
        using var pool = new Asd.Native.Threading.CorePool(threads);
        MlpDenoiser den = model.CreateDenoiser(16, pool);
        float[] x = new float[16 * 6], c = new float[16 * 3], y = new float[16 * 6];
        int[] t = [.. Enumerable.Range(0, 16).Select(i => i * 50)];
        den.Denoise(x, t, c, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            den.Denoise(x, t, c, y);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>
    /// builtin:policy packs float16 weights, whose GEMMs scale A for the kernels that skip the widening's multiply
    /// (Sgemm.ScaleForHalf) into a buffer of each thread's: once every size has run, calls of any of them allocate
    /// nothing (on one thread every GEMM runs on the calling thread, where the count sees it).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void HalfWeightForwardAllocatesNothingOnceEachSizeHasRun(int threads)
    {
        using Asd.Native.Backends.Mlp.MlpModel model = Asd.Native.Models.ModelCatalog.OpenPolicy();
        Assert.Equal("float16", model.WeightPrecision);
        using var pool = threads > 1 ? new Asd.Native.Threading.CorePool(threads) : null;
        MlpDenoiser den = model.CreateDenoiser(16, pool);
        int d = den.SampleSize, cs = den.ConditionSize;
        float[] x = new float[16 * d], c = new float[16 * cs], y = new float[16 * d];
        int[] t = [.. Enumerable.Range(0, 16).Select(i => i * 5)];
        int[] sizes = [1, 2, 4, 8, 16, 3];
        void Pass()
        {
            foreach (int b in sizes)
            {
                den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), c.AsSpan(0, b * cs), y.AsSpan(0, b * d));
            }
        }

        Pass();
        long[] bytes = AllocationCheck.PerPass(Pass);
        Assert.True(bytes.Count(b => b != 0) <= 1, $"bytes per pass: {string.Join(", ", bytes)}");
    }
}
