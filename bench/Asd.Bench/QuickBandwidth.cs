using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Asd.Native.Backends.Unet1d;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-bw [MODEL.json] [threads] [rounds]</c>: ways of reading a 1 GB buffer (one stream per thread, several
/// interleaved streams per thread with software prefetch, asd bench's probe, the packed GEMM's pattern), alternated
/// round by round with one-sample calls of a ConditionalUnet1D (its weight bytes over the call's time), then the GEMM's
/// pattern one 20 MB slice per pool call (with contiguous halves per thread, and with 2 MB chunks dealt in turn as the GEMM's K blocks are); which probe reads what the memory delivers, and what the GEMM's weight stream
/// reaches (issue 15's bound). A development probe.
/// </summary>
internal static class QuickBandwidth
{
    public static void Run(string[] args)
    {
        string path = args.Length > 1 ? args[1] : "artifacts/unet1d-deploy/unet1d_deploy.json";
        int threads = args.Length > 2 ? int.Parse(args[2]) : 2;
        int rounds = args.Length > 3 ? int.Parse(args[3]) : 9;
        using var pool = new CorePool(threads);
        const long bytes = 1L << 30;
        float[] buffer = GC.AllocateUninitializedArray<float>((int)(bytes / 4));
        for (int i = 0; i < buffer.Length; i += 1024)
        {
            buffer[i] = i & 7;
        }

        (string Name, IRangeWork Work)[] probes =
        [
            ("1 stream", new ReadWork(buffer, threads, 1, 0)),
            ("2 streams", new ReadWork(buffer, threads, 2, 0)),
            ("4 streams + pf 1 KB", new ReadWork(buffer, threads, 4, 256)),
            ("asd bench's interleaved probe", new ProbeWork(buffer, threads)),
            ("2 streams + pf 3 KB in 128 KB runs", new ReadWork(buffer, threads, 2, 768, 32768)),
            ("same, threads alternate 2 MB chunks", new ReadWork(buffer, threads, 2, 768, 32768) { Alternate = 1 << 19 }),
        ];
        using Unet1dModel model = Unet1dModel.Load(path);
        Unet1dDenoiser den = model.CreateDenoiser(64, pool);
        long weightBytes = model.PackedWeightBytes(Asd.Simd.Isa.Active);
        int d = model.SampleSize, c = model.ConditionSize;
        float[] x = new float[d], cond = new float[c], y = new float[d];
        int[] t = [50];
        var results = probes.ToDictionary(p => p.Name, _ => new List<double>());
        var unet = new List<double>();
        foreach ((_, IRangeWork w) in probes)
        {
            pool.Run(w, threads);
        }

        den.Denoise(x, t, cond, y);
        for (int r = 0; r < rounds; r++)
        {
            foreach ((string name, IRangeWork w) in probes)
            {
                long s = Stopwatch.GetTimestamp();
                pool.Run(w, threads);
                results[name].Add(bytes / Stopwatch.GetElapsedTime(s).TotalSeconds / 1e9);
            }

            for (int k = 0; k < 3; k++)
            {
                long s = Stopwatch.GetTimestamp();
                den.Denoise(x, t, cond, y);
                unet.Add(weightBytes / Stopwatch.GetElapsedTime(s).TotalSeconds / 1e9);
            }
        }

        // The same pattern, one pool call per 20 MB slice (about a coarse GEMM's weights), slices taken in turn: each
        // thread reading a contiguous half of the slice, then 2 MB chunks dealt to the threads in turn (as they take a
        // GEMM's K blocks).
        const int slice = 20 << 18;
        foreach ((string name, int alternate) in (ReadOnlySpan<(string, int)>)[("2 streams + pf 3 KB in 128 KB runs, 20 MB a call", 0), ("same, threads alternate 2 MB chunks", 1 << 19)])
        {
            var rates = new List<double>();
            var work = new ReadWork(buffer, threads, 2, 768, 32768) { Alternate = alternate };
            for (int r = 0; r < rounds; r++)
            {
                long s = Stopwatch.GetTimestamp();
                for (int i = 0; i + slice <= buffer.Length; i += slice)
                {
                    work.Window = (i, slice);
                    pool.Run(work, threads);
                }

                rates.Add((double)(buffer.Length / slice) * slice * 4 / Stopwatch.GetElapsedTime(s).TotalSeconds / 1e9);
            }

            Console.WriteLine($"{name,-22} median {Median(rates),6:F1} GB/s  best {rates.Max(),6:F1}");
        }

        foreach ((string name, List<double> v) in results)
        {
            Console.WriteLine($"{name,-22} median {Median(v),6:F1} GB/s  best {v.Max(),6:F1}");
        }

        Console.WriteLine($"{"UNet one-sample call",-22} median {Median(unet),6:F1} GB/s  best {unet.Max(),6:F1} (weights {weightBytes / 1e6:F1} MB)");
    }

    private static double Median(List<double> v)
    {
        double[] s = [.. v.Order()];
        return s[s.Length / 2];
    }

    private sealed class ProbeWork(float[] buffer, int parts) : IRangeWork
    {
        public float Sink;

        public void Execute(int start, int end)
        {
            for (int p = start; p < end; p++)
            {
                long from = buffer.LongLength * p / parts, to = buffer.LongLength * (p + 1) / parts;
                Sink += Asd.Simd.Kernels.MachineProbes.StreamSumInterleaved<Asd.Simd.Vectors.Vec256>(buffer.AsSpan((int)from, (int)(to - from)));
            }
        }
    }

    internal sealed class ReadWork(float[] buffer, int parts, int streams, int prefetch, int chunk = 0) : IRangeWork
    {
        public float Sink;

        /// <summary>When positive: the buffer is cut into chunks of this many floats, dealt to the threads in turn.</summary>
        public int Alternate { get; init; }

        /// <summary>When its length is positive: only this slice of the buffer is read (split across the threads).</summary>
        public (int Start, int Length) Window { get; set; }

        public void Execute(int start, int end)
        {
            // The region read: the window, or the whole buffer; then either chunks of Alternate floats dealt to the
            // threads in turn (as they take a GEMM's K blocks), or one contiguous part per thread.
            (int from, int length) = Window.Length > 0 ? Window : (0, buffer.Length);
            for (int p = start; p < end; p++)
            {
                if (Alternate > 0)
                {
                    for (long at = from + ((long)p * Alternate); at + Alternate <= from + length; at += (long)parts * Alternate)
                    {
                        Sink += Read(buffer.AsSpan((int)at, Alternate));
                    }
                }
                else
                {
                    int a = from + (int)((long)length * p / parts), b = from + (int)((long)length * (p + 1) / parts);
                    Sink += Read(buffer.AsSpan(a, b - a));
                }
            }
        }

        private float Read(ReadOnlySpan<float> part) => chunk == 0 ? Sum(part, streams, prefetch) : Chunked(part, streams, prefetch, chunk);

        /// <summary>Runs of <paramref name="chunk"/> floats, <paramref name="streams"/> adjacent runs read in lockstep, then the next group (the packed GEMM's panels).</summary>
        internal static float Chunked(ReadOnlySpan<float> a, int streams, int prefetch, int chunk)
        {
            float sum = 0;
            int group = chunk * streams;
            for (int g = 0; g + group <= a.Length; g += group)
            {
                sum += Sum(a.Slice(g, group), streams, prefetch);
            }

            return sum;
        }

        private static unsafe float Sum(ReadOnlySpan<float> a, int streams, int prefetch)
        {
            // The part cut into `streams` equal runs read in lockstep, 256 bytes of each per step.
            int run = a.Length / streams / 64 * 64;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            fixed (float* b = a)
            {
                for (int i = 0; i < run; i += 64)
                {
                    for (int k = 0; k < streams; k++)
                    {
                        float* q = b + ((long)k * run) + i;
                        if (prefetch > 0)
                        {
                            Sse.Prefetch0(q + prefetch);
                            Sse.Prefetch0(q + prefetch + 16);
                            Sse.Prefetch0(q + prefetch + 32);
                            Sse.Prefetch0(q + prefetch + 48);
                        }

                        s0 += Vector512.Load(q);
                        s1 += Vector512.Load(q + 16);
                        s2 += Vector512.Load(q + 32);
                        s3 += Vector512.Load(q + 48);
                    }
                }
            }

            return Vector512.Sum((s0 + s1) + (s2 + s3));
        }
    }
}
