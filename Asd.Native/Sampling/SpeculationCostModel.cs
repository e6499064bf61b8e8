namespace Asd.Native.Sampling;

/// <summary>
/// The renewal-reward model of one ASD round that both the automatic speculation length and <c>asd bench</c>'s
/// ceiling use. A round that drafts L' rows advances 1 + (positions reached among 1 .. L'-1) steps and costs one
/// call of L' rows, plus one single-row call when a draft is rejected:
/// <code>
///   reach(j) = prod_{k=1}^{j-1} q_k          (reach(1) = 1)
///   E[steps] = 1 + sum_{j=1}^{L'-1} reach(j)
///   E[cost]  = T(L') + (1 - reach(L')) T(1)
///   rate(L') = E[steps] / E[cost]            (steps per second)
/// </code>
/// q_k is the acceptance of draft position k given that positions 1 .. k-1 were accepted (what
/// <see cref="SamplingStats.AcceptanceByPosition"/> measures). DDPM's rate is 1 / T(1), so the wall-clock speedup
/// the model predicts for L is T(1) rate(L).
/// </summary>
public static class SpeculationCostModel
{
    /// <summary>
    /// Finds the L in 1 .. <paramref name="maxLength"/> with the highest rate; ties go to the shorter L.
    /// </summary>
    /// <param name="acceptance">q_k by position: <c>acceptance(k)</c> for k &gt;= 1, in [0, 1].</param>
    /// <param name="callSeconds">T(B): the seconds of one call of B rows.</param>
    /// <param name="maxLength">The largest L to consider (&gt;= 1).</param>
    /// <param name="bestRate">The rate of the chosen L, in steps per second.</param>
    /// <param name="onGrid">Consider only lengths on <see cref="OnLengthGrid"/> (and <paramref name="alsoAllowed"/>), as auto drafts.</param>
    /// <param name="alsoAllowed">With <paramref name="onGrid"/>, one more length to consider (a chain's steps left).</param>
    /// <returns>The best L.</returns>
    public static int BestLength<TAcceptance, TCost>(TAcceptance acceptance, TCost callSeconds, int maxLength, out double bestRate, bool onGrid = false, int alsoAllowed = 0)
        where TAcceptance : IPositionAcceptance, allows ref struct
        where TCost : IBatchCost, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        Span<double> cost = maxLength < 512 ? stackalloc double[maxLength + 1] : new double[maxLength + 1];
        Span<double> minCostFrom = maxLength < 512 ? stackalloc double[maxLength + 1] : new double[maxLength + 1];
        Tabulate(callSeconds, maxLength, cost, minCostFrom);
        return BestLength(acceptance, cost, minCostFrom, maxLength, out bestRate, onGrid, alsoAllowed);
    }

    /// <summary>
    /// The lengths auto drafts: 1, 2, 3, then 2^k and 3 x 2^k (4, 6, 8, 12, 16, 24, 32, ...), each 1.33-1.5x the one
    /// before. Near its optimum the predicted rate is flat, and neighbouring lengths predict within a percent or two of
    /// each other, so which of them won moved with timing noise from run to run (builtin:policy with a remembered curve:
    /// the most used L of a run was 3, 5, 9, 10, 12 in different runs); grid points differ by more than that noise, and
    /// their calls are the sizes the calibration times (1, 2, 4, 6, 8, 12, ...). A chain's last round, cut to the steps
    /// left, is allowed besides (see <see cref="BestLength{TAcceptance}"/>).
    /// </summary>
    public static bool OnLengthGrid(int length)
    {
        if (length < 1)
        {
            return false;
        }

        int odd = length % 3 == 0 ? length / 3 : length;
        return (odd & (odd - 1)) == 0;
    }

    /// <summary>The largest length on <see cref="OnLengthGrid"/> below <paramref name="length"/> (1 for 2 or less).</summary>
    public static int GridBelow(int length)
    {
        int l = Math.Max(1, length - 1);
        while (!OnLengthGrid(l))
        {
            l--;
        }

        return l;
    }

    /// <summary>
    /// <see cref="BestLength{TAcceptance, TCost}"/> on a tabulated cost, for the per-round choice: <paramref name="cost"/>
    /// holds T(L) at index L (1 .. maxLength) and <paramref name="minCostFrom"/> at index L the minimum of T over
    /// [L, maxLength] (see <see cref="Tabulate"/>). It returns the same L and rate, but stops once no longer draft can
    /// win: a draft of L' &gt; l rows adds at most (maxLength - l) reach(l+1) steps to the l-row draft's E[steps] and costs at
    /// least minCostFrom[l+1], so when that ratio cannot beat the best rate the rest of the search is skipped. On a
    /// model whose calls cost microseconds this keeps the choice itself from costing as much as a call.
    /// </summary>
    public static int BestLength<TAcceptance>(TAcceptance acceptance, ReadOnlySpan<double> cost, ReadOnlySpan<double> minCostFrom, int maxLength, out double bestRate, bool onGrid = false, int alsoAllowed = 0)
        where TAcceptance : IPositionAcceptance, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        if (cost.Length <= maxLength || minCostFrom.Length <= maxLength)
        {
            throw new ArgumentException($"The cost tables need {maxLength + 1} entries (index 0 unused).", nameof(cost));
        }

        double t1 = cost[1];
        int best = 1;
        bestRate = 1.0 / t1;
        double steps = 1, reach = 1;
        for (int l = 2; l <= maxLength; l++)
        {
            steps += reach;
            reach *= Math.Clamp(acceptance.Acceptance(l - 1), 0.0, 1.0);
            double rate = steps / (cost[l] + ((1 - reach) * t1));
            if (rate > bestRate * (1 + 1e-12) && (!onGrid || l == alsoAllowed || OnLengthGrid(l)))
            {
                bestRate = rate;
                best = l;
            }

            // Every longer draft (the grid's among them): E[steps] <= steps + (maxLength - l) reach, E[cost] >= min T
            // over (l, maxLength].
            if (l == maxLength || (steps + ((maxLength - l) * reach)) / minCostFrom[l + 1] <= bestRate * (1 + 1e-12))
            {
                break;
            }
        }

        return best;
    }

    /// <summary>
    /// Fills <paramref name="cost"/>[L] = T(L) and <paramref name="minCostFrom"/>[L] = min of T over [L, maxLength], for
    /// L = 1 .. maxLength (index 0 unused), for <see cref="BestLength{TAcceptance}"/>.
    /// </summary>
    public static void Tabulate<TCost>(TCost callSeconds, int maxLength, Span<double> cost, Span<double> minCostFrom)
        where TCost : IBatchCost, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        for (int l = 1; l <= maxLength; l++)
        {
            cost[l] = callSeconds.Seconds(l);
        }

        minCostFrom[maxLength] = cost[maxLength];
        for (int l = maxLength - 1; l >= 1; l--)
        {
            minCostFrom[l] = Math.Min(cost[l], minCostFrom[l + 1]);
        }
    }

    /// <summary>
    /// T(B) per chain when <paramref name="chains"/> chains share every call (each brings B rows): T(chains B) / chains.
    /// </summary>
    public readonly struct SharedCost(IBatchCost curve, int chains) : IBatchCost
    {
        /// <inheritdoc/>
        public double Seconds(int rows) => curve.Seconds(rows * chains) / chains;
    }

    /// <summary>The predicted steps per second of a round of exactly <paramref name="length"/> rows.</summary>
    public static double Rate<TAcceptance, TCost>(TAcceptance acceptance, TCost callSeconds, int length)
        where TAcceptance : IPositionAcceptance, allows ref struct
        where TCost : IBatchCost, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        double steps = 1, reach = 1;
        for (int j = 1; j < length; j++)
        {
            steps += reach;
            reach *= Math.Clamp(acceptance.Acceptance(j), 0.0, 1.0);
        }

        return steps / (callSeconds.Seconds(length) + ((1 - reach) * callSeconds.Seconds(1)));
    }
}

/// <summary>q_k: the acceptance of draft position k &gt;= 1 given that the positions before it were accepted.</summary>
public interface IPositionAcceptance
{
    /// <summary>q_k in [0, 1].</summary>
    double Acceptance(int position);
}

/// <summary>T(B): the seconds of one denoiser call of B rows.</summary>
public interface IBatchCost
{
    /// <summary>T(B) for B &gt;= 1.</summary>
    double Seconds(int rows);
}

/// <summary>Acceptance by position from counts (<see cref="SamplingStats.AcceptanceByPosition"/>).</summary>
/// <remarks>
/// Positions never attempted take the acceptance of the last attempted one: a run with fixed L says nothing about
/// longer drafts, and assuming they fare no better than the longest one seen is the cautious extrapolation.
/// </remarks>
public sealed class MeasuredAcceptance : IPositionAcceptance
{
    private readonly double[] _q;

    /// <summary>Builds q_k = accepted / attempts for each attempted position.</summary>
    public MeasuredAcceptance(IEnumerable<PositionAcceptance> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var byPosition = new SortedDictionary<int, (long Attempts, long Accepted)>();
        foreach (PositionAcceptance p in counts)
        {
            if (p.Position < 1 || p.Attempts < 0 || p.Accepted < 0 || p.Accepted > p.Attempts)
            {
                throw new ArgumentException($"Invalid acceptance counts at position {p.Position}: {p.Accepted} of {p.Attempts}.", nameof(counts));
            }

            byPosition.TryGetValue(p.Position, out (long Attempts, long Accepted) sum);
            byPosition[p.Position] = (sum.Attempts + p.Attempts, sum.Accepted + p.Accepted);
        }

        int max = byPosition.Count == 0 ? 0 : byPosition.Keys.Max();
        _q = new double[max + 1];
        double last = 1;
        for (int k = 1; k <= max; k++)
        {
            if (byPosition.TryGetValue(k, out (long Attempts, long Accepted) c) && c.Attempts > 0)
            {
                last = (double)c.Accepted / c.Attempts;
            }

            _q[k] = last;
        }
    }

    /// <summary>The longest position with data.</summary>
    public int MaxPosition => _q.Length - 1;

    /// <inheritdoc/>
    public double Acceptance(int position) => _q.Length <= 1 ? 1 : _q[Math.Clamp(position, 1, _q.Length - 1)];
}
