namespace Asd.Tests.Sampling;

/// <summary>
/// The automatic speculation length: the cost model's arithmetic, the choices it makes at the extremes, determinism
/// with a given cost curve, and the cost curve's file and measurement. Its law is property 7c (SameLawProperty runs
/// "auto" beside the fixed lengths).
/// </summary>
public sealed class AutoSpeculationTests
{
    private sealed class ConstantAcceptance(double q) : IPositionAcceptance
    {
        public double Acceptance(int position) => q;
    }

    private sealed class Affine(double overhead, double perRow) : IBatchCost
    {
        public double Seconds(int rows) => overhead + (perRow * rows);
    }

    private static CostCurve SublinearCurve(int chains) => SameLawProperty.SublinearCurve(chains);

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1.0)]
    public void RateMatchesTheGeometricClosedForm(double q)
    {
        // With constant q: E[steps] = 1 + (1 - q^(L-1)) / (1 - q) (or L when q = 1); E[cost] = T(L) + (1 - q^(L-1)) T(1).
        var cost = new Affine(1, 0.1);
        for (int l = 1; l <= 12; l++)
        {
            double reachAll = Math.Pow(q, l - 1);
            double steps = q == 1 ? l : 1 + ((1 - reachAll) / (1 - q));
            double expected = steps / (cost.Seconds(l) + ((1 - reachAll) * cost.Seconds(1)));
            Assert.Equal(expected, SpeculationCostModel.Rate(new ConstantAcceptance(q), cost, l), 12);
        }
    }

    [Fact]
    public void BestLengthIsTheArgmaxOfRate()
    {
        foreach (double q in (double[])[0.3, 0.7, 0.95])
        {
            foreach ((double overhead, double perRow) in ((double, double)[])[(1, 0.01), (1, 0.2), (1, 1), (0.1, 1)])
            {
                var cost = new Affine(overhead, perRow);
                int best = SpeculationCostModel.BestLength(new ConstantAcceptance(q), cost, 40, out double rate);
                double[] rates = [.. Enumerable.Range(1, 40).Select(l => SpeculationCostModel.Rate(new ConstantAcceptance(q), cost, l))];
                Assert.Equal(rates.Max(), rate, 12);
                Assert.Equal(Array.IndexOf(rates, rates.Max()) + 1, best);
            }
        }
    }

    [Fact]
    public void TabulatedSearchWithEarlyExitFindsTheSameArgmax()
    {
        // Random acceptance profiles and random non-monotone cost curves: the early exit must never skip the best L
        // (against the rate of every L, computed one by one).
        var rng = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            int max = rng.Next(1, 257);
            double[] q = [.. Enumerable.Range(0, max + 1).Select(_ => rng.NextDouble() < 0.2 ? rng.NextDouble() : 1 - (0.2 * rng.NextDouble() * rng.NextDouble()))];
            double slope = rng.NextDouble() < 0.5 ? 0.002 * rng.NextDouble() : rng.NextDouble();
            double[] seconds = [.. Enumerable.Range(1, max).Select(b => (1 + (slope * b)) * (1 + (0.3 * rng.NextDouble())))];
            var curve = new CostCurve(seconds, rowOverheadSeconds: rng.NextDouble() < 0.5 ? 0 : 0.01);
            var acceptance = new TableAcceptance(q);
            double[] rates = [.. Enumerable.Range(1, max).Select(l => SpeculationCostModel.Rate(acceptance, curve, l))];
            double expectedRate = rates.Max();
            int expected = Array.IndexOf(rates, expectedRate) + 1;
            var cost = new double[max + 1];
            var minFrom = new double[max + 1];
            SpeculationCostModel.Tabulate(curve, max, cost, minFrom);
            int got = SpeculationCostModel.BestLength(acceptance, cost, minFrom, max, out double rate);
            Assert.True(expected == got, $"trial {trial}: max {max}, slope {slope}: argmax {expected} ({expectedRate}), search {got} ({rate})");
            Assert.Equal(expectedRate, rate, 12);

            // On the grid (and one more allowed length), the same against the rates of the allowed lengths alone.
            int extra = rng.Next(1, max + 1);
            double gridRate = Enumerable.Range(1, max).Where(l => l == extra || SpeculationCostModel.OnLengthGrid(l)).Max(l => rates[l - 1]);
            int gridExpected = Enumerable.Range(1, max).First(l => (l == extra || SpeculationCostModel.OnLengthGrid(l)) && rates[l - 1] == gridRate);
            int gridGot = SpeculationCostModel.BestLength(acceptance, cost, minFrom, max, out double gotGridRate, onGrid: true, alsoAllowed: extra);
            Assert.True(gridExpected == gridGot, $"trial {trial}: grid argmax {gridExpected} ({gridRate}), search {gridGot} ({gotGridRate})");
        }
    }

    [Fact]
    public void TheLengthGridIsOneTwoThreeThenPowersOfTwoAndThreeTimesThem()
    {
        int[] grid = [.. Enumerable.Range(1, 200).Where(SpeculationCostModel.OnLengthGrid)];
        Assert.Equal([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192], grid);
        Assert.False(SpeculationCostModel.OnLengthGrid(0));
        Assert.Equal([1, 1, 2, 3, 4, 4, 6, 8, 8, 12, 16, 24], new[] { 1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 24, 32 }.Select(SpeculationCostModel.GridBelow));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AutoDraftsOnlyGridLengthsOrTheStepsLeft(bool learns)
    {
        // Every round of a chain, explorations included, drafts a grid length or exactly the chain's steps left,
        // whatever the acceptance and the curve (a learning one is corrected by the timings of a different true cost).
        var rng = new Random(11);
        for (int trial = 0; trial < 40; trial++)
        {
            double slope = rng.NextDouble() < 0.5 ? 0.01 * rng.NextDouble() : 0.3 * rng.NextDouble();
            var curve = new CostCurve([.. Enumerable.Range(1, 64).Select(b => 1e-3 * (1 + (slope * b)))]) { Learns = learns };
            double q = 0.5 + (0.5 * rng.NextDouble()), trueSlope = slope * (0.5 + rng.NextDouble());
            var auto = new AutoSpeculation(curve, 64);
            for (int run = 0; run < 3; run++)
            {
                auto.Reset(1);
                for (int remaining = 100; remaining > 0;)
                {
                    int l = auto.Choose(0, remaining);
                    Assert.True(SpeculationCostModel.OnLengthGrid(l) || l == remaining, $"trial {trial}: L = {l} with {remaining} steps left");
                    auto.Observe(l, 1e-3 * (1 + (trueSlope * l)));
                    int advanced = 1;
                    for (int j = 1; j < l; j++)
                    {
                        bool ok = rng.NextDouble() < q;
                        auto.Record(0, j, ok);
                        if (!ok)
                        {
                            break;
                        }

                        advanced++;
                    }

                    auto.EndRound(0);
                    remaining -= Math.Min(advanced, remaining);
                }
            }
        }
    }

    private sealed class TableAcceptance(double[] q) : IPositionAcceptance
    {
        public double Acceptance(int position) => q[Math.Min(position, q.Length - 1)];
    }

    [Fact]
    public void ExtremesChooseTheObviousLength()
    {
        // A batch that costs as much as its rows in single calls never pays: L = 1.
        Assert.Equal(1, SpeculationCostModel.BestLength(new ConstantAcceptance(0.99), new Affine(0, 1), 64, out _));

        // Free batches and drafts that are always accepted: as long as allowed.
        Assert.Equal(64, SpeculationCostModel.BestLength(new ConstantAcceptance(1), new Affine(1, 0), 64, out _));

        // Drafts that are always rejected: every L > 1 advances 2 steps for two calls, no better than L = 1 (ties go short).
        Assert.Equal(1, SpeculationCostModel.BestLength(new ConstantAcceptance(0), new Affine(1, 0), 64, out double r));
        Assert.Equal(1.0, r, 12);
    }

    [Theory]
    [InlineData(1.85, 1)] // L = 2 predicted 2.6% faster than L = 1: under the margin, DDPM's step
    [InlineData(1.6, 2)]  // L = 2 predicted 18% faster: drafted
    public void AutoDraftsOnlyForAPredictedGainAboveTheMargin(double costOfTwoRows, int expected)
    {
        // With no evidence yet the acceptance is the prior (0.9): L = 2 advances 2 steps for T(2) + 0.1 T(1) (the
        // rejected draft's correction); longer drafts cost as much as their rows in single calls and never pay.
        var curve = new CostCurve([1.0, costOfTwoRows, 3, 4, 5, 6, 7, 8]);
        var auto = new AutoSpeculation(curve, rowsPerCall: 64);
        auto.Reset(1);
        double rate2 = 2 / (costOfTwoRows + 0.1);
        Assert.Equal(rate2 > 1 ? 2 : 1, SpeculationCostModel.BestLength(new ConstantAcceptance(AutoSpeculation.PriorAcceptance), curve, 8, out _));
        Assert.Equal(expected, auto.Choose(0, remaining: 100));
        Assert.Equal(expected == 1, rate2 < 1 + AutoSpeculation.MinimumGain);
    }

    [Fact]
    public void WithAGivenCurveARunAfterOtherRunsChoosesAsOnAFreshSampler()
    {
        // A given curve does not learn, so a run's lengths (hence its bytes) depend only on its seed, chains and the
        // curve, not on the runs the sampler made before: Reset must clear each chain's streak, the length it held
        // (hysteresis), the pending ageing, the histogram of lengths and what held them. A run after two others, with
        // more chains and another seed, must give the first run's bytes, round lengths and explanation again.
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(2, 200);
        var sampler = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = SublinearCurve(3), MaxBatchRows = 24 });
        (float[] Bytes, string Lengths, string Explained) Run(int chains, ulong seed)
        {
            var x = new float[chains * 2];
            SamplingStats stats = sampler.Sample(chains, seed, x);
            return (x, string.Join(",", stats.RoundLengths.Select(r => $"{r.Length}x{r.Rounds}")), sampler.AutoExplanation!);
        }

        var first = Run(3, 5);
        var other = Run(1, 9);
        _ = Run(4, 11);
        var again = Run(3, 5);
        Assert.NotEqual(first.Lengths, other.Lengths); // the runs between chose differently
        Assert.Equal(first.Bytes, again.Bytes);
        Assert.Equal(first.Lengths, again.Lengths);
        Assert.Equal(first.Explained, again.Explained);
    }

    [Fact]
    public void WithAGivenCurveARunRepeatedWithItsSeedGivesItsBytesAgainWhenItsChainsRunStreaks()
    {
        // T(B) = 1 + 2 B: drafting 4 pays, but rejections drop chains to L = 1, whose rounds run as streaks. The
        // exploration clock (sweeps counted across runs) cut streaks on a given curve too, which never explores: a
        // streak cut at another round of the second run decided there, and the run repeated with its seed gave other
        // lengths and bytes (1:24 2:16 3:2 4:487, then 1:36 2:13 3:1 4:486).
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(2, 1000);
        var curve = new CostCurve([.. Enumerable.Range(1, 64).Select(b => 1e-3 * (1 + (2.0 * b)))]);
        var sampler = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = curve, MaxBatchRows = 64 });
        var first = new float[4];
        var again = new float[4];
        string lengths = sampler.Sample(2, 5, first).SpecLengthEffective;
        Assert.Contains(" 1:", lengths, StringComparison.Ordinal); // rounds of L = 1 (streaks) beside drafts
        Assert.Equal(lengths, sampler.Sample(2, 5, again).SpecLengthEffective);
        Assert.Equal(first, again);
    }

    [Fact]
    public void MeasuredAcceptanceExtrapolatesTheLastPosition()
    {
        var q = new MeasuredAcceptance([new PositionAcceptance(1, 10, 9), new PositionAcceptance(2, 9, 6), new PositionAcceptance(4, 4, 1)]);
        Assert.Equal(0.9, q.Acceptance(1), 12);
        Assert.Equal(6.0 / 9, q.Acceptance(2), 12);
        Assert.Equal(6.0 / 9, q.Acceptance(3), 12); // Not attempted: the last seen before it.
        Assert.Equal(0.25, q.Acceptance(4), 12);
        Assert.Equal(0.25, q.Acceptance(50), 12);
        Assert.Throws<ArgumentException>(() => new MeasuredAcceptance([new PositionAcceptance(1, 2, 3)]));
    }

    private static (DiffusionSchedule Schedule, InferencePlan Plan, GaussianMixture Mixture) Mixture(int dim, int steps)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        return (schedule, schedule.Plan(steps), GaussianMixture.Builtin(dim));
    }

    [Fact]
    public void LinearCostMakesAutoTheSequentialDdpmByteForByte()
    {
        // T(B) = B: speculation cannot pay, so every round has L = 1, which is DDPM's bytes (docs/math.md section 6).
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(4, 80);
        var linear = new CostCurve([.. Enumerable.Range(1, 64).Select(b => (double)b)]);
        var ddpmOut = new float[6 * 4];
        var autoOut = new float[6 * 4];
        new DdpmSampler(new MixtureDenoiser(mixture, schedule), plan).Sample(6, 9, ddpmOut);
        var auto = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = linear });
        SamplingStats stats = auto.Sample(6, 9, autoOut);
        Assert.True(ddpmOut.AsSpan().SequenceEqual(autoOut), "auto with a linear cost must run L = 1 = DDPM");
        Assert.Equal("auto 1:474", stats.SpecLengthEffective); // 6 chains x 79 rounds.
        Assert.Equal(80.0, stats.SequentialModelCalls);
    }

    [Fact]
    public void FlatCostAndHighAcceptanceMakeAutoSpeculateFar()
    {
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(2, 1000);
        var flat = new CostCurve([.. Enumerable.Repeat(1.0, 64)]);
        var auto = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = flat });
        SamplingStats stats = auto.Sample(1, 5, new float[2]);

        // Free batches: long drafts cost nothing, so auto must get most of what unbounded speculation gets.
        var inf = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Unbounded });
        double unbounded = inf.Sample(1, 5, new float[2]).AlgorithmicSpeedup;
        Assert.True(stats.AlgorithmicSpeedup > 0.7 * unbounded, $"auto {stats.AlgorithmicSpeedup:F2}x vs unbounded {unbounded:F2}x ({stats.SpecLengthEffective})");
        Assert.StartsWith("auto ", stats.SpecLengthEffective, StringComparison.Ordinal);
        Assert.True(stats.RoundLengths.Max(r => r.Length) >= 32, stats.SpecLengthEffective);
    }

    [Fact]
    public void GivenCurveMakesAutoDeterministicAcrossThreadsAndRuns()
    {
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(6, 200);
        CostCurve curve = SublinearCurve(7);
        float[] Run(CorePool? pool)
        {
            var sampler = new AsdSampler(new MixtureDenoiser(mixture, schedule, pool), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = curve });
            var output = new float[7 * 6];
            sampler.Sample(7, 77, output);
            return output;
        }

        float[] reference = Run(null);
        Assert.True(reference.AsSpan().SequenceEqual(Run(null)), "a second run changed the bytes");
        using var pool = new CorePool(2);
        Assert.True(reference.AsSpan().SequenceEqual(Run(pool)), "two threads changed the bytes");

        // And auto really varied L here (otherwise the test says little).
        var probe = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = curve });
        probe.Sample(7, 77, new float[7 * 6]);
        Assert.True(probe.Stats.SpecLengthEffective.Split(' ').Length > 3, probe.Stats.SpecLengthEffective);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a curve that learns: every call timed, the estimates updated and refitted, some rounds explored
    public void AutoRunAllocatesNothingAfterTheFirst(bool learns)
    {
        (DiffusionSchedule schedule, InferencePlan plan, GaussianMixture mixture) = Mixture(4, 100);
        var sampler = new AsdSampler(new MixtureDenoiser(mixture, schedule), plan, new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = SublinearCurve(3).WithLearning(learns) });
        var output = new float[3 * 4];
        sampler.Sample(3, 1, output);
        long before = GC.GetAllocatedBytesForCurrentThread();
        sampler.Sample(3, 2, output);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void CostCurveRoundTripsAndRejectsBadFiles()
    {
        string dir = Directory.CreateTempSubdirectory("asd-curve-").FullName;
        try
        {
            var curve = new CostCurve([1e-4, 1.1e-4, 1.5e-4], "m");
            string path = Path.Combine(dir, "c.json");
            curve.Save(path);
            CostCurve back = CostCurve.Load(path);
            Assert.Equal(3, back.MaxRows);
            Assert.Equal(1.5e-4, back.Seconds(3));
            Assert.Equal(1.9e-4, back.Seconds(4), 12); // Linear beyond the last point.
            Assert.Equal("m", back.Model);

            File.WriteAllText(path, "{\"format\": \"other\", \"seconds\": [1]}");
            Assert.Contains("not an asd cost-curve file", Assert.Throws<InvalidDataException>(() => CostCurve.Load(path)).Message, StringComparison.Ordinal);
            File.WriteAllText(path, "{\"format\": \"asd-cost-curve\", \"seconds\": [1, -2]}");
            Assert.Throws<InvalidDataException>(() => CostCurve.Load(path));
            File.WriteAllText(path, "{\"format\": \"asd-cost-curve\", \"seconds\": [");
            Assert.Throws<InvalidDataException>(() => CostCurve.Load(path));
            Assert.Throws<FileNotFoundException>(() => CostCurve.Load(Path.Combine(dir, "missing.json")));

            // The sampler's per-row overhead travels with the curve and adds to every row; a file without it means 0.
            var withOverhead = new CostCurve([1e-4, 1.1e-4], "m", rowOverheadSeconds: 2e-6);
            withOverhead.Save(path);
            back = CostCurve.Load(path);
            Assert.Equal(2e-6, back.RowOverheadSeconds);
            Assert.Equal(1.1e-4, back.CallSeconds(2));
            Assert.Equal(1.1e-4 + 4e-6, back.Seconds(2), 15);
            File.WriteAllText(path, "{\"format\": \"asd-cost-curve\", \"seconds\": [1e-4]}");
            Assert.Equal(0, CostCurve.Load(path).RowOverheadSeconds);
            File.WriteAllText(path, "{\"format\": \"asd-cost-curve\", \"row_overhead_seconds\": -1, \"seconds\": [1e-4]}");
            Assert.Throws<InvalidDataException>(() => CostCurve.Load(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RowOverheadIsTheSamplersOwnTimePerRow()
    {
        // Positive, and grows with the row size (the sampler's work per row is O(d)): 4096 values take longer
        // than 4, by far more than timer noise.
        double small = CostCurve.MeasureRowOverhead(4, repeats: 5);
        double large = CostCurve.MeasureRowOverhead(4096, repeats: 5);
        Assert.True(small > 0 && double.IsFinite(small), $"overhead {small}");
        Assert.True(large > 4 * small, $"d = 4096: {large} s per row, d = 4: {small}");
    }

    [Fact]
    public void MeasureTimesEveryRowCountAndInterpolatesTheGrid()
    {
        (DiffusionSchedule schedule, _, GaussianMixture mixture) = Mixture(8, 10);
        CostCurve curve = CostCurve.Measure(new MixtureDenoiser(mixture, schedule), 40, 1000, repeats: 3);
        Assert.Equal(40, curve.MaxRows);
        for (int b = 1; b <= 40; b++)
        {
            Assert.True(curve.Seconds(b) > 0 && double.IsFinite(curve.Seconds(b)));
        }

        // 17 is between grid points 16 and 18: interpolated exactly halfway (in the measured points; the curve used
        // is their non-decreasing fit, which pools a dip with its neighbours).
        Assert.Equal(0.5 * (curve.MeasuredCallSeconds(16) + curve.MeasuredCallSeconds(18)), curve.MeasuredCallSeconds(17), 15);
        double[] fit = Isotonic.Fit([.. Enumerable.Range(1, 40).Select(curve.MeasuredCallSeconds)]);
        Assert.Equal(fit, Enumerable.Range(1, 40).Select(curve.CallSeconds).ToArray());
    }

    [Fact]
    public void FactoryCalibratesOncePerModelAndThreadCount()
    {
        var model = new Asd.Native.Backends.Analytic.MixtureModel(GaussianMixture.Builtin(2), "cache-probe");
        var request = new SamplerRequest { Steps = 20, SpecLength = SpecLength.Auto, Threads = 1 };
        Assert.False(CostCurveCache.Contains(model, 1));
        using Sampler a = SamplerFactory.Create(model, request);
        Assert.True(CostCurveCache.Contains(model, 1));
        using Sampler b = SamplerFactory.Create(model, request);
        Assert.Same(((AsdSampler)a).CostCurve, ((AsdSampler)b).CostCurve);
    }
}
