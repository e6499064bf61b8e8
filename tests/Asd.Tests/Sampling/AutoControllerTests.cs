namespace Asd.Tests.Sampling;

/// <summary>
/// The automatic length's controller at its edges, read off the `auto` mutation target's survivors (tools/mutation):
/// timings it must not learn from, what a run of DDPM's own steps records, the explanation's branches and limits. The
/// controller's main behaviour (corrections, exploration, hysteresis) is in <see cref="OnlineCostTests"/>.
/// </summary>
public sealed class AutoControllerTests
{
    private static double Flat(int rows) => 1e-3 * (1 + (0.01 * rows));

    private static double Linear(int rows) => 1e-3 * rows;

    private static CostCurve Curve(Func<int, double> cost, int rows = 64) => new([.. Enumerable.Range(1, rows).Select(cost)]);

    private static AsdSampler Sampler(CostCurve curve, int steps, int maxBatchRows = 64, int dim = 2)
    {
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        return new AsdSampler(new MixtureDenoiser(GaussianMixture.Builtin(dim), schedule), schedule.Plan(steps), new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = curve, MaxBatchRows = maxBatchRows });
    }

    [Theory]
    [InlineData(0, 1e-3)]
    [InlineData(-1, 1e-3)]
    [InlineData(65, 1e-3)]
    [InlineData(4, 0.0)]
    [InlineData(4, -1e-3)]
    [InlineData(4, double.NaN)]
    [InlineData(4, double.PositiveInfinity)]
    public void ATimingOfNoRowsMoreRowsThanLearnedOrNoPositiveFiniteTimeIsIgnored(int rows, double seconds)
    {
        // A clock that stepped back, an overflowed difference or a call of no rows is no cost of the model: folded in,
        // 0 s would make its size free (and a refit would pull every size below it down with it).
        var auto = new AutoSpeculation(Curve(Flat).WithLearning(true), 64) { TellsColdCalls = false };
        auto.Reset(1);
        auto.Observe(rows, seconds);
        Assert.Equal(0, auto.ObservedCalls);
        auto.Refit();
        for (int b = 1; b <= 64; b++)
        {
            Assert.Equal(Flat(b), auto.CurrentCost.Seconds(b), 15);
        }

        // Control: a positive finite timing of a size learned is folded in and counted.
        auto.Observe(4, 0.5 * Flat(4));
        Assert.Equal(1, auto.ObservedCalls);
    }

    [Fact]
    public void ARunOfDdpmsOwnStepsReportsEveryRoundAsLOne()
    {
        // The run's effective length ("auto 1:597" in the CLI's spec_len line and the stats JSON) comes from the
        // controller's histogram, which a run that took DDPM's own steps fills in one go (RecordDdpmRounds).
        AsdSampler sampler = Sampler(Curve(Linear).WithLearning(true), steps: 200);
        for (int run = 1; run <= 3; run++)
        {
            SamplingStats st = sampler.Sample(3, 11, new float[6]);
            if (sampler.Auto!.RanAsDdpm)
            {
                Assert.Equal($"auto 1:{3 * 199}", st.SpecLengthEffective);
                Assert.Equal(3 * 199, st.Rounds);
                return;
            }
        }

        Assert.Fail("no run of three took DDPM's own steps on a linear cost");
    }

    [Fact]
    public void TheExplanationRefusesNoStats()
    {
        var auto = new AutoSpeculation(Curve(Flat), 64);
        auto.Reset(1);
        Assert.Equal("stats", Assert.Throws<ArgumentNullException>(() => auto.Explain(null!)).ParamName);
    }

    [Fact]
    public void ASettledRunsExplanationIsExactlyItsLengthGainAndSources()
    {
        // A given curve: no exploration, no limit held the length; nothing but the choice, the gain and the sources.
        AsdSampler sampler = Sampler(Curve(Flat), steps: 1000);
        SamplingStats st = sampler.Sample(1, 7, new float[2]);
        string line = sampler.AutoExplanation!;
        Assert.Matches(@"^auto: L = (\d+) in \d+% of rounds, predicted gain [\d.]+x at L = (\d+) over DDPM \(T\(B\) from the given cost curve; acceptance at position 1: [\d.]+\)$", line);
        Assert.Equal(0, sampler.ExploredRounds);
        Assert.True(st.AlgorithmicSpeedup > 3, $"{st.AlgorithmicSpeedup:F2}x");
    }

    [Fact]
    public void TheBestLengthExplainedIsOnTheGridAndWithinOneChainsShareOfACall()
    {
        // Four chains sharing calls of at most 32 rows: a chain drafts at most 8, so the best the line predicts is at
        // most 8 even on a flat curve (where longer is always better); and it is a length the chains could draft (the
        // grid 1, 2, 3, 4, 6, 8, 12, ...), as every round's is.
        AsdSampler sampler = Sampler(Curve(Flat), steps: 400, maxBatchRows: 32);
        sampler.Sample(4, 7, new float[8]);
        string line = sampler.AutoExplanation!;
        var m = System.Text.RegularExpressions.Regex.Match(line, @"predicted gain [\d.]+x at L = (\d+) ");
        Assert.True(m.Success, line);
        int best = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(8, best);

        // On one chain with a curve whose best length is off the grid (7 rows cost as little as 1; 8
        // and more at 0.5 ms a row), the line names a grid length.
        var stepped = Curve(b => b <= 7 ? 1e-3 : 0.5e-3 * b);
        AsdSampler one = Sampler(stepped, steps: 400);
        one.Sample(1, 7, new float[2]);
        m = System.Text.RegularExpressions.Regex.Match(one.AutoExplanation!, @"at L = (\d+)");
        Assert.True(m.Success, one.AutoExplanation);
        int named = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(SpeculationCostModel.OnLengthGrid(named), one.AutoExplanation);
        Assert.Equal(6, named);
    }
}
