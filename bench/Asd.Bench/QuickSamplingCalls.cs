using System.Diagnostics;
using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-sampling-calls MODEL THREADS [rowpar] [L] [ROUNDS]</c>: every model call inside real sampling timed by
/// size (DDPM, and ASD at a fixed L), next to the calibration's way of timing (each timed call after an untimed one of
/// the same size), interleaved round by round in one process: where the cost curve's T(B) and a sampler's calls
/// differ (issue 16 item 6: on unet28 row-parallel the cost model predicted L = 2 12-20% above its measured speedup).
/// A development probe.
/// </summary>
internal static class QuickSamplingCalls
{
    public static void Run(string[] args)
    {
        string spec = args[1];
        int threads = int.Parse(args[2]);
        bool rowParallel = args.Length > 3 && args[3] == "rowpar";
        int length = args.Length > 4 ? int.Parse(args[4]) : 2;
        int rounds = args.Length > 5 ? int.Parse(args[5]) : 9;
        using IDiffusionModel model = ModelCatalog.Open(spec, new ModelOpenOptions { Threads = threads, RowParallel = rowParallel });
        using var pool = new CorePool(SamplerFactory.PoolThreads(model, threads));
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        IDenoiser inner = model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 64, Pool = pool });
        var timed = new TimedDenoiser(inner);
        InferencePlan plan = schedule.Plan(100);
        using var ddpm = new DdpmSampler(timed, plan, new SamplerOptions { MaxBatchRows = 64 });
        using var asd = new AsdSampler(timed, plan, new SamplerOptions { MaxBatchRows = 64, SpecLength = SpecLength.Fixed(length) });
        int d = timed.SampleSize, c = timed.ConditionSize;
        float[] output = new float[d], cond = new float[c];
        var rng = new Random(1);
        float[] x = [.. Enumerable.Range(0, 8 * d).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] y = new float[8 * d], xc = new float[8 * c];
        int[] t = [.. Enumerable.Range(0, 8).Select(i => (i * 97) + 5)];
        var byPhase = new Dictionary<string, List<double>>();
        var wall = new Dictionary<string, List<double>>();
        void Add(Dictionary<string, List<double>> to, string key, double v)
        {
            if (!to.TryGetValue(key, out List<double>? list))
            {
                to[key] = list = [];
            }

            list.Add(v);
        }

        void Drain(string phase)
        {
            for (int i = 0; i < timed.Count; i++)
            {
                Add(byPhase, $"{phase} {timed.Rows[i]} rows", timed.Micros[i]);
                if (i > 0 && phase.StartsWith("asd", StringComparison.Ordinal))
                {
                    Add(byPhase, $"{phase} {timed.Rows[i]} after {timed.Rows[i - 1]}", timed.Micros[i]);
                }
            }

            timed.Count = 0;
        }

        for (int r = 0; r <= rounds; r++)
        {
            timed.Count = 0;
            double w = ddpm.Sample(1, (ulong)r + 1, output, cond).WallSeconds;
            if (r > 0)
            {
                Add(wall, "ddpm", w * 1e6 / 100);
                Drain("ddpm");
            }

            timed.Count = 0;
            SamplingStats st = asd.Sample(1, (ulong)r + 1, output, cond);
            if (r > 0)
            {
                Add(wall, $"asd L={length} per call", st.WallSeconds * 1e6 / st.DenoiserInvocations);
                Drain($"asd L={length}");
            }

            // The calibration's way: largest size first, each timed call after an untimed one of its size.
            timed.Count = 0;
            foreach (int b in (int[])[length, 1])
            {
                timed.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), xc.AsSpan(0, b * c), y.AsSpan(0, b * d));
                timed.Count = 0;
                timed.Denoise(x.AsSpan(0, b * d), t.AsSpan(0, b), xc.AsSpan(0, b * c), y.AsSpan(0, b * d));
                if (r > 0)
                {
                    Drain("calibration");
                }
            }

            // Back to back, as DDPM's calls come.
            for (int k = 0; k < 8; k++)
            {
                timed.Denoise(x.AsSpan(0, d), t.AsSpan(0, 1), xc.AsSpan(0, c), y.AsSpan(0, d));
            }

            timed.Count = 0;
            for (int k = 0; k < 8; k++)
            {
                timed.Denoise(x.AsSpan(0, d), t.AsSpan(0, 1), xc.AsSpan(0, c), y.AsSpan(0, d));
            }

            if (r > 0)
            {
                Drain("back-to-back");
            }
        }

        static double Q(List<double> v, double q)
        {
            double[] s = [.. v.Order()];
            return s[(int)(q * (s.Length - 1))];
        }

        Console.WriteLine($"{spec}, {threads} threads{(rowParallel ? ", row-parallel" : "")}, {rounds} rounds");
        foreach ((string key, List<double> v) in byPhase.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"{key,-28} n={v.Count,5}  lower quartile {Q(v, 0.25),8:F1} us  median {Q(v, 0.5),8:F1} us  p90 {Q(v, 0.9),8:F1}  p99 {Q(v, 0.99),8:F1}  mean {v.Average(),8:F1} us");
        }

        foreach ((string key, List<double> v) in wall)
        {
            Console.WriteLine($"{key,-28} wall per call: median {Q(v, 0.5):F1} us");
        }

        (inner as IDisposable)?.Dispose();
    }

    /// <summary>Times every call (no allocation per call: preallocated arrays).</summary>
    private sealed class TimedDenoiser(IDenoiser inner) : WatchedDenoiser(inner)
    {
        public readonly int[] Rows = new int[4096];
        public readonly double[] Micros = new double[4096];
        public int Count;

        protected override void Called(ReadOnlySpan<int> timesteps, double micros)
        {
            if (Count < Rows.Length)
            {
                Rows[Count] = timesteps.Length;
                Micros[Count++] = micros;
            }
        }
    }
}
