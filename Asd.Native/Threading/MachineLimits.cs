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

    /// <summary>
    /// How long one cache line takes to move between the pool's first two threads (their cores), in seconds: half a
    /// round trip of a counter the two threads hand back and forth, the median of <paramref name="probes"/> runs of
    /// <see cref="TransferRoundTrips"/> round trips. On a VM it says where the hypervisor has put the vCPUs: the
    /// project's 2-vCPU Zen 4 read 29-41 ns in one core complex and 162-187 ns across two, and its 2-thread calls moved
    /// with it (tools/core_latency_vs_call.sh). NaN with fewer than two threads, or when the two halves did not run at
    /// once on two threads within 0.2 s (a preempted thread), so a probe costs a loaded machine at most about a second.
    /// </summary>
    public static double CoreTransferSeconds(CorePool pool, int probes = 5)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (pool.Threads < 2)
        {
            return double.NaN;
        }

        var work = new PingPongWork();
        Span<double> seconds = stackalloc double[Math.Max(1, probes)];
        int valid = 0;
        work.Reset();
        pool.Run(work, 2); // warm-up: wakes the worker and compiles the loop
        for (int i = 0; i < seconds.Length; i++)
        {
            work.Reset();
            pool.Run(work, 2);
            if (work.Seconds is > 0 and double s)
            {
                seconds[valid++] = s;
            }
        }

        if (valid == 0)
        {
            return double.NaN;
        }

        seconds[..valid].Sort();
        return seconds[valid / 2] / (2.0 * TransferRoundTrips);
    }

    /// <summary>Round trips a <see cref="CoreTransferSeconds"/> run times (about 0.1-0.4 ms on that VM).</summary>
    public const int TransferRoundTrips = 1000;

    /// <summary>
    /// Chunk 0 writes odd values of a shared counter and waits for the next even one; chunk 1 answers each odd value with
    /// the even one after it. Timed by chunk 0 from the first answer (the worker awake) to the last.
    /// </summary>
    private sealed class PingPongWork : IRangeWork
    {
        /// <summary>The counter, in the middle of its own 256 bytes so that nothing else shares its cache line.</summary>
        private readonly long[] _line = new long[32];

        private static readonly long GiveUpTicks = Stopwatch.Frequency / 5;

        /// <summary>The last run's time for <see cref="TransferRoundTrips"/> round trips; NaN when it did not complete.</summary>
        public double Seconds { get; private set; } = double.NaN;

        /// <summary>Clears the counter (and a give-up left by a run before) while no thread runs the work.</summary>
        public void Reset()
        {
            Volatile.Write(ref _line[16], 0);
            Seconds = double.NaN;
        }

        public void Execute(int start, int end)
        {
            if (end - start != 1)
            {
                // Both halves on one thread (a pool that ran them in one chunk): nothing crosses a core.
                Seconds = double.NaN;
                Volatile.Write(ref _line[16], -1);
                return;
            }

            if (start == 0)
            {
                Seconds = Ping();
            }
            else
            {
                Pong();
            }
        }

        private double Ping()
        {
            ref long line = ref _line[16];
            Volatile.Write(ref line, 1);
            if (!WaitFor(ref line, 2))
            {
                return double.NaN;
            }

            long started = Stopwatch.GetTimestamp();
            for (long i = 1; i <= TransferRoundTrips; i++)
            {
                Volatile.Write(ref line, (2 * i) + 1);
                if (!WaitFor(ref line, (2 * i) + 2))
                {
                    return double.NaN;
                }
            }

            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Volatile.Write(ref line, 0);
            return seconds;
        }

        private void Pong()
        {
            ref long line = ref _line[16];
            for (long i = 0; i <= TransferRoundTrips; i++)
            {
                if (!WaitFor(ref line, (2 * i) + 1))
                {
                    return;
                }

                Volatile.Write(ref line, (2 * i) + 2);
            }
        }

        /// <summary>Spins until the counter reads <paramref name="value"/>; false after 0.2 s, or when the other side gave up (-1).</summary>
        private static bool WaitFor(ref long line, long value)
        {
            long deadline = 0;
            for (int spins = 0; ; spins++)
            {
                long seen = Volatile.Read(ref line);
                if (seen == value)
                {
                    return true;
                }

                if (seen < 0)
                {
                    return false;
                }

                if ((spins & 1023) == 1023)
                {
                    long now = Stopwatch.GetTimestamp();
                    if (deadline == 0)
                    {
                        deadline = now + GiveUpTicks;
                    }
                    else if (now > deadline)
                    {
                        Volatile.Write(ref line, -1);
                        return false;
                    }
                }
            }
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
