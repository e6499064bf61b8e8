using System.Diagnostics;
using Asd.Native.Backends.Mlp;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-mlp-weights MODEL.json [threads] [sizes] [repeats]</c> (development probe): T(B) of an asd-mlp model whose
/// weights are float16 values, packed as float16 (widened in the kernels) and as float32, timed call by call with the
/// order alternating per repeat; prints the medians and float32 / float16. The two give the same bits.
/// </summary>
internal static class QuickMlpWeights
{
    public static void Run(string[] args)
    {
        string path = args.Length > 1 ? args[1] : "models/builtin-policy/policy.json";
        int threads = args.Length > 2 ? int.Parse(args[2]) : 2;
        int[] sizes = args.Length > 3 ? [.. args[3].Split(',').Select(int.Parse)] : [1, 2, 4, 6, 8, 12, 16];
        int reps = args.Length > 4 ? int.Parse(args[4]) : 200;
        using var pool = new CorePool(threads);
        MlpModel half = MlpModel.Load(path), full = MlpModel.Load(path);
        full.KeepHalfWeights = false;
        MlpDenoiser[] den = [half.CreateDenoiser(64, pool), full.CreateDenoiser(64, pool)];
        int d = half.SampleSize, c = half.ConditionSize, most = sizes.Max();
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, most * d).Select(_ => (float)rng.NextDouble())];
        float[] cond = [.. Enumerable.Range(0, most * c).Select(_ => (float)rng.NextDouble())];
        int[] t = [.. Enumerable.Range(0, most).Select(i => (i * 7) % 100)];
        float[][] y = [new float[most * d], new float[most * d]];
        var times = new List<double>[sizes.Length, 2];
        for (int rep = -20; rep < reps; rep++)
        {
            for (int s = 0; s < sizes.Length; s++)
            {
                int b = sizes[s];
                for (int i = 0; i < 2; i++)
                {
                    int which = (i + rep) & 1;
                    long t0 = Stopwatch.GetTimestamp();
                    den[which].Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), cond.AsSpan(0, b * c), y[which].AsSpan(0, b * d));
                    double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    if (rep >= 0)
                    {
                        (times[s, which] ??= []).Add(us);
                    }
                }

                if (!y[0].AsSpan(0, b * d).SequenceEqual(y[1].AsSpan(0, b * d)))
                {
                    throw new InvalidOperationException($"B={b}: float16 and float32 packing gave different bits");
                }
            }
        }

        for (int s = 0; s < sizes.Length; s++)
        {
            double h = Median(times[s, 0]), f = Median(times[s, 1]);
            Console.WriteLine($"B={sizes[s],2}: float16 {h,8:F1} us  float32 {f,8:F1} us  float32 / float16 {f / h:F3}");
        }
    }

    private static double Median(List<double> v)
    {
        v.Sort();
        return v[v.Count / 2];
    }
}
