using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Native.Threading;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-acceptance MODEL L|auto RUNS [K]</c>: how far each round of ASD at a fixed L (or auto, on a curve
/// measured at start and learning) advances, and how many rows its call drafted, by where in the trajectory it
/// starts (one chain, one thread, one request per run, seeds 1..RUNS, random conditioning), read from the timesteps
/// of the verification calls: a development probe of whether acceptance depends on the trajectory's phase.
/// </summary>
internal static class QuickAcceptance
{
    public static void Run(string[] args)
    {
        string spec = args[1];
        bool auto = args[2] == "auto";
        int length = auto ? 0 : int.Parse(args[2]), runs = int.Parse(args[3]), k = args.Length > 4 ? int.Parse(args[4]) : 100;
        using IDiffusionModel model = ModelCatalog.Open(spec, new ModelOpenOptions { Threads = 1 });
        using var pool = new CorePool(1);
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        IDenoiser inner = model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 64, Pool = pool });
        var logged = new LoggingDenoiser(inner);
        InferencePlan plan = schedule.Plan(k);
        using var asd = new AsdSampler(logged, plan, new SamplerOptions { MaxBatchRows = 64, SpecLength = auto ? SpecLength.Auto : SpecLength.Fixed(length), CostCurve = auto ? CostCurve.Measure(inner, 64, schedule.TrainSteps).WithLearning(true) : null });
        int d = logged.SampleSize, c = logged.ConditionSize;
        float[] output = new float[d], cond = new float[c];
        var rng = new Random(5);
        var index = new Dictionary<int, int>();
        for (int i = 0; i < k; i++)
        {
            index[plan.Timesteps[i]] = i;
        }

        const int Buckets = 10;
        double[] rowsByPhase = new double[Buckets], callsByPhase = new double[Buckets];
        double[] advance = new double[Buckets], rounds = new double[Buckets], full = new double[Buckets];
        for (int r = 0; r < runs; r++)
        {
            for (int j = 0; j < c; j++)
            {
                cond[j] = (float)((rng.NextDouble() * 2) - 1);
            }

            logged.First.Clear();
            logged.Rows.Clear();
            asd.Sample(1, (ulong)r + 1, output, cond);
            List<int> starts = [.. logged.First.Select(t => index[t])];
            for (int i = 1; i + 1 < starts.Count; i++)
            {
                int b0 = Math.Min(Buckets - 1, starts[i] * Buckets / k);
                rowsByPhase[b0] += logged.Rows[i];
                callsByPhase[b0]++;
                int drafted = logged.Rows[i];
                if (starts[i] + drafted > k)
                {
                    continue; // a round cut by the trajectory's end
                }

                int b = Math.Min(Buckets - 1, starts[i] * Buckets / k);
                advance[b] += starts[i + 1] - starts[i];
                full[b] += starts[i + 1] - starts[i] >= drafted ? 1 : 0;
                rounds[b]++;
            }
        }

        Console.WriteLine($"{spec}, L = {(auto ? "auto" : length)}, K = {k}, {runs} runs: mean steps a round advances, by the plan index its call starts at (rounds the end cut short left out)");
        for (int b = 0; b < Buckets; b++)
        {
            Console.WriteLine($"steps {b * k / Buckets,4}-{((b + 1) * k / Buckets) - 1,4}: {advance[b] / Math.Max(1, rounds[b]),5:F2} over {rounds[b],6} rounds, {full[b] / Math.Max(1, rounds[b]):P0} advancing all the rows drafted; mean rows per call {rowsByPhase[b] / Math.Max(1, callsByPhase[b]):F2}");
        }
    }

    /// <summary>Logs each call's first timestep and rows.</summary>
    private sealed class LoggingDenoiser(IDenoiser inner) : WatchedDenoiser(inner)
    {
        public readonly List<int> First = [], Rows = [];

        protected override void Called(ReadOnlySpan<int> timesteps, double micros)
        {
            First.Add(timesteps[0]);
            Rows.Add(timesteps.Length);
        }
    }
}
