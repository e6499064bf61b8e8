using System.Diagnostics;
using Asd.Native.Sampling;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-auto-ddpm MODEL K PAIRS</c>: what a run of auto that takes DDPM's own steps costs beside DDPM's sampler,
/// in one process: PAIRS alternated runs of each (after as many untimed), the median of their paired ratios over the runs
/// auto took as DDPM's steps, then the pieces of auto's per-run work timed alone (a development probe).
/// </summary>
internal static class QuickAutoDdpm
{
    public static void Run(string[] args)
    {
        int k = int.Parse(args[2]), pairs = int.Parse(args[3]);
        using var pair = new AutoAndDdpm(args[1], k);
        (AsdSampler asd, DdpmSampler ddpm) = (pair.Asd, pair.Ddpm);
        float[] output = new float[pair.Denoiser.SampleSize], cond = new float[pair.Denoiser.ConditionSize];
        var ratios = new List<double>();
        var autoTimes = new List<double>();
        var ddpmTimes = new List<double>();
        for (int timed = 0; timed < 2; timed++)
        {
            for (int r = 0; r < pairs; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                asd.Sample(1, (ulong)r + 1, output, cond);
                long t1 = Stopwatch.GetTimestamp();
                ddpm.Sample(1, (ulong)r + 1, output, cond);
                long t2 = Stopwatch.GetTimestamp();
                if (timed == 1 && asd.Auto!.RanAsDdpm)
                {
                    ratios.Add((double)(t2 - t1) / (t1 - t0));
                    autoTimes.Add((t1 - t0) * 1e6 / Stopwatch.Frequency);
                    ddpmTimes.Add((t2 - t1) * 1e6 / Stopwatch.Frequency);
                }
            }
        }

        static double Median(List<double> x)
        {
            var s = x.Order().ToList();
            return s.Count == 0 ? double.NaN : s[s.Count / 2];
        }

        Console.WriteLine($"{ratios.Count} of {pairs} timed auto runs took DDPM's steps: auto {Median(autoTimes):F2} us, DDPM {Median(ddpmTimes):F2} us, DDPM / auto paired {Median(ratios):F3}");

        const int N = 20000;
        AutoSpeculation a = asd.Auto!;
        long s0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < N; i++)
        {
            a.Reset(1);
        }

        long s1 = Stopwatch.GetTimestamp();
        for (int i = 0; i < N; i++)
        {
            a.RunsAsDdpm();
        }

        long s2 = Stopwatch.GetTimestamp();
        var stats = new SamplingStats();
        for (int i = 0; i < N; i++)
        {
            stats.Reset("asd", k, 1, SpecLength.Auto.ToString(), SpecLength.Auto.ToString());
        }

        long s3 = Stopwatch.GetTimestamp();
        for (int i = 0; i < N; i++)
        {
            stats.Reset("ddpm", k, 1, "-", "-");
        }

        long s4 = Stopwatch.GetTimestamp();
        double us(long a0, long b0) => (b0 - a0) * 1e6 / Stopwatch.Frequency / N;
        Console.WriteLine($"per run: auto.Reset {us(s0, s1):F3} us, RunsAsDdpm {us(s1, s2):F3} us, stats.Reset as ASD's {us(s2, s3):F3} us, as DDPM's {us(s3, s4):F3} us");
    }
}
