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
        half.HalfWeights = HalfPacking.Always;
        full.HalfWeights = HalfPacking.Never;
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

    /// <summary><c>-- loop-policy ROWS THREADS SECONDS</c>: builtin:policy forwards in a loop, for profilers.</summary>
    public static void Loop(string[] args)
    {
        int rows = int.Parse(args[1]), threads = int.Parse(args[2]);
        using MlpModel model = ModelCatalog.OpenPolicy();
        if (Environment.GetEnvironmentVariable("ASD_ROW_SPLIT") is { Length: > 0 } split)
        {
            model.RowSplitRows = split == "off" ? int.MaxValue : int.Parse(split);
        }

        using var pool = new CorePool(threads);
        IDenoiser d = model.CreateDenoiser(new DiffusionSchedule(model.DefaultScheduler), new DenoiserOptions { MaxBatchRows = rows, Pool = pool });
        float[] x = new float[rows * d.SampleSize], c = new float[rows * d.ConditionSize], y = new float[rows * d.SampleSize];
        int[] t = [.. Enumerable.Range(0, rows).Select(i => 10 + (7 * i))];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture))
        {
            d.Denoise(x, t, c, y);
            n++;
        }

        Console.WriteLine($"{sw.Elapsed.TotalMicroseconds / n:F1} us per forward");
    }

    /// <summary>
    /// <c>-- first-calls</c>: builtin:policy's first, second and tenth call of each size in a fresh process after
    /// warming only 1 and 8 rows, as auto meets new sizes after a remembered curve (no calibration ran them).
    /// </summary>
    public static void FirstCalls()
    {
        using MlpModel model = ModelCatalog.OpenPolicy();
        using var pool = new CorePool(2);
        IDenoiser d = model.CreateDenoiser(new DiffusionSchedule(model.DefaultScheduler), new DenoiserOptions { MaxBatchRows = 64, Pool = pool });
        float[] x = new float[64 * d.SampleSize], c = new float[64 * d.ConditionSize], y = new float[64 * d.SampleSize];
        int[] t = [.. Enumerable.Range(0, 64).Select(i => 10 + (7 * i % 90))];
        void Call(int rows) => d.Denoise(x.AsSpan(0, rows * d.SampleSize), t.AsSpan(0, rows), c.AsSpan(0, rows * d.ConditionSize), y.AsSpan(0, rows * d.SampleSize));
        for (int i = 0; i < 200; i++)
        {
            Call(1);
            Call(8);
        }

        foreach (int rows in (int[])[1, 8, 10, 14, 18, 24, 32, 12, 5, 6, 7])
        {
            var times = new List<double>(10);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int k = 0; k < 10; k++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                Call(rows);
                times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }

            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (Environment.GetEnvironmentVariable("DOTNET_JitStdOutFile") is { } jf)
            {
                Console.WriteLine($"-- jitted so far: {File.ReadAllLines(jf).Length}");
            }

            Console.WriteLine($"rows {rows,2}: first {times[0],8:F1} us  second {times[1],8:F1}  tenth {times[9],8:F1}  allocated by the calls {allocated} B");
        }
    }

    /// <summary><c>-- quick-layernorm</c>: one 768-wide layer norm row, for development.</summary>
    public static void LayerNormRow()
    {
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, 768).Select(_ => (float)rng.NextDouble())], w = [.. x], b = [.. x], y = new float[768];
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 200_000; i++)
            {
                Asd.Simd.Kernels.RowNorm.LayerNorm(x, w, b, 1e-5, y);
            }

            Console.WriteLine($"layer norm of 768: {sw.Elapsed.TotalMicroseconds / 200_000 * 1000:F0} ns");
        }
    }

    /// <summary>The mean time of <paramref name="f"/> over a 30 ms window (after one untimed call), in microseconds.</summary>
    internal static double Window(Action f)
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
