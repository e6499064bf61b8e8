using Asd.Native.Denoising;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using Asd.Tests.Properties;
using Asd.Tests.Statistics;

internal static class Diag
{
    public static void Run()
    {
        foreach (var c in CaseGen.Draw(SameLawProperty.HardCases, 17, 8))
        {
            var schedule = new DiffusionSchedule(c.Scheduler);
            var plan = schedule.Plan(c.Steps);
            IDenoiser den = RandomModels.Create(c.Kind, c.Dimension, schedule, c.Seed, c.Hard, 8);
            foreach (int n in new[] { 3000, 30000 })
            {
                var refd = SameLawProperty.Draw(new DdpmSampler(den, plan), 5, 0, c.Dimension, n);
                foreach (var f in new[] { AsdFault.None, AsdFault.NoHalfInLogRatio })
                {
                    var asd = new AsdSampler(den, plan, new SamplerOptions { SpecLength = SpecLength.Unbounded }) { Fault = f };
                    var cand = SameLawProperty.Draw(asd, 5, (ulong)n, c.Dimension, n);
                    var acc = asd.Stats.AcceptanceByPosition;
                    var dirs = new[] { RejectionSamplerProperty.RandomUnit(new System.Random(1), c.Dimension) };
                    var ps = TwoSample.ProjectionPValues(refd, cand, dirs).ToList();
                    Console.WriteLine($"{c} n={n} {f}: p={string.Join(",", ps.Select(p => p.ToString("E1")))} acc={string.Join(" ", acc.Select(a => $"{a.Position}:{(double)a.Accepted / a.Attempts:F2}"))}");
                }
            }
        }
    }
}
