namespace Asd.Native.Sampling;

/// <summary>
/// Autospeculative decoding (docs/math.md section 3): each round drafts up to L future steps by reusing the current
/// model value m_i, verifies all drafts with one batched call, accepts or corrects them with the Gaussian
/// rejection sampler (reflection on the first rejection), and after a rejection makes one call at the corrected
/// state. The output has exactly the law of <see cref="DdpmSampler"/> for any denoiser.
/// </summary>
/// <remarks>
/// Many chains advance at once, each at its own pace: one invocation carries rows of several chains (a single
/// row for a chain that needs the model at its state, draft rows for a chain that verifies). When a round needs
/// more rows than <see cref="SamplerOptions.MaxBatchRows"/> leaves, it is verified in several calls (segments):
/// the drafts and decisions are exactly those of the unsplit round, so results do not depend on the cap.
/// Noise is keyed by (chain, absolute step), which is why ASD with L = 1, or with a constant denoiser, gives
/// DDPM's bytes.
/// </remarks>
public sealed class AsdSampler : Sampler
{
    private readonly float[] _batchZ;
    private readonly float[] _corrected;
    private float[] _m = [], _xd = [], _md = [];
    private ChainRound[] _round = [];
    private int[] _inBatch = [];
    private readonly AutoSpeculation? _auto;
    private Action? _variantRun;

    /// <summary>Creates an ASD sampler.</summary>
    public AsdSampler(IDenoiser denoiser, InferencePlan plan, SamplerOptions? options = null)
        : base(denoiser, plan, options ?? new SamplerOptions())
    {
        _batchZ = new float[BatchCapacity * D];
        _corrected = new float[D];
        SpeculationLimit = Options.SpecLength.Limit;
        if (Options.SpecLength.IsAuto)
        {
            // The curve is measured once, by SamplerFactory (or given): a sampler never times its denoiser.
            CostCurve = Options.CostCurve ?? throw new ArgumentException(
                "spec_len auto needs the denoiser's batch-cost curve: build the sampler with SamplerFactory.Create, which measures it once per model, or give cost_curve.");
            _auto = new AutoSpeculation(CostCurve, RowsPerCall);
            CompileDdpmRuns();
        }
    }

    private static int s_ddpmRunsCompiled;

    /// <summary>
    /// Compiles, once per process, the methods only a run that takes DDPM's steps calls (<see cref="RunAsDdpm"/>).
    /// </summary>
    /// <remarks>
    /// A JIT build compiles a method at its first call, fully optimised where tiered compilation is off (the CLI). Such
    /// a run comes no sooner than a sampler's second run, after any warm-up, so its compilation landed inside a
    /// request: in <c>asd bench --trace-runs</c> on the 2-D mixture auto's first timed repeat took 1.9-2.1 ms against
    /// 0.08-0.1 ms for the others (one cold bench in ten had auto at 0.69x of DDPM). Under Native AOT there is nothing
    /// to compile. <see cref="AutoSpeculation.RunsAsDdpm"/> decides on every run, so its own code is compiled by the
    /// first.
    /// </remarks>
    private static void CompileDdpmRuns()
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled || Interlocked.Exchange(ref s_ddpmRunsCompiled, 1) != 0)
        {
            return;
        }

        const System.Reflection.BindingFlags Flags = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        foreach (System.Reflection.MethodInfo? m in (System.Reflection.MethodInfo?[])[
            typeof(AsdSampler).GetMethod(nameof(RunAsDdpm), Flags),
            typeof(Sampler).GetMethod(nameof(RunDdpmSteps), Flags),
            typeof(Sampler).GetMethod(nameof(AfterDdpmStep), Flags),
            typeof(AutoSpeculation).GetMethod(nameof(AutoSpeculation.RecordDdpmRounds), Flags)])
        {
            if (m is not null)
            {
                System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle);
            }
        }
    }

    private enum Phase : byte
    {
        NeedModel,
        Draft,
        Done,
    }

    /// <summary>
    /// Where a chain's round stands: its step i, the round's length L, the drafts checked so far, the chain's rows in
    /// the current call, and what it needs next.
    /// </summary>
    private struct ChainRound
    {
        public int Step, Length, Drafted, RowStart, RowCount;
        public Phase Phase;

        /// <summary>Whether auto chose this round's length to explore (<see cref="AutoSpeculation.LastChoiceExplored"/>).</summary>
        public bool Explores;
    }

    /// <summary>The fixed L that runs (int.MaxValue for unbounded or automatic).</summary>
    public int SpeculationLimit { get; }

    /// <summary>The batch-cost curve the automatic speculation length uses (null for a fixed L).</summary>
    public CostCurve? CostCurve { get; }

    /// <summary>
    /// Runs <paramref name="variant"/> instead of exact ASD: the test suite's negative controls (deliberately broken
    /// variants) come in here. Production never calls it, and its round loop is compiled for <see cref="ExactAsd"/>.
    /// </summary>
    internal void UseVariant<TVariant>(TVariant variant)
        where TVariant : struct, IAsdVariant => _variantRun = () => RunRounds(variant);

    /// <inheritdoc/>
    protected override void ResetStats(SamplingStats stats)
    {
        stats.Reset("asd", Plan.Steps, N, Options.SpecLength.ToString(), Options.SpecLength.ToString());
        _auto?.Reset(N);
        stats.ChosenLengths = _auto is null ? null : _auto.ChosenHistogram;
    }

    /// <summary>
    /// For automatic L, one line on what the last run chose and why (<see cref="AutoSpeculation.Explain"/>); null for
    /// a fixed L.
    /// </summary>
    public string? AutoExplanation => _auto?.Explain(Stats);

    /// <summary>As <see cref="AutoExplanation"/>, its first word replaced by <paramref name="label"/> (for example "auto, last request").</summary>
    public string? ExplainAuto(string label) => _auto?.Explain(Stats, label);

    /// <summary>The automatic length's controller (null for a fixed L); tests read its state after a run.</summary>
    internal AutoSpeculation? Auto => _auto;

    /// <summary>For automatic L, rounds of the last run that explored a neighbouring length (0 for a fixed L).</summary>
    public long ExploredRounds => _auto?.ExploredRounds ?? 0;

    /// <summary>For automatic L, T(B) as auto believes it now (corrected by the timings when the curve learns); null for a fixed L.</summary>
    public IBatchCost? CurrentCost => _auto?.CurrentCost;

    /// <inheritdoc/>
    public override long BytesPerChain =>
        base.BytesPerChain + (3L * 4 * D) + System.Runtime.CompilerServices.Unsafe.SizeOf<ChainRound>() + sizeof(int) + (_auto is null ? 0 : AutoSpeculation.BytesPerChain);

    /// <inheritdoc/>
    protected override long ValuesPerChain => Math.Max(base.ValuesPerChain, _auto is null ? 0 : AutoSpeculation.ValuesPerChain);

    /// <inheritdoc/>
    protected override void EnsureChainBuffers(int count)
    {
        base.EnsureChainBuffers(count);
        if (_round.Length < count)
        {
            _m = new float[count * D];
            _xd = new float[count * D];
            _md = new float[count * D];
            _round = new ChainRound[count];
            _inBatch = new int[count];
        }
    }

    private Span<float> M(int chain) => Rows(_m, D).GetRowSpan(chain);

    private Span<float> Xd(int chain) => Rows(_xd, D).GetRowSpan(chain);

    private Span<float> Md(int chain) => Rows(_md, D).GetRowSpan(chain);

    private Span<float> BatchZ(int row) => Rows(_batchZ, D).GetRowSpan(row);

    /// <inheritdoc/>
    protected override void Run()
    {
        if (_variantRun is { } run)
        {
            run();
        }
        else if (_auto is { } auto)
        {
            // Every run is timed whole for auto's run-level check (AutoSpeculation.RecordRun).
            long start = Clock.GetTimestamp();
            if (auto.RunsAsDdpm())
            {
                RunAsDdpm(auto);
            }
            else
            {
                RunRounds(default(ExactAsd));
            }

            auto.RecordRun((Clock.GetTimestamp() - start) / (double)Clock.TimestampFrequency, (long)N * Plan.Steps);
        }
        else
        {
            RunRounds(default(ExactAsd));
        }
    }

    /// <summary>
    /// DDPM's own loop, for a run auto decided would draft nothing (<see cref="AutoSpeculation.RunsAsDdpm"/>): the same
    /// model calls, noise and bytes as rounds of L = 1, without their bookkeeping. Its steps count as rounds of L = 1.
    /// </summary>
    private void RunAsDdpm(AutoSpeculation auto)
    {
        long before = Stats.Rounds;
        RunDdpmSteps();
        long rounds = Stats.Rounds - before;
        Stats.RoundLengthsRaw[1] += rounds;
        auto.RecordDdpmRounds(rounds);
    }

    private void RunRounds<TVariant>(TVariant variant)
        where TVariant : struct, IAsdVariant
    {
        for (int c = 0; c < N; c++)
        {
            _round[c].Step = 0;
            _round[c].Phase = Phase.NeedModel;
        }

        int active = N, cursor = 0;
        AutoSpeculation? learner = _auto is { Learns: true } a ? a : null;
        while (active > 0)
        {
            // A learning auto times each call with everything the sampler does for its rows (drafting, the call,
            // the checks and the next choice of L), so that long drafts carry their own verification cost.
            // Not while every chain runs a DDPM streak of auto's (AutoSpeculation.WantsTiming).
            bool timed = learner is { WantsTiming: true };
            long start = timed ? Clock.GetTimestamp() : 0;
            BeginBatch();
            int chainsInBatch = 0, next = -1;
            bool explores = false;
            for (int t = 0; t < N; t++)
            {
                int c = (cursor + t) % N;
                if (_round[c].Phase == Phase.Done)
                {
                    continue;
                }

                int nextStep = _round[c].Phase == Phase.NeedModel ? _round[c].Step : _round[c].Step + _round[c].Drafted + 1;
                if (BatchCapacityLeft == 0 || !FitsBatch(nextStep))
                {
                    // Left for a later call; the next batch starts with the first chain that did not get in.
                    next = next < 0 ? c : next;
                    continue;
                }

                if (_round[c].Phase == Phase.NeedModel)
                {
                    int row = AddRow(c, _round[c].Step);
                    XRow(c).CopyTo(BatchInput(row));
                    _round[c].RowStart = row;
                    _round[c].RowCount = 1;
                }
                else
                {
                    // A model that takes one timestep per call gets one draft row per chain per call (a segment of 1).
                    int rows = Denoiser.SharedTimestep ? 1 : Math.Min(_round[c].Length - _round[c].Drafted, BatchCapacityLeft);
                    DraftRows(c, rows);
                    explores |= _round[c].Explores;
                }

                _inBatch[chainsInBatch++] = c;
            }

            cursor = next < 0 ? cursor : next;
            Invoke();
            for (int b = 0; b < chainsInBatch; b++)
            {
                int c = _inBatch[b];
                if (_round[c].Phase == Phase.NeedModel)
                {
                    ReceiveModel(c);
                }
                else
                {
                    Verify(c, in variant);
                }

                if (_round[c].Phase == Phase.Done)
                {
                    active--;
                }
            }

            if (timed)
            {
                learner!.Observe(BatchRows, (Clock.GetTimestamp() - start) / (double)Clock.TimestampFrequency, explores);
            }
            else
            {
                learner?.NoteCall(BatchRows);
            }
            ReportProgress();
        }
    }

    /// <summary>Drafts rows xd_{q+1} .. xd_{q+n} of chain c's round, every one reusing m_i.</summary>
    private void DraftRows(int c, int n)
    {
        int i = _round[c].Step, q = _round[c].Drafted;
        ReadOnlySpan<float> mi = M(c);
        int first = -1;
        for (int k = 0; k < n; k++)
        {
            int j = q + k;
            ReadOnlySpan<float> previous = k > 0 ? BatchInput(first + k - 1) : q == 0 ? XRow(c) : Xd(c);
            int row = AddRow(c, i + j + 1);
            if (k == 0)
            {
                first = row;
            }

            Span<float> z = BatchZ(row);
            if (Plan.SigmaF[i + j] == 0f)
            {
                z.Clear();
            }
            else
            {
                Noise.Gaussian(ChainId(c), i + j, NoisePurpose.Step, z);
            }

            Plan.Step(i + j, previous, mi, z, BatchInput(row));
        }

        _round[c].RowStart = first;
        _round[c].RowCount = n;
    }

    /// <summary>A chain that asked for m at its state gets it; then it finishes or starts a round.</summary>
    private void ReceiveModel(int c)
    {
        ReadOnlySpan<float> m = BatchOutput(_round[c].RowStart);
        CheckFinite(m, c, _round[c].Step);
        m.CopyTo(M(c));
        Advance(c);
    }

    private void Advance(int c)
    {
        int k = Plan.Steps;
        if (_round[c].Step == k - 1)
        {
            // The last step: output = a x + b m + sigma z with a = 0, b = 1; no model call follows it.
            Span<float> x = XRow(c);
            Plan.Step(k - 1, x, M(c), DrawStepNoise(c, k - 1), x);
            _round[c].Phase = Phase.Done;
            CompletedSteps++;
            return;
        }

        if (_auto is { } auto)
        {
            auto.EndRound(c);
            _round[c].Length = auto.Choose(c, k - 1 - _round[c].Step);
            _round[c].Explores = auto.LastChoiceExplored;
        }
        else
        {
            _round[c].Length = Math.Min(SpeculationLimit, k - 1 - _round[c].Step);
        }

        Stats.RoundLengthsRaw[_round[c].Length]++;
        _round[c].Drafted = 0;
        _round[c].Phase = Phase.Draft;
        Stats.Rounds++;
    }

    /// <summary>Verifies the steps covered by chain c's segment, in order, stopping at the first rejection.</summary>
    private void Verify<TVariant>(int c, in TVariant variant)
        where TVariant : struct, IAsdVariant
    {
        int i = _round[c].Step, q = _round[c].Drafted, n = _round[c].RowCount, r0 = _round[c].RowStart;
        ReadOnlySpan<float> mi = M(c);
        Span<long> attempts = Stats.AttemptsRaw, accepted = Stats.AcceptedRaw;
        for (int k = 0; k < n; k++)
        {
            int j = q + k;
            if (j == 0)
            {
                continue; // Step 0 drafts with m_i itself: the draft is the target.
            }

            ReadOnlySpan<float> xdj = k == 0 ? Xd(c) : BatchInput(r0 + k - 1);
            ReadOnlySpan<float> mdj = k == 0 ? Md(c) : BatchOutput(r0 + k - 1);
            CheckFinite(mdj, c, i + j);
            CouplingDecision decision = variant.Decide(
                new DraftDecision
                {
                    Z = BatchZ(r0 + k),
                    TargetModel = mdj,
                    DraftModel = mi,
                    Plan = Plan,
                    Step = i + j,
                    Position = j,
                    Noise = Noise,
                    Chain = ChainId(c),
                },
                _corrected);
            attempts[j]++;
            _auto?.Record(c, j, decision == CouplingDecision.Accept);
            if (decision == CouplingDecision.Accept)
            {
                accepted[j]++;
                continue;
            }

            Plan.Step(i + j, xdj, mdj, _corrected, XRow(c));
            CompletedSteps += j + 1 - q;
            _round[c].Step = i + j + 1;
            if (variant.EvaluatesModelAfterRejection)
            {
                _round[c].Phase = Phase.NeedModel;
            }
            else
            {
                Advance(c);
            }

            return;
        }

        q += n;
        _round[c].Drafted = q;
        int last = r0 + n - 1;
        CompletedSteps += n;
        if (q == _round[c].Length)
        {
            // Every draft accepted: the last row's model value is m at the new state, so no extra call is needed.
            ReadOnlySpan<float> mNew = BatchOutput(last);
            CheckFinite(mNew, c, i + q);
            BatchInput(last).CopyTo(XRow(c));
            if (variant.AdoptsVerifiedModelAfterFullAcceptance)
            {
                mNew.CopyTo(M(c));
            }

            _round[c].Step = i + q;
            Advance(c);
        }
        else
        {
            BatchInput(last).CopyTo(Xd(c));
            BatchOutput(last).CopyTo(Md(c));
        }
    }
}
