namespace Asd.Tests.Onnx;

/// <summary>What the ONNX test classes share: fixture paths, a schedule, the allocation check.</summary>
internal static class OnnxTestFiles
{
    public static readonly DiffusionSchedule AnySchedule = new(new SchedulerConfig());

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", name);

    public static string MlpSmall => Path.Combine(AppContext.BaseDirectory, "fixtures/mlp_small/mlp_small.onnx");

    /// <summary>Calls of 1..8 rows of mlp_small's shape ([6] samples, [3] conditioning), twice: the second pass allocates nothing.</summary>
    public static void AssertNoAllocationAfterFirstCallOfEachSize(IDenoiser den)
    {
        float[] x = new float[8 * 6], c = new float[8 * 3], y = new float[8 * 6];
        int[] t = [1, 2, 3, 4, 5, 6, 7, 8];
        for (int rows = 1; rows <= 8; rows++)
        {
            den.Denoise(x.AsSpan(0, rows * 6), t.AsSpan(0, rows), c.AsSpan(0, rows * 3), y.AsSpan(0, rows * 6));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int rows = 1; rows <= 8; rows++)
        {
            den.Denoise(x.AsSpan(0, rows * 6), t.AsSpan(0, rows), c.AsSpan(0, rows * 3), y.AsSpan(0, rows * 6));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
