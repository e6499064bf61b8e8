namespace Asd.Native.Sampling;

/// <summary>
/// The automatic speculation length: before each round, chain c drafts the L that maximises the expected steps per
/// second of <see cref="SpeculationCostModel"/>, from the batch-cost curve and the chain's own running estimate of
/// acceptance by draft position.
/// </summary>
/// <remarks>
/// <para>Exactness does not depend on this choice: L is fixed before the round's noise is drawn and depends only on
/// the past, and every step of a round has the target's law given its prefix whatever L is (docs/math.md section 3).</para>
/// <para>Determinism: each chain's estimate uses only its own history, and the cost curve is fixed for the run, so
/// with a given curve a chain's L sequence, hence its bytes, depend only on the seed, its chain id, the curve and the
/// run's chain count and row cap (which scale the curve), not on thread count or timing.</para>
/// <para>The estimate: decayed counts per position (factor <see cref="Decay"/> per round, so it follows the change
/// of acceptance along the trajectory), shrunk towards the chain's pooled rate, which is itself shrunk towards a
/// prior of <see cref="PriorAcceptance"/>. Positions from <see cref="TrackedPositions"/> on share one count.</para>
/// </remarks>
internal sealed class AutoSpeculation
{
    /// <summary>Positions with their own counts per chain.</summary>
    public const int TrackedPositions = 64;

    /// <summary>The longest L considered.</summary>
    public const int MaxLength = 256;

    /// <summary>Acceptance assumed before any evidence.</summary>
    public const double PriorAcceptance = 0.9;

    /// <summary>Weight of the prior, in pseudo-attempts.</summary>
    public const double PriorWeight = 2;

    /// <summary>Weight of the pooled rate in each position's estimate, in pseudo-attempts.</summary>
    public const double PoolWeight = 2;

    /// <summary>Per-round decay of the counts.</summary>
    public const double Decay = 0.85;

    /// <summary>
    /// The least predicted gain over L = 1 worth a draft: below it the round runs L = 1 (DDPM's step). The model is
    /// optimistic by about this much where speculation barely pays (shared calls whose cost grows linearly with rows:
    /// chains that finish late pay whole calls alone, which the per-chain share T(nB) / n does not see), and a draft
    /// that wins 2% on paper lost 5% in wall-clock there (the 16x16 UNet fixture through ONNX Runtime, 16 chains).
    /// </summary>
    public const double MinimumGain = 0.05;

    private const int Stride = TrackedPositions + 1;
    private readonly CostCurve _curve;
    private readonly int _perCall;
    private readonly int _maxLength;
    private double[] _attempts = [], _accepted = [];
    private double[] _poolAttempts = [], _poolAccepted = [];
    private long[] _chosen = [];
    private double[] _cost = [], _minCostFrom = [];
    private int _tabulatedChains;

    /// <summary>Creates the controller for runs of <paramref name="chains"/> chains and a cap of <paramref name="rowsPerCall"/> rows.</summary>
    public AutoSpeculation(CostCurve curve, int rowsPerCall)
    {
        _curve = curve;
        _perCall = rowsPerCall;
        _maxLength = Math.Min(MaxLength, rowsPerCall);
    }

    /// <summary>Rounds that chose each L in the last run (index L); the array is reused by the next run.</summary>
    public long[] ChosenHistogram => _chosen;

    /// <summary>Clears the estimates for a run of <paramref name="chains"/> chains.</summary>
    public void Reset(int chains)
    {
        int n = chains * Stride;
        if (_attempts.Length < n)
        {
            _attempts = new double[n];
            _accepted = new double[n];
            _poolAttempts = new double[chains];
            _poolAccepted = new double[chains];
        }
        else
        {
            Array.Clear(_attempts);
            Array.Clear(_accepted);
            Array.Clear(_poolAttempts);
            Array.Clear(_poolAccepted);
        }

        if (_chosen.Length < _maxLength + 1)
        {
            _chosen = new long[_maxLength + 1];
        }
        else
        {
            Array.Clear(_chosen);
        }

        // Chains that share a call share its cost: with n of them, a call of B rows each costs T(n B) / n per chain.
        ChainsPerCall = Math.Clamp(chains, 1, _perCall);
        if (_cost.Length < _maxLength + 1)
        {
            _cost = new double[_maxLength + 1];
            _minCostFrom = new double[_maxLength + 1];
            _tabulatedChains = 0;
        }

        if (_tabulatedChains != ChainsPerCall)
        {
            // The per-round search reads a table instead of evaluating the curve (once per chain count).
            SpeculationCostModel.Tabulate(new SpeculationCostModel.SharedCost(_curve, ChainsPerCall), _maxLength, _cost, _minCostFrom);
            _tabulatedChains = ChainsPerCall;
        }
    }

    private int ChainsPerCall { get; set; } = 1;

    /// <summary>The L for chain <paramref name="chain"/>'s next round, at most <paramref name="remaining"/>.</summary>
    public int Choose(int chain, int remaining)
    {
        int cap = Math.Min(remaining, Math.Max(1, Math.Min(_maxLength, _perCall / ChainsPerCall)));
        var acceptance = new ChainAcceptance(
            _attempts.AsSpan(chain * Stride, Stride),
            _accepted.AsSpan(chain * Stride, Stride),
            (_poolAccepted[chain] + (PriorWeight * PriorAcceptance)) / (_poolAttempts[chain] + PriorWeight));
        int l = 1;
        if (cap > 1)
        {
            l = SpeculationCostModel.BestLength(acceptance, _cost, _minCostFrom.AsSpan(0, cap + 1), cap, out double rate);
            if (rate * _cost[1] < 1 + MinimumGain)
            {
                l = 1;
            }
        }

        _chosen[l]++;
        return l;
    }

    /// <summary>Records the outcome of draft position <paramref name="position"/> (&gt;= 1) of chain <paramref name="chain"/>.</summary>
    public void Record(int chain, int position, bool accepted)
    {
        int k = chain * Stride + Math.Min(position, TrackedPositions);
        _attempts[k] += 1;
        _poolAttempts[chain] += 1;
        if (accepted)
        {
            _accepted[k] += 1;
            _poolAccepted[chain] += 1;
        }
    }

    /// <summary>Ages chain <paramref name="chain"/>'s counts at the end of a round.</summary>
    public void EndRound(int chain)
    {
        Span<double> a = _attempts.AsSpan(chain * Stride, Stride), s = _accepted.AsSpan(chain * Stride, Stride);
        for (int k = 1; k < Stride; k++)
        {
            a[k] *= Decay;
            s[k] *= Decay;
        }

        _poolAttempts[chain] *= Decay;
        _poolAccepted[chain] *= Decay;
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
