using System.Diagnostics;
using System.Runtime.Intrinsics;
using Asd.Native.Backends.Unet1d;
using Asd.Native.Threading;
using Asd.Simd.Kernels;
using Asd.Simd.Vectors;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-unet MODEL.json [threads] [sizes, comma-separated] [repeats]</c>: T(B) of a ConditionalUnet1D through its denoiser (median of interleaved
/// calls) and the read bandwidth of a 1 GB buffer with the same threads; a development probe (asd bench publishes).
/// </summary>
internal static class QuickUnet
{
    public static void Run(string[] args)
    {
        string path = args.Length > 1 ? args[1] : "artifacts/unet1d-deploy/unet1d_deploy.json";
        int threads = args.Length > 2 ? int.Parse(args[2]) : 2;
        using var pool = new CorePool(threads);
        Console.WriteLine($"read bandwidth, {threads} threads, 1 GB: {Bandwidth(pool, 1L << 30):F1} GB/s");
        Console.WriteLine($"FMA peak (12 Vector512 chains per thread), {threads} threads: {FmaPeak(pool):F1} GFLOP/s");
        using Unet1dModel model = Unet1dModel.Load(path);
        if (Environment.GetEnvironmentVariable("ASD_ROW_SPLIT") is { Length: > 0 } split)
        {
            model.RowSplitRows = split == "off" ? int.MaxValue : int.Parse(split);
            Console.WriteLine($"row split from {split} samples (off: every GEMM's columns split across the threads)");
        }

        Unet1dDenoiser den = model.CreateDenoiser(64, pool);
        int d = model.SampleSize, c = model.ConditionSize;
        int[] sizes = args.Length > 3 ? [.. args[3].Split(',').Select(int.Parse)] : [1, 2, 3, 4, 6, 8, 12, 16];
        int reps = args.Length > 4 ? int.Parse(args[4]) : 25;
        var rng = new Random(1);
        int most = sizes.Max();
        float[] x = [.. Enumerable.Range(0, most * d).Select(_ => (float)rng.NextDouble())];
        float[] cond = [.. Enumerable.Range(0, most * c).Select(_ => (float)rng.NextDouble())];
        int[] t = [.. Enumerable.Range(0, most).Select(i => (i * 7) % 100)];
        var y = new float[most * d];
        var times = sizes.ToDictionary(b => b, _ => new List<double>());
        for (int rep = 0; rep < reps; rep++)
        {
            foreach (int b in sizes)
            {
                den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
                var sw = Stopwatch.StartNew();
                den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
                times[b].Add(sw.Elapsed.TotalMilliseconds);
            }
        }

        double t1 = Median(times[sizes[0]]);
        long bytes = model.PackedWeightBytes(Asd.Simd.Isa.Active);
        Console.WriteLine($"{model.Parameters} parameters, {bytes / 1e6:F1} MB packed, {model.FlopsPerSample / 1e9:F3} GFLOP per sample");
        foreach (int b in sizes)
        {
            double m = Median(times[b]);
            Console.WriteLine($"B={b,2}: {m,8:F3} ms  T(B)/T(1) {m / t1:F2}  {b * model.FlopsPerSample / m / 1e6,6:F1} GFLOP/s  {bytes / m / 1e6,6:F1} GB/s of weights");
        }
    }

    internal static double FmaPeak(CorePool pool)
    {
        var work = new FmaWork();
        double best = 0;
        for (int rep = 0; rep < 7; rep++)
        {
            var sw = Stopwatch.StartNew();
            pool.Run(work, pool.Threads);
            best = Math.Max(best, pool.Threads * 2.0 * 16 * 12 * FmaWork.Iterations / sw.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }

    private sealed class FmaWork : IRangeWork
    {
        public const int Iterations = 1 << 23;

        public float Sink;

        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                Sink += GemmBenchmarks.FmaChains(Iterations);
            }
        }
    }

    private static double Median(List<double> v)
    {
        double[] s = [.. v.Order()];
        return s[s.Length / 2];
    }

    /// <summary>Read bandwidth with the pool's threads: the faster of one stream and interleaved prefetched streams per thread, as asd bench's probe reads it.</summary>
    internal static double Bandwidth(CorePool pool, long bytes)
    {
        var buffer = new float[bytes / 4];
        for (int i = 0; i < buffer.Length; i += 1024)
        {
            buffer[i] = i;
        }

        var work = new SumWork(buffer, pool.Threads);
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            foreach (bool interleaved in (bool[])[false, true])
            {
                work.Interleaved = interleaved;
                var sw = Stopwatch.StartNew();
                pool.Run(work, pool.Threads);
                best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds / 1e9);
            }
        }

        return best;
    }

    private sealed class SumWork(float[] buffer, int parts) : IRangeWork
    {
        public float Sink;

        public bool Interleaved;

        public void Execute(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                long from = buffer.Length * (long)p / parts, to = buffer.Length * (long)(p + 1) / parts;
                ReadOnlySpan<float> part = buffer.AsSpan((int)from, (int)(to - from));
                Sink += Interleaved ? MachineProbes.StreamSumInterleaved<Vec512>(part) : MachineProbes.StreamSum<Vec512>(part);
            }
        }
    }
}
