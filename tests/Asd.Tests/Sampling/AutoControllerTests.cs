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
    public void TheExplanationRefusesNoStatsAndSaysWhenThereWasNoRound()
    {
        var auto = new AutoSpeculation(Curve(Flat), 64);
        auto.Reset(1);
        Assert.Equal("stats", Assert.Throws<ArgumentNullException>(() => auto.Explain(null!)).ParamName);

        // A run of no rounds (K = 1: the one step is the chain's last) has nothing to explain.
        var none = new SamplingStats();
        none.Reset("asd", 1, 1, "auto", "auto");
        Assert.Equal("auto: no round to choose (K = 1)", auto.Explain(none));
        Assert.Equal("auto: no round to choose (K = 1)", new AutoSpeculation(Curve(Flat), 64).Explain(none));
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

    /// <summary>
    /// Runs <paramref name="rounds"/> rounds of one chain on the controller, each drafted position accepted with
    /// probability <paramref name="q"/> (seeded), with at most <paramref name="remaining"/> steps left per round.
    /// </summary>
    private static List<int> Drive(AutoSpeculation auto, int rounds, double q, int remaining = 10_000, int seed = 5) =>
        Drive(auto, rounds, _ => q, remaining, seed);

    /// <summary>
    /// As <see cref="Drive(AutoSpeculation, int, double, int, int)"/>, with the acceptance of round r <paramref name="q"/>(r);
    /// with <paramref name="callSeconds"/>, every round's call is timed at that many seconds for its rows, and with
    /// <paramref name="explored"/>, whether each round explored is listed there.
    /// </summary>
    private static List<int> Drive(AutoSpeculation auto, int rounds, Func<int, double> q, int remaining = 10_000, int seed = 5, Func<int, double>? callSeconds = null, List<bool>? explored = null, Func<int, int>? remainingAt = null)
    {
        var rng = new Random(seed);
        var chosen = new List<int>();
        auto.Reset(1);
        for (int r = 0; r < rounds; r++)
        {
            int l = auto.Choose(0, remainingAt?.Invoke(r) ?? remaining);
            chosen.Add(l);
            explored?.Add(auto.LastChoiceExplored);
            for (int j = 1; j < l; j++)
            {
                bool ok = rng.NextDouble() < q(r);
                auto.Record(0, j, ok);
                if (!ok)
                {
                    break;
                }
            }

            if (callSeconds is not null)
            {
                auto.Observe(l, callSeconds(l));
            }

            auto.EndRound(0);
        }

        return chosen;
    }

    /// <summary>Run statistics whose every position 1..64 was accepted <paramref name="accepted"/> of <paramref name="attempts"/> times.</summary>
    private static SamplingStats StatsAccepting(long attempts, long accepted, int steps = 1000)
    {
        var st = new SamplingStats();
        st.Reset("asd", steps, 1, "auto", "auto");
        for (int k = 1; k <= AutoSpeculation.TrackedPositions; k++)
        {
            st.AttemptsRaw[k] = attempts;
            st.AcceptedRaw[k] = accepted;
        }

        return st;
    }

    /// <summary>
    /// The explanation reads the last tracked position's acceptance too: positions from it on share one count, so it
    /// decides every length past it. With positions 1-63 accepted 99.9% and position 64 never, the best length on a
    /// flat curve is 64 (position 64 would be drafted in vain); the control, position 64 accepted like the rest, puts
    /// it at the cap, 256. A loop stopping one position short (a surviving mutant) left position 64 at 0 and named 64 both times.
    /// </summary>
    [Fact]
    public void TheExplanationReadsTheLastTrackedPositionsAcceptance()
    {
        string Best(long acceptedAtLast)
        {
            var auto = new AutoSpeculation(Curve(_ => 1e-3, rows: 256), 256);
            Drive(auto, 10, q: 0.99);
            SamplingStats st = StatsAccepting(1000, 999);
            st.AcceptedRaw[AutoSpeculation.TrackedPositions] = acceptedAtLast;
            var m = System.Text.RegularExpressions.Regex.Match(auto.Explain(st), @"predicted gain [\d.]+x at L = (\d+) ");
            Assert.True(m.Success, auto.Explain(st));
            return m.Groups[1].Value;
        }

        Assert.Equal(64, AutoSpeculation.TrackedPositions);
        Assert.Equal("64", Best(0));
        Assert.Equal("256", Best(999));
    }

    [Fact]
    public void RoundsHeldAtTheStepsLeftAreAttributedToThem()
    {
        // Every round with 3 steps left drafts 3 (the steps left, as the search allows), while the run's acceptance
        // predicts 64 best: the line says the steps left held the length, in every round.
        var auto = new AutoSpeculation(Curve(_ => 1e-3), 64);
        List<int> chosen = Drive(auto, 40, q: 0.99, remaining: 3);
        Assert.All(chosen.Skip(1), l => Assert.Equal(3, l));
        string line = auto.Explain(StatsAccepting(1000, 995));
        Assert.Contains("predicted gain", line, StringComparison.Ordinal);
        Assert.Contains("at L = 64 over DDPM; held below L = 64 by the steps left in ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("climb", line, StringComparison.Ordinal);
        Assert.DoesNotContain("hysteresis", line, StringComparison.Ordinal);
    }

    [Fact]
    public void RoundsKeptByHysteresisAreAttributedToIt()
    {
        // A margin of 50% for a switch: on a flat curve a longer draft is always predicted faster, but at acceptance 0.8
        // L = 12 and on only 5-7% faster than L = 8, so a chain that reached 8 (while its estimate was still near the
        // prior) stays there, kept by hysteresis; the line must say so (and that the first rounds were cut by the climb
        // from L = 1), each share of the run's rounds.
        var auto = new AutoSpeculation(Curve(_ => 1e-3), 64) { SwitchMargin = 0.5 };
        List<int> chosen = Drive(auto, 60, q: 0.8);
        Assert.Equal(4, chosen[0]);
        Assert.True(chosen.Count(l => l == 8) > 40, string.Join(",", chosen));
        string line = auto.Explain(StatsAccepting(1000, 995));
        var held = System.Text.RegularExpressions.Regex.Match(line, @"; held below L = 64 by the climb from the previous round \(at most 2 L \+ 2\) in (\d+)%, hysteresis \(a switch needs 50% more predicted gain\) in (\d+)% of rounds \(");
        Assert.True(held.Success, line);
        int climbShare = int.Parse(held.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        int hysteresisShare = int.Parse(held.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(climbShare, 1, 10); // the first rounds, of 60
        Assert.InRange(hysteresisShare, 50, 99);

        // Control: with no margin, nothing keeps a length against a better one, and hysteresis is not named.
        var control = new AutoSpeculation(Curve(_ => 1e-3), 64) { SwitchMargin = 0 };
        Drive(control, 60, q: 0.8);
        Assert.DoesNotContain("hysteresis", control.Explain(StatsAccepting(1000, 995)), StringComparison.Ordinal);
    }

    /// <summary>
    /// A cap at exactly the length a round chooses (the steps left, say) never changes that choice: the length stays
    /// allowed, and hysteresis must keep it against a shorter best as it does at a larger cap. Replayed round by round
    /// (the controller is deterministic for a seed): a chain climbs at acceptance 0.97, then drafts at 0.85, where the
    /// best length falls and the one in use is often kept within <see cref="AutoSpeculation.SwitchMargin"/> of it. The
    /// mutants of that condition that skip hysteresis at the cap (held &lt; cap) survived every earlier test.
    /// </summary>
    [Fact]
    public void ACapAtTheChosenLengthKeepsThatLength()
    {
        const int Rounds = 120;
        int Replay(int rounds, int remaining, out bool explored)
        {
            var auto = new AutoSpeculation(Curve(b => 1e-3 * (1 + (0.05 * b))), 64);
            Drive(auto, rounds, r => r < 40 ? 0.97 : 0.85);
            int chosen = auto.Choose(0, remaining);
            explored = auto.LastChoiceExplored;
            return chosen;
        }

        int checkedRounds = 0;
        var lengths = new HashSet<int>();
        for (int r = 0; r < Rounds; r++)
        {
            int free = Replay(r, 10_000, out bool explored);
            if (free <= 1 || explored)
            {
                continue; // an exploration's neighbour depends on the cap; a DDPM streak's round takes no search
            }

            Assert.True(free == Replay(r, free, out _), $"round {r}: L = {free} with 10000 steps left, L = {Replay(r, free, out _)} with {free}");
            checkedRounds++;
            lengths.Add(free);
        }

        // Not a vacuous pass: most rounds are checked, at several lengths (the chain moves between them).
        Assert.True(checkedRounds > Rounds * 3 / 4 && lengths.Count >= 3, $"{checkedRounds} rounds, lengths {string.Join(",", lengths)}");
    }

    [Fact]
    public void RoundsThatChoseShorterOnTheAcceptanceOfTheTimeSaySoWhenNoLimitHeldThem()
    {
        // T(B) = 1 + 1.5 B: at the prior's 0.9 and the run's 0.85 the best draft is 3, below the first round's climb
        // (4) and any later one; the statistics the line reads say 0.995, where the best is 16. No limit held a round:
        // they chose on the acceptance they had then, and the line says so instead of naming a limit.
        var auto = new AutoSpeculation(Curve(b => 1e-3 * (1 + (1.5 * b))), 64) { SwitchMargin = 0 };
        List<int> chosen = Drive(auto, 200, q: 0.85);
        int dominant = chosen.GroupBy(l => l).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        Assert.True(dominant is > 1 and < 4, string.Join(",", chosen));
        string line = auto.Explain(StatsAccepting(1000, 995));
        Assert.Contains($"auto: L = {dominant} in ", line, StringComparison.Ordinal);
        Assert.Contains("at L = 16 over DDPM; no limit held rounds below L = 16: they chose on the acceptance and T(B) estimated at the time (", line, StringComparison.Ordinal);
        Assert.DoesNotContain("held below", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ARunThatDraftedNothingButEndsPredictingAGainSaysBoth()
    {
        // A curve that learns, no call timed yet: the trust region lets a chain draft at most 2, and 2 rows cost 1.9
        // times 1 (no gain), while 3 or more cost 2 (a large gain at long drafts). So every round of a short run
        // (fewer rounds than the first exploration's 50) takes L = 1, and the line must not say the gain is below the
        // margin: it says the run took DDPM's work and what it predicts at its end.
        var curve = Curve(b => b == 1 ? 1e-3 : b == 2 ? 1.9e-3 : 2e-3).WithLearning(true);
        var auto = new AutoSpeculation(curve, 64);
        List<int> chosen = Drive(auto, 40, q: 0.9);
        Assert.All(chosen, l => Assert.Equal(1, l));
        string line = auto.Explain(StatsAccepting(0, 0));
        Assert.Matches(@"^auto: ran L = 1 \(DDPM's work\); by the end it predicts [\d.]+x at L = \d+ \(T\(B\) calibrated and corrected by 0 timed calls; acceptance at position 1: 0\.90\)$", line);

        // Control: on a linear curve no length gains; the line says the gain is below the margin.
        var linear = new AutoSpeculation(Curve(Linear).WithLearning(true), 64);
        Drive(linear, 40, q: 0.9);
        Assert.StartsWith("auto: best predicted gain 1.00x at L = 1, below the 5% margin, so L = 1 (DDPM's work) (", linear.Explain(StatsAccepting(0, 0)), StringComparison.Ordinal);
    }

    private static AutoSpeculation Learning(Func<int, double> calibration, int rowsPerCall = 64, bool tellsCold = false)
    {
        var auto = new AutoSpeculation(Curve(calibration, Math.Min(rowsPerCall, 64)).WithLearning(true), rowsPerCall) { TellsColdCalls = tellsCold };
        auto.Reset(1);
        return auto;
    }

    /// <summary>Three timings of <paramref name="rows"/> rows that agree (enough to move an estimate past two outliers), then a refit.</summary>
    private static void ThreeAgreeingTimings(AutoSpeculation auto, int rows, double seconds)
    {
        for (int i = 0; i < 3; i++)
        {
            auto.Observe(rows, seconds);
        }

        auto.Refit();
    }

    [Fact]
    public void ATimingCountsAtMostMaxStepTimesTheEstimate()
    {
        // Three timings of 10x the calibration agree, so they move the estimate, but each counts as at most 4x (a
        // preempted call is not the model's cost).
        AutoSpeculation auto = Learning(Flat);
        ThreeAgreeingTimings(auto, 4, 10 * Flat(4));
        Assert.Equal(AutoSpeculation.MaxStep * Flat(4), auto.CurrentCost.Seconds(4), Flat(4) * 1e-12);
    }

    [Fact]
    public void ASmallMoveTakesEffectAtTheRefitEveryEighthTimingAndALargeOneAtOnce()
    {
        // A size timed 7% dearer than its calibration (beyond the 5% deadband, within the 10% that refits at once):
        // its third timing moves the estimate, which the learned curve shows from the refit after the eighth timing.
        AutoSpeculation auto = Learning(Flat);
        Assert.Equal(8, auto.RefitEvery);
        double[] seen = new double[8];
        for (int i = 0; i < 8; i++)
        {
            auto.Observe(4, 1.07 * Flat(4));
            seen[i] = auto.CurrentCost.Seconds(4);
        }

        Assert.All(seen[..7], t => Assert.Equal(Flat(4), t, 15));
        Assert.Equal(1.07 * Flat(4), seen[7], Flat(4) * 1e-12);

        // A move beyond 10% refits at its timing: the third of three agreeing 1.5x timings.
        AutoSpeculation large = Learning(Flat);
        large.Observe(8, 1.5 * Flat(8));
        large.Observe(8, 1.5 * Flat(8));
        Assert.Equal(Flat(8), large.CurrentCost.Seconds(8), 15);
        large.Observe(8, 1.5 * Flat(8));
        Assert.Equal(1.5 * Flat(8), large.CurrentCost.Seconds(8), Flat(8) * 1e-12);
    }

    [Fact]
    public void TimingsBelowTheBeliefCountAtOnceAsTheLowerMedianOfTheTimingsAndTheBelief()
    {
        // Two fast timings, 0.6 then 0.5 of the calibration: the estimate is the lower median of {0.6, 0.5, 1}, 0.6,
        // in whatever order they came.
        AutoSpeculation auto = Learning(Flat);
        auto.Observe(4, 0.6 * Flat(4));
        auto.Observe(4, 0.5 * Flat(4));
        auto.Refit();
        Assert.Equal(0.6 * Flat(4), auto.CurrentCost.Seconds(4), Flat(4) * 1e-12);
    }

    [Fact]
    public void SizesBelowTheFirstTimedFollowTheCalibrationScaledAndSizesBeyondTheFitToo()
    {
        // Only 8 rows timed, at twice the calibration: the learned curve is the calibration scaled by 2, below 8 and
        // beyond it, including sizes beyond the rows the refit fits (up to 4 times the largest timed, at least 64) when
        // a call may hold 4096.
        AutoSpeculation auto = Learning(Linear, rowsPerCall: 4096);
        ThreeAgreeingTimings(auto, 8, 2 * Linear(8));
        foreach (int b in new[] { 1, 3, 7, 8, 9, 64, 65, 1000, 4096 })
        {
            Assert.Equal(2 * Linear(b), auto.CurrentCost.Seconds(b), Linear(b) * 1e-9);
        }
    }

    [Fact]
    public void ACallOfSeveralRowsAfterAStreakOfNarrowerCallsIsColdAndRaisesNothing()
    {
        // Cold calls (ColdWindow): 4 rows after six 1-row calls. A slow timing of it raises nothing; after three warm
        // 4-row calls (at least 3/4 of its rows each), the same slow timing is folded in.
        AutoSpeculation auto = Learning(Flat, tellsCold: true);
        for (int i = 0; i < AutoSpeculation.ColdWindow; i++)
        {
            auto.Observe(1, Flat(1));
        }

        auto.Observe(4, Flat(4)); // a first timing, at the belief
        long before = auto.ObservedCalls;
        auto.Observe(4, 3 * Flat(4)); // cold: one wide call in the window
        Assert.Equal(before, auto.ObservedCalls);

        auto.Observe(3, Flat(3)); // 3 rows count as wide for 4 (at least 3/4 of them)
        auto.Observe(4, Flat(4));
        long warm = auto.ObservedCalls;
        auto.Observe(4, 3 * Flat(4)); // warm now: the window holds three calls of at least 3 rows
        Assert.Equal(warm + 1, auto.ObservedCalls);
    }

    [Fact]
    public void NoDraftIsLongerThanMaxLengthWhateverACallMayHold()
    {
        // 1024 rows a call and a flat curve: every draft accepted, a chain climbs 1, 4, 10, 22, ... and stops at 256.
        var auto = new AutoSpeculation(Curve(_ => 1e-3, 1024), 1024);
        List<int> chosen = Drive(auto, 20, q: 1.0);
        Assert.Equal(AutoSpeculation.MaxLength, chosen.Max());
        Assert.Equal(AutoSpeculation.MaxLength, chosen[^1]);
    }

    /// <summary>Runs one chain's rounds of L = 1 on a linear curve, noting before each decision whether the sampler would time the call.</summary>
    /// <summary>
    /// Streaks double as documented (<see cref="AutoSpeculation.StreakCap"/>): where drafting never pays (T(B) = B T(1)),
    /// a chain decides L = 1, then runs 1, 2, 4, 8 and then 16 rounds at a time without a decision, deciding between
    /// them (a decision's round wants its call timed, a streak's does not). The surviving mutants of the grant (a streak
    /// of 16 at once, or no doubling) change the pattern. The control: on a flat curve, where drafting pays, no round is
    /// a streak's.
    /// </summary>
    [Fact]
    public void StreaksOfDdpmsStepsDoubleUpToTheCap()
    {
        static string Pattern(AutoSpeculation auto, int rounds)
        {
            var text = new System.Text.StringBuilder();
            auto.Reset(1);
            for (int r = 0; r < rounds; r++)
            {
                auto.Choose(0, 10_000);
                text.Append(auto.WantsTiming ? 'D' : 'S');
                auto.EndRound(0);
            }

            return text.ToString();
        }

        var expected = new System.Text.StringBuilder("D");
        for (int streak = 1; expected.Length < 100; streak = Math.Min(AutoSpeculation.StreakCap, 2 * streak))
        {
            expected.Append('S', streak).Append('D');
        }

        Assert.Equal(16, AutoSpeculation.StreakCap);
        Assert.Equal(expected.ToString()[..100], Pattern(new AutoSpeculation(Curve(Linear), 64), 100));
        Assert.Equal(new string('D', 100), Pattern(new AutoSpeculation(Curve(Flat), 64), 100));
    }

    /// <summary>
    /// Exploration alternates its direction: the first one tries a longer length than the chain's, the next a shorter,
    /// and so on, while no upward one found its length cheaper than predicted (here every call takes what the curve
    /// says). A learning controller on T(B) = 1 + 0.05 B ms at acceptance 0.85, every call timed at the curve's cost,
    /// 600 rounds: an exploration every 50 decisions, each on the other side of the length chosen the round before.
    /// When an upward one finds its length cheaper than predicted, the next goes up again. The surviving mutants of
    /// the direction's parity test and of that rule change the order.
    /// </summary>
    [Fact]
    public void ExplorationsAlternateLongerAndShorterWhileNothingSurprises()
    {
        static double Cost(int rows) => 1e-3 * (1 + (0.05 * rows));
        var explored = new List<bool>();
        List<int> chosen = Drive(Learning(Cost), 600, _ => 0.85, callSeconds: Cost, explored: explored);
        List<int> sides = [.. Enumerable.Range(1, chosen.Count - 1).Where(r => explored[r]).Select(r => Math.Sign(chosen[r] - chosen[r - 1]))];
        Assert.Equal(12, sides.Count);
        Assert.Equal([.. Enumerable.Range(0, sides.Count).Select(i => i % 2 == 0 ? 1 : -1)], sides);

        // A surprise: calls of 16 rows and more take 0.3 of the curve's time. The first exploration (up, to 24) finds
        // its length cheaper than predicted, so the next goes up again, and the one after that too; then they alternate.
        explored.Clear();
        chosen = Drive(Learning(Cost), 600, _ => 0.85, callSeconds: rows => rows >= 16 ? 0.3 * Cost(rows) : Cost(rows), explored: explored);
        sides = [.. Enumerable.Range(1, chosen.Count - 1).Where(r => explored[r]).Select(r => Math.Sign(chosen[r] - chosen[r - 1]))];
        Assert.Equal([1, 1, 1, -1, 1, -1], sides.Take(6));
    }

    /// <summary>
    /// Where an upward exploration goes: the shortest grid length above the one in use whose estimate is stale (timed,
    /// but not for <see cref="AutoSpeculation.DefaultStaleCalls"/> calls), within the search's cap, else twice the length.
    /// A curve whose best length is <c>best</c> whatever the acceptance (T(B) flat to <c>best</c> rows, then <c>slope</c> ms a
    /// row more, steep enough for that and gentle enough that the exploration budget allows every exploration), every draft accepted, every call timed at the curve, one size timed at round 0 and one at round 140
    /// besides: the upward explorations are rounds 49 and 149 (round 99 explores down). With best 4 they go to 8, twice
    /// 4, while 6 has never been timed (an untimed size is not stale), when 6 was timed nine rounds before (a recent
    /// timing is not stale), and when 16, beyond the cap, was timed long ago (a stale size beyond the cap is not looked
    /// for); with best 2, to 6 at round 149: timed at round 0, stale, and exactly the cap (the climb, 2 x 2 + 2), where 4
    /// was timed at round 140; and with staleness after 40 calls, to 8 though 3, explored downwards at round 99, is stale
    /// too (the search starts above the length in use). The conditions of staleness and of its search had survived as mutants (`tools/mutation`,
    /// the auto target).
    /// </summary>
    [Theory]
    [InlineData(4, 0.3, 0, 0, 8)] // nothing timed but the chain's own calls
    [InlineData(4, 0.3, 0, 6, 8)]
    [InlineData(4, 0.3, 16, 8, 8)]
    [InlineData(2, 0.6, 6, 4, 6)]
    [InlineData(4, 0.3, 0, 0, 8, 40)] // 3, below, explored at round 99, is stale at 149 too: the search starts above L
    public void AnUpwardExplorationDoublesUnlessASizeOnTheWayIsStale(int best, double slope, int timedFirst, int timedLate, int secondUp, int staleCalls = AutoSpeculation.DefaultStaleCalls)
    {
        double Cost(int rows) => 1e-3 * (1 + (slope * Math.Max(0, rows - best)));
        var auto = new AutoSpeculation(Curve(Cost).WithLearning(true), 64) { StaleCalls = staleCalls, TellsColdCalls = false };
        auto.Reset(1);
        var explorations = new List<(int Round, int From, int To)>();
        int last = 1;
        for (int r = 0; r < 150; r++)
        {
            if (r == 0 && timedFirst > 0)
            {
                auto.Observe(timedFirst, Cost(timedFirst));
            }

            if (r == 140 && timedLate > 0)
            {
                auto.Observe(timedLate, Cost(timedLate));
            }

            int l = auto.Choose(0, 10_000);
            if (auto.LastChoiceExplored)
            {
                explorations.Add((r, last, l));
            }
            else
            {
                last = l;
            }

            for (int j = 1; j < l; j++)
            {
                auto.Record(0, j, true);
            }

            auto.Observe(l, Cost(l));
            auto.EndRound(0);
        }

        Assert.Equal([(49, best, 2 * best), (99, best, SpeculationCostModel.GridBelow(best)), (149, best, secondUp)], explorations);
    }

    /// <summary>
    /// An explored length is not the length in use: a chain that drafts L = 2 on the margin's hysteresis (its gain, once
    /// the run has timed 2 rows at 1.95 T(1) where the calibration said 1.2, is about 1.03x: below the 5% margin, above
    /// it less the switch margin of 0.2 that this test sets) and explores L = 1 downwards goes back to 2 after it. Had
    /// the exploration become the held length, the next round would meet the margin without the hysteresis and fall to
    /// DDPM's steps for good (`exploring = true` had survived as `false`, `tools/mutation`, the auto target). The
    /// control: with a switch margin of 0.02 the gain is below the margin's hysteresis too, and the chain takes L = 1.
    /// </summary>
    [Theory]
    [InlineData(0.2, 2)]
    [InlineData(0.02, 1)] // the control
    public void AChainGoesBackToItsLengthAfterExploringDdpmsStep(double switchMargin, int settled)
    {
        // Beyond one row the timings are the calibration's shape, scaled (so that no upward exploration is a surprise).
        static double Calibrated(int rows) => 1e-3 * (rows == 1 ? 1 : 1.2 + (1.5 * (rows - 2)));
        static double Timed(int rows) => rows == 1 ? 1e-3 : 1.625 * Calibrated(rows);
        var auto = new AutoSpeculation(Curve(Calibrated).WithLearning(true), 64) { SwitchMargin = switchMargin };
        ThreeAgreeingTimings(auto, 1, Timed(1)); // DDPM's call known (untimed, it would follow 2's timings in the calibration's shape)
        var explored = new List<bool>();
        List<int> chosen = Drive(auto, 600, _ => 1.0, callSeconds: Timed, explored: explored);
        List<int> downToOne = [.. Enumerable.Range(0, chosen.Count).Where(r => explored[r] && chosen[r] == 1)];
        Assert.True(settled == 1 || downToOne.Count >= 2, string.Join(",", chosen)); // rounds 149, 249, 399 and 499
        Assert.All(Enumerable.Range(100, 500).Where(r => !explored[r]), r => Assert.True(chosen[r] == settled, $"round {r}: L = {chosen[r]}; {string.Join(",", chosen)}"));
    }

    /// <summary>
    /// A surprise at the cap: an upward exploration to exactly the widest call (8 rows a call here) that finds it at 0.3
    /// of its predicted time is followed by an upward exploration again, not the downward one parity would give. The
    /// curve makes 8 so dear (5 ms a row beyond 4) that even at 0.3 of it the chain stays at 4, and the exploration
    /// budget holds the second exploration back until the rounds' time has grown to fifty times the first one's extra
    /// (about a thousand rounds). The control: without the surprise the second goes down, to 3. The `_upRows <= cap` of the rule had
    /// survived as `&lt;` (`tools/mutation`, the auto target).
    /// </summary>
    [Theory]
    [InlineData(0.3, 8)]
    [InlineData(1.0, 3)] // the control
    public void ASurpriseAtTheCapIsFollowedByAnotherUpwardExploration(double atEight, int second)
    {
        static double Cost(int rows) => 1e-3 * (1 + (5 * Math.Max(0, rows - 4)));
        var explored = new List<bool>();
        List<int> chosen = Drive(Learning(Cost, rowsPerCall: 8), 1100, _ => 1.0, callSeconds: rows => rows == 8 ? atEight * Cost(8) : Cost(rows), explored: explored);
        List<(int Round, int To)> explorations = [.. Enumerable.Range(0, chosen.Count).Where(r => explored[r]).Select(r => (r, chosen[r]))];
        Assert.True(explorations.Count >= 2, string.Join(", ", explorations));
        Assert.Equal((49, 8), explorations[0]);
        Assert.Equal(second, explorations[1].To);
        Assert.All(Enumerable.Range(0, chosen.Count).Where(r => !explored[r] && r > 2), r => Assert.Equal(4, chosen[r]));
    }

    /// <summary>
    /// Once a size is timed, each new timing is capped at <see cref="AutoSpeculation.MaxStep"/> times its current
    /// estimate, not its first fit: a size timed at 0.1 ms (its calibration said 1 ms) and then three times at 2 ms
    /// (preempted calls, say) is believed at 0.4 ms, the lower median of 0.1, 0.1, 0.4, 0.4, 0.4; capped by the first fit
    /// (4 ms) the slow timings would count whole and put it at 2 ms. That cap had survived as a mutant.
    /// </summary>
    [Fact]
    public void ATimedSizesNextTimingsAreCappedAtMaxStepTimesItsCurrentEstimate()
    {
        AutoSpeculation auto = Learning(_ => 1e-3);
        foreach (double seconds in (double[])[1e-4, 1e-4, 1e-4, 2e-3, 2e-3, 2e-3])
        {
            auto.Observe(4, seconds);
        }

        auto.Refit();
        Assert.Equal(AutoSpeculation.MaxStep * 1e-4, auto.CurrentCost.Seconds(4), 12);
    }

    /// <summary>
    /// The refit pools sizes that break the order (a larger batch never costs less) weighted by how often each was timed
    /// (1 + timings, at most 100), and a stale size (not timed for <see cref="AutoSpeculation.DefaultStaleCalls"/> calls)
    /// weighs 1. A linear calibration (1 ms a row), size 4 timed at its calibration, size 2 three times at 6 ms: sizes 2-4
    /// (6, 5 by interpolation, 4 ms) pool to their weighted mean, which the test computes: with 8 timings of size 4,
    /// (4 x 6 + 1 x 5 + 9 x 4) / 14 ms; with 73, after which size 2 is stale, (6 + 5 + 74 x 4) / 76 ms. Equal weights, a
    /// stale size weighed by its timings, or every timed size at the cap of 100, each give other values; they had
    /// survived as mutants.
    /// </summary>
    [Theory]
    [InlineData(8, (4 * 6.0 + 5 + (9 * 4.0)) / 14)]
    [InlineData(73, (6.0 + 5 + (74 * 4.0)) / 76)]
    public void TheRefitPoolsOutOfOrderSizesWeightedByTheirTimingsAndStaleOnesByOne(int timingsOfFour, double pooledMs)
    {
        AutoSpeculation auto = Learning(rows => 1e-3 * rows);
        for (int i = 0; i < 3; i++)
        {
            auto.Observe(2, 6e-3);
        }

        for (int i = 0; i < timingsOfFour; i++)
        {
            auto.Observe(4, 4e-3);
        }

        auto.Refit();
        foreach (int rows in (int[])[2, 3, 4])
        {
            Assert.Equal(pooledMs * 1e-3, auto.CurrentCost.Seconds(rows), 12);
        }

        Assert.Equal(3e-3, auto.CurrentCost.Seconds(1), 12); // below the first timed size: the calibration scaled to it
        Assert.Equal(5e-3, auto.CurrentCost.Seconds(5), 12); // beyond: the calibration (scaled by 1), not pooled
    }

    /// <summary>
    /// The last size of the fit (the row cap, 64) is weighted like any other. A linear calibration (1 ms a row): size 48
    /// timed 30 times at its calibration, then size 64 three times at 44 ms, below the 48 ms of size 48. Sizes 48-64 (48,
    /// then 47.75, 47.5, ... by interpolation, then 44) pool to their weighted mean, (31 x 48 + the fifteen interpolated
    /// + 4 x 44) / 50 ms, just above size 47's 47 ms, which stays. A refit that left the last size's weight unset (0)
    /// gave 47.35 ms; it had survived as a mutant.
    /// </summary>
    [Fact]
    public void TheLastSizeOfTheFitIsWeightedByItsTimingsToo()
    {
        AutoSpeculation auto = Learning(rows => 1e-3 * rows);
        for (int i = 0; i < 30; i++)
        {
            auto.Observe(48, 48e-3);
        }

        for (int i = 0; i < 3; i++)
        {
            auto.Observe(64, 44e-3);
        }

        auto.Refit();
        double interpolated = Enumerable.Range(1, 15).Sum(j => 48 - (4.0 * j / 16));
        double pooled = ((31 * 48) + interpolated + (4 * 44)) / 50 * 1e-3;
        foreach (int rows in Enumerable.Range(48, 17))
        {
            Assert.Equal(pooled, auto.CurrentCost.Seconds(rows), 12);
        }

        Assert.Equal(47e-3, auto.CurrentCost.Seconds(47), 12);
    }

    /// <summary>
    /// A new run forgets the length the last one ended on: on a given curve (T(B) = 1 + 0.5 (B - 1) ms) where, at the
    /// prior acceptance, L = 4 is predicted 1.1% faster than 3 (within the 2% hysteresis), a run whose last round drafted
    /// 3 (its steps left) is followed by a run whose first round drafts 4, as a fresh controller's does. Hysteresis on
    /// the old run's 3 would have kept it; `Reset`'s refill of the held lengths had survived as a mutant.
    /// </summary>
    [Fact]
    public void ANewRunDoesNotHoldTheLengthTheLastOneEndedOn()
    {
        static double Cost(int rows) => 1e-3 * (1 + (0.5 * (rows - 1)));
        var auto = new AutoSpeculation(Curve(Cost), 64);
        auto.Reset(1);
        int[] remaining = [10_000, 10_000, 10_000, 3];
        int l = 0;
        foreach (int left in remaining)
        {
            l = auto.Choose(0, left);
            for (int j = 1; j < l; j++)
            {
                auto.Record(0, j, true);
            }

            auto.EndRound(0);
        }

        Assert.Equal(3, l); // the last round of the first run drafted its steps left

        var fresh = new AutoSpeculation(Curve(Cost), 64);
        fresh.Reset(1);
        Assert.Equal(4, fresh.Choose(0, 10_000));
        (double three, _) = fresh.PredictedRate(0, 3);
        (double four, _) = fresh.PredictedRate(0, 4);
        Assert.InRange(four / three, 1.0, 1 + 0.02); // 4 wins by less than the switch margin: hysteresis would keep 3

        auto.Reset(1);
        Assert.Equal(4, auto.Choose(0, 10_000));
    }

    /// <summary>
    /// An upward exploration of a chain already at the widest call (8 rows a call, a flat curve, every draft accepted)
    /// cannot go up, so it goes to the grid length below (6), not to the length in use. Mutants that explored the length
    /// in use itself (`above` taken even when it is not above L) had survived.
    /// </summary>
    [Fact]
    public void AnUpwardExplorationAtTheWidestCallGoesBelow()
    {
        var explored = new List<bool>();
        List<int> chosen = Drive(Learning(Flat, rowsPerCall: 8), 60, _ => 1.0, callSeconds: Flat, explored: explored);
        int r = explored.IndexOf(true);
        Assert.Equal(49, r);
        Assert.Equal(8, chosen[r - 1]);
        Assert.Equal(6, chosen[r]);
    }

    /// <summary>
    /// Only an upward exploration's surprise sends the next one up. A chain at L = 2 (T(B) flat to 2 rows, 5 ms a row
    /// beyond, every draft accepted) meets its first exploration (round 49, upwards by parity) with 2 steps left, so it
    /// cannot go up and explores 1 row instead, which the clock times at 0.7 of its predicted cost (below the 0.8 that
    /// counts as a surprise). That was a downward exploration: the next one (round 99) follows parity downwards, to 1
    /// again. The mutant that recorded every explored length as upward (`neighbour > l ? ... : (0, 0)` made `true`,
    /// `tools/mutation`, the auto target) explores 4 there. The control: with the steps left unlimited the first
    /// exploration goes up, to 4, the clock times it at 0.7 of its prediction, and the next one (held back by the time
    /// budget until about round 550, since 4 rows cost 10 ms more than 2) goes up again.
    /// </summary>
    [Theory]
    [InlineData(2, 1, 1)]
    [InlineData(10_000, 4, 4)] // the control: an upward surprise
    public void OnlyAnUpwardExplorationsSurpriseSendsTheNextOneUp(int stepsLeftAtFirst, int first, int second)
    {
        static double Cost(int rows) => 1e-3 * (1 + (5 * Math.Max(0, rows - 2)));
        var explored = new List<bool>();
        List<int> chosen = Drive(
            Learning(Cost, rowsPerCall: 16),
            700,
            _ => 1.0,
            callSeconds: rows => rows == 2 ? Cost(2) : 0.7 * Cost(rows),
            explored: explored,
            remainingAt: r => r == 49 ? stepsLeftAtFirst : 10_000);
        List<(int Round, int To)> explorations = [.. Enumerable.Range(0, chosen.Count).Where(r => explored[r]).Select(r => (r, chosen[r]))];
        Assert.True(explorations.Count >= 2, string.Join(", ", explorations));
        Assert.Equal((49, first), explorations[0]);
        Assert.Equal(second, explorations[1].To);
        Assert.All(Enumerable.Range(1, chosen.Count - 1).Where(r => !explored[r]), r => Assert.Equal(2, chosen[r]));
    }

    private static List<bool> TimingWanted(AutoSpeculation auto, int rounds)
    {
        var wanted = new List<bool>();
        auto.Reset(1);
        for (int r = 0; r < rounds; r++)
        {
            wanted.Add(auto.WantsTiming);
            Assert.Equal(1, auto.Choose(0, 10_000));
            auto.EndRound(0);
        }

        return wanted;
    }

    /// <summary>Runs one chain's rounds of L = 1 until a round is a streak's (no decision, no timing), and ends the run there.</summary>
    private static void EndInAStreak(AutoSpeculation auto, bool reset = true)
    {
        if (reset)
        {
            auto.Reset(1);
        }

        for (int r = 0; r < 1000; r++)
        {
            Assert.Equal(1, auto.Choose(0, 10_000));
            auto.EndRound(0);
            if (r >= 8 && !auto.WantsTiming)
            {
                return;
            }
        }

        Assert.Fail("no streak in 1000 rounds of L = 1");
    }

    [Fact]
    public void ARunAfterOneThatEndedInAStreakStartsItsStreaksAfresh()
    {
        // A run that ends in the middle of a DDPM streak (L = 1 rounds that skip the decision and the timing) must not
        // hand the next run its streak: the next run times and decides as a fresh controller's first run does.
        List<bool> fresh = TimingWanted(new AutoSpeculation(Curve(Linear), 64), 60);
        Assert.Contains(false, fresh); // streaks happen
        var reused = new AutoSpeculation(Curve(Linear), 64);
        EndInAStreak(reused);
        Assert.Equal(fresh, TimingWanted(reused, 60));
    }

    [Fact]
    public void AStreakCutShortByTheEndOfARunDoesNotAgeTheNextRunsStart()
    {
        // The ageing a streak owes waits for the chain's next decision; at the end of a run there is none, and the next
        // run's chain (seeded from the runs before, on a curve that learns) must start from its seeds, not aged ones.
        var auto = new AutoSpeculation(Curve(Linear).WithLearning(true), 64);
        auto.Reset(1);
        for (int i = 0; i < 5; i++)
        {
            auto.Record(0, 1, true); // drafts the profile keeps
        }

        EndInAStreak(auto, reset: false); // L = 1 throughout: streaks, the last one cut short
        auto.Reset(1);

        // The seeds: the profile's 5 attempts at position 1, all accepted (fewer than SeedPooledAttempts, so all count).
        // PooledCounts applies what ageing is pending first, as the chain's next decision would.
        Assert.Equal((5.0, 5.0), auto.PooledCounts(0));
        auto.Choose(0, 10_000);
        Assert.Equal((5.0, 5.0), auto.PooledCounts(0));
    }

    [Fact]
    public void ARunsExplanationDoesNotCountTheRoundsOfTheRunsBefore()
    {
        // A short run on a flat given curve is held below its best by the climb; the same run again on the same
        // controller must say the same, not add the first run's held rounds to its own.
        var auto = new AutoSpeculation(Curve(Flat), 64);
        SamplingStats st = StatsAccepting(1000, 995);
        Drive(auto, 5, q: 0.99, seed: 1);
        string first = auto.Explain(st);
        Assert.Contains("held below L = 64 by the climb from the previous round (at most 2 L + 2) in ", first, StringComparison.Ordinal);
        Drive(auto, 5, q: 0.99, seed: 1);
        Assert.Equal(first, auto.Explain(st));
    }

    [Fact]
    public void TheExplorationClockCountsSweepsOfAllChainsAcrossRuns()
    {
        // Two chains, runs of 10 rounds each (10 sweeps): sweep 49, the first to explore, is the last sweep of the
        // fifth run, and its first decision (chain 0's tenth) explores.
        var auto = new AutoSpeculation(Curve(Linear).WithLearning(true), 64);
        (int Run, int Decision)? first = null;
        for (int run = 0; run < 6 && first is null; run++)
        {
            auto.Reset(2);
            for (int d = 0; d < 20; d++)
            {
                int chain = d % 2;
                auto.Choose(chain, 10_000);
                auto.EndRound(chain);
                if (auto.LastChoiceExplored)
                {
                    first = (run, d);
                    break;
                }
            }
        }

        Assert.Equal((4, 18), first);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARunTakesDdpmsStepsOnlyWhenNoGridLengthGainsEvenIfAnotherLengthWould(bool learns)
    {
        // Only L = 5 gains the margin at the prior's 0.9 (T(4) = T(5) = 3.519 T(1), T(6) and on dear), and 5 is no
        // length a chain drafts (the grid 1, 2, 3, 4, 6, ...): from the second run, the run takes DDPM's own steps,
        // whether the curve is given or the calibration of one that learns.
        double[] t = [1, 2, 3, 3.519, 3.519, .. Enumerable.Repeat(100.0, 59)];
        var curve = new CostCurve([.. t.Select(x => 1e-3 * x)]);
        var prior = new ConstantAcceptance(AutoSpeculation.PriorAcceptance);
        Assert.True(SpeculationCostModel.Rate(prior, curve, 5) * curve.Seconds(1) >= 1 + AutoSpeculation.MinimumGain);
        Assert.Equal(1, SpeculationCostModel.BestLength(prior, curve, 64, out double rate, onGrid: true));

        var auto = new AutoSpeculation(learns ? curve.WithLearning(true) : curve, 64);
        auto.Reset(1);
        Assert.False(auto.RunsAsDdpm()); // the first run never does
        auto.Reset(1);
        Assert.True(auto.RunsAsDdpm());
    }

    private sealed class ConstantAcceptance(double q) : IPositionAcceptance
    {
        public double Acceptance(int position) => q;
    }

    [Fact]
    public void ChainsThatShareCallsOfTwoDraftRowsEachStillRunAsDdpmWhereDraftingNeverPays()
    {
        // 32 chains sharing calls of at most 64 rows: each may draft 2. On a linear curve that never pays, so from
        // the second run the run takes DDPM's own steps.
        var auto = new AutoSpeculation(Curve(Linear), 64);
        auto.Reset(32);
        Assert.False(auto.RunsAsDdpm());
        auto.Reset(32);
        Assert.True(auto.RunsAsDdpm());
    }

    [Fact]
    public void EveryChainOfARunStartsFromTheAcceptanceOfTheRunsBefore()
    {
        // A curve that learns: after a run that accepted every draft, each of the next run's two chains starts from
        // that acceptance, so both draft as far as the climb allows (4) in their first round, where a chain starting
        // from the prior (0.9) drafts 2.
        static double Steep(int rows) => 1e-3 * (1 + (1.5 * rows));
        var auto = new AutoSpeculation(Curve(Steep).WithLearning(true), 64);
        auto.Reset(2);
        auto.Observe(8, Steep(8)); // one call of 8 rows timed: the trust region allows 8 per call, 4 per chain
        for (int chain = 0; chain < 2; chain++)
        {
            for (int round = 0; round < 10; round++)
            {
                for (int k = 1; k <= 8; k++)
                {
                    auto.Record(chain, k, true);
                }
            }
        }

        auto.Reset(2);
        Assert.Equal(4, auto.Choose(0, 10_000));
        Assert.Equal(4, auto.Choose(1, 10_000));

        // Control: the same controller and timing without the run before start both chains from the prior.
        var fresh = new AutoSpeculation(Curve(Steep).WithLearning(true), 64);
        fresh.Reset(2);
        fresh.Observe(8, Steep(8));
        fresh.Reset(2);
        Assert.Equal(2, fresh.Choose(0, 10_000));
        Assert.Equal(2, fresh.Choose(1, 10_000));
    }

    [Fact]
    public void ChainsThatFillEveryCallTakeDdpmsOwnStepsFromTheFirstRunAndSayWhy()
    {
        // 16 chains, calls of at most 16 rows: one row per chain fills a call, so no chain can draft, whatever the
        // curve says (a flat one, where drafting would pay). The run takes DDPM's own steps from the first run, with
        // DDPM's bytes, and the line gives that reason, not a predicted gain below the margin.
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        var denoiser = new MixtureDenoiser(GaussianMixture.Builtin(2), schedule);
        var sampler = new AsdSampler(denoiser, schedule.Plan(50), new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = Curve(Flat), MaxBatchRows = 16 });
        var ddpm = new DdpmSampler(denoiser, schedule.Plan(50));
        var expected = new float[16 * 2];
        ddpm.Sample(16, 3, expected);
        var y = new float[16 * 2];
        SamplingStats st = sampler.Sample(16, 3, y);
        Assert.True(sampler.Auto!.RanAsDdpm);
        Assert.Equal(expected, y);
        Assert.Equal($"auto 1:{16 * 49}", st.SpecLengthEffective);
        Assert.Equal("auto: 16 chains share calls of at most 16 rows, one row each, so no chain can draft: DDPM's own steps throughout (a larger row cap per call, or fewer chains, lets them draft)", sampler.AutoExplanation);

        // More chains than a call holds: they share calls of 16 rows in turn; and calls of one row say just that (the
        // line had read "1 chains share each call of at most 1 rows" for 16 chains).
        sampler.Sample(40, 3, new float[40 * 2]);
        Assert.StartsWith("auto: 40 chains share calls of at most 16 rows, one row each", sampler.AutoExplanation, StringComparison.Ordinal);
        var single = new AsdSampler(denoiser, schedule.Plan(50), new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = Curve(Flat), MaxBatchRows = 1 });
        var one = new float[16 * 2];
        single.Sample(16, 3, one);
        Assert.Equal(expected, one);
        Assert.Equal("auto: calls of at most 1 row, so no chain can draft: DDPM's own steps throughout (a larger row cap per call lets them draft)", single.AutoExplanation);

        // Control: 8 chains on the same calls may draft 2 each, and on a flat curve they do.
        SamplingStats drafting = sampler.Sample(8, 3, new float[8 * 2]);
        Assert.False(sampler.Auto!.RanAsDdpm);
        Assert.Contains(" 2:", drafting.SpecLengthEffective, StringComparison.Ordinal);
    }

    [Fact]
    public void ARunAsDdpmWithRoomForTwoRowsAChainGivesTheGainNotTheRowCap()
    {
        // 8 chains on calls of 16 rows may draft 2 each, but on a linear curve (16 rows cost twice 8) no length pays: the
        // second run takes DDPM's steps on the first run's verdict, and the line gives the gain below the margin, not
        // the row cap (whose reason holds only at one row per chain; a `cap <= 2` had survived as a mutant).
        var schedule = new DiffusionSchedule(new SchedulerConfig());
        var denoiser = new MixtureDenoiser(GaussianMixture.Builtin(2), schedule);
        var sampler = new AsdSampler(denoiser, schedule.Plan(50), new SamplerOptions { SpecLength = SpecLength.Auto, CostCurve = Curve(b => 1e-3 * b), MaxBatchRows = 16 });
        sampler.Sample(8, 3, new float[8 * 2]);
        Assert.False(sampler.Auto!.RanAsDdpm); // the first run is rounds
        sampler.Sample(8, 3, new float[8 * 2]);
        Assert.True(sampler.Auto!.RanAsDdpm);
        Assert.StartsWith("auto: best predicted gain ", sampler.AutoExplanation, StringComparison.Ordinal);
        Assert.Contains(", below the 5% margin, so DDPM's own steps throughout (no L drafts; T(B) from the given cost curve)", sampler.AutoExplanation, StringComparison.Ordinal);
    }

    [Fact]
    public void ARunOfLOneWhoseBestPredictedGainIsBelowTheMarginSaysSo()
    {
        // T(2) = 1.84 T(1) (and 3 or more rows dear): at the prior's 0.9, L = 2 predicts 1.03x, the best, but below the
        // 5% margin, so every round takes L = 1, and the line says the gain at L = 2 is below the margin (not that the
        // run took L = 1 while predicting a gain).
        var curve = Curve(b => b == 1 ? 1e-3 : b == 2 ? 1.84e-3 : 1e-1);
        var auto = new AutoSpeculation(curve, 64);
        List<int> chosen = Drive(auto, 40, q: 0.9);
        Assert.True(chosen.All(l => l == 1), string.Join(",", chosen));
        Assert.StartsWith("auto: best predicted gain 1.03x at L = 2, below the 5% margin, so L = 1 (DDPM's work) (T(B) from the given cost curve; ", auto.Explain(StatsAccepting(0, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public void ACallAtTheRowCapIsLearnedLikeAnyOther()
    {
        // 16 rows a call: the refit fits sizes up to the cap, and the cap itself, when timed, is a size like the others.
        AutoSpeculation auto = Learning(Flat, rowsPerCall: 16);
        ThreeAgreeingTimings(auto, 16, 2 * Flat(16));
        Assert.Equal(2 * Flat(16), auto.CurrentCost.Seconds(16), Flat(16) * 1e-12);
        Assert.Equal(2 * Flat(3), auto.CurrentCost.Seconds(3), Flat(3) * 1e-12); // below it, the calibration scaled
    }

    [Fact]
    public void ASizesFirstTimingIsCappedAtMaxStepTimesItsFitNotItsCalibration()
    {
        // Sizes timed at 3x move the fit of 8 rows to 3x its calibration before 8 is timed. 8's first timings (10x the
        // calibration, 3.3x the fit) count in full: the cap is MaxStep times what the size was believed to cost then
        // (its fit), not its calibration (which would cap them at 4x).
        AutoSpeculation auto = Learning(Flat);
        ThreeAgreeingTimings(auto, 4, 3 * Flat(4));
        Assert.Equal(3 * Flat(8), auto.CurrentCost.Seconds(8), Flat(8) * 1e-12);
        ThreeAgreeingTimings(auto, 8, 10 * Flat(8));
        Assert.Equal(10 * Flat(8), auto.CurrentCost.Seconds(8), Flat(8) * 1e-12);
    }

    /// <summary>
    /// Runs <paramref name="chains"/> chains of <paramref name="steps"/> steps on the controller, round by round, chain
    /// after chain; chain <c>c</c> accepts its drafts with probability <c>acceptance(c, round)</c>, drawn from its own
    /// stream (seed <paramref name="seed"/> + c), and moves on by the drafts accepted plus one. Returns each chain's
    /// lengths.
    /// </summary>
    private static List<int>[] DriveChains(AutoSpeculation auto, int chains, int steps, Func<int, int, double> acceptance, int seed = 11)
    {
        var rngs = Enumerable.Range(0, chains).Select(c => new Random(seed + c)).ToArray();
        var chosen = Enumerable.Range(0, chains).Select(_ => new List<int>()).ToArray();
        var left = Enumerable.Repeat(steps, chains).ToArray();
        auto.Reset(chains);
        for (int round = 0; left.Any(n => n > 0); round++)
        {
            for (int c = 0; c < chains; c++)
            {
                if (left[c] == 0)
                {
                    continue;
                }

                int l = auto.Choose(c, left[c]);
                chosen[c].Add(l);
                int moved = 1;
                for (int j = 1; j < l; j++)
                {
                    bool ok = rngs[c].NextDouble() < acceptance(c, round);
                    auto.Record(c, j, ok);
                    if (!ok)
                    {
                        break;
                    }

                    moved++;
                }

                left[c] -= Math.Min(moved, left[c]);
                auto.EndRound(c);
            }
        }

        return chosen;
    }

    [Fact]
    public void EachChainChoosesTheLengthsItWouldChooseAloneOnItsShareOfACall()
    {
        // Two chains of different acceptance, each changing at round 15 (one from 0.97 to 0.5, the other from 0.6 to
        // 0.97), sharing calls of at most 32 rows on T(B) = (64 + B) / 1024. Each must keep, feed and age its own
        // counts, and draft at most its share (16): so its lengths are exactly those of a lone chain with its
        // outcomes on that share, T(2 B) / 2 = (32 + B) / 1024 for at most 16 rows (dyadic: the same doubles).
        static double Together(int rows) => (64 + rows) / 1024.0;
        static double Alone(int rows) => (32 + rows) / 1024.0;
        static double Acceptance(int chain, int round) => chain == 0 ? (round < 15 ? 0.97 : 0.5) : (round < 15 ? 0.6 : 0.97);
        List<int>[] both = DriveChains(new AutoSpeculation(Curve(Together, 32), 32), 2, 400, Acceptance);
        for (int c = 0; c < 2; c++)
        {
            int chain = c;
            List<int> alone = DriveChains(new AutoSpeculation(Curve(Alone, 16), 16), 1, 400, (_, round) => Acceptance(chain, round), seed: 11 + chain)[0];
            Assert.Equal(alone, both[c]);
        }

        // What makes the comparison bite: the chains chose differently, the first drafted its whole share, and both
        // changed their lengths when their acceptance changed.
        Assert.NotEqual(both[0], both[1]);
        Assert.Equal(16, both[0].Take(15).Max());
        Assert.True(both[0].Skip(45).Max() < 16, string.Join(",", both[0]));
        Assert.True(both[1].Skip(25).Max() > both[1].Take(15).Max(), string.Join(",", both[1]));
    }

    [Fact]
    public void EachChainOfARunIsSeededWithTheProfilesCountsAtEveryPositionItHasAndTheProfileHalvesPerRun()
    {
        // A curve that learns: the acceptance of the runs before seeds every chain of the next run, position by
        // position (at most SeedAttempts each), and what no run tried stays unseeded; each run halves the profile.
        var auto = new AutoSpeculation(Curve(Flat).WithLearning(true), 64);
        auto.Reset(1);
        auto.Record(0, 1, true);
        auto.Record(0, 1, false);
        auto.Record(0, 2, true);
        auto.Reset(3);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal((2.0, 1.0), auto.PositionCounts(c, 1));
            Assert.Equal((1.0, 1.0), auto.PositionCounts(c, 2));
            Assert.Equal((0.0, 0.0), auto.PositionCounts(c, 3));
        }

        // A run that drafted nothing: the next starts from the profile halved (1 attempt and 0.5 accepted at position 1).
        auto.Reset(2);
        for (int c = 0; c < 2; c++)
        {
            Assert.Equal((1.0, 0.5), auto.PositionCounts(c, 1));
            Assert.Equal((0.5, 0.5), auto.PositionCounts(c, 2));
            Assert.Equal((0.0, 0.0), auto.PositionCounts(c, 3));
        }

        // Control: a given curve seeds nothing.
        var given = new AutoSpeculation(Curve(Flat), 64);
        given.Reset(1);
        given.Record(0, 1, true);
        given.Reset(2);
        Assert.Equal((0.0, 0.0), given.PositionCounts(1, 1));
    }

    [Fact]
    public void TheTrustRegionIsTwiceTheLargestCallTimedSharedByTheChainsOfTheCall()
    {
        // One call of 8 rows timed: two chains sharing calls draft at most 8 rows each (16 per call, twice the call
        // timed), where a lone chain drafts 16. Every draft accepted, on a flat curve: longer is always predicted faster.
        static List<int>[] Run(int chains)
        {
            var auto = new AutoSpeculation(Curve(Flat).WithLearning(true), 64) { TellsColdCalls = false, SeedsAcceptance = false };
            auto.Reset(chains);
            auto.Observe(8, Flat(8));
            return DriveChains(auto, chains, 300, (_, _) => 1.0);
        }

        List<int>[] two = Run(2);
        Assert.All(two, lengths => Assert.Equal(8, lengths.Max()));
        Assert.Equal(16, Run(1)[0].Max());
    }

    /// <summary>
    /// What the explanation says held a length that learning's trust region capped (twice the largest call timed): the
    /// trust region while it is the tightest limit, the steps left when they are tighter still. Every draft accepted on a
    /// flat curve, every call timed at its calibration: L = 2 (nothing timed yet: the region is 2), 4, then 6 with six
    /// steps left where the region allows 8 and the climb 10. The conditions naming the trust region had survived as
    /// mutants (a trust region compared the wrong way, or either of its two conditions enough).
    /// </summary>
    [Fact]
    public void RoundsAtTheTrustRegionAreAttributedToItAndRoundsBelowItToTheStepsLeft()
    {
        var auto = new AutoSpeculation(Curve(Flat).WithLearning(true), 64) { TellsColdCalls = false, SeedsAcceptance = false };
        auto.Reset(1);
        var seen = new List<(int, AutoSpeculation.Hold)>();
        foreach (int remaining in new[] { 10_000, 10_000, 6 })
        {
            int l = auto.Choose(0, remaining);
            Assert.False(auto.LastChoiceExplored);
            seen.Add((l, auto.LastHold));
            for (int j = 1; j < l; j++)
            {
                auto.Record(0, j, true);
            }

            auto.Observe(l, Flat(l));
            auto.EndRound(0);
        }

        Assert.Equal([(2, AutoSpeculation.Hold.Trust), (4, AutoSpeculation.Hold.Trust), (6, AutoSpeculation.Hold.Steps)], seen);
    }

    /// <summary>
    /// Every decision of a chain on a given curve, checked against the rule the controller documents, with the rates it
    /// predicts (<see cref="AutoSpeculation.PredictedRate"/>): the best grid length (or the steps left) within the cap
    /// (the steps left, the climb 2 L + 2, the call's rows); the length in use kept unless the best is predicted
    /// <see cref="AutoSpeculation.SwitchMargin"/> faster (when it is longer than DDPM's and within the cap); then DDPM's
    /// step when the gain over DDPM is below <see cref="AutoSpeculation.MinimumGain"/>, or below it less the switch
    /// margin for a chain already drafting; after two decisions of L = 1 the documented streaks of 1, 2, 4, ... rounds
    /// without a decision; and what the explanation will say held each length (hysteresis, the climb, the steps left).
    /// Runs of <c>steps</c> steps follow one another, so the steps left shrink to the end of each. The acceptance swings
    /// between high and low, on a curve steep enough that the gain crosses the margin, so that every branch is taken many
    /// times (counted: the test is not vacuous). The hysteresis's and the margin's conditions and the hold attribution
    /// had survived every earlier test as mutants (`tools/mutation`, the auto target).
    /// </summary>
    [Theory]
    [InlineData(0.02, 1, 10_000)]
    [InlineData(0.02, 2, 10_000)]
    [InlineData(0.1, 3, 10_000)]
    [InlineData(0.02, 4, 60)]
    [InlineData(0.02, 5, 25)]
    [InlineData(0.02, 6, 10_000, 0.002)] // a flat curve: chains reach the call's rows, which hold nothing (the widest call)
    public void EveryDecisionFollowsTheBestLengthTheHysteresisAndTheMarginRule(double margin, int seed, int steps, double slope = 0.6)
    {
        double Cost(int rows) => 1e-3 * (1 + (slope * (rows - 1)));
        var auto = new AutoSpeculation(Curve(Cost), 64) { SwitchMargin = margin };
        const int Rounds = 1500, Widest = 64;
        var rng = new Random(seed);
        double Q(int r) => (r / 150 % 3) switch { 0 => 0.97, 1 => 0.68, _ => 0.76 };
        int held = 1, last = 1, streakNext = 0, streakLeft = 0, left = 0;
        int kept = 0, switched = 0, marginKept = 0, dropped = 0, streakRounds = 0, widestRounds = 0;
        var holds = new Dictionary<AutoSpeculation.Hold, int>();
        for (int r = 0; r < Rounds; r++)
        {
            if (left == 0)
            {
                auto.Reset(1); // a new run
                (left, held, last, streakNext, streakLeft) = (steps, 1, 1, 0, 0);
            }

            int remaining = left, expected;
            AutoSpeculation.Hold? expectedHold = null;
            if (streakLeft > 0)
            {
                expected = 1;
                streakLeft--;
                streakRounds++;
            }
            else
            {
                int climb = (2 * last) + 2, cap = Math.Min(remaining, Math.Min(Widest, climb));
                (double bestRate, double t1) = auto.PredictedRate(0, 1);
                int best = 1;
                for (int g = 2; g <= cap; g++)
                {
                    double rate = auto.PredictedRate(0, g).Rate;
                    if ((SpeculationCostModel.OnLengthGrid(g) || g == remaining) && rate > bestRate * (1 + 1e-12))
                    {
                        (best, bestRate) = (g, rate);
                    }
                }

                (int l, double lRate) = (best, bestRate);
                var hold = AutoSpeculation.Hold.None;
                if (best != held && held > 1 && held <= cap)
                {
                    double heldRate = auto.PredictedRate(0, held).Rate;
                    if (bestRate < heldRate * (1 + margin))
                    {
                        hold = held < best ? AutoSpeculation.Hold.Hysteresis : AutoSpeculation.Hold.None;
                        (l, lRate) = (held, heldRate);
                        kept++;
                    }
                    else
                    {
                        switched++;
                    }
                }

                // What held a length at the search's limit (a given curve has no trust region).
                int top = SpeculationCostModel.OnLengthGrid(cap) ? cap : SpeculationCostModel.GridBelow(cap);
                if (hold == AutoSpeculation.Hold.None && l > 1 && cap < Widest && l >= top)
                {
                    hold = climb <= remaining ? AutoSpeculation.Hold.Climb : AutoSpeculation.Hold.Steps;
                }

                double gain = lRate * t1;
                if (gain < 1 + AutoSpeculation.MinimumGain - (held > 1 ? margin : 0))
                {
                    (l, hold) = (1, AutoSpeculation.Hold.None);
                    dropped++;
                }
                else if (held > 1 && gain < 1 + AutoSpeculation.MinimumGain && l > 1)
                {
                    marginKept++;
                }

                (expected, expectedHold) = (l, hold);
                holds[hold] = holds.GetValueOrDefault(hold) + 1;
                held = l;
                streakNext = l == 1 ? Math.Min(AutoSpeculation.StreakCap, Math.Max(1, 2 * streakNext)) : 0;
                streakLeft = l == 1 && last == 1 ? streakNext : 0;
                last = l;
            }

            int chosen = auto.Choose(0, remaining);
            widestRounds += chosen == Widest ? 1 : 0;
            Assert.False(auto.LastChoiceExplored); // a given curve never explores
            Assert.True(expected == chosen, $"round {r}: the rule gives L = {expected}, the controller chose {chosen}");
            Assert.True(expectedHold is null || expectedHold == auto.LastHold, $"round {r}: L = {chosen} held by {expectedHold} by the rule, {auto.LastHold} by the controller");
            int accepted = 0;
            for (int j = 1; j < chosen; j++)
            {
                bool ok = rng.NextDouble() < Q(r);
                auto.Record(0, j, ok);
                if (!ok)
                {
                    break;
                }

                accepted++;
            }

            auto.EndRound(0);
            left -= accepted + 1;
        }

        string counts = $"kept {kept}, switched {switched}, kept drafting within the margin {marginKept}, dropped to DDPM {dropped}, "
            + $"streak rounds {streakRounds}, held by {string.Join(", ", holds.Select(h => $"{h.Key} {h.Value}"))}";
        if (slope < 0.5)
        {
            Assert.True(widestRounds >= 20, $"{widestRounds} rounds at the call's rows; {counts}");
            return;
        }

        Assert.True(kept >= 20 && switched >= 5 && marginKept >= 5 && dropped >= 5 && streakRounds >= 20, counts);
        Assert.True(holds.GetValueOrDefault(AutoSpeculation.Hold.Hysteresis) >= 5 && holds.GetValueOrDefault(AutoSpeculation.Hold.Climb) >= 3, counts);
        Assert.True(steps > 100 || holds.GetValueOrDefault(AutoSpeculation.Hold.Steps) >= 5, counts);
    }
}
