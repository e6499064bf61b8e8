using System.Diagnostics;
using Asd.Native.Backends.Unet1d;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-unet MODEL.json [threads] [sizes, comma-separated] [repeats]</c>: T(B) of a ConditionalUnet1D through its denoiser (median of interleaved
/// calls) and the read bandwidth of a 1 GB buffer with the same threads; a development probe (asd bench publishes).
/// With <c>ASD_AB_PACK=L1,L2,...</c> it times each size under each per-thread packing limit instead
/// (<c>Unet1dDenoiser.PerThreadPackLimit</c>; 0 packs as before it), call by call, and prints each against the first;
/// a limit may carry a group norm's split threshold after a slash (<c>2097152/32768</c>:
/// <c>Unet1dDenoiser.NormParallelElements</c>, else its default) and a third, the float16 widen-once tile threshold
/// (<c>2097152/8192/5</c>: <c>Sgemm.WidenOnceTiles</c>, else its default) and a fourth, the samples from which
/// convolutions run by position (<c>2097152/8192/5/4</c>: <c>Unet1dDenoiser.ByPositionMinSamples</c> and
/// <c>ByPositionMinSamplesFromMemory</c>, else their defaults; 1000 never), and a fifth, 1 or 0, whether narrow outputs
/// split their panels in smaller groups (<c>Unet1dDenoiser.SplitNarrowPanels</c>), and a sixth, 1 or 0, whether group
/// norms run in their convolution's column chunks (<c>Unet1dDenoiser.NormInGemmChunks</c>). With <c>ASD_AB_F32=1</c> it weighs the
/// model's float16 packing against float32 packing of the same weights instead (<c>Unet1dWeight.PackHalfAsFloat</c>),
/// call by call.
/// </summary>
internal static class QuickUnet
{
    public static void Run(string[] args)
    {
        string path = args.Length > 1 ? args[1] : "artifacts/unet1d-deploy/unet1d_deploy.json";
        int threads = args.Length > 2 ? int.Parse(args[2]) : 2;
        using var pool = new CorePool(threads);
        Console.WriteLine($"read bandwidth, {threads} threads, 1 GB: {Bandwidth(pool, 1L << 30):F1} GB/s");
        Console.WriteLine($"FMA peak (12 chains per thread), {threads} threads: {FmaPeak(pool):F1} GFLOP/s");
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
        void Call(Unet1dDenoiser on, int b) => on.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
        if (Environment.GetEnvironmentVariable("ASD_AB_F32") == "1")
        {
            HalfAgainstFloat(path, model, den, pool, sizes, reps, Call);
            return;
        }

        Console.WriteLine($"one-sample calls run on {den.OneSampleMode}");
        var times = sizes.ToDictionary(b => b, _ => new List<double>());
        if (Environment.GetEnvironmentVariable("ASD_AB_PACK") is { Length: > 0 } ab)
        {
            // The settings call by call (order alternating per repeat), so drift hits them alike.
            string[] limits = ab.Split(',');
            long normDefault = Unet1dDenoiser.NormParallelElements;
            int widenDefault = Asd.Simd.Kernels.Gemm.Sgemm.WidenOnceTiles;
            int byPositionDefault = Unet1dDenoiser.ByPositionMinSamples, byPositionMemoryDefault = Unet1dDenoiser.ByPositionMinSamplesFromMemory;
            bool splitNarrowDefault = Unet1dDenoiser.SplitNarrowPanels, normInChunksDefault = Unet1dDenoiser.NormInGemmChunks;
            var abTimes = new Dictionary<(int, string), List<double>>();
            for (int rep = 0; rep < reps; rep++)
            {
                foreach (int b in sizes)
                {
                    for (int i = 0; i < limits.Length; i++)
                    {
                        string limit = limits[(i + rep) % limits.Length];
                        string[] knobs = limit.Split('/');
                        Unet1dDenoiser.PerThreadPackLimit = long.Parse(knobs[0]);
                        Unet1dDenoiser.NormParallelElements = knobs.Length > 1 ? long.Parse(knobs[1]) : normDefault;
                        Asd.Simd.Kernels.Gemm.Sgemm.WidenOnceTiles = knobs.Length > 2 ? int.Parse(knobs[2]) : widenDefault;
                        Unet1dDenoiser.ByPositionMinSamples = knobs.Length > 3 ? int.Parse(knobs[3]) : byPositionDefault;
                        Unet1dDenoiser.ByPositionMinSamplesFromMemory = knobs.Length > 3 ? int.Parse(knobs[3]) : byPositionMemoryDefault;
                        Unet1dDenoiser.SplitNarrowPanels = knobs.Length > 4 ? knobs[4] == "1" : splitNarrowDefault;
                        Unet1dDenoiser.NormInGemmChunks = knobs.Length > 5 ? knobs[5] == "1" : normInChunksDefault;
                        den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
                        var sw = Stopwatch.StartNew();
                        den.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y.AsSpan(0, b * d));
                        double ms = sw.Elapsed.TotalMilliseconds;
                        (abTimes.TryGetValue((b, limit), out List<double>? list) ? list : abTimes[(b, limit)] = []).Add(ms);
                    }
                }
            }

            foreach (int b in sizes)
            {
                double first = Median(abTimes[(b, limits[0])]);
                Console.WriteLine($"B={b,2}: " + string.Join("  ", limits.Select(l => $"limit {l}: {Median(abTimes[(b, l)]),8:F3} ms ({Median(abTimes[(b, l)]) / first:F3})")));
            }

            return;
        }

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

    /// <summary>
    /// ASD_AB_F32=1: the model's float16 packing against the same weights packed as float32 (a second model loaded with
    /// <see cref="Unet1dWeight.PackHalfAsFloat"/>), in one process, call by call in alternating order, each timed call
    /// after 3 untimed ones of the same model (the other's weights were in the caches before them); prints each size's
    /// medians and the median and quartiles of the paired ratios.
    /// </summary>
    private static void HalfAgainstFloat(string path, Unet1dModel model, Unet1dDenoiser half, CorePool pool, int[] sizes, int reps, Action<Unet1dDenoiser, int> call)
    {
        // The model packs when its first denoiser is made, so the switch stays on until then.
        Unet1dWeight.PackHalfAsFloat = true;
        using Unet1dModel widened = Unet1dModel.Load(path);
        Unet1dDenoiser full = widened.CreateDenoiser(64, pool);
        Unet1dWeight.PackHalfAsFloat = false;
        long halfBytes = model.PackedWeightBytes(Asd.Simd.Isa.Active), floatBytes = widened.PackedWeightBytes(Asd.Simd.Isa.Active);
        Console.WriteLine($"packed as the model packs: {halfBytes / 1e6:F1} MB; as float32: {floatBytes / 1e6:F1} MB");
        if (floatBytes <= halfBytes)
        {
            throw new InvalidOperationException($"{path}: no float16 weights to compare (float32 packing is not larger)");
        }

        var times = new Dictionary<(int, bool), List<double>>();
        for (int rep = 0; rep < reps; rep++)
        {
            foreach (int b in sizes)
            {
                foreach (bool asFloat in rep % 2 == 0 ? [false, true] : new[] { true, false })
                {
                    Unet1dDenoiser on = asFloat ? full : half;
                    for (int i = 0; i < 3; i++)
                    {
                        call(on, b);
                    }

                    var sw = Stopwatch.StartNew();
                    call(on, b);
                    (times.TryGetValue((b, asFloat), out List<double>? list) ? list : times[(b, asFloat)] = []).Add(sw.Elapsed.TotalMilliseconds);
                }
            }
        }

        foreach (int b in sizes)
        {
            double[] ratios = [.. times[(b, false)].Zip(times[(b, true)], (h, f) => f / h).Order()];
            Console.WriteLine($"B={b,2}: float16 {Median(times[(b, false)]):F3} ms  float32 {Median(times[(b, true)]):F3} ms  float32/float16 median of pairs {ratios[ratios.Length / 2]:F3} (quartiles {ratios[ratios.Length / 4]:F3}-{ratios[3 * ratios.Length / 4]:F3})");
        }
    }

    /// <summary>The FMA peak of the pool's threads, in GFLOP/s: asd bench's probe (<see cref="MachineLimits"/>).</summary>
    internal static double FmaPeak(CorePool pool) => MachineLimits.FmaPeak(pool) / 1e9;

    private static double Median(List<double> v)
    {
        double[] s = [.. v.Order()];
        return s[s.Length / 2];
    }

    /// <summary>Read bandwidth with the pool's threads, in GB/s: asd bench's probe (<see cref="MachineLimits"/>).</summary>
    internal static double Bandwidth(CorePool pool, long bytes) => MachineLimits.ReadBandwidth(pool, bytes) / 1e9;
}
