using System.Diagnostics;
using Asd.Native.Threading;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-halves M K N</c> (development probe): one float16 GEMM split in two column halves on a 2-thread pool,
/// against the same halves with their own copies of A, their own outputs, or their own weight matrices, to find what
/// makes a half run slower beside the other than alone.
/// </summary>
internal static class QuickHalves
{
    private sealed class Half(float[] packedA, int m, PackedMatrix w, int p0, int p1, float[] c, int ldc) : IRangeWork
    {
        public void Execute(int start, int end) =>
            Sgemm.MultiplyPacked(packedA.AsSpan(0, Sgemm.PackedSize(m, w.K)), m, w, p0, p1, default, Activation.Silu, default, 0, c, ldc);
    }

    private sealed class Units(float[] packedA, int m, PackedMatrix w, float[] c, int ldc) : IRangeWork
    {
        public void Execute(int start, int end) =>
            Sgemm.MultiplyPacked(packedA.AsSpan(0, Sgemm.PackedSize(m, w.K)), m, w, start * 4, Math.Min(end * 4, w.Panels), default, Activation.Silu, default, 0, c, ldc);
    }

    private sealed class Pair(IRangeWork a, IRangeWork b) : IRangeWork
    {
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                (i == 0 ? a : b).Execute(0, 1);
            }
        }
    }

    private sealed class UnitsCount(IRangeWork inner, int count) : IRangeWork
    {
        public int Count => count;

        public void Execute(int start, int end) => inner.Execute(start, end);
    }

    public static void Run(string[] args)
    {
        int m = int.Parse(args[1]), k = int.Parse(args[2]), n = int.Parse(args[3]);
        var rng = new Random(1);
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
        float[] wv = [.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() * 0.01f)];
        PackedMatrix whole = PackedMatrix.Pack(wv, k, n, true);
        float[] left = new float[k * (n / 2)], right = new float[k * (n / 2)];
        for (int i = 0; i < k; i++)
        {
            wv.AsSpan(i * n, n / 2).CopyTo(left.AsSpan(i * (n / 2)));
            wv.AsSpan((i * n) + (n / 2), n / 2).CopyTo(right.AsSpan(i * (n / 2)));
        }

        PackedMatrix wl = PackedMatrix.Pack(left, k, n / 2, true), wr = PackedMatrix.Pack(right, k, n / 2, true);
        float[] Packed()
        {
            var p = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(a, m, k, k, whole.Path, p);
            return p;
        }

        float[] pa = Packed(), pb = Packed();
        float[] c = new float[m * n], c2 = new float[m * n];
        int half = whole.Panels / 2;
        var cases = new (string Name, IRangeWork Work)[]
        {
            ("one matrix, shared A, shared C", new Pair(new Half(pa, m, whole, 0, half, c, n), new Half(pa, m, whole, half, whole.Panels, c, n))),
            ("one matrix, own A, shared C", new Pair(new Half(pa, m, whole, 0, half, c, n), new Half(pb, m, whole, half, whole.Panels, c, n))),
            ("one matrix, own A, own C", new Pair(new Half(pa, m, whole, 0, half, c, n), new Half(pb, m, whole, half, whole.Panels, c2, n))),
            ("two matrices, shared A, own C", new Pair(new Half(pa, m, wl, 0, wl.Panels, c, n / 2), new Half(pa, m, wr, 0, wr.Panels, c2, n / 2))),
            ("two matrices, own A, own C", new Pair(new Half(pa, m, wl, 0, wl.Panels, c, n / 2), new Half(pb, m, wr, 0, wr.Panels, c2, n / 2))),
        };
        int units = (whole.Panels + 3) / 4;
        Console.WriteLine($"{whole.Panels} panels of {whole.PanelWidth}, {units} units");
        cases = [.. cases, ("one matrix in units (as the MLP)", new UnitsCount(new Units(pa, m, whole, c, n), units))];
        using var pool = new CorePool(2);
        var times = new double[3000];
        for (int round = 0; round < 3; round++)
        {
            foreach ((string name, IRangeWork work) in cases)
            {
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    pool.Run(work, work is UnitsCount uc ? uc.Count : 2);
                    times[rep] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                double median2 = times[times.Length / 2], best2 = times[0];
                for (int rep = 0; rep < times.Length; rep++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    if (work is UnitsCount u)
                    {
                        u.Execute(0, u.Count / 2);
                    }
                    else
                    {
                        work.Execute(0, 1);
                    }

                    times[rep] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }

                Array.Sort(times);
                double alone = times[times.Length / 2];
                Console.WriteLine($"{name,-32} 2 threads median {median2,6:F2} us (best {best2:F2}); first half alone {alone:F2} us");
            }
        }
    }
}
