using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Asd.Simd.Vectors;

namespace Asd.Simd.Kernels;

/// <summary>
/// The two loops that measure a machine's limits, written once per width for <c>asd bench</c>'s bounds line and for
/// the Asd.Bench probes: a read kept bound by memory (8 independent sums hide the add latency) and the FMA peak
/// (12 independent chains c = c * m + a: enough to cover the FMA latency times the FMA ports).
/// </summary>
internal static class MachineProbes
{
    /// <summary>Sums <paramref name="a"/> in 8 interleaved accumulators of <typeparamref name="TVec"/>; a tail shorter than 8 vectors is not read.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float StreamSum<TVec>(ReadOnlySpan<float> a)
        where TVec : struct, IVec<TVec>
    {
        int w = TVec.Count;
        TVec s0 = TVec.Broadcast(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int i = 0; i + (8 * w) <= a.Length; i += 8 * w)
        {
            s0 = TVec.Add(s0, TVec.Load(a, i));
            s1 = TVec.Add(s1, TVec.Load(a, i + w));
            s2 = TVec.Add(s2, TVec.Load(a, i + (2 * w)));
            s3 = TVec.Add(s3, TVec.Load(a, i + (3 * w)));
            s4 = TVec.Add(s4, TVec.Load(a, i + (4 * w)));
            s5 = TVec.Add(s5, TVec.Load(a, i + (5 * w)));
            s6 = TVec.Add(s6, TVec.Load(a, i + (6 * w)));
            s7 = TVec.Add(s7, TVec.Load(a, i + (7 * w)));
        }

        return LaneSum(TVec.Add(TVec.Add(TVec.Add(s0, s1), TVec.Add(s2, s3)), TVec.Add(TVec.Add(s4, s5), TVec.Add(s6, s7))));
    }

    /// <summary>The runs <see cref="StreamSumInterleaved{TVec}"/> reads at once.</summary>
    public const int InterleavedStreams = 4;

    /// <summary>
    /// Sums <paramref name="a"/> as <see cref="InterleavedStreams"/> equal runs read in lockstep, 256 bytes of each per
    /// step, each prefetched 1 KB ahead where the ISA has a prefetch (x86); a tail shorter than one step per run is not
    /// read. One sequential stream per core does not reach the memory's read bandwidth on the project VM (AMD EPYC
    /// Zen 5 class): interleaved in one process, one stream per thread read 45-54 GB/s on two threads while four
    /// prefetched streams read 62-73 GB/s, and the packed GEMM's weight stream (two panels a kernel, prefetched)
    /// reached 51 GB/s on the deployment-size ConditionalUnet1D, above the one-stream probe of those minutes
    /// (<c>Asd.Bench quick-bw</c>, <c>quick-convgemm</c>). A bound from the one-stream probe called that network's call
    /// nearer its weight stream than it was.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe float StreamSumInterleaved<TVec>(ReadOnlySpan<float> a)
        where TVec : struct, IVec<TVec>
    {
        const int step = 64, ahead = 256;
        int w = TVec.Count, run = a.Length / InterleavedStreams / step * step;
        TVec s0 = TVec.Broadcast(0), s1 = s0, s2 = s0, s3 = s0;
        fixed (float* b = a)
        {
            for (int i = 0; i < run; i += step)
            {
                for (int r = 0; r < InterleavedStreams; r++)
                {
                    int at = (r * run) + i;
                    if (Sse.IsSupported)
                    {
                        // Prefetches never fault, so the last steps may ask past the run (or the buffer) harmlessly.
                        float* q = b + at + ahead;
                        Sse.Prefetch0(q);
                        Sse.Prefetch0(q + 16);
                        Sse.Prefetch0(q + 32);
                        Sse.Prefetch0(q + 48);
                    }

                    for (int j = 0; j < step; j += 4 * w)
                    {
                        s0 = TVec.Add(s0, TVec.Load(a, at + j));
                        s1 = TVec.Add(s1, TVec.Load(a, at + j + w));
                        s2 = TVec.Add(s2, TVec.Load(a, at + j + (2 * w)));
                        s3 = TVec.Add(s3, TVec.Load(a, at + j + (3 * w)));
                    }
                }
            }
        }

        return LaneSum(TVec.Add(TVec.Add(s0, s1), TVec.Add(s2, s3)));
    }

    /// <summary>Runs 12 independent FMA chains of <typeparamref name="TVec"/> for <paramref name="n"/> steps: 2 * 12 * <c>TVec.Count</c> * n FLOP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float FmaChains<TVec>(int n)
        where TVec : struct, IVec<TVec>
    {
        TVec m = TVec.Broadcast(0.999999f), a = TVec.Broadcast(1e-7f);
        TVec c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
        for (int i = 0; i < n; i++)
        {
            c0 = TVec.MultiplyAdd(c0, m, a); c1 = TVec.MultiplyAdd(c1, m, a); c2 = TVec.MultiplyAdd(c2, m, a);
            c3 = TVec.MultiplyAdd(c3, m, a); c4 = TVec.MultiplyAdd(c4, m, a); c5 = TVec.MultiplyAdd(c5, m, a);
            c6 = TVec.MultiplyAdd(c6, m, a); c7 = TVec.MultiplyAdd(c7, m, a); c8 = TVec.MultiplyAdd(c8, m, a);
            c9 = TVec.MultiplyAdd(c9, m, a); c10 = TVec.MultiplyAdd(c10, m, a); c11 = TVec.MultiplyAdd(c11, m, a);
        }

        TVec sum = TVec.Add(TVec.Add(TVec.Add(c0, c1), TVec.Add(c2, c3)), TVec.Add(TVec.Add(c4, c5), TVec.Add(c6, c7)));
        return LaneSum(TVec.Add(sum, TVec.Add(TVec.Add(c8, c9), TVec.Add(c10, c11))));
    }

    private static float LaneSum<TVec>(TVec v)
        where TVec : struct, IVec<TVec>
    {
        Span<float> lanes = stackalloc float[TVec.Count];
        TVec.Store(v, lanes, 0);
        float sum = 0;
        foreach (float x in lanes)
        {
            sum += x;
        }

        return sum;
    }
}
