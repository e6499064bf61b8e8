using System.Diagnostics;
using Asd.Simd;
using Asd.Simd.Kernels;
using Asd.Simd.Vectors;

namespace Asd.Native.Threading;

/// <summary>
/// The two numbers that bound a dense network's call on this machine, measured with the benchmark's own threads: the
/// read bandwidth from memory (a buffer far larger than any cache, each thread summing its own contiguous part, the
/// faster of one sequential stream and four interleaved prefetched ones: <see cref="MachineProbes.StreamSumInterleaved{TVec}"/>)
/// and the fused-multiply-add peak (12 independent chains per thread, at the active path's vector width).
/// </summary>
internal static class MachineLimits
{
    /// <summary>
    /// The last-level cache's size in bytes as Linux reports it for CPU 0 (the highest level under
    /// /sys/devices/system/cpu/cpu0/cache), or 0 where it cannot be read: another OS, a container hiding sysfs, a
    /// malformed entry. Read once.
    /// </summary>
    public static long LastLevelCacheBytes => s_lastLevelCache.Value;

    private static readonly Lazy<long> s_lastLevelCache = new(() => ReadLastLevelCache("/sys/devices/system/cpu/cpu0/cache"));

    /// <summary>The size of the highest-level cache listed under <paramref name="folder"/>; 0 if none is readable.</summary>
    internal static long ReadLastLevelCache(string folder)
    {
        int bestLevel = 0;
        long bestBytes = 0;
        try
        {
            for (int i = 0; i < 16; i++)
            {
                string index = Path.Combine(folder, $"index{i}");
                if (!Directory.Exists(index))
                {
                    break;
                }

                string level = File.ReadAllText(Path.Combine(index, "level")).Trim(), size = File.ReadAllText(Path.Combine(index, "size")).Trim();
                if (int.TryParse(level, out int l) && l > bestLevel && ParseSize(size) is > 0 and long bytes)
                {
                    (bestLevel, bestBytes) = (l, bytes);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return bestBytes;
    }

    /// <summary>sysfs's cache sizes: digits and a K, M or G suffix ("32768K"); anything else, or beyond 1 TiB, 0.</summary>
    internal static long ParseSize(string text)
    {
        if (text.Length is 0 or > 12)
        {
            return 0;
        }

        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)
            && n > 0 && n <= (1L << 40) / unit
            ? n * unit
            : 0;
    }

    /// <summary>Bytes of the bandwidth probe's buffer: 1 GiB, far beyond any last-level cache.</summary>
    public const long ProbeBytes = 1L << 30;

    /// <summary>The best of 5 passes over <paramref name="bytes"/> bytes in each way of reading them (see <see cref="BandwidthProbe.Best"/>), in bytes per second.</summary>
    public static double ReadBandwidth(CorePool pool, long bytes = ProbeBytes) => new BandwidthProbe(pool, bytes).Best(5);

    /// <summary>
    /// A read-bandwidth probe that keeps its buffer, so it can be taken again between a benchmark's repeats: the
    /// memory system of a shared machine changes speed by tens of percent within minutes (the project's 2-vCPU VM read
    /// 60 GB/s in one bench and 40 in another an hour later), and a bound is only meaningful against the bandwidth of
    /// the same minutes.
    /// </summary>
    public sealed class BandwidthProbe
    {
        private readonly CorePool _pool;
        private readonly long _bytes;
        private readonly SumWork _work;

        public BandwidthProbe(CorePool pool, long bytes = ProbeBytes)
        {
            _pool = pool;
            _bytes = bytes;
            float[] buffer = GC.AllocateUninitializedArray<float>(checked((int)(bytes / sizeof(float))));
            for (int i = 0; i < buffer.Length; i += 256)
            {
                buffer[i] = i & 7; // Touch every page before timing.
            }

            _work = new SumWork(buffer, pool.Threads);
            pool.Run(_work, pool.Threads);
        }

        /// <summary>
        /// The best of <paramref name="passes"/> timed passes over the buffer in each way of reading it (one stream, and
        /// interleaved streams, alternated pass by pass), in bytes per second.
        /// </summary>
        public double Best(int passes)
        {
            double best = 0;
            for (int rep = 0; rep < passes; rep++)
            {
                foreach (bool interleaved in (ReadOnlySpan<bool>)[false, true])
                {
                    _work.Interleaved = interleaved;
                    long start = Stopwatch.GetTimestamp();
                    _pool.Run(_work, _pool.Threads);
                    best = Math.Max(best, _bytes / Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
            }

            return best;
        }
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

        /// <summary>Read each part as interleaved prefetched streams rather than one.</summary>
        public bool Interleaved { get; set; }

        public void Execute(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                long from = buffer.LongLength * p / parts, to = buffer.LongLength * (p + 1) / parts;
                ReadOnlySpan<float> part = buffer.AsSpan((int)from, (int)(to - from));
                Sink += Interleaved ? MachineProbes.StreamSumInterleaved<Vec256>(part) : MachineProbes.StreamSum<Vec256>(part);
            }
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
                    IsaPath.Avx512 => MachineProbes.FmaChains<Vec512>(iterations),
                    IsaPath.Avx2 => MachineProbes.FmaChains<Vec256>(iterations),
                    IsaPath.Neon or IsaPath.Vector128 => MachineProbes.FmaChains<Vec128>(iterations),
                    _ => MachineProbes.FmaChains<VecScalar>(iterations),
                };
            }
        }
    }
}
