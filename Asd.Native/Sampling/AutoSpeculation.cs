namespace Asd.Native.Sampling;

/// <summary>
/// The automatic speculation length: before each round, chain c drafts the L that maximises the expected steps per
/// second of <see cref="SpeculationCostModel"/>, from the batch-cost curve and the chain's own running estimate of
/// acceptance by draft position.
/// </summary>
/// <remarks>
/// <para>The lengths drafted are those of <see cref="SpeculationCostModel.OnLengthGrid"/> (1, 2, 3, 4, 6, 8, 12, 16,
/// ...) and, for a chain's last round, its steps left: near the optimum neighbouring lengths predict within timing
/// noise of each other, and choosing among all of them made the length a run settled on a matter of chance.</para>
/// <para>Exactness does not depend on this choice: L is fixed before the round's noise is drawn and depends only on
/// the past, and every step of a round has the target's law given its prefix whatever L is (docs/math.md section 3).</para>
/// <para>Determinism: each chain's estimate uses only its own history, and a given curve (one that does not
/// <see cref="CostCurve.Learns"/>) is fixed for the run, so with a given curve a chain's L sequence, hence its bytes,
/// depend only on the seed, its chain id, the curve and the run's chain count and row cap (which scale the curve), not
/// on thread count or timing.</para>
/// <para>Online correction (a curve that learns: measured or remembered by the engine). Every denoiser call of the
/// run is timed by the sampler together with its own work for the call's rows (drafting them, the call, checking
/// them; any slowdown of a call after a larger one is in it too), and <see cref="Observe"/> folds it into a
/// robust estimate for that row count: the lower median of its last <see cref="Window"/> timings, the fit it had
/// when first timed (the calibration as corrected by its neighbours) filling the slots not yet timed, and timings
/// below that fit believed at once; one timing counts at most <see cref="MaxStep"/> times the estimate (a preempted
/// call is not the model's cost); an estimate within <see cref="Deadband"/> (5%) of that first fit keeps the fit, so
/// timing noise moves nothing. Sizes not observed are interpolated between observed ones, or follow the
/// calibration's shape beyond them (scaled to the largest observed size: a slope learned from neighbouring sizes
/// reads a cost that steps, T(1) = T(2) on two row-parallel lanes, as flat), and the whole curve is refitted
/// non-decreasing (<see cref="Isotonic"/>, each size weighted by how often it was timed) every <see cref="RefitEvery"/>
/// calls and whenever a timing moves its size's estimate by more than 10%, up to 4 times the largest size timed, with
/// no allocation. The first run on a
/// <see cref="CostCurve.Remembered"/> curve is not timed (start-up costs). So a calibration that is too high at the
/// size in use is replaced by the first timing of that size, one that is too low by a factor of up to
/// <see cref="MaxStep"/> by the third, and a later change of cost is followed within 3 timings; two outliers (preempted
/// calls, calls right after a larger one, ONNX Runtime's first run of a shape on each of two lanes) never move an
/// estimate, so they cannot price a size out of use, or make the sizes beyond look free. Each correction takes effect
/// at the next refit.</para>
/// <para>A trust region: a curve that learns lets a chain draft at most twice the largest call timed so far (per
/// chain), so a run climbs to long drafts by doubling, each step on timings of its neighbourhood, rather than on an
/// extrapolation of a few noisy timings far beyond them.</para>
/// <para>Exploration, so that a stale estimate of a size not in use cannot stick: one sweep of rounds in
/// <see cref="ExplorePeriod"/> (a sweep is one round per chain) drafts another length, 2 L (at least L + 1, within the
/// trust region; the grid length below when that is cut) and the grid's next shorter length in turn, and 2 L again
/// while the last upward try found its length cheaper than predicted (so a calibration too steep is corrected one
/// doubling per exploration); the sweeps are counted across runs, so
/// that short runs (one request of a few dozen rounds) explore too. So at most 1 round in 50, 2% of rounds, runs a
/// length the model did not pick. And its time is bounded too: an
/// exploring round is skipped while the extra seconds of all explored rounds so far (a neighbour's round cost less
/// the chosen one's, on the current curve, plus whatever its call then took beyond its size's estimate) exceed
/// <see cref="ExploreShare"/> of the predicted seconds of all rounds (both counted across runs), so exploring costs at
/// most that share plus one exploring round's extra, in measured time. The
/// first exploration is never held back, so a stale estimate is timed again within 50 sweeps. On the 2-D mixture a
/// round of L = 2 cost five of L = 1, and exploring every 50th round had cost 8% of the run.</para>
/// <para>The estimate: decayed counts per position (factor <see cref="Decay"/> per round, so it follows the change
/// of acceptance along the trajectory), shrunk towards the chain's pooled rate, which is itself shrunk towards a
/// prior of <see cref="PriorAcceptance"/>. Positions from <see cref="TrackedPositions"/> on share one count. With a curve
/// that learns, a run's chains start with the acceptance of the runs before it instead of the prior alone (see
/// SeedFromProfile); a given curve starts every run from the prior, so that its bytes stay a function of the seed.</para>
/// </remarks>
internal sealed class AutoSpeculation
{
    /// <summary>Positions with their own counts per chain.</summary>
    public const int TrackedPositions = 64;

    /// <summary>The longest L considered.</summary>
    public const int MaxLength = 256;

    /// <summary>The prior: the acceptance assumed before any evidence, and its weight in pseudo-attempts.</summary>
    public const double PriorAcceptance = 0.9, PriorWeight = 2;

    /// <summary>Weight of the pooled rate in each position's estimate, in pseudo-attempts.</summary>
    public const double PoolWeight = 2;

    /// <summary>Per-round decay of the counts.</summary>
    public const double Decay = 0.85;

    /// <summary>
    /// The least predicted gain over L = 1 worth a draft: below it the round runs L = 1 (DDPM's step). The model is
    /// optimistic by about this much where speculation barely pays (shared calls whose cost grows linearly with rows:
    /// chains that finish late pay whole calls alone, which the per-chain share T(nB) / n does not see), and a draft
    /// that wins 2% on paper lost 5% in wall-clock there (the 16x16 UNet fixture through ONNX Runtime, 16 chains).
    /// A chain already drafting keeps drafting down to <see cref="SwitchMargin"/> below it (see Choose).
    /// </summary>
    public const double MinimumGain = 0.05;

    /// <summary>One sweep of rounds (one per chain) in this many explores a neighbouring length (see remarks).</summary>
    public const int ExplorePeriod = 50;

    /// <summary>The most of the predicted time that exploring rounds may cost beyond the rounds they replace (see remarks).</summary>
    public const double ExploreShare = 0.02;

    /// <summary>One timing can raise a size's estimate by at most this factor (a preempted call is not the model's cost).</summary>
    public const double MaxStep = 4;

    /// <summary>The largest row count with its own running estimate.</summary>
    public const int MaxLearnedRows = 4096;

    private const int Stride = TrackedPositions + 1;
    private readonly CostCurve _curve;
    private readonly int _perCall;
    private readonly int _maxLength;
    private readonly bool _learns;
    private readonly int _learnedRows;
    private int _fitRows;
    private readonly double[] _estimate = [], _prior = [], _observed = [], _fitted = [], _blockMean = [], _recent = [], _weight = [], _blockWeight = [];
    private readonly int[] _blockLength = [];

    /// <summary>Per size, <see cref="ObservedCalls"/> after its last timing.</summary>
    private readonly long[] _lastTimed = [];
    private readonly FittedCost _fittedCost;
    private int _sinceRefit, _largestObserved;
    private long _decisions, _sweepsBefore, _explorations;
    private double _roundSeconds, _exploreSeconds, _upPredicted;
    private int _upRows;

    /// <summary>An upward exploration whose length is now believed to cost less than this share of what was predicted explores upwards again.</summary>
    private const double Surprise = 0.8;
    private int _runsToSkip;
    private bool _burnIn;
    private int _chains = 1;
    private double[] _attempts = [], _accepted = [];
    private double[] _poolAttempts = [], _poolAccepted = [];
    private long[] _chosen = [];
    private int[] _lastChoice = [], _streakLeft = [], _streakNext = [], _pendingDecay = [];
    private bool[] _streakRound = [];
    private int[] _held = [];
    private int _streakRounds;
    private double[] _cost = [], _minCostFrom = [];
    private int _tabulatedChains;

    /// <summary>Creates the controller for runs of <paramref name="chains"/> chains and a cap of <paramref name="rowsPerCall"/> rows.</summary>
    public AutoSpeculation(CostCurve curve, int rowsPerCall)
    {
        _curve = curve;
        _perCall = rowsPerCall;
        _maxLength = Math.Min(MaxLength, rowsPerCall);
        _learns = curve.Learns;
        _runsToSkip = _learns && curve.Remembered ? 1 : 0;

        // A remembered curve was measured on this machine over its whole range and checked again before use
        // (CostCurve.Disagreement): the trust region starts there, as after a calibration's warm-up run. Starting it at
        // 0 made the first timed run after the untimed one climb from L = 2 (warm-cache policy bench runs: 0.78 of the
        // best fixed L against 0.92 with a fresh calibration).
        _largestObserved = _runsToSkip > 0 ? curve.MaxRows : 0;
        _fittedCost = new FittedCost(this);
        if (_learns)
        {
            _learnedRows = Math.Clamp(rowsPerCall, 1, MaxLearnedRows);
            _estimate = new double[_learnedRows + 1];
            _prior = new double[_learnedRows + 1];
            _recent = new double[(_learnedRows + 1) * Window];
            _observed = new double[_learnedRows + 1];
            _lastTimed = new long[_learnedRows + 1];
            _fitted = new double[_learnedRows + 1];
            _blockMean = new double[_learnedRows];
            _blockWeight = new double[_learnedRows];
            _weight = new double[_learnedRows + 1];
            _blockLength = new int[_learnedRows];
            _fitRows = _learnedRows;
            for (int b = 1; b <= _learnedRows; b++)
            {
                _estimate[b] = curve.Seconds(b);
                _fitted[b] = _estimate[b];
            }
        }
    }

    /// <summary>Rounds of the last run that explored a neighbouring length (included in <see cref="ChosenHistogram"/>).</summary>
    public long ExploredRounds { get; private set; }

    /// <summary>Timed calls folded into the estimates since the controller was created.</summary>
    public long ObservedCalls { get; private set; }

    /// <summary>T(B) as auto currently believes it (the calibration, corrected by the run's timings when it learns).</summary>
    public IBatchCost CurrentCost => _learns ? _fittedCost : _curve;

    /// <summary>Whether the curve is corrected online (<see cref="CostCurve.Learns"/>).</summary>
    public bool Learns => _learns;

    /// <summary>Rounds that chose each L in the last run (index L); the array is reused by the next run.</summary>
    public long[] ChosenHistogram => _chosen;

    /// <summary>Bytes of per-chain state (acceptance counts by position, the pooled counts, the streak bookkeeping).</summary>
    public const long BytesPerChain = (2L * Stride * sizeof(double)) + (2L * sizeof(double)) + (5L * sizeof(int)) + sizeof(bool);

    /// <summary>Values per chain in the largest per-chain array.</summary>
    public const int ValuesPerChain = Stride;

    /// <summary>Clears the estimates for a run of <paramref name="chains"/> chains.</summary>
    public void Reset(int chains)
    {
        int n = checked(chains * Stride); // Sampler.Sample refuses more chains than this holds first (ValuesPerChain)
        if (_attempts.Length < n)
        {
            _attempts = new double[n];
            _accepted = new double[n];
            _poolAttempts = new double[chains];
            _poolAccepted = new double[chains];
            _lastChoice = new int[chains];
            _streakLeft = new int[chains];
            _streakNext = new int[chains];
            _pendingDecay = new int[chains];
            _streakRound = new bool[chains];
            _held = new int[chains];
        }
        else
        {
            Array.Clear(_attempts);
            Array.Clear(_accepted);
            Array.Clear(_poolAttempts);
            Array.Clear(_poolAccepted);
        }

        if (_learns && SeedsAcceptance)
        {
            SeedFromProfile(chains);
        }

        Array.Fill(_lastChoice, 1, 0, chains);
        Array.Clear(_streakLeft);
        Array.Clear(_streakNext);
        Array.Clear(_pendingDecay);
        Array.Clear(_streakRound);
        Array.Fill(_held, 1, 0, chains);
        _streakRounds = 0;

        if (_chosen.Length < _maxLength + 1)
        {
            _chosen = new long[_maxLength + 1];
        }
        else
        {
            Array.Clear(_chosen);
        }

        Array.Clear(_heldBy);

        // Chains that share a call share its cost: with n of them, a call of B rows each costs T(n B) / n per chain.
        ChainsPerCall = Math.Clamp(chains, 1, _perCall);

        // The first run on a remembered curve is not timed (CostCurve.Remembered); Reset starts every run.
        _burnIn = _runsToSkip > 0;
        _runsToSkip = Math.Max(0, _runsToSkip - 1);

        // The exploration clock runs on across runs: a run shorter than ExplorePeriod sweeps (one request of a few
        // dozen rounds) would otherwise never explore, and a stale estimate would stick for good.
        _sweepsBefore += (_decisions + _chains - 1) / _chains;
        _chains = Math.Max(1, chains);
        _decisions = 0;
        ExploredRounds = 0;
        RanAsDdpm = false;

        if (_timedRunChains != _chains)
        {
            // The run-level check compares runs of one shape (RecordRun).
            _roundRunsTimed = 0;
            _ddpmRunsTimed = 0;
            _timedRunChains = _chains;
        }

        // What ran before a run is not known (other samplers, other settings of a bench, a robot's idle time between
        // requests): its first calls count as cold (see ColdWindow).
        Array.Clear(_recentRows);
        _runs++;
        if (_cost.Length < _maxLength + 1)
        {
            _cost = new double[_maxLength + 1];
            _minCostFrom = new double[_maxLength + 1];
            _tabulatedChains = 0;
        }

        if (_tabulatedChains != ChainsPerCall)
        {
            // The per-round search reads a table instead of evaluating the curve (once per chain count).
            Tabulate();
        }
    }

    /// <summary>
    /// Whether the run just <see cref="Reset"/> should take DDPM's own steps throughout: on the cost auto believes now,
    /// with the prior acceptance at every position (what its first decision of a run has), no L >= 2 is predicted to
    /// beat DDPM by <see cref="MinimumGain"/>. Such a run would choose L = 1 round after round anyway; as ASD rounds it
    /// also pays their bookkeeping and auto's (the choice, the timing, exploring), which on the 2-D mixture's 0.4 us
    /// calls cost auto 0.61-0.69x of DDPM's wall-clock (docs/bench/auto-stability.md). The law and the bytes are
    /// DDPM's, as L = 1 throughout gives. Nothing is learned in such a run; the next run decides again. And always,
    /// from the first run on, when the run's chains fill every call with one row each (no chain can draft at all).
    /// </summary>
    /// <remarks>
    /// When the curve learns, the calibration (measured or remembered) must predict no gain either: a belief learned
    /// from timings is revised only by rounds that time longer calls, which runs of DDPM steps never make.
    /// Never on the first run of this controller, nor on a recheck: those run as rounds, timing and exploring, so a
    /// calibration that was wrong (too steep) is still corrected within a bounded number of runs, and a run on a fresh
    /// controller behaves as before. The first recheck is run <see cref="RecheckRuns"/>; each recheck after which
    /// drafting still never pays doubles the gap to the next, up to <see cref="MaxRecheckGap"/> runs, and a run whose
    /// belief predicts a gain brings the gap back to <see cref="RecheckRuns"/>. A recheck as rounds cost 1.5-5 DDPM
    /// runs on the 2-D mixture, so one in 8 for good cost 6-50% more than DDPM's steps; with the gap doubled it costs
    /// at most 1-6% once it reaches 64 runs (after run 120), and a belief that turned wrong is still rechecked within
    /// 64 runs.
    /// </remarks>
    public bool RunsAsDdpm()
    {
        int cap = Math.Max(1, Math.Min(_maxLength, _perCall / ChainsPerCall));
        if (cap < 2)
        {
            // The chains fill every call with one row each: no chain can draft, whatever the cost or acceptance, so
            // rounds could only be L = 1 with their bookkeeping. The first run too: there is nothing to time or
            // explore that a run of such calls could use.
            return true;
        }

        // Decided on every run, the first and the rechecks too (whose answer is then rounds), so that a JIT build has
        // compiled this before a run can act on it (AsdSampler.CompileDdpmRuns says why).
        bool ddpm = DraftingNeverPays(cap);
        RunCheck check = ddpm ? RunCheck.None : CheckRuns();
        RoundsLost = check == RunCheck.RoundsLost;
        DdpmProbe = check == RunCheck.TimeDdpm;
        if (DdpmProbe)
        {
            // Not a verdict: the rechecks' schedule stays as it was.
            return true;
        }

        ddpm |= RoundsLost;
        if (!ddpm)
        {
            _recheckGap = RecheckRuns;
            _nextRecheck = _runs + RecheckRuns;
            return false;
        }

        if (_runs == 1)
        {
            return false;
        }

        if (_runs >= _nextRecheck)
        {
            _recheckGap = Math.Min(2 * _recheckGap, MaxRecheckGap);
            _nextRecheck = _runs + _recheckGap;
            return false;
        }

        return true;
    }

    /// <summary>
    /// Runs of each way (rounds; DDPM's own steps) whose wall-clock per chain step the run-level check remembers (see
    /// <see cref="RecordRun"/>).
    /// </summary>
    public const int RunWindow = 3;

    /// <summary>Runs as rounds timed before the run-level check may act on them (see <see cref="RecordRun"/>).</summary>
    public const int MinRoundRuns = 2;

    /// <summary>
    /// Below this measured speedup of rounds over DDPM's steps, DDPM's steps are timed again now and then (see
    /// <see cref="RecordRun"/>): a run of them then costs at most this much of a run more. At 1.25 the unet16 fixture,
    /// whose rounds pay about 1.2x, spent a run in each doubling gap timing DDPM's steps to no purpose (the calibration's
    /// DDPM step was 3% low, not high): in 20 alternated cold benches of 11 repeats auto / best fixed L read 0.91 at the
    /// median against 0.93-0.94 without the check.
    /// </summary>
    public const double DefaultProbeBelow = 1.1;

    /// <summary>See <see cref="DefaultProbeBelow"/> (a test sets 1, which never times DDPM's steps that way, as a control).</summary>
    internal double ProbeBelow { get; set; } = DefaultProbeBelow;

    private readonly double[] _roundRunStep = new double[RunWindow], _ddpmRunStep = new double[RunWindow];
    private long _roundRunsTimed, _ddpmRunsTimed, _nextDdpmProbe;
    private int _timedRunChains, _ddpmProbeGap = RecheckRuns;

    /// <summary>Whether the run-level check is on (off only in tests, as a control).</summary>
    internal bool ChecksRuns { get; set; } = true;

    /// <summary>
    /// Whether the last <see cref="RunsAsDdpm"/> chose DDPM's steps because runs as rounds measured no faster than DDPM's
    /// steps, though the cost model predicted a gain (see <see cref="RecordRun"/>).
    /// </summary>
    public bool RoundsLost { get; private set; }

    /// <summary>
    /// Whether the last <see cref="RunsAsDdpm"/> chose DDPM's steps to time them, rounds measuring less than
    /// <see cref="DefaultProbeBelow"/> times faster than what DDPM's steps were believed to cost (see <see cref="RecordRun"/>).
    /// </summary>
    public bool DdpmProbe { get; private set; }

    private enum RunCheck
    {
        None,
        RoundsLost,
        TimeDdpm,
    }

    /// <summary>
    /// Times a whole run of <paramref name="chainSteps"/> chain steps (chains x steps) that took
    /// <paramref name="seconds"/>, as rounds or as DDPM's own steps (<see cref="RanAsDdpm"/>): the run-level check of
    /// what the per-call model predicts. Allocation-free; ignored when the curve does not learn.
    /// </summary>
    /// <remarks>
    /// <para>The per-call model sees only what the sampler times per call. What it leaves out is paid per run all the
    /// same: on the 2-D mixture (calls of 0.3 us) the refits of the learned curve took 5-10 us each, several per run,
    /// outside every timed call, and the model's baseline, a round of L = 1, costs more than DDPM's own loop. In about
    /// one cold <c>asd bench</c> in 15 there (2026-12-08, Zen 4), the calibration's T(2) read 1.76 T(1) instead of
    /// 1.97, auto predicted 1.1-1.8x for drafts of 4-8 and ran them at 0.50-0.70x of DDPM's wall-clock, run after run,
    /// 101 repeats long: nothing timed the quantity auto is for.</para>
    /// <para>So each way's wall-clock per chain step is kept for its last <see cref="RunWindow"/> runs (not the first
    /// run of the controller, cold and compiling, nor a remembered curve's untimed first run). Once
    /// <see cref="MinRoundRuns"/> runs as rounds are timed, <see cref="RunsAsDdpm"/> compares the least of them with
    /// the least of DDPM's timed runs, or the calibration's DDPM step (<see cref="CostCurve.DdpmSeconds"/>) before any.
    /// The least, on both sides: a run cannot take less than its work, and what makes runs slower comes and goes (a
    /// first run that compiled code; a run while the learned curve was still climbing to long drafts; the VM's vCPUs
    /// moved to a slower placement, which on the unet16 fixture made one bench's runs as rounds take 274 us a step
    /// beside DDPM runs timed at 213 before it, and a lower median of three had DDPM's steps run for eight runs where
    /// rounds paid 1.2x).
    /// Rounds no faster: DDPM's steps, whatever the per-call model predicts, with the rechecks as before (run
    /// <see cref="RecheckRuns"/>, gaps doubling to <see cref="MaxRecheckGap"/>), each timing the rounds again, so the
    /// check reopens when they win (a recheck's rounds include the cost of switching back to them, which leans towards
    /// DDPM's steps: the safe side). Rounds faster, but by less than <see cref="DefaultProbeBelow"/>: DDPM's belief may be
    /// what is wrong (a calibration measured while code was still compiling read DDPM's step 1.6x its cost), so one
    /// run takes DDPM's steps to time them, first as soon as the check can act, then after gaps that double from
    /// <see cref="RecheckRuns"/> to <see cref="MaxRecheckGap"/> runs: at most 1.25 runs' time for one run in 64 once
    /// the gap is long. A change of chain count starts both windows afresh. A given curve never does this (its choices
    /// must stay a function of the seed).</para>
    /// </remarks>
    public void RecordRun(double seconds, long chainSteps)
    {
        if (!_learns || !ChecksRuns || _burnIn || _runs <= 1 || chainSteps < 1 || !(seconds > 0) || double.IsInfinity(seconds))
        {
            return;
        }

        double perStep = seconds / chainSteps;
        if (RanAsDdpm)
        {
            _ddpmRunStep[_ddpmRunsTimed++ % RunWindow] = perStep;
        }
        else
        {
            _roundRunStep[_roundRunsTimed++ % RunWindow] = perStep;
        }
    }

    /// <summary>The run-level check of a run the per-call model would run as rounds (see <see cref="RecordRun"/>).</summary>
    private RunCheck CheckRuns()
    {
        if (!_learns || !ChecksRuns || _roundRunsTimed < MinRoundRuns)
        {
            return RunCheck.None;
        }

        int rounds = (int)Math.Min(_roundRunsTimed, RunWindow), ddpm = (int)Math.Min(_ddpmRunsTimed, RunWindow);
        _checkedRuns = (rounds, ddpm);
        MeasuredRoundsStep = Min(_roundRunStep.AsSpan(0, rounds));
        MeasuredDdpmStep = ddpm > 0 ? Min(_ddpmRunStep.AsSpan(0, ddpm)) : _curve.DdpmSeconds(ChainsPerCall) / ChainsPerCall;
        if (MeasuredRoundsStep >= MeasuredDdpmStep)
        {
            return RunCheck.RoundsLost;
        }

        if (ProbeBelow * MeasuredRoundsStep > MeasuredDdpmStep && _runs >= _nextDdpmProbe)
        {
            _nextDdpmProbe = _runs + _ddpmProbeGap;
            _ddpmProbeGap = Math.Min(2 * _ddpmProbeGap, MaxRecheckGap);
            return RunCheck.TimeDdpm;
        }

        return RunCheck.None;

        static double Min(ReadOnlySpan<double> x)
        {
            double m = x[0];
            foreach (double e in x)
            {
                m = Math.Min(m, e);
            }

            return m;
        }
    }

    /// <summary>The runs of each way the last run-level check read (for the explanation).</summary>
    private (int Rounds, int Ddpm) _checkedRuns;

    /// <summary>The two sides of the last run-level check, seconds per chain step (see <see cref="RecordRun"/>).</summary>
    internal double MeasuredRoundsStep { get; private set; } = double.NaN;

    /// <inheritdoc cref="MeasuredRoundsStep"/>
    internal double MeasuredDdpmStep { get; private set; } = double.NaN;

    private bool DraftingNeverPays(int cap)
    {
        SpeculationCostModel.BestLength(new PriorAcceptanceOnly(), _cost, _minCostFrom.AsSpan(0, cap + 1), cap, out double rate, onGrid: true);
        if (rate * _cost[1] >= 1 + MinimumGain)
        {
            return false;
        }

        if (!_learns)
        {
            return true;
        }

        // The calibration must agree. A learned belief that drafting never pays while the calibration said it does
        // came from the run's own timings, which a run of DDPM steps could never revise: on the unet16 fixture (ONNX
        // Runtime), two cold runs in ten took DDPM's steps in every timed repeat after the first, where fixed L = 4
        // ran 1.33x faster (auto / best fixed 0.71-0.72). Runs as rounds choose L = 1 on that belief anyway, and
        // their exploration times the longer calls again. The calibration does not change, so its verdict is kept per
        // chain count and cap (searching the whole curve every run cost 2-4% of a 2-D mixture run of 80 us).
        if (_calibrationVerdictFor != (ChainsPerCall, cap))
        {
            var calibrated = new SpeculationCostModel.SharedCost(_curve, ChainsPerCall);
            SpeculationCostModel.BestLength(new PriorAcceptanceOnly(), calibrated, cap, out double calibratedRate, onGrid: true);
            _calibrationSaysNoGain = calibratedRate * calibrated.Seconds(1) < 1 + MinimumGain;
            _calibrationVerdictFor = (ChainsPerCall, cap);
        }

        return _calibrationSaysNoGain;
    }

    private (int Chains, int Cap) _calibrationVerdictFor;
    private bool _calibrationSaysNoGain;

    /// <summary>The run of the first recheck (a run as rounds where <see cref="RunsAsDdpm"/> would say DDPM), and the gap after a run that predicted a gain.</summary>
    public const int RecheckRuns = 8;

    /// <summary>The longest gap, in runs, between two rechecks (see <see cref="RunsAsDdpm"/>).</summary>
    public const int MaxRecheckGap = 64;

    private long _runs, _nextRecheck = RecheckRuns;
    private int _recheckGap = RecheckRuns;

    /// <summary>
    /// Counts <paramref name="rounds"/> rounds of L = 1 taken as DDPM steps (<see cref="RunsAsDdpm"/>). Their calls need
    /// no <see cref="NoteCall"/>: the next run's <see cref="Reset"/> counts its first calls cold anyway.
    /// </summary>
    public void RecordDdpmRounds(long rounds)
    {
        _chosen[1] += rounds;
        RanAsDdpm = true;
    }

    /// <summary>Whether the last run took DDPM's own steps throughout (<see cref="RunsAsDdpm"/>).</summary>
    public bool RanAsDdpm { get; private set; }

    private readonly struct PriorAcceptanceOnly : IPositionAcceptance
    {
        public double Acceptance(int position) => PriorAcceptance;
    }

    private void Tabulate()
    {
        SpeculationCostModel.Tabulate(new SpeculationCostModel.SharedCost(CurrentCost, ChainsPerCall), _maxLength, _cost, _minCostFrom);
        _tabulatedChains = ChainsPerCall;
    }

    /// <summary>
    /// Folds one timed call of <paramref name="rows"/> rows that took <paramref name="seconds"/> (the sampler's work
    /// for it included) into the estimates; every <see cref="RefitEvery"/> calls, refits the curve and the tables.
    /// <paramref name="explores"/>: the call carried a round whose length was explored (<see cref="LastChoiceExplored"/>);
    /// what it took beyond the estimate is charged to the exploration budget too (see remarks). Allocation-free.
    /// Ignored when the curve does not learn.
    /// </summary>
    public void Observe(int rows, double seconds, bool explores = false)
    {
        if (!_learns || rows < 1)
        {
            return;
        }

        bool cold = IsCold(rows);
        NoteCall(rows);
        if (_burnIn || rows > _learnedRows || !(seconds > 0) || double.IsInfinity(seconds))
        {
            return;
        }

        if (explores)
        {
            // The budget was charged the predicted extra when the length was chosen; a call that took longer than
            // its size's estimate adds the rest, so the bound holds on measured time. The estimate is a lower median
            // and shrugs off slow calls, which is right for choosing L but priced exploring too low on a loaded core:
            // with a competing process on one core, auto on the row-parallel unet16 fixture explored L = 2 rounds
            // that cost several times their estimate, and ran 0.92-0.93x of DDPM where L = 1 ran 1.00-1.02x.
            _exploreSeconds += Math.Max(0, seconds - _fittedCost.Seconds(rows));
        }

        // The estimate of a size is the lower median of its last Window timings; until Window timings are in, the fit
        // it had when first timed (the calibration as corrected by its neighbours) fills the empty slots, except that
        // timings below it are believed at once (their lower median with it). So the first timing below the fit
        // replaces it, one above it needs two more to agree, and two slow calls move nothing: an outlier can no longer
        // price a size out for good (it had: 2 ms, 7x the truth, from two timings), and the first 1-row call on each
        // of two row-parallel lanes (2.6 ms against 1.3, ONNX Runtime's first run of a shape) no longer made T(1)
        // look dear and every longer draft nearly free beside it.
        bool provisional = (explores || cold) && _observed[rows] > 0;
        if ((IsStale(rows) && seconds < _estimate[rows]) || (provisional && seconds < (1 - Deadband) * _estimate[rows]))
        {
            // A stale estimate that a new timing undercuts, or an exploring or cold call (see ColdWindow) that
            // undercuts it beyond the deadband: the size starts afresh, as if never timed (see StaleCalls). Explorations
            // time a size every few dozen rounds, so it never went stale, and one fast timing could not move a lower
            // median of five slow ones (from a slow spell, or cold calls before ColdWindow told them apart).
            _observed[rows] = 0;
        }
        else if (provisional && seconds > _estimate[rows])
        {
            // An exploring or cold call slower than the estimate says nothing of the size in steady use (see
            // ColdWindow): it is not folded in (nor counted in ObservedCalls), so it raises nothing.
            return;
        }

        Span<double> window = _recent.AsSpan(rows * Window, Window);
        int n = (int)Math.Min(_observed[rows], Window);
        if (n == 0)
        {
            window[Window - 1] = _fittedCost.Seconds(rows);
            _prior[rows] = window[Window - 1];
        }

        double e = n == 0 ? window[Window - 1] : _estimate[rows];
        window[(int)(_observed[rows] % Window)] = Math.Min(seconds, MaxStep * e);
        _observed[rows]++;
        double before = _estimate[rows];
        double estimate = Estimate(window, Math.Min(n + 1, Window));

        // A deadband: an estimate within Deadband of the belief the size had when first timed keeps that belief. Timing
        // noise then moves nothing, so runs on a remembered curve on a quiet machine choose as the curve says, alike
        // run after run; a calibration wrong by more is corrected as before.
        _estimate[rows] = Math.Abs(estimate - _prior[rows]) <= Deadband * _prior[rows] ? _prior[rows] : estimate;
        _largestObserved = Math.Max(_largestObserved, rows);
        ObservedCalls++;
        _lastTimed[rows] = ObservedCalls;
        if (++_sinceRefit >= RefitEvery || Math.Abs(_estimate[rows] - before) > RefitOnMove * before)
        {
            Refit();
        }
    }

    /// <summary>
    /// Calls remembered to tell a cold call: a call of B rows is cold when fewer than <see cref="WarmCalls"/> of the
    /// last <see cref="ColdWindow"/> calls (timed or not, see <see cref="NoteCall"/>) had at least 3/4 of its rows; the
    /// first calls of a run count as cold. A cold call's timing may lower its size's estimate (it restarts the size
    /// when it undercuts it beyond the deadband) but never raises it. Why: on the 2-vCPU VM, with rows split over two
    /// row-parallel lanes, a 2-row call after a streak of one-row calls took 1.15x its time in steady use after 4 of
    /// them, 1.3x after 8 and 1.6x after 16 (<c>quick-onnx-after</c>: the idle lane's core, 311 against 490 us), and
    /// the first 2-row calls of a run after a DDPM repeat 2-2.5x. Every exploration of L = 2 from auto's DDPM streaks
    /// was such a call, so a chain that once fell to L = 1 found L = 2 dear each time it looked and stayed at L = 1
    /// (570-690 of ~830 rounds in some row-parallel unet16 runs, auto at 0.6-0.8 of fixed L = 2, which never idles a
    /// lane). The choice of L must rest on what a length costs in steady use, which is what a chain that picks it pays.
    /// </summary>
    public const int ColdWindow = 6;

    /// <summary>See <see cref="ColdWindow"/>.</summary>
    public const int WarmCalls = 3;

    /// <summary>Whether cold calls are told apart (see <see cref="ColdWindow"/>); off only in tests, as a control.</summary>
    internal bool TellsColdCalls { get; init; } = true;

    private readonly int[] _recentRows = new int[ColdWindow];
    private int _recentNext;

    /// <summary>Whether a call of <paramref name="rows"/> rows is cold (see <see cref="ColdWindow"/>).</summary>
    private bool IsCold(int rows)
    {
        if (!TellsColdCalls || rows < 2)
        {
            return false;
        }

        int wide = ((3 * rows) + 3) / 4, warm = 0;
        foreach (int r in _recentRows)
        {
            warm += r >= wide ? 1 : 0;
        }

        return warm < WarmCalls;
    }

    /// <summary>
    /// Notes a call of <paramref name="rows"/> rows that was not timed (the sampler times none while every chain runs a
    /// DDPM streak), so that a call after it can be told cold (see <see cref="ColdWindow"/>). Allocation-free.
    /// </summary>
    public void NoteCall(int rows)
    {
        _recentRows[_recentNext] = rows;
        _recentNext = (_recentNext + 1) % ColdWindow;
    }

    /// <summary>The most timings a size's weight in the refit counts (see Refit).</summary>
    private const double MaxWeight = 100;

    /// <summary>How far a size's estimate must move from its belief when first timed before it counts (see Observe).</summary>
    internal double Deadband { get; init; } = DefaultDeadband;

    /// <summary>The default <see cref="Deadband"/>.</summary>
    public const double DefaultDeadband = 0.05;

    /// <summary>Timings per size that its estimate (their lower median) is taken from.</summary>
    public const int Window = 5;

    /// <summary>Insertion sort of a few values in place.</summary>
    private static void SortSmall(Span<double> v)
    {
        for (int i = 1; i < v.Length; i++)
        {
            double x = v[i];
            int j = i - 1;
            for (; j >= 0 && v[j] > x; j--)
            {
                v[j + 1] = v[j];
            }

            v[j + 1] = x;
        }
    }

    /// <summary>
    /// A size's estimate from the first <paramref name="count"/> slots of its window (timings; with fewer than
    /// <see cref="Window"/>, the prior waits in the last slot): the lower median of the window with its empty slots
    /// holding the prior, or, when lower, the lower median of the timings and the prior.
    /// </summary>
    private static double Estimate(ReadOnlySpan<double> window, int count)
    {
        Span<double> v = stackalloc double[Window];
        if (count >= Window)
        {
            window.CopyTo(v);
            SortSmall(v);
            return v[(Window - 1) / 2];
        }

        double prior = window[Window - 1];
        window[..count].CopyTo(v);
        v[count] = prior;
        SortSmall(v[..(count + 1)]);
        double fast = v[count / 2];
        v[(count + 1)..].Fill(prior);
        SortSmall(v);
        return Math.Min(fast, v[(Window - 1) / 2]);
    }

    /// <summary>
    /// Calls between two refits of the learned curve: at least 8, and about 1/32 of the sizes a call may hold (so the
    /// refit adds O(1) per call). A timing that moves its size's estimate by more than <see cref="RefitOnMove"/> refits
    /// at once: with 4096 rows a call, a refit came every 128 calls, so a 100-step run of a millisecond UNet chose its
    /// lengths on a table fitted before the run.
    /// </summary>
    public int RefitEvery => Math.Max(8, _learnedRows / 32);

    /// <summary>
    /// Timed calls after which the estimate of a size not timed since is stale. A slow spell of the machine prices up
    /// every size it times, and a chain then drafts the sizes it finds cheap, which its timings soon price right again,
    /// while the others keep their slow estimates: builtin:policy with a remembered curve, after one request at 1.6x
    /// its calls' usual time (T(1) 136 us against 86) and more for larger calls, drafted L = 4 for the other twenty
    /// requests of the run with T(6) to T(12) still priced 1.4-2.1x their calibration (auto 2.45x of DDPM where L = 4
    /// ran 2.74x); its explorations doubled L to 8, whose one timing could not move a lower median of five, and the
    /// stale T(6) held T(8) up in the monotone fit anyway. So a stale size (1) is what an upward exploration times
    /// first (the shortest stale grid length above L, before doubling), (2) starts afresh, as if never timed, when a
    /// timing undercuts its estimate, and (3) weighs as one timing in the fit. Re-timing goes through exploration, so
    /// its cost stays within <see cref="ExploreShare"/>, and a size dear in truth stays priced so (its new timing does
    /// not undercut it).
    /// </summary>
    public const int DefaultStaleCalls = 64;

    /// <summary>See <see cref="DefaultStaleCalls"/> (a test turns it off).</summary>
    internal int StaleCalls { get; init; } = DefaultStaleCalls;

    /// <summary>The relative move of one size's estimate that refits the curve at once (see <see cref="RefitEvery"/>).</summary>
    public const double RefitOnMove = 0.1;

    /// <summary>
    /// The least number of sizes a refit fits; it fits up to 4 times the largest call timed (twice the trust region),
    /// and beyond them the calibration's shape carries the fit on (<see cref="FittedCost"/>).
    /// </summary>
    private const int MinFitRows = 64;

    /// <summary>Rebuilds the learned curve from the estimates and re-tabulates the costs (see remarks).</summary>
    internal void Refit()
    {
        _sinceRefit = 0;
        if (!_learns)
        {
            return;
        }

        int n = Math.Min(_learnedRows, Math.Max(MinFitRows, 4 * _largestObserved));
        _fitRows = n;

        int last = 0;
        for (int b = 1; b <= n; b++)
        {
            if (_observed[b] > 0)
            {
                if (last > 0)
                {
                    // Between two observed sizes: linear.
                    for (int k = last + 1; k < b; k++)
                    {
                        _fitted[k] = _estimate[last] + ((_estimate[b] - _estimate[last]) * (k - last) / (b - last));
                    }
                }
                else
                {
                    // Below the first observed size: the calibration, scaled to agree with it.
                    double scale = _estimate[b] / _curve.Seconds(b);
                    for (int k = 1; k < b; k++)
                    {
                        _fitted[k] = _curve.Seconds(k) * scale;
                    }
                }

                _fitted[b] = _estimate[b];
                last = b;
            }
        }

        if (last == 0)
        {
            for (int k = 1; k <= n; k++)
            {
                _fitted[k] = _curve.Seconds(k);
            }
        }
        else
        {
            // Beyond the largest observed size: the calibration's shape, scaled to agree with the largest. Not a slope
            // learned from the observed sizes: a cost that steps (rows split over P lanes, so T(1) = T(2) on two) gives
            // a flat slope between neighbours, and on the 28x28 UNet the fit put 8 and 16 rows at the cost of 1; a chain
            // doubled its L each time the trust region let it (8, 16, 44) and one repeat ran at 0.39x of DDPM. The
            // calibration timed those sizes; a wrong one is corrected size by size as the trust region and the
            // exploration reach them.
            double scale = _estimate[last] / _curve.Seconds(last);
            for (int k = last + 1; k <= n; k++)
            {
                _fitted[k] = _curve.Seconds(k) * scale;
            }
        }

        // Weighted by how often each size was timed: a size timed once (a call at the end of a run, or the first one
        // after start-up, when code is still being compiled: 6 ms for 1 row against 0.2 ms) must not raise the fit of
        // well-timed neighbours it is pooled with. Sizes not timed weigh 1, and so do sizes not timed for StaleCalls
        // calls: old timings must not hold up the fit of a neighbour timed since (see StaleCalls).
        for (int b = 1; b <= n; b++)
        {
            _weight[b] = 1 + (IsStale(b) ? 0 : Math.Min(_observed[b], MaxWeight));
        }

        Isotonic.FitInPlace(_fitted.AsSpan(1, n), _weight.AsSpan(1, n), _blockMean, _blockWeight, _blockLength);
        if (_cost.Length > 0)
        {
            Tabulate();
        }
    }

    /// <summary>The learned curve: fitted sizes, then linear beyond them with the calibration's slope scaled alike.</summary>
    private sealed class FittedCost(AutoSpeculation owner) : IBatchCost
    {
        public double Seconds(int rows)
        {
            double[] f = owner._fitted;
            int n = owner._fitRows;
            if (rows <= n)
            {
                return f[rows];
            }

            CostCurve c = owner._curve;
            return f[n] + ((c.Seconds(rows) - c.Seconds(n)) * (f[n] / c.Seconds(n)));
        }
    }

    private int ChainsPerCall { get; set; } = 1;

    /// <summary>Whether the last <see cref="Choose"/> picked a length to explore rather than the best predicted one.</summary>
    public bool LastChoiceExplored { get; private set; }

    /// <summary>
    /// Whether this sweep of rounds explores (one in <see cref="ExplorePeriod"/>, counted across runs, when the curve
    /// learns): a streak of L = 1 yields to it. Only then: with a given curve the clock would cut streaks at points set
    /// by the runs before, and a run's lengths and bytes would depend on them (a run repeated with its seed on the
    /// 2-D mixture, T(B) = 1 + 2 B, K = 1000, gave other bytes).
    /// </summary>
    private bool ExploresThisSweep => _learns && !_burnIn && (_sweepsBefore + (_decisions / _chains)) % ExplorePeriod == ExplorePeriod - 1;

    /// <summary>The L for chain <paramref name="chain"/>'s next round, at most <paramref name="remaining"/>.</summary>
    public int Choose(int chain, int remaining)
    {
        LastChoiceExplored = false;
        bool exploresThisSweep = ExploresThisSweep;
        if (_streakLeft[chain] > 0 && !exploresThisSweep)
        {
            // A round of a DDPM streak: L = 1 without a search (see StreakCap).
            _streakLeft[chain]--;
            _roundSeconds += _cost[1];
            SetStreakRound(chain, true);
            _decisions++;
            _chosen[1]++;
            return 1;
        }

        SetStreakRound(chain, false);
        ApplyPendingDecay(chain);
        int widest = Math.Max(1, Math.Min(_maxLength, _perCall / ChainsPerCall));
        int cap = Math.Min(remaining, widest);
        int trust = int.MaxValue;
        if (_learns && !_burnIn)
        {
            // A trust region: at most twice the largest call timed so far (per chain), so that a length is chosen
            // on timings of its neighbourhood, not on an extrapolation far beyond them; it doubles as calls grow.
            trust = Math.Max(2, 2 * _largestObserved / ChainsPerCall);
            cap = Math.Min(cap, trust);
        }

        // The search window: at most 2 L + 2 for a chain whose last round had L (so a chain climbs 1, 4, 10, 22, ...
        // round by round). Without it every round of a chain at L = 1 scanned ~50 lengths before the bound let it stop
        // (0.9 us per round, as much as a call of the 2-D mixture).
        int climb = (2 * _lastChoice[chain]) + 2;
        cap = Math.Min(cap, climb);
        Hold hold = Hold.None;
        ChainAcceptance acceptance = AcceptanceOf(chain);
        int l = 1;
        bool exploring = false;
        if (cap > 1)
        {
            // Lengths on the grid only (SpeculationCostModel.OnLengthGrid), and the steps left for a chain's last round.
            l = SpeculationCostModel.BestLength(acceptance, _cost, _minCostFrom.AsSpan(0, cap + 1), cap, out double rate, onGrid: true, alsoAllowed: remaining);
            int held = _held[chain];
            if (l != held && held > 1 && held <= cap)
            {
                // Hysteresis: keep the length in use unless another is predicted SwitchMargin faster. Neighbouring
                // lengths often predict within a percent of each other, and timing noise then flipped runs between them.
                double heldRate = RateOf(acceptance, held);
                if (rate < heldRate * (1 + SwitchMargin))
                {
                    hold = held < l ? Hold.Hysteresis : Hold.None;
                    (l, rate) = (held, heldRate);
                }
            }

            if (hold == Hold.None && l > 1 && cap < widest && l >= (SpeculationCostModel.OnLengthGrid(cap) ? cap : SpeculationCostModel.GridBelow(cap)))
            {
                // The longest length the search was allowed: what held it there (for Explain; the unconstrained best
                // may be the same length, so this counts rounds a limit could have held, not rounds it did). The steps
                // left, drafted whole (off the grid too), land here as well: then the cap is the steps left.
                hold = trust <= climb && trust <= remaining ? Hold.Trust : climb <= remaining ? Hold.Climb : Hold.Steps;
            }

            // The margin has the same hysteresis: a chain drafting keeps drafting while the gain stays within
            // SwitchMargin of the margin, so a gain near 5% does not flip it between L = 1 and L = 2 round by round.
            if (rate * _cost[1] < 1 + MinimumGain - (held > 1 ? SwitchMargin : 0))
            {
                l = 1;
                hold = Hold.None;
            }

            if (exploresThisSweep)
            {
                // Try another length, twice as long and the grid's next shorter in turn (upwards from L = 1, downwards
                // from the cap), if the time budget allows (ExploreShare). Twice as long, not L + 1: the fit beyond the
                // sizes timed follows the calibration's shape, so a calibration too steep is corrected one doubling per
                // upward exploration; and upwards again while the last upward one found its length cheaper than
                // predicted.
                bool up = _explorations % 2 == 0 || (_upRows > 0 && _upRows <= cap && _cost[_upRows] < Surprise * _upPredicted);
                int below = SpeculationCostModel.GridBelow(l), twice = Math.Min(cap, 2 * l);
                int above = StaleAbove(l, cap); // upwards, a stale size first (see StaleCalls)
                if (above == 0)
                {
                    above = SpeculationCostModel.OnLengthGrid(twice) ? twice : SpeculationCostModel.GridBelow(twice);
                }

                int neighbour = Math.Clamp(up ? (above > l ? above : below) : (l > 1 ? below : above), 1, cap);
                double extra = Math.Max(0, _cost[neighbour] - _cost[l]);
                if (_exploreSeconds <= ExploreShare * _roundSeconds)
                {
                    exploring = true;
                    _exploreSeconds += extra;
                    _explorations++;
                    (_upRows, _upPredicted) = neighbour > l ? (neighbour, _cost[neighbour]) : (0, 0);
                    l = neighbour;
                    hold = Hold.None;
                    ExploredRounds++;
                    LastChoiceExplored = true;
                }
            }
        }

        _roundSeconds += _cost[l];

        // Runs of L = 1 grow into streaks of 1, 2, 4, ... StreakCap rounds that skip the search, the ageing and the
        // timing of their calls; any other choice, or exploration, ends one.
        bool one = l == 1 && !exploring;
        if (!exploring)
        {
            _held[chain] = l;
        }

        _streakNext[chain] = one ? Math.Min(StreakCap, Math.Max(1, 2 * _streakNext[chain])) : 0;
        _streakLeft[chain] = one && _lastChoice[chain] == 1 ? _streakNext[chain] : 0;
        _decisions++;
        _chosen[l]++;
        _heldBy[(int)hold]++;
        LastHold = hold;
        _lastChoice[chain] = l;
        return l;
    }

    /// <summary>
    /// A curve that learns: each chain of a new run starts with the acceptance by position of the runs before it (the
    /// profile, decayed by <see cref="ProfileDecay"/> per run), as if it had drafted a few rounds of it: at most
    /// <see cref="SeedAttempts"/> attempts per position and <see cref="SeedPooledAttempts"/> in its pooled rate, which the
    /// chain's own decayed counts then outweigh within a few rounds. Without it every request started from the prior
    /// (0.9 at every position, where builtin:policy accepts 0.96-0.99), so its first rounds drafted 3-6, and a
    /// rejection in them, out of 2-3 attempts at that position, put its estimate at 0.74-0.82 for several more.
    /// </summary>
    private void SeedFromProfile(int chains)
    {
        double totalAttempts = 0, totalAccepted = 0;
        for (int k = 1; k < Stride; k++)
        {
            totalAttempts += _profileAttempts[k];
            totalAccepted += _profileAccepted[k];
        }

        if (totalAttempts > 0)
        {
            double pooledWeight = Math.Min(totalAttempts, SeedPooledAttempts), pooled = totalAccepted / totalAttempts;
            for (int c = 0; c < chains; c++)
            {
                Span<double> a = _attempts.AsSpan(c * Stride, Stride), s = _accepted.AsSpan(c * Stride, Stride);
                for (int k = 1; k < Stride; k++)
                {
                    if (_profileAttempts[k] > 0)
                    {
                        double w = Math.Min(_profileAttempts[k], SeedAttempts);
                        a[k] = w;
                        s[k] = w * (_profileAccepted[k] / _profileAttempts[k]);
                    }
                }

                _poolAttempts[c] = pooledWeight;
                _poolAccepted[c] = pooledWeight * pooled;
            }
        }

        for (int k = 1; k < Stride; k++)
        {
            _profileAttempts[k] *= ProfileDecay;
            _profileAccepted[k] *= ProfileDecay;
        }
    }

    /// <summary>Whether a curve that learns seeds each run's chains from the profile (see SeedFromProfile); off only in tests, as a control.</summary>
    internal bool SeedsAcceptance { get; init; } = true;

    /// <summary>Per-run decay of the acceptance profile carried across runs (a curve that learns; see SeedFromProfile).</summary>
    public const double ProfileDecay = 0.5;

    /// <summary>The most attempts per position, and in the pooled rate, a chain starts with from the profile.</summary>
    public const double SeedAttempts = 4, SeedPooledAttempts = 16;

    /// <summary>Acceptance counts by position over all chains and runs, decayed per run (index k).</summary>
    private readonly double[] _profileAttempts = new double[Stride], _profileAccepted = new double[Stride];

    /// <summary>What held a round's length where it was, for <see cref="Explain"/>.</summary>
    internal enum Hold
    {
        /// <summary>Nothing: the best predicted length within the limits, below them, or an exploration or streak.</summary>
        None,

        /// <summary>The longest length the trust region allowed (twice the largest call timed).</summary>
        Trust,

        /// <summary>The longest length the climb from the chain's previous round allowed (2 L + 2).</summary>
        Climb,

        /// <summary>The chain's steps left.</summary>
        Steps,

        /// <summary>Hysteresis kept the length in use, shorter than the best predicted one.</summary>
        Hysteresis,
    }

    /// <summary>What held the length of the last decision (not a round of a DDPM streak) for the explanation: tests.</summary>
    internal Hold LastHold { get; private set; }

    /// <summary>Rounds of the last run by what held their length (index <see cref="Hold"/>).</summary>
    private readonly long[] _heldBy = new long[5];

    /// <summary>
    /// The least predicted gain over the length in use that makes a chain switch to another (see Choose): 2%, so a
    /// switch costs at most 2% of the predicted rate, against runs that flipped between neighbouring lengths.
    /// </summary>
    internal double SwitchMargin { get; init; } = 0.02;

    /// <summary>Whether <paramref name="rows"/> was timed, but not for <see cref="StaleCalls"/> calls.</summary>
    private bool IsStale(int rows) => _observed[rows] > 0 && ObservedCalls - _lastTimed[rows] > StaleCalls;

    /// <summary>
    /// The shortest grid length above <paramref name="l"/>, at most <paramref name="cap"/>, whose estimate is stale
    /// (timed, but not for <see cref="StaleCalls"/> calls), or 0: an upward exploration times it before doubling, so
    /// that a size priced up in a slow spell and avoided since is timed again (see <see cref="StaleCalls"/>).
    /// </summary>
    private int StaleAbove(int l, int cap)
    {
        for (int g = l + 1; g <= Math.Min(cap, _learnedRows); g++)
        {
            if (SpeculationCostModel.OnLengthGrid(g) && IsStale(g))
            {
                return g;
            }
        }

        return 0;
    }

    /// <summary>
    /// What <see cref="Choose"/> would read for chain <paramref name="chain"/> now: the predicted steps per second of a
    /// round of <paramref name="length"/> on its current acceptance estimate and the per-round cost table, and that
    /// table's T(1) (DDPM's round). For tests that check the choice against its rule; it ages the chain's counts as
    /// <see cref="Choose"/> would first (once: the ageing is pending until applied).
    /// </summary>
    internal (double Rate, double SecondsOfOne) PredictedRate(int chain, int length)
    {
        ApplyPendingDecay(chain);
        return (RateOf(AcceptanceOf(chain), length), _cost[1]);
    }

    /// <summary>Chain <paramref name="chain"/>'s acceptance by position: its counts, shrunk towards its pooled rate, itself shrunk towards the prior.</summary>
    private ChainAcceptance AcceptanceOf(int chain) => new(
        _attempts.AsSpan(chain * Stride, Stride),
        _accepted.AsSpan(chain * Stride, Stride),
        (_poolAccepted[chain] + (PriorWeight * PriorAcceptance)) / (_poolAttempts[chain] + PriorWeight));

    /// <summary>The predicted rate of a round of exactly <paramref name="length"/> rows on the tabulated cost.</summary>
    private double RateOf(in ChainAcceptance acceptance, int length) =>
        SpeculationCostModel.Rate(acceptance, new TabulatedCost(_cost), length);

    /// <summary>T(B) read from the per-round table (index B).</summary>
    private readonly ref struct TabulatedCost(ReadOnlySpan<double> cost) : IBatchCost
    {
        private readonly ReadOnlySpan<double> _cost = cost;

        public double Seconds(int rows) => _cost[rows];
    }

    private void SetStreakRound(int chain, bool streak)
    {
        if (_streakRound[chain] != streak)
        {
            _streakRound[chain] = streak;
            _streakRounds += streak ? 1 : -1;
        }
    }

    /// <summary>
    /// Whether the sampler should time the next call: not when every chain of the run is in a round of a DDPM streak
    /// (nothing would be learned that the streak's next decision needs; reading the clock twice costs as much as a
    /// tenth of the 2-D mixture's call).
    /// </summary>
    public bool WantsTiming => !_burnIn && _streakRounds < _chains;

    /// <summary>
    /// The longest streak of L = 1 rounds granted without a decision. A chain that chose L = 1 (not exploring) twice
    /// running gets 1, then 2, 4, ... up to this many further rounds of L = 1 before it decides again: on a model whose
    /// call costs a microsecond, auto's per-round work (the search, ageing its counts, timing and refitting) cost a
    /// third of a call, so auto ran at half DDPM's speed while choosing DDPM's work. So a chain drafts again at most
    /// this many rounds later than it would have.
    /// </summary>
    public const int StreakCap = 16;

    /// <summary>Records the outcome of draft position <paramref name="position"/> (&gt;= 1) of chain <paramref name="chain"/>.</summary>
    public void Record(int chain, int position, bool accepted)
    {
        int p = Math.Min(position, TrackedPositions), k = chain * Stride + p;
        _attempts[k] += 1;
        _poolAttempts[chain] += 1;
        _profileAttempts[p] += 1;
        if (accepted)
        {
            _accepted[k] += 1;
            _poolAccepted[chain] += 1;
            _profileAccepted[p] += 1;
        }
    }

    /// <summary>
    /// Chain <paramref name="chain"/>'s pooled acceptance counts as the estimator holds them (decayed), for tests that
    /// check the sampler feeds every decision in (<see cref="Record"/>) and ages the counts every round (<see cref="EndRound"/>).
    /// </summary>
    internal (double Attempts, double Accepted) PooledCounts(int chain)
    {
        ApplyPendingDecay(chain);
        return (_poolAttempts[chain], _poolAccepted[chain]);
    }

    /// <summary>
    /// Chain <paramref name="chain"/>'s decayed counts at draft position <paramref name="position"/>, for tests that check
    /// each chain keeps its own (seeded from the profile at <see cref="Reset"/>, fed by <see cref="Record"/>, aged by
    /// <see cref="EndRound"/>).
    /// </summary>
    internal (double Attempts, double Accepted) PositionCounts(int chain, int position)
    {
        ApplyPendingDecay(chain);
        int k = (chain * Stride) + Math.Min(position, TrackedPositions);
        return (_attempts[k], _accepted[k]);
    }

    /// <summary>Ages chain <paramref name="chain"/>'s counts at the end of a round.</summary>
    public void EndRound(int chain)
    {
        if (_streakRound[chain])
        {
            // A streak round drafted nothing: its ageing waits for the chain's next decision (ApplyPendingDecay).
            _pendingDecay[chain]++;
            return;
        }

        Age(chain, Decay);
    }

    private void ApplyPendingDecay(int chain)
    {
        if (_pendingDecay[chain] > 0)
        {
            Age(chain, Math.Pow(Decay, _pendingDecay[chain]));
            _pendingDecay[chain] = 0;
        }
    }

    private void Age(int chain, double decay)
    {
        Span<double> a = _attempts.AsSpan(chain * Stride, Stride), s = _accepted.AsSpan(chain * Stride, Stride);
        for (int k = 1; k < Stride; k++)
        {
            a[k] *= decay;
            s[k] *= decay;
        }

        _poolAttempts[chain] *= decay;
        _poolAccepted[chain] *= decay;
    }

    /// <summary>
    /// One line on what the last run chose and why, from the cost auto believed at its end and the acceptance by
    /// position pooled over the run's chains (positions never drafted take the prior): for example
    /// "auto: best predicted gain 1.02x at L = 2, below the 5% margin, so L = 1 (DDPM's work)".
    /// </summary>
    public string Explain(SamplingStats stats, string label = "auto")
    {
        ArgumentNullException.ThrowIfNull(stats);
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        int cap = Math.Max(1, Math.Min(_maxLength, _perCall / ChainsPerCall));
        var q = new double[TrackedPositions + 1];
        double last = PriorAcceptance;
        var counts = stats.AcceptanceByPosition.ToDictionary(p => p.Position);
        for (int k = 1; k <= TrackedPositions; k++)
        {
            if (counts.TryGetValue(k, out PositionAcceptance c) && c.Attempts > 0)
            {
                last = (c.Accepted + (PriorWeight * PriorAcceptance)) / (c.Attempts + PriorWeight);
            }

            q[k] = last;
        }

        var acceptance = new ArrayAcceptance(q);
        var cost = new SpeculationCostModel.SharedCost(CurrentCost, ChainsPerCall);
        int best = 1;
        double gain = 1;
        if (cap > 1)
        {
            best = SpeculationCostModel.BestLength(acceptance, cost, cap, out double rate, onGrid: true);
            gain = rate * cost.Seconds(1);
        }

        long rounds = 0;
        int dominant = 1;
        for (int l = 1; l < _chosen.Length; l++)
        {
            rounds += _chosen[l];
            dominant = _chosen[l] > _chosen[dominant] ? l : dominant;
        }

        if (rounds == 0)
        {
            return $"{label}: no round to choose (K = 1)";
        }

        long ones = _chosen[1]; // a round was counted, so the histogram has L = 1's place
        string source = _learns ? string.Create(ci, $"T(B) calibrated and corrected by {ObservedCalls} timed calls") : "T(B) from the given cost curve";
        string explored = ExploredRounds > 0 ? string.Create(ci, $"; {ExploredRounds} of {rounds} rounds explored a neighbouring L") : "";

        if (RanAsDdpm && cap < 2)
        {
            // RunsAsDdpm's first reason: one row per chain fills every call (the same cap).
            return _perCall == 1
                ? $"{label}: calls of at most 1 row, so no chain can draft: DDPM's own steps throughout (a larger row cap per call lets them draft)"
                : string.Create(ci, $"{label}: {_chains} chains share calls of at most {_perCall} rows, one row each, so no chain can draft: DDPM's own steps throughout (a larger row cap per call, or fewer chains, lets them draft)");
        }

        if (RanAsDdpm && (RoundsLost || DdpmProbe))
        {
            // What the check read before the run (this run's own timing came after it).
            string ddpmFrom = _checkedRuns.Ddpm switch
            {
                0 => "the calibration's DDPM step",
                1 => "its last run",
                int n => string.Create(ci, $"the least of its last {n} runs"),
            };
            string measured = string.Create(ci, $"rounds took {MeasuredRoundsStep * 1e6:0.#} us a step (the least of the last {_checkedRuns.Rounds} runs as rounds), DDPM's steps {MeasuredDdpmStep * 1e6:0.#} us ({ddpmFrom})");
            return RoundsLost
                ? string.Create(ci, $"{label}: {measured}, so DDPM's own steps throughout, though the cost model predicts {gain:F2}x at L = {best} (rounds again {_nextRecheck - _runs} runs from now; {source})")
                : string.Create(ci, $"{label}: DDPM's own steps this run, to time them: {measured}, less than {ProbeBelow:0.##}x apart (the next such run {_nextDdpmProbe - _runs} runs from now at the earliest; {source})");
        }

        if (RanAsDdpm)
        {
            return string.Create(ci, $"{label}: best predicted gain {gain:F2}x at L = {best}, below the {MinimumGain:0%} margin, so DDPM's own steps throughout (no L drafts; {source})");
        }

        if (rounds - ones <= ExploredRounds)
        {
            return best == 1 || gain < 1 + MinimumGain
                ? string.Create(ci, $"{label}: best predicted gain {gain:F2}x at L = {best}, below the {MinimumGain:0%} margin, so L = 1 (DDPM's work){explored} ({source}; acceptance at position 1: {q[1]:F2})")
                : string.Create(ci, $"{label}: ran L = 1 (DDPM's work){explored}; by the end it predicts {gain:F2}x at L = {best} ({source}; acceptance at position 1: {q[1]:F2})");
        }

        string why = dominant < best ? HeldBelow(best, rounds) : "";
        return string.Create(ci, $"{label}: L = {dominant} in {(double)_chosen[dominant] / rounds:0%} of rounds, predicted gain {gain:F2}x at L = {best} over DDPM{explored}{why} ({source}; acceptance at position 1: {q[1]:F2})");
    }

    /// <summary>
    /// Why a run's most used length is shorter than the best it predicts at its end: the share of rounds that ran the
    /// longest length a limit allowed (the trust region, the climb from the previous round, the steps left) or that
    /// hysteresis kept shorter; or, when none did, that the rounds chose on the curve and acceptance they had then.
    /// </summary>
    private string HeldBelow(int best, long rounds)
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var parts = new List<string>(4);
        void Add(Hold h, string what)
        {
            if (_heldBy[(int)h] > 0)
            {
                parts.Add(string.Create(ci, $"{what} in {(double)_heldBy[(int)h] / rounds:0%}"));
            }
        }

        Add(Hold.Trust, "the trust region (at most twice the largest call timed)");
        Add(Hold.Climb, "the climb from the previous round (at most 2 L + 2)");
        Add(Hold.Steps, "the steps left");
        Add(Hold.Hysteresis, string.Create(ci, $"hysteresis (a switch needs {SwitchMargin:0%} more predicted gain)"));
        return parts.Count == 0
            ? string.Create(ci, $"; no limit held rounds below L = {best}: they chose on the acceptance and T(B) estimated at the time")
            : string.Create(ci, $"; held below L = {best} by {string.Join(", ", parts)} of rounds");
    }

    private sealed class ArrayAcceptance(double[] q) : IPositionAcceptance
    {
        public double Acceptance(int position) => q[Math.Clamp(position, 1, q.Length - 1)];
    }

    private readonly ref struct ChainAcceptance(ReadOnlySpan<double> attempts, ReadOnlySpan<double> accepted, double pooled) : IPositionAcceptance
    {
        private readonly ReadOnlySpan<double> _attempts = attempts, _accepted = accepted;

        public double Acceptance(int position)
        {
            int k = Math.Min(position, TrackedPositions);
            return (_accepted[k] + (PoolWeight * pooled)) / (_attempts[k] + PoolWeight);
        }
    }
}
