using System.Diagnostics;
using Asd.Native.Backends.Mlp;
using Asd.Native.Backends.Onnx;
using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Simd.Kernels.Gemm;
using Asd.Simd.Kernels;

namespace Asd.Bench;

/// <summary>A quick stopwatch probe for development (<c>-- quick-gemm</c>); the numbers we publish come from BenchmarkDotNet.</summary>
internal static class QuickGemm
{
    public static void Run()
    {
        double peak = Best(() => GemmBenchmarks.FmaChains(1 << 22), GemmBenchmarks.FmaFlops(1 << 22));
        Console.WriteLine($"FMA peak (12 chains): {peak:F1} GFLOP/s");
        foreach ((int m, int k, int n) in (from size in (int[])[256, 768] from m in (int[])[1, 2, 3, 4, 6, 8, 12, 16, 32, 64] select (m, size, size)))
        {
            var rng = new Random(1);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            ushort[] h = [.. Enumerable.Range(0, k * n).Select(_ => BitConverter.HalfToUInt16Bits((Half)rng.NextDouble()))];
            PackedMatrix ph = PackedMatrix.PackHalf(h, k, n, false);
            PackedMatrix pf = PackedMatrix.Pack([.. h.Select(b => (float)BitConverter.UInt16BitsToHalf(b))], k, n, false);
            var c = new float[m * n];
            int widenOnce = Sgemm.WidenOnceTiles;
            Sgemm.WidenOnceTiles = int.MaxValue;
            double gh = Best(() => { Sgemm.Multiply(a, m, k, ph, default, Activation.Identity, default, 0, c, n); return c[0]; }, 2.0 * m * n * k);
            Sgemm.WidenOnceTiles = 1;
            double gw = Best(() => { Sgemm.Multiply(a, m, k, ph, default, Activation.Identity, default, 0, c, n); return c[0]; }, 2.0 * m * n * k);
            Sgemm.WidenOnceTiles = widenOnce;
            double gf = Best(() => { Sgemm.Multiply(a, m, k, pf, default, Activation.Identity, default, 0, c, n); return c[0]; }, 2.0 * m * n * k);
            Console.WriteLine($"M={m} {k}x{n}: float16 {gh:F1} GFLOP/s ({gh / peak:P0}), widened once {gw:F1} ({gw / peak:P0}), float32 {gf:F1} GFLOP/s ({gf / peak:P0})");
        }

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
        foreach (string weights in (string[])["float32", "float16"])
        {
            foreach (int threads in (int[])[1, 2])
            {
                foreach (int batch in (int[])[1, 2, 3, 4, 6, 8, 16, 32])
                {
                    var b = new MlpForwardBenchmarks { Batch = batch, Threads = threads, Weights = weights };
                    b.Setup();
                    (double asd, double ort) = Best(() => b.Asd(), () => b.OnnxRuntime());
                    double gflops = 2.0 * batch * 624_640 / asd / 1e3;
                    Console.WriteLine($"weights={weights} threads={threads} batch={batch,2}: asd {asd,8:F1} us ({gflops,5:F1} GFLOP/s)  ort {ort,8:F1} us  ratio {ort / asd:F2}x");
                    b.Cleanup();
                }
            }
        }
    }

    /// <summary>
    /// The best per-call time of each over 20 windows of 30 ms, the two interleaved window by window; after each window
    /// of <paramref name="ort"/> an untimed pause lets ONNX Runtime's intra-op threads stop spinning (they spin after a
    /// run, its default and its best latency, and held a core through the engine's next window: the engine's 2-thread
    /// rows read 1.3-2.4x slower than run alone).
    /// </summary>
    private static (double Asd, double Ort) Best(Func<float> asd, Func<float> ort)
    {
        for (int i = 0; i < 200; i++)
        {
            asd();
        }

        for (int i = 0; i < 200; i++)
        {
            ort();
        }

        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int rep = 0; rep < 20; rep++)
        {
            Thread.Sleep(BenchRunnerSettle);
            bestA = Math.Min(bestA, QuickPolicyHalf.Window(() => asd()));
            bestB = Math.Min(bestB, QuickPolicyHalf.Window(() => ort()));
        }

        return (bestA, bestB);
    }

    /// <summary>The pause asd bench gives ONNX Runtime's spinning threads (BenchRunner.OnnxRuntimeSettle).</summary>
    private static readonly TimeSpan BenchRunnerSettle = TimeSpan.FromMilliseconds(200);
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
        using var model = Asd.Native.Backends.Mlp.MlpModel.Load(MlpForwardBenchmarks.ModelPath("mlp_bench.json"));
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

/// <summary><c>-- quick-pool</c>: one 512x512 GEMM split over panels on 1 and 2 pool threads (development probe).</summary>
internal static class QuickPool
{
    private sealed class TracedWork(Work inner) : Asd.Native.Threading.IRangeWork
    {
        public readonly long[] Start = new long[2], End = new long[2];
        public readonly int[] Thread = new int[2];

        public void Execute(int start, int end)
        {
            int i = start == 0 ? 0 : 1;
            Start[i] = System.Diagnostics.Stopwatch.GetTimestamp();
            inner.Execute(start, end);
            End[i] = System.Diagnostics.Stopwatch.GetTimestamp();
            Thread[i] = Environment.CurrentManagedThreadId;
        }
    }

    private sealed class PairWork(Work a, Work b) : Asd.Native.Threading.IRangeWork
    {
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                (i == 0 ? a : b).Execute(0, 3);
            }
        }
    }

    private sealed class EmptyWork : Asd.Native.Threading.IRangeWork
    {
        public void Execute(int start, int end)
        {
        }
    }

    private sealed class Work(float[] packedA, int m, PackedMatrix w, float[] c, float[]? packNext = null) : Asd.Native.Threading.IRangeWork
    {
        public void Execute(int start, int end) =>
            Sgemm.MultiplyPacked(packedA.AsSpan(0, Sgemm.PackedSize(m, w.K)), m, w, start * 4, Math.Min(end * 4, w.Panels), default, Activation.Silu, default, 0, c, w.N, packNext is null ? default : packNext.AsSpan(0, Sgemm.PackedSize(m, w.N)));
    }

    public static void Run()
    {
        bool chainOnly = Environment.GetEnvironmentVariable("ASD_CHAIN_ROWS") is not null;
        if (!chainOnly)
        {
            // Two threads, each on its own matrix (half the columns each) rather than halves of one.
            const int m = 8, k = 768, n = 384;
            var rng = new Random(1);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            PackedMatrix w0 = PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble())], k, n, true);
            PackedMatrix w1 = PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble())], k, n, true);
            var p0 = new float[Sgemm.PackedSize(m, k)];
            var p1 = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(a, m, k, k, w0.Path, p0);
            Sgemm.PackA(a, m, k, k, w0.Path, p1);
            var pair = new PairWork(new Work(p0, m, w0, new float[m * n]), new Work(p1, m, w1, new float[m * n]));
            foreach (int threads in (int[])[1, 2, 1, 2])
            {
                using var pool = new Asd.Native.Threading.CorePool(threads);
                var times = new double[4000];
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    pool.Run(pair, 2);
                    times[rep] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                Console.WriteLine($"two separate 8x768x384 float16 GEMMs, threads={threads}: best {times[0]:F1} us, median {times[times.Length / 2]:F1} us");
            }
        }

        // A chain of layers whose weights together exceed L2, as in builtin:policy (6 x 768 x 768 float16 = 7 MB).
        int[] chainRows = Environment.GetEnvironmentVariable("ASD_CHAIN_ROWS") is { } rowsText ? [int.Parse(rowsText)] : [1, 8];
        foreach (int m in chainRows)
        {
            int k = int.Parse(Environment.GetEnvironmentVariable("ASD_CHAIN_WIDTH") ?? "768"), n = k;
            int layers = int.Parse(Environment.GetEnvironmentVariable("ASD_CHAIN_LAYERS") ?? "6");
            var rng = new Random(1);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            var packed = new float[Sgemm.PackedSize(m, k)];
            float[][] chained = [new float[Sgemm.PackedSize(m, k)], new float[Sgemm.PackedSize(m, k)]];
            var c = new float[m * n];
            bool chain = Environment.GetEnvironmentVariable("ASD_CHAIN") == "1";
            Work[] works = [.. Enumerable.Range(0, layers).Select(i =>
            {
                PackedMatrix w = PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() * 0.01f)], k, n, true);
                Sgemm.PackA(a, m, k, k, w.Path, packed);
                Sgemm.PackA(a, m, k, k, w.Path, chained[0]);
                return chain ? new Work(chained[i % 2], m, w, c, chained[1 - (i % 2)]) : new Work(packed, m, w, c);
            })];
            Console.WriteLine($"chained activations (each layer packs the next one's input): {chain}; panel width {Sgemm.PanelWidth(Asd.Simd.Isa.Active)}");
            foreach (int threads in (int[])[1, 2, 1, 2])
            {
                using var pool = new Asd.Native.Threading.CorePool(threads);
                var times = new double[2000];
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    foreach (Work wk in works)
                    {
                        pool.Run(wk, (((n + Sgemm.PanelWidth(Asd.Simd.Isa.Active) - 1) / Sgemm.PanelWidth(Asd.Simd.Isa.Active)) + 3) / 4);
                    }

                    times[rep] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                Console.WriteLine($"chain of {layers} layers M={m} {k}x{n} float16, threads={threads}: best {times[0]:F1} us ({2.0 * m * n * k * layers / times[0] / 1e3:F1} GFLOP/s), median {times[times.Length / 2]:F1} us ({2.0 * m * n * k * layers / times[times.Length / 2] / 1e3:F1} GFLOP/s)");
            }
        }

        if (chainOnly)
        {
            return;
        }

        foreach ((int m, int k, int n, bool half) in new[] { (4, 512, 512, true), (8, 512, 512, true), (8, 512, 512, false), (32, 512, 512, false), (8, 768, 768, false), (8, 768, 768, true), (1, 768, 768, true), (8, 768, 768 * 4, true) })
        {
            var rng = new Random(1);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            PackedMatrix w = PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble())], k, n, half);
            var packed = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(a, m, k, k, w.Path, packed);
            var c = new float[m * n];
            var work = new Work(packed, m, w, c);
            int units = (w.Panels + 3) / 4;
            foreach (int threads in (int[])[1, 2, 1, 2])
            {
                using var pool = new Asd.Native.Threading.CorePool(threads);
                var times = new double[4000];
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    pool.Run(work, units);
                    times[rep] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                double best = times[0], med = times[times.Length / 2];
                Console.WriteLine($"M={m} K={k} N={n} half={half} threads={threads}: best {best:F1} us ({2.0 * m * n * k / best / 1e3:F1} GFLOP/s), median {med:F1} us");
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    work.Execute(0, units / 2);
                    times[rep] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                Console.WriteLine($"   half the units inline: best {times[0]:F1} us, median {times[times.Length / 2]:F1} us");
                if (threads == 2)
                {
                    var traced = new TracedWork(work);
                    var s0 = new double[times.Length]; var s1 = new double[times.Length]; var e0 = new double[times.Length]; var e1 = new double[times.Length]; var tot = new double[times.Length];
                    int mine = Environment.CurrentManagedThreadId, sameThread = 0;
                    for (int rep = 0; rep < times.Length; rep++)
                    {
                        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                        pool.Run(traced, units);
                        long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                        double us(long x) => (x - t0) * 1e6 / System.Diagnostics.Stopwatch.Frequency;
                        (s0[rep], e0[rep], s1[rep], e1[rep], tot[rep]) = (us(traced.Start[0]), us(traced.End[0]), us(traced.Start[1]), us(traced.End[1]), us(t1));
                        if (traced.Thread[0] == traced.Thread[1]) sameThread++;
                    }

                    double Med(double[] v) { Array.Sort(v); return v[v.Length / 2]; }
                    Console.WriteLine($"   traced medians: chunk0 {Med(s0):F2}-{Med(e0):F2}  chunk1 {Med(s1):F2}-{Med(e1):F2}  total {Med(tot):F2} us; both chunks on one thread in {sameThread} of {times.Length}");
                }

                var empty = new EmptyWork();
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    pool.Run(empty, units);
                    times[rep] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                Console.WriteLine($"   empty run: best {times[0]:F2} us, median {times[times.Length / 2]:F2} us");
            }
        }
    }
}

/// <summary><c>-- loop-mlp BATCH THREADS SECONDS</c>: runs forwards in a loop, for profilers.</summary>
internal static class LoopMlp
{
    public static void Run(string[] args)
    {
        // -- loop-mlp ROWS THREADS SECONDS [float32|float16]
        var b = new MlpForwardBenchmarks { Batch = int.Parse(args[1]), Threads = int.Parse(args[2]), Weights = args.Length > 4 ? args[4] : "float32" };
        b.Setup();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture))
        {
            b.Asd();
            n++;
        }

        Console.WriteLine($"{sw.Elapsed.TotalMicroseconds / n:F1} us per forward");
        b.Cleanup();
    }
}

/// <summary><c>-- quick-act</c>: epilogue and packing costs per element (development probe).</summary>
internal static class QuickAct
{
    public static void Run()
    {
        var x = new float[32 * 512];
        var bias = new float[512];
        new Random(1).NextBytes(new byte[1]);
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (i % 97) / 20f - 2f;
        }

        for (int warm = 0; warm < 3000; warm++)
        {
            foreach (Activation a in Enum.GetValues<Activation>())
            {
                ActivationMath.ApplyRow(x.AsSpan(0, 512), bias, a, default, x.AsSpan(0, 512));
            }
        }

        foreach (Activation act in Enum.GetValues<Activation>())
        {
            double best = double.MaxValue;
            for (int rep = 0; rep < 300; rep++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int r = 0; r < 32; r++)
                {
                    Span<float> row = x.AsSpan(r * 512, 512);
                    ActivationMath.ApplyRow(row, bias, act, default, row);
                }

                best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }

            Console.WriteLine($"{act}: {best:F2} us per 16384 elements ({best * 1000 / 16384:F2} ns each)");
            double best64 = double.MaxValue;
            for (int rep = 0; rep < 300; rep++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int r = 0; r < 256; r++)
                {
                    Span<float> row = x.AsSpan(r * 64, 64);
                    ActivationMath.ApplyRow(row, bias.AsSpan(0, 64), act, default, row);
                }

                best64 = Math.Min(best64, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }

            Console.WriteLine($"   in slices of 64: {best64:F2} us per 16384 elements ({best64 * 1000 / 16384:F2} ns each)");
        }

        var packed = new float[32 * 512];
        double pb = double.MaxValue;
        for (int rep = 0; rep < 300; rep++)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Sgemm.PackA(x, 32, 512, 512, Asd.Simd.IsaPath.Avx512, packed);
            pb = Math.Min(pb, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        }

        Console.WriteLine($"PackA 32x512: {pb:F2} us");
    }
}

/// <summary>
/// <c>-- quick-onnx-shapes MODEL [on|off] [THREADS]</c>: does ONNX Runtime charge for a change of batch size? Times calls of
/// B = 1..4 rows, first each size in a run of its own (steady state), then cycling 1, 2, 3, 4 as ASD's rounds do; a
/// cycle dearer than the steady sizes' sum is the price of the shape changes (development probe).
/// </summary>
internal static class QuickOnnxShapes
{
    public static void Run(string[] args)
    {
        bool? buckets = args.Length > 2 ? args[2] == "on" : null;
        int threads = args.Length > 3 ? int.Parse(args[3]) : 1;
        using var model = (Asd.Native.Backends.Onnx.OnnxModel)Asd.Native.Models.ModelCatalog.Open(args[1], new Asd.Native.Models.ModelOpenOptions { Threads = threads, BatchBuckets = buckets });
        var den = model.CreateDenoiser(new Asd.Native.Schedules.DiffusionSchedule(new Asd.Native.Schedules.SchedulerConfig()), new Asd.Native.Denoising.DenoiserOptions { MaxBatchRows = 8 });
        int d = den.SampleSize, c = den.ConditionSize;
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, 8 * d).Select(_ => (float)rng.NextDouble())], cond = new float[8 * c], y = new float[8 * d];
        int[] t = [10, 200, 350, 500, 650, 800, 900, 990];
        double Time(int[] sizes, int reps)
        {
            foreach (int b in sizes)
            {
                den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
            }

            double best = double.MaxValue;
            for (int r = 0; r < reps; r++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (int b in sizes)
                {
                    den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
                }

                best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }

            return best;
        }

        for (int round = 0; round < 3; round++)
        {
            double steady = 0;
            for (int b = 1; b <= 4; b++)
            {
                double us = Time([b, b, b, b, b, b, b, b], 40) / 8;
                steady += us;
                Console.Write($"B={b} {us:F1} us  ");
            }

            double cycle = Time([1, 2, 3, 4, 1, 2, 3, 4], 40) / 2;
            Console.WriteLine($"| sum {steady:F1} us, cycle 1-2-3-4 {cycle:F1} us ({cycle / steady:F2}x) buckets={model.BatchBuckets}");
        }
    }
}

/// <summary>
/// <c>-- quick-onnx-calls MODEL THREADS L</c>: what the calls of an ASD run cost by row count, against the calibrated
/// curve measured in the same process: is T(B) inside a sampling run the T(B) that auto plans with? (development probe)
/// </summary>
internal static class QuickOnnxCalls
{
    private sealed class Timed(Asd.Native.Denoising.IDenoiser inner) : Asd.Native.Denoising.IDenoiser
    {
        public readonly double[] Seconds = new double[1025];
        public readonly long[] Count = new long[1025];

        public int SampleSize => inner.SampleSize;

        public int ConditionSize => inner.ConditionSize;

        public bool IsBatchInvariant => inner.IsBatchInvariant;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            inner.Denoise(samples, timesteps, conditioning, output);
            Seconds[timesteps.Length] += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            Count[timesteps.Length]++;
        }
    }

    public static void Run(string[] args)
    {
        int threads = int.Parse(args[2]);
        Asd.Native.Sampling.SpecLength l = Asd.Native.Sampling.SpecLength.Parse(args[3]);
        using var model = (Asd.Native.Backends.Onnx.OnnxModel)Asd.Native.Models.ModelCatalog.Open(args[1], new Asd.Native.Models.ModelOpenOptions { Threads = threads });
        var schedule = new Asd.Native.Schedules.DiffusionSchedule(model.DefaultScheduler);
        var den = model.CreateDenoiser(schedule, new Asd.Native.Denoising.DenoiserOptions { MaxBatchRows = 64 });
        var curve = Asd.Native.Sampling.CostCurve.Measure(den, 64, model.DefaultScheduler.NumTrainTimesteps);
        var timed = new Timed(den);
        var plan = schedule.Plan(100);
        using var asd = new Asd.Native.Sampling.AsdSampler(timed, plan, new Asd.Native.Sampling.SamplerOptions { SpecLength = l, CostCurve = curve });
        using var ddpm = new Asd.Native.Sampling.DdpmSampler(timed, plan, new Asd.Native.Sampling.SamplerOptions());
        var x = new float[den.SampleSize];
        double asdWall = 0, ddpmWall = 0;
        asd.Sample(1, 99, x);
        ddpm.Sample(1, 99, x);
        Array.Clear(timed.Seconds);
        Array.Clear(timed.Count);
        for (int r = 0; r < 30; r++)
        {
            asdWall += asd.Sample(1, (ulong)r, x).WallSeconds;
            ddpmWall += ddpm.Sample(1, (ulong)r, x).WallSeconds;
        }

        Console.WriteLine($"wall per sample: ASD L={l} {asdWall / 30 * 1e3:F2} ms, DDPM {ddpmWall / 30 * 1e3:F2} ms ({ddpmWall / asdWall:F2}x)");
        double predicted = 0, actual = 0;
        for (int b = 1; b <= 64; b++)
        {
            if (timed.Count[b] == 0)
            {
                continue;
            }

            double mean = timed.Seconds[b] / timed.Count[b];
            predicted += curve.CallSeconds(b) * timed.Count[b];
            actual += timed.Seconds[b];
            Console.WriteLine($"B={b,2}: {timed.Count[b],6} calls, in the run {mean * 1e6,7:F1} us, calibrated {curve.CallSeconds(b) * 1e6,7:F1} us ({mean / curve.CallSeconds(b):F2}x)");
        }

        Console.WriteLine($"all calls: {actual * 1e3:F1} ms in the runs, {predicted * 1e3:F1} ms by the curve ({actual / predicted:F2}x)");
    }
}

/// <summary>
/// <c>-- quick-onnx-after MODEL THREADS</c>: is a one-row call slower right after a large call than after a one-row
/// call? (what CostCurve.Measure's untimed call of the same size guards against; development probe)
/// </summary>
internal static class QuickOnnxAfter
{
    public static void Run(string[] args)
    {
        // quick-onnx-after MODEL THREADS [rowpar [SPIN]]: how a call's time depends on the call before it (issue 16 item 6:
        // the cost model times each size after a call of the same kind, sampling alternates sizes and, row-parallel,
        // a one-row session with intra-op threads and the lanes).
        bool rowParallel = args.Length > 3 && args[3] == "rowpar";
        if (args.Length > 4)
        {
            // An idle worker's spin before it sleeps (CorePool.SpinIterations), to see what waking a lane costs.
            Asd.Native.Threading.CorePool.SpinIterations = int.Parse(args[4]);
        }

        using var model = (Asd.Native.Backends.Onnx.OnnxModel)Asd.Native.Models.ModelCatalog.Open(args[1], new Asd.Native.Models.ModelOpenOptions { Threads = int.Parse(args[2]), RowParallel = rowParallel });
        // The pool the engine gives the model (row-parallel: one lane per thread; otherwise a pool of one).
        using var pool = new Asd.Native.Threading.CorePool(Asd.Native.Sampling.SamplerFactory.PoolThreads(model, int.Parse(args[2])));
        var den = model.CreateDenoiser(new Asd.Native.Schedules.DiffusionSchedule(model.DefaultScheduler), new Asd.Native.Denoising.DenoiserOptions { MaxBatchRows = 64, Pool = pool });
        int d = den.SampleSize, c = den.ConditionSize;
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, 64 * d).Select(_ => (float)rng.NextDouble())], cond = new float[64 * c], y = new float[64 * d];
        int[] t = [.. Enumerable.Range(0, 64).Select(i => (i * 15) + 1)];
        void Call(int b) => den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
        double Timed(int b)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Call(b);
            return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }

        for (int w = 0; w < 50; w++)
        {
            Call(64);
            Call(1);
        }

        foreach (int before in (int[])[64, 16, 4, 2])
        {
            var afterBig = new List<double>();
            var afterOne = new List<double>();
            for (int r = 0; r < 200; r++)
            {
                Call(before);
                afterBig.Add(Timed(1));
                afterOne.Add(Timed(1));
            }

            afterBig.Sort();
            afterOne.Sort();
            Console.WriteLine($"one row after {before,2} rows: median {afterBig[100]:F1} us; after one row: {afterOne[100]:F1} us ({afterBig[100] / afterOne[100]:F2}x); after one row, lower quartile {afterOne[50]:F1} us, mean {afterOne.Average():F1} us");
        }

        foreach (int rows in (int[])[2, 4, 8])
        {
            var afterOne = new List<double>();
            var afterSame = new List<double>();
            for (int r = 0; r < 200; r++)
            {
                Call(1);
                afterOne.Add(Timed(rows));
                afterSame.Add(Timed(rows));
            }

            afterOne.Sort();
            afterSame.Sort();
            Console.WriteLine($"{rows} rows after one row: median {afterOne[100]:F1} us; after {rows} rows: {afterSame[100]:F1} us ({afterOne[100] / afterSame[100]:F2}x); after {rows} rows, lower quartile {afterSame[50]:F1} us, mean {afterSame.Average():F1} us");
        }

        // Two rows after a streak of one-row calls (auto's DDPM streaks, then an exploring or rechecking round):
        // row-parallel, a lane idle for longer than its spin sleeps and must be woken.
        foreach (int streak in (int[])[0, 1, 2, 4, 8, 16])
        {
            var after = new List<double>();
            for (int r = 0; r < 100; r++)
            {
                Call(2);
                for (int k = 0; k < streak; k++)
                {
                    Call(1);
                }

                after.Add(Timed(2));
            }

            after.Sort();
            Console.WriteLine($"2 rows after {streak,2} one-row calls: median {after[50]:F1} us, lower quartile {after[25]:F1} us, upper quartile {after[75]:F1} us");
        }
    }
}
