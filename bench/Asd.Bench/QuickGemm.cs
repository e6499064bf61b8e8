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
        foreach ((int m, int n, int k) in new[] { (512, 512, 512), (1, 512, 512), (8, 512, 512), (16, 512, 512), (32, 512, 512), (8, 1024, 1024), (16, 1024, 1024), (8, 512, 164), (8, 32, 512), (1, 1024, 640), (1, 2048, 1024) })
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

/// <summary>A quick stopwatch probe of the MLP forward (<c>-- quick-mlp</c>), for development only.</summary>
internal static class QuickMlp
{
    public static void Run()
    {
        foreach (int threads in (int[])[1, 2])
        {
            foreach (int batch in (int[])[1, 2, 4, 8, 16, 32])
            {
                var b = new MlpForwardBenchmarks { Batch = batch, Threads = threads };
                b.Setup();
                double asd = Best(() => b.Asd()), ort = Best(() => b.OnnxRuntime());
                double gflops = 2.0 * batch * 624_640 / asd / 1e3;
                Console.WriteLine($"threads={threads} batch={batch,2}: asd {asd,8:F1} us ({gflops,5:F1} GFLOP/s)  ort {ort,8:F1} us  ratio {ort / asd:F2}x");
                b.Cleanup();
            }
        }
    }

    private static double Best(Func<float> f)
    {
        for (int i = 0; i < 200; i++)
        {
            f();
        }

        double best = double.MaxValue;
        for (int rep = 0; rep < 20; rep++)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            int n = 0;
            while (sw.ElapsedMilliseconds < 30)
            {
                f();
                n++;
            }

            best = Math.Min(best, sw.Elapsed.TotalMicroseconds / n);
        }

        return best;
    }
}

/// <summary>Quick read-bandwidth probe (<c>-- quick-stream</c>), for development only.</summary>
internal static class QuickStream
{
    public static void Run()
    {
        foreach (int bytes in (int[])[256 << 10, 1 << 20, 2 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20])
        {
            var b = new GemmBenchmarks { N = bytes switch { <= 1 << 20 => 256, <= 16 << 20 => 512, _ => 1024 }, M = 1, K = 256 };
            b.Setup();
            // Use the benchmark's buffer size by N; override by allocating our own for finer sizes.
            float[] buf = new float[bytes / 4];
            for (int i = 0; i < buf.Length; i++)
            {
                buf[i] = i & 7;
            }
            double best = 0;
            for (int rep = 0; rep < 10; rep++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                int n = 0;
                while (sw.ElapsedMilliseconds < 50)
                {
                    Sum(buf);
                    n++;
                }

                best = Math.Max(best, (double)bytes * n / sw.Elapsed.TotalSeconds / 1e9);
            }

            Console.WriteLine($"{bytes / 1024,8} KB: {best:F1} GB/s");
        }
    }

    private static float Sum(float[] a)
    {
        ref float p = ref a[0];
        System.Runtime.Intrinsics.Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (nint i = 0; i + 64 <= a.Length; i += 64)
        {
            s0 += System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref p, (nuint)i);
            s1 += System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref p, (nuint)(i + 16));
            s2 += System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref p, (nuint)(i + 32));
            s3 += System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref p, (nuint)(i + 48));
        }

        return System.Runtime.Intrinsics.Vector512.Sum((s0 + s1) + (s2 + s3));
    }
}

/// <summary>
/// <c>-- cost-curve</c>: T(B) / T(1) of the pinned MLP for B = 1..32 with 1 and 2 threads, measured with the engine's
/// own calibration (<see cref="Asd.Native.Sampling.CostCurve.Measure"/>), printed as a markdown table.
/// </summary>
internal static class CostCurveReport
{
    public static void Run()
    {
        using var model = Asd.Native.Models.MlpModel.Load(MlpForwardBenchmarks.ModelPath("mlp_bench.json"));
        var curves = new List<Asd.Native.Sampling.CostCurve>();
        foreach (int threads in (int[])[1, 2])
        {
            using var pool = new Asd.Native.Threading.CorePool(threads);
            curves.Add(Asd.Native.Sampling.CostCurve.Measure(model.CreateDenoiser(64, pool), 32, 1000, repeats: 21, model: "mlp_bench"));
        }

        Console.WriteLine("| B | T(B) 1 thread (us) | T(B)/T(1), 1 thread | T(B) 2 threads (us) | T(B)/T(1), 2 threads |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        for (int b = 1; b <= 32; b++)
        {
            Console.WriteLine(System.FormattableString.Invariant(
                $"| {b} | {curves[0].Seconds(b) * 1e6:F1} | {curves[0].Ratio(b):F2} | {curves[1].Seconds(b) * 1e6:F1} | {curves[1].Ratio(b):F2} |"));
        }
    }
}
