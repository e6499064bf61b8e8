using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Asd.Native.Threading;
using Asd.Simd;

namespace Asd.Cli.Bench;

/// <summary>
/// The two numbers that bound a dense network's call on this machine, measured with the benchmark's own threads: the
/// read bandwidth from memory (a buffer far larger than any cache, each thread summing its own contiguous part) and
/// the fused-multiply-add peak (12 independent chains per thread, at the active path's vector width).
/// </summary>
internal static class MachineLimits
{
    /// <summary>Bytes of the bandwidth probe's buffer: 1 GiB, far beyond any last-level cache.</summary>
    public const long ProbeBytes = 1L << 30;

    /// <summary>Best of 5 passes over <paramref name="bytes"/> bytes, in bytes per second.</summary>
    public static double ReadBandwidth(CorePool pool, long bytes = ProbeBytes)
    {
        float[] buffer = GC.AllocateUninitializedArray<float>(checked((int)(bytes / sizeof(float))));
        for (int i = 0; i < buffer.Length; i += 256)
        {
            buffer[i] = i & 7; // Touch every page before timing.
        }

        var work = new SumWork(buffer, pool.Threads);
        pool.Run(work, pool.Threads);
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(work, pool.Threads);
            best = Math.Max(best, bytes / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return best;
    }

    /// <summary>The FMA rate of all the pool's threads together (best of 5), in floating-point operations per second.</summary>
    public static double FmaPeak(CorePool pool)
    {
        const int iterations = 1 << 21;
        var work = new FmaWork(iterations);
        pool.Run(work, pool.Threads);
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(work, pool.Threads);
            best = Math.Max(best, pool.Threads * work.FlopsPerPart / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return best;
    }

    private sealed class SumWork(float[] buffer, int parts) : IRangeWork
    {
        public float Sink { get; private set; }

        public void Execute(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                long from = buffer.LongLength * p / parts, to = buffer.LongLength * (p + 1) / parts;
                Sink += Sum(buffer.AsSpan((int)from, (int)(to - from)));
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static float Sum(ReadOnlySpan<float> a)
        {
            ref float p = ref MemoryMarshal.GetReference(a);
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            nint i = 0;
            for (; i + 64 <= a.Length; i += 64)
            {
                s0 += Vector256.LoadUnsafe(ref p, (nuint)i);
                s1 += Vector256.LoadUnsafe(ref p, (nuint)(i + 8));
                s2 += Vector256.LoadUnsafe(ref p, (nuint)(i + 16));
                s3 += Vector256.LoadUnsafe(ref p, (nuint)(i + 24));
                s4 += Vector256.LoadUnsafe(ref p, (nuint)(i + 32));
                s5 += Vector256.LoadUnsafe(ref p, (nuint)(i + 40));
                s6 += Vector256.LoadUnsafe(ref p, (nuint)(i + 48));
                s7 += Vector256.LoadUnsafe(ref p, (nuint)(i + 56));
            }

            return Vector256.Sum(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)));
        }
    }

    private sealed class FmaWork(int iterations) : IRangeWork
    {
        public float Sink { get; private set; }

        public double FlopsPerPart => 2.0 * 12 * Lanes * iterations;

        private static int Lanes => Isa.Active switch
        {
            IsaPath.Avx512 => 16,
            IsaPath.Avx2 => 8,
            IsaPath.Neon or IsaPath.Vector128 => 4,
            _ => 1,
        };

        public void Execute(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                Sink += Isa.Active switch
                {
                    IsaPath.Avx512 => Chains<Vector512<float>>(iterations),
                    IsaPath.Avx2 => Chains<Vector256<float>>(iterations),
                    IsaPath.Neon or IsaPath.Vector128 => Chains<Vector128<float>>(iterations),
                    _ => Chains<float>(iterations),
                };
            }
        }

        /// <summary>12 independent chains c = c * m + a: enough to cover the FMA latency times the FMA ports.</summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static float Chains<T>(int n)
        {
            if (typeof(T) == typeof(Vector512<float>))
            {
                Vector512<float> m = Vector512.Create(0.999999f), a = Vector512.Create(1e-7f);
                Vector512<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
                for (int i = 0; i < n; i++)
                {
                    c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a); c2 = Vector512.FusedMultiplyAdd(c2, m, a);
                    c3 = Vector512.FusedMultiplyAdd(c3, m, a); c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a);
                    c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a); c8 = Vector512.FusedMultiplyAdd(c8, m, a);
                    c9 = Vector512.FusedMultiplyAdd(c9, m, a); c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
                }

                return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
            }

            if (typeof(T) == typeof(Vector256<float>))
            {
                Vector256<float> m = Vector256.Create(0.999999f), a = Vector256.Create(1e-7f);
                Vector256<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
                for (int i = 0; i < n; i++)
                {
                    c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a); c2 = Vector256.FusedMultiplyAdd(c2, m, a);
                    c3 = Vector256.FusedMultiplyAdd(c3, m, a); c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a);
                    c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a); c8 = Vector256.FusedMultiplyAdd(c8, m, a);
                    c9 = Vector256.FusedMultiplyAdd(c9, m, a); c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
                }

                return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
            }

            if (typeof(T) == typeof(Vector128<float>))
            {
                Vector128<float> m = Vector128.Create(0.999999f), a = Vector128.Create(1e-7f);
                Vector128<float> c0 = m, c1 = m, c2 = m, c3 = m, c4 = m, c5 = m, c6 = m, c7 = m, c8 = m, c9 = m, c10 = m, c11 = m;
                for (int i = 0; i < n; i++)
                {
                    c0 = Vector128.FusedMultiplyAdd(c0, m, a); c1 = Vector128.FusedMultiplyAdd(c1, m, a); c2 = Vector128.FusedMultiplyAdd(c2, m, a);
                    c3 = Vector128.FusedMultiplyAdd(c3, m, a); c4 = Vector128.FusedMultiplyAdd(c4, m, a); c5 = Vector128.FusedMultiplyAdd(c5, m, a);
                    c6 = Vector128.FusedMultiplyAdd(c6, m, a); c7 = Vector128.FusedMultiplyAdd(c7, m, a); c8 = Vector128.FusedMultiplyAdd(c8, m, a);
                    c9 = Vector128.FusedMultiplyAdd(c9, m, a); c10 = Vector128.FusedMultiplyAdd(c10, m, a); c11 = Vector128.FusedMultiplyAdd(c11, m, a);
                }

                return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
            }

            Span<float> c = stackalloc float[12];
            c.Fill(0.999999f);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < 12; j++)
                {
                    c[j] = MathF.FusedMultiplyAdd(c[j], 0.999999f, 1e-7f);
                }
            }

            float sum = 0;
            foreach (float v in c)
            {
                sum += v;
            }

            return sum;
        }
    }
}
