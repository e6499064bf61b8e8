using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Asd.Native.Threading;
using Asd.Simd.Kernels.Gemm;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-m4 [threads]</c>: ways of walking a 4-row GEMM on weights that stream from memory (K = 5120, N = 1024,
/// the deployment-size UNet's coarse convolutions): the engine's own (2-panel kernels, 2 streams a core), and two passes
/// of 2 rows with the 4-panel kernel (4 streams a core; the second pass from L2, prefetching the next span). A
/// development probe.
/// </summary>
internal static class QuickM4
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1]) : 2;
        using var pool = new CorePool(threads);
        const int k = 5120, n = 1024, m = 4;
        var rng = new Random(1);
        PackedMatrix[] ws = [.. Enumerable.Range(0, 16).Select(_ => PackedMatrix.Pack([.. Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f)], k, n, false))];
        float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble())];
        var packed = new float[Sgemm.PackedSize(m, k)];
        Sgemm.PackA(a, m, k, k, ws[0].Path, packed);
        var lo = new float[Sgemm.PackedSize(2, k)];
        var hi = new float[Sgemm.PackedSize(2, k)];
        Sgemm.PackA(a, 2, k, k, ws[0].Path, lo);
        Sgemm.PackA(a.AsSpan(2 * k), 2, k, k, ws[0].Path, hi);
        // The same matrices copied one after another into a single allocation (touched in order).
        int size = ws[0].Data.Length;
        var big = GC.AllocateUninitializedArray<float>(size * ws.Length);
        for (int i = 0; i < ws.Length; i++)
        {
            ws[i].Data.CopyTo(big, i * size);
        }

        // And copied into a group-major layout: each group of 4 panels holds its K blocks in turn, so a thread's
        // contiguous range of groups is one contiguous region, read front to back.
        var grouped = GC.AllocateUninitializedArray<float>(size * ws.Length);
        for (int i = 0; i < ws.Length; i++)
        {
            PackedMatrix w = ws[i];
            int at = i * size;
            for (int g = 0; g < w.Panels; g += 4)
            {
                for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
                {
                    int kc = Math.Min(Sgemm.KBlock, k - k0);
                    for (int q = g; q < g + 4; q++)
                    {
                        Array.Copy(w.Data, w.Offset(k0, q), grouped, at, kc * w.PanelWidth);
                        at += kc * w.PanelWidth;
                    }
                }
            }
        }

        var c0 = new float[m * n];
        var c1 = new float[m * n];
        var works = new IRangeWork[] { new Engine(packed, c0), new TwoPass(lo, hi, c1, true), new TwoPass(lo, hi, c1, false), new ReadOnly(), new ReadOnly { Fma = true }, new ReadOnly { Big = big }, new ReadOnly { Big = grouped, GroupMajor = true }, new ProbeOnSlot(big, size) };
        string[] names = ["engine (P2_R4)", "2 x P4_R2, 2nd prefetches next span", "2 x P4_R2, both own", "read only, same order", "read + 16 FMA per k-step", "read only, copies in one array", "read only, group-major copies", "quick-bw's probe on the same copies"];
        var times = works.Select(_ => new List<double>()).ToArray();
        for (int rep = 0; rep < 160; rep++)
        {
            for (int v = 0; v < works.Length; v++)
            {
                PackedMatrix w = ws[((rep * works.Length) + v) % ws.Length];
                ((IWeights)works[v]).W = w;
                if (works[v] is ReadOnly ro)
                {
                    ro.Slot = ((rep * works.Length) + v) % ws.Length;
                }
                else if (works[v] is ProbeOnSlot ps)
                {
                    ps.Slot = ((rep * works.Length) + v) % ws.Length;
                }
                long s = Stopwatch.GetTimestamp();
                pool.Run(works[v], threads);
                times[v].Add(Stopwatch.GetElapsedTime(s).TotalMilliseconds);
            }
        }

        // Same bits either way (one FMA chain per element, whatever the tiling).
        ((IWeights)works[0]).W = ws[0];
        ((IWeights)works[1]).W = ws[0];
        pool.Run(works[0], threads);
        pool.Run(works[1], threads);
        Console.WriteLine($"outputs equal: {c0.AsSpan().SequenceEqual(c1)}");
        for (int v = 0; v < works.Length; v++)
        {
            double[] s = [.. times[v].Order()];
            double med = s[s.Length / 2];
            Console.WriteLine($"{names[v],-40} median {med:F3} ms ({ws[0].Bytes / med / 1e6:F1} GB/s)  best {s[0]:F3} ms");
        }
    }

    private interface IWeights
    {
        PackedMatrix W { set; }
    }

    private sealed class Engine(float[] packed, float[] c) : IRangeWork, IWeights
    {
        public PackedMatrix W { get; set; } = null!;

        public void Execute(int start, int end)
        {
            int per = W.Panels / 2;
            for (int part = start; part < end; part++)
            {
                Sgemm.MultiplyPacked(packed, 4, W, part * per, (part + 1) * per, default, default, default, 0, c, W.N, default, 0, int.MaxValue, true);
            }
        }
    }

    private sealed class TwoPass(float[] lo, float[] hi, float[] c, bool prefetchNext) : IRangeWork, IWeights
    {
        public PackedMatrix W { get; set; } = null!;

        public void Execute(int start, int end)
        {
            PackedMatrix w = W;
            int k = w.K, nr = w.PanelWidth, per = w.Panels / 2;
            ref float b = ref MemoryMarshal.GetArrayDataReference(w.Data);
            ref float cRef = ref MemoryMarshal.GetArrayDataReference(c);
            for (int part = start; part < end; part++)
            {
                int p0 = part * per, p1 = (part + 1) * per;
                for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
                {
                    int kc = Math.Min(Sgemm.KBlock, k - k0);
                    nint panelStride = kc * nr, own = (nint)SgemmKernels.PrefetchSteps * nr;
                    for (int p = p0; p < p1; p += 4)
                    {
                        int next = p + 4 < p1 ? w.Offset(k0, p + 4) : k0 + Sgemm.KBlock < k ? w.Offset(k0 + Sgemm.KBlock, p0) : -1;
                        nint ahead = !prefetchNext || next < 0 ? own : next - w.Offset(k0, p);
                        ref float bp = ref Unsafe.Add(ref b, w.Offset(k0, p));
                        SgemmKernels.Run(w.Path, 2, 4, ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(lo), k0 * 2), ref bp, panelStride, kc, ref Unsafe.Add(ref cRef, p * nr), w.N, k0 == 0, own);
                        SgemmKernels.Run(w.Path, 2, 4, ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(hi), k0 * 2), ref bp, panelStride, kc, ref Unsafe.Add(ref cRef, (2 * w.N) + (p * nr)), w.N, k0 == 0, ahead);
                    }
                }
            }
        }
    }
    /// <summary>The engine's walk of the weights (per thread its half of the panels, K blocks, two panels in lockstep, prefetched as the kernel does) with no arithmetic but a sum, or with the kernel's 16 FMAs a k-step.</summary>
    private sealed class ReadOnly : IRangeWork, IWeights
    {
        public PackedMatrix W { get; set; } = null!;

        public bool Fma { get; init; }

        public float[]? Big { get; init; }

        public bool GroupMajor { get; init; }

        public int Slot { get; set; }

        public float Sink;

        public unsafe void Execute(int start, int end)
        {
            PackedMatrix w = W;
            int k = w.K, nr = w.PanelWidth, per = w.Panels / 2;
            nint own = (nint)SgemmKernels.PrefetchSteps * nr;
            fixed (float* data = Big is null ? w.Data : Big.AsSpan(Slot * w.Data.Length))
            {
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, x = Vector512.Create(1.0001f);
                Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default, f4 = default, f5 = default, f6 = default, f7 = default;
                Vector512<float> f8 = default, f9 = default, f10 = default, f11 = default, f12 = default, f13 = default, f14 = default, f15 = default;
                for (int part = start; part < end; part++)
                {
                    for (int gi = 0; gi < (GroupMajor ? per / 4 : 1); gi++)
                    for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
                    {
                        int kc = Math.Min(Sgemm.KBlock, k - k0);
                        int p0 = GroupMajor ? (part * per) + (gi * 4) : part * per, p1 = GroupMajor ? p0 + 4 : (part + 1) * per;
                        for (int p = p0; p < p1; p += 2)
                        {
                            // Group-major: group g's K block k0 starts at g k nr + k0 4 nr; its panels follow one another.
                            float* b0 = data + (GroupMajor ? ((long)(p / 4) * 4 * k * nr) + ((long)k0 * 4 * nr) + ((p % 4) * kc * nr) : w.Offset(k0, p)), b1 = b0 + (kc * nr);
                            for (int kk = 0; kk < kc; kk++)
                            {
                                Sse.Prefetch0(b0 + own + (kk * 32));
                                Sse.Prefetch0(b0 + own + (kk * 32) + 16);
                                Sse.Prefetch0(b1 + own + (kk * 32));
                                Sse.Prefetch0(b1 + own + (kk * 32) + 16);
                                Vector512<float> w0 = Vector512.Load(b0 + (kk * 32)), w1 = Vector512.Load(b0 + (kk * 32) + 16);
                                Vector512<float> w2 = Vector512.Load(b1 + (kk * 32)), w3 = Vector512.Load(b1 + (kk * 32) + 16);
                                if (Fma)
                                {
                                    f0 = Vector512.FusedMultiplyAdd(x, w0, f0); f1 = Vector512.FusedMultiplyAdd(x, w1, f1); f2 = Vector512.FusedMultiplyAdd(x, w2, f2); f3 = Vector512.FusedMultiplyAdd(x, w3, f3);
                                    f4 = Vector512.FusedMultiplyAdd(x, w0, f4); f5 = Vector512.FusedMultiplyAdd(x, w1, f5); f6 = Vector512.FusedMultiplyAdd(x, w2, f6); f7 = Vector512.FusedMultiplyAdd(x, w3, f7);
                                    f8 = Vector512.FusedMultiplyAdd(x, w0, f8); f9 = Vector512.FusedMultiplyAdd(x, w1, f9); f10 = Vector512.FusedMultiplyAdd(x, w2, f10); f11 = Vector512.FusedMultiplyAdd(x, w3, f11);
                                    f12 = Vector512.FusedMultiplyAdd(x, w0, f12); f13 = Vector512.FusedMultiplyAdd(x, w1, f13); f14 = Vector512.FusedMultiplyAdd(x, w2, f14); f15 = Vector512.FusedMultiplyAdd(x, w3, f15);
                                }
                                else
                                {
                                    s0 += w0; s1 += w1; s2 += w2; s3 += w3;
                                }
                            }
                        }
                    }
                }

                Sink += Vector512.Sum(s0 + s1 + s2 + s3 + f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9 + f10 + f11 + f12 + f13 + f14 + f15);
            }
        }
    }
    /// <summary>quick-bw's two-stream pattern (128 KB runs, prefetched 3 KB ahead) over one matrix's copy, each thread a contiguous half.</summary>
    private sealed class ProbeOnSlot(float[] big, int size) : IRangeWork, IWeights
    {
        public PackedMatrix W { get; set; } = null!;

        public int Slot { get; set; }

        public float Sink;

        public void Execute(int start, int end)
        {
            for (int part = start; part < end; part++)
            {
                int from = (Slot * size) + (part * (size / 2));
                Sink += QuickBandwidth.ReadWork.Chunked(big.AsSpan(from, size / 2), 2, 768, 32768);
            }
        }
    }
}
