using Asd.Native.Backends.Mlp;
using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// builtin:policy's MLP forward with float16-packed weights against float32-packed ones (issue 17), interleaved in one
/// run: best-of-20 windows of 30 ms each, per batch size and thread count. Usage: Asd.Bench quick-policy-half.
/// </summary>
internal static class QuickPolicyHalf
{
    public static void Run()
    {
        using MlpModel half = ModelCatalog.OpenPolicy();
        using MlpModel full = ModelCatalog.OpenPolicy();
        full.KeepHalfWeights = false;
        long weights = half.AllLinears().Sum(l => (long)l.InWidth * l.OutWidth);
        Console.WriteLine($"builtin:policy: {weights} weights = {weights * 4 / 1e6:F2} MB float32, {weights * 2 / 1e6:F2} MB float16");
        foreach (int threads in (int[])[1, 2])
        {
            using var pool = new CorePool(threads);
            var schedule = new DiffusionSchedule(half.DefaultScheduler);
            IDenoiser a = half.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 8, Pool = pool });
            IDenoiser b = full.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 8, Pool = pool });
            foreach (int rows in (int[])[1, 2, 4, 8])
            {
                float[] x = new float[rows * a.SampleSize], c = new float[rows * a.ConditionSize], y = new float[rows * a.SampleSize];
                int[] t = [.. Enumerable.Range(0, rows).Select(i => 10 + (7 * i))];
                double th = double.MaxValue, tf = double.MaxValue;
                for (int rep = 0; rep < 20; rep++)
                {
                    th = Math.Min(th, Window(() => a.Denoise(x, t, c, y)));
                    tf = Math.Min(tf, Window(() => b.Denoise(x, t, c, y)));
                }

                Console.WriteLine($"threads={threads} rows={rows}: float16 {th,7:F1} us  float32 {tf,7:F1} us  float32/float16 {tf / th:F2}x  (float16 weight stream {weights * 2 / th / 1e3:F1} GB/s)");
            }
        }
    }

    private static double Window(Action f)
    {
        f();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int n = 0;
        while (sw.ElapsedMilliseconds < 30)
        {
            f();
            n++;
        }

        return sw.Elapsed.TotalMicroseconds / n;
    }
}
