using System.Diagnostics;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;

namespace Asd.Bench;

/// <summary>A quick stopwatch probe for development (<c>-- quick-gemm</c>); the numbers we publish come from BenchmarkDotNet.</summary>
internal static class QuickGemm
{
    public static void Run()
    {
        double peak = Best(() => GemmBenchmarks.FmaChains(1 << 22), 2.0 * 16 * 12 * (1 << 22));
        Console.WriteLine($"FMA peak (12 chains): {peak:F1} GFLOP/s");
        foreach ((int m, int n, int k) in new[] { (512, 512, 512), (1, 512, 512), (8, 512, 512), (32, 512, 512), (8, 1024, 1024) })
        {
            var rng = new Random(1);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            float[] w = [.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble())];
            PackedMatrix pw = PackedMatrix.Pack(w, k, n, false);
            var c = new float[m * n];
            double g = Best(() => { Sgemm.Multiply(a, m, k, pw, default, Activation.Identity, default, 0, c, n); return c[0]; }, 2.0 * m * n * k);
            Console.WriteLine($"M={m} N={n} K={k}: {g:F1} GFLOP/s ({g / peak:P0} of peak)");
        }
    }

    private static double Best(Func<float> f, double flops)
    {
        double best = 0;
        for (int rep = 0; rep < 30; rep++)
        {
            var sw = Stopwatch.StartNew();
            int iters = 0;
            while (sw.ElapsedMilliseconds < 50)
            {
                f();
                iters++;
            }

            best = Math.Max(best, flops * iters / sw.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }
}
