namespace Asd.Tests.Onnx;

/// <summary>What the ONNX test classes share: fixture paths, a schedule, the allocation check.</summary>
internal static class OnnxTestFiles
{
    public static readonly DiffusionSchedule AnySchedule = new(new SchedulerConfig());

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", name);

    public static string MlpSmall => Path.Combine(AppContext.BaseDirectory, "fixtures/mlp_small/mlp_small.onnx");

    /// <summary>
    /// Calls of 1..8 rows of mlp_small's shape ([6] samples, [3] conditioning): after a first pass, 3 more passes, of
    /// which at most one may allocate. The runtime itself may allocate on this thread once (in CI, 2808 bytes in one
    /// pass of a test that ran 1.5 s into the process: tiered compilation promoting a method for the first time); an
    /// allocation per call or per size shows in every pass.
    /// </summary>
    public static void AssertNoAllocationAfterFirstCallOfEachSize(IDenoiser den)
    {
        float[] x = new float[8 * 6], c = new float[8 * 3], y = new float[8 * 6];
        int[] t = [1, 2, 3, 4, 5, 6, 7, 8];
        for (int rows = 1; rows <= 8; rows++)
        {
            den.Denoise(x.AsSpan(0, rows * 6), t.AsSpan(0, rows), c.AsSpan(0, rows * 3), y.AsSpan(0, rows * 6));
        }

        var allocated = new long[3];
        for (int pass = 0; pass < allocated.Length; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int rows = 1; rows <= 8; rows++)
            {
                den.Denoise(x.AsSpan(0, rows * 6), t.AsSpan(0, rows), c.AsSpan(0, rows * 3), y.AsSpan(0, rows * 6));
            }

            allocated[pass] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(allocated.Count(b => b != 0) <= 1, $"bytes allocated by 3 passes of 1..8 rows: {string.Join(", ", allocated)}");
    }
}
