using System.Diagnostics;
using Asd.Native.Threading;
using Asd.Simd;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-convgemm [threads]</c>: the packed GEMM at the deployment-size ConditionalUnet1D's coarse-level shapes
/// (K = 5 x 1024, N = 1024: 21 MB of weights, more than a core's L2), panel groups split across the pool as the
/// denoiser splits them, for M = 4 x samples rows; printed next to the stream time of the same bytes and the FMA time of
/// the same FLOPs, to see whether the two overlap. A development probe.
/// </summary>
internal static class QuickConvGemm
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1]) : 2;
        using var pool = new CorePool(threads);
        double bw = QuickUnet.Bandwidth(pool, 1L << 30);
        double peak = QuickUnet.FmaPeak(pool);
        Console.WriteLine($"read bandwidth {bw:F1} GB/s, FMA peak {peak:F0} GFLOP/s, {threads} threads");
        int k = 5 * 1024, n = 1024;
        var rng = new Random(1);
        // Several matrices so that each call streams from memory, as a forward pass does.
        PackedMatrix[] ws = [.. Enumerable.Range(0, 20).Select(_ => PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f)], k, n, false))];
        foreach (int m in (int[])[4, 8, 16, 24, 48, 96])
        {
            Hot(pool, m, peak);
            float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
            var packed = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(a, m, k, k, ws[0].Path, packed);
            var c = new float[m * n];
            var work = new Work(packed, m, c);
            var times = new List<double>();
            for (int rep = 0; rep < 60; rep++)
            {
                work.W = ws[rep % ws.Length];
                int groups = (work.W.Panels + 3) / 4;
                var sw = Stopwatch.StartNew();
                pool.Run(work, groups);
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            double t = times[times.Count / 2], bytes = ws[0].Bytes, flops = 2.0 * m * k * n;
            double stream = bytes / bw / 1e6, fma = flops / peak / 1e6;
            Console.WriteLine($"M={m,3}: {t:F3} ms  stream {stream:F3} ms  FMA {fma:F3} ms  sum {stream + fma:F3}  max {Math.Max(stream, fma):F3}  ({bytes / t / 1e6:F1} GB/s, {flops / t / 1e6:F0} GFLOP/s)");
        }
    }

    /// <summary>The same kernel on weights that stay in L2 (K = 1024, N = 128 x threads): its compute efficiency alone.</summary>
    private static void Hot(CorePool pool, int m, double peak)
    {
        int k = 1024, n = 128 * pool.Threads;
        var rng = new Random(2);
        PackedMatrix w = PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f)], k, n, false);
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
        var packed = new float[Sgemm.PackedSize(m, k)];
        Sgemm.PackA(a, m, k, k, w.Path, packed);
        var work = new Work(packed, m, new float[m * n]) { W = w };
        var times = new List<double>();
        for (int rep = 0; rep < 2000; rep++)
        {
            var sw = Stopwatch.StartNew();
            pool.Run(work, (w.Panels + 3) / 4);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        double t = times[times.Count / 2], flops = 2.0 * m * k * n;
        Console.WriteLine($"  hot M={m,3}: {flops / t / 1e6:F0} GFLOP/s ({flops / t / 1e6 / peak:P0} of peak)");
    }

    /// <summary>
    /// <c>-- quick-split [threads]</c>: which thread, and which half of the panels, is slower when two threads share a
    /// one-row GEMM of the deployment-size network (M = 4, K = 5120, N = 1024, from memory): each chunk's time by the
    /// slot that ran it and by its position, as the pool assigns them (the caller claims the first chunk).
    /// </summary>
    public static void Split(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1]) : 2, m = args.Length > 2 ? int.Parse(args[2]) : 4;
        int n = args.Length > 3 ? int.Parse(args[3]) : 1024, k = args.Length > 4 ? int.Parse(args[4]) : 5120;
        using var pool = new CorePool(threads);
        var rng = new Random(1);
        PackedMatrix[] ws = [.. Enumerable.Range(0, 400_000_000 / (k * n * 4) + 2).Select(_ => PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f)], k, n, false))];
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
        var packed = new float[Sgemm.PackedSize(m, k)];
        Sgemm.PackA(a, m, k, k, ws[0].Path, packed);
        var work = new TimedWork(packed, m, new float[m * n]);
        int groups = (ws[0].Panels + 3) / 4;
        for (int rep = 0; rep < 400; rep++)
        {
            work.W = ws[rep % ws.Length];
            work.Measure = rep >= 50;
            if (Environment.GetEnvironmentVariable("REPACK") == "1")
            {
                // As the denoiser does: the caller packs A just before the GEMM, so A is in its cache only.
                Sgemm.PackA(a, m, k, k, ws[0].Path, packed);
            }

            pool.Run(work, groups);
        }

        Console.WriteLine($"M={m} K={k} N={n}, {ws.Length} matrices of {ws[0].Bytes / 1e6:F1} MB, {groups} panel groups over {threads} threads");
        foreach (((int slot, int start), List<double> t) in work.Times.OrderBy(kv => kv.Key))
        {
            t.Sort();
            Console.WriteLine($"  slot {slot} chunk from group {start}: median {t[t.Count / 2]:F1} us over {t.Count}");
        }
    }

    private sealed class TimedWork(float[] packed, int m, float[] c) : IRangeWork
    {
        public PackedMatrix W { get; set; } = null!;

        public bool Measure { get; set; }

        public Dictionary<(int, int), List<double>> Times { get; } = [];

        public void Execute(int start, int end)
        {
            long t0 = Stopwatch.GetTimestamp();
            Sgemm.MultiplyPacked(packed, m, W, start * 4, Math.Min(end * 4, W.Panels), default, Activation.Identity, default, 0, c, W.N);
            double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            if (Measure)
            {
                lock (Times)
                {
                    (int, int) key = (CorePool.CurrentSlot, start);
                    if (!Times.TryGetValue(key, out List<double>? list))
                    {
                        Times[key] = list = [];
                    }

                    list.Add(us);
                }
            }
        }
    }

    private sealed class Work(float[] packed, int m, float[] c) : IRangeWork
    {
        public PackedMatrix W { get; set; } = null!;

        public void Execute(int start, int end) =>
            Sgemm.MultiplyPacked(packed, m, W, start * 4, Math.Min(end * 4, W.Panels), default, Activation.Identity, default, 0, c, W.N, weightsFromMemory: true);
    }
}
