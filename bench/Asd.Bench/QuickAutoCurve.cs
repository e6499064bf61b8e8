using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Native.Sampling;
using Asd.Native.Schedules;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-auto-curve MODEL K RUNS</c>: one-chain auto runs on a learning curve measured at start, each followed
/// by a DDPM run; prints, for every run that drafted or changed its belief, its time against DDPM's, its rounds, and
/// auto's learned T(1), T(2), T(4) and T(8) (a development probe of what the online cost learning believes).
/// </summary>
internal static class QuickAutoCurve
{
    public static void Run(string[] args)
    {
        int k = int.Parse(args[2]), runs = int.Parse(args[3]);
        using var pair = new AutoAndDdpm(args[1], k);
        (AsdSampler asd, DdpmSampler ddpm, CostCurve curve) = (pair.Asd, pair.Ddpm, pair.Curve);
        float[] output = new float[pair.Denoiser.SampleSize], cond = new float[pair.Denoiser.ConditionSize];
        Console.WriteLine($"calibration T(1..8) us: {string.Join(" ", new[] { 1, 2, 4, 8 }.Select(b => $"{curve.Seconds(b) * 1e6:F2}"))}");
        string last = "";
        for (int r = 0; r < runs; r++)
        {
            double a = asd.Sample(1, (ulong)r + 1, output, cond).WallSeconds;
            SamplingStats st = asd.Stats;
            double b = ddpm.Sample(1, (ulong)r + 1, output, cond).WallSeconds;
            IBatchCost now = asd.Auto!.CurrentCost;
            string belief = string.Join(" ", new[] { 1, 2, 4, 8 }.Select(n => $"{now.Seconds(n) * 1e6:F2}"));
            if (st.SequentialModelCalls < k || belief != last)
            {
                Console.WriteLine($"run {r,4}: auto {a * 1e6,7:F1} us, DDPM {b * 1e6,7:F1} us, {st.SequentialModelCalls,5:F1} sequential calls, rounds {string.Join(" ", st.RoundLengths.Select(x => $"{x.Length}:{x.Rounds}"))}; learned T(1,2,4,8) us {belief}");
            }

            last = belief;
        }
    }
}

/// <summary>
/// One model's auto sampler, on a learning curve measured at start (one thread, 64 rows a call), beside its DDPM
/// sampler: what the auto probes compare.
/// </summary>
internal sealed class AutoAndDdpm : IDisposable
{
    private readonly IDiffusionModel _model;

    public AutoAndDdpm(string spec, int steps)
    {
        _model = ModelCatalog.Open(spec, new ModelOpenOptions { Threads = 1 });
        var schedule = new DiffusionSchedule(_model.DefaultScheduler);
        Denoiser = _model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 64 });
        InferencePlan plan = schedule.Plan(steps);
        Curve = CostCurve.Measure(Denoiser, 64, schedule.TrainSteps).WithLearning(true);
        Asd = new AsdSampler(Denoiser, plan, new SamplerOptions { MaxBatchRows = 64, SpecLength = SpecLength.Auto, CostCurve = Curve });
        Ddpm = new DdpmSampler(Denoiser, plan, new SamplerOptions { MaxBatchRows = 64 });
    }

    public IDenoiser Denoiser { get; }

    public CostCurve Curve { get; }

    public AsdSampler Asd { get; }

    public DdpmSampler Ddpm { get; }

    public void Dispose()
    {
        Asd.Dispose();
        Ddpm.Dispose();
        _model.Dispose();
    }
}
