namespace Asd.Tests.Sampling;

/// <summary>
/// The cost model's parts one by one, as their documentation states them: the argument checks, the tabulated minimum,
/// the shared-call cost, the early exit of the search (it must stop, not only find the argmax), the search allocating
/// nothing, and the measured acceptance's validation and extrapolation. (Mutation study, target 'auto': these were
/// reached only through whole runs, where a wrong table entry or a search that never stops changes nothing visible.)
/// </summary>
public sealed class SpeculationCostModelTests
{
    private sealed class Constant(double q) : IPositionAcceptance
    {
        public double Acceptance(int position) => q;
    }

    /// <summary>q, counting the positions the search asked for.</summary>
    private sealed class Counting(double q) : IPositionAcceptance
    {
        public int Asked { get; private set; }

        public double Acceptance(int position)
        {
            Asked = Math.Max(Asked, position);
            return q;
        }
    }

    private sealed class Linear(double overhead, double perRow) : IBatchCost
    {
        public double Seconds(int rows) => overhead + (perRow * rows);
    }

    private sealed class Table(double[] seconds) : IBatchCost
    {
        public double Seconds(int rows) => seconds[rows];
    }

    [Fact]
    public void LengthsBelowOneAreRefused()
    {
        var q = new Constant(0.9);
        var cost = new Linear(1, 0.1);
        double[] table = new double[9];
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeculationCostModel.BestLength(q, cost, 0, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeculationCostModel.BestLength(q, table, table, 0, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeculationCostModel.Tabulate(cost, 0, table, table));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpeculationCostModel.Rate(q, cost, 0));
    }

    [Fact]
    public void CostTablesShorterThanTheLengthAreRefused()
    {
        var q = new Constant(0.9);
        double[] full = [0, 1, 1.1, 1.2, 1.3], shorter = [0, 1, 1.1, 1.2];
        Assert.Contains("need 5 entries", Assert.Throws<ArgumentException>(() => SpeculationCostModel.BestLength(q, shorter, full, 4, out _)).Message);
        Assert.Contains("need 5 entries", Assert.Throws<ArgumentException>(() => SpeculationCostModel.BestLength(q, full, shorter, 4, out _)).Message);
        Assert.Equal(4, SpeculationCostModel.BestLength(new Constant(1), full, [0, 1, 1.1, 1.2, 1.3], 4, out _));
    }

    [Fact]
    public void TabulateHoldsTheCostAndItsMinimumFromEachLengthOn()
    {
        double[] seconds = [double.NaN, 5, 3, 4, 1, 2, 6];
        var cost = new double[7];
        var minFrom = new double[7];
        SpeculationCostModel.Tabulate(new Table(seconds), 6, cost, minFrom);
        Assert.Equal(seconds[1..], cost[1..]);
        Assert.Equal([1, 1, 1, 1, 2, 6], minFrom[1..]); // min of T over [L, 6], L = 1 .. 6
    }

    [Fact]
    public void ASharedCallCostsEachChainItsShare()
    {
        var curve = new Table([double.NaN, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5]);
        var shared = new SpeculationCostModel.SharedCost(curve, 3);
        Assert.Equal(2.0 / 3, shared.Seconds(1), 15);  // T(3) / 3
        Assert.Equal(6.5 / 3, shared.Seconds(4), 15);  // T(12) / 3
    }

    [Theory]
    [InlineData(40)]
    [InlineData(256)]
    [InlineData(600)] // past the search's stack tables (512): its heap tables are sized the same
    public void TheSearchStopsOnceNoLongerDraftCanWin(int maxLength)
    {
        // T(B) = B and q = 0.5: L = 1 is best, and once reach (0.5^(l-1)) is small the bound (steps + (max - l) reach)
        // / T(l + 1) is below L = 1's rate: the search must stop within a dozen lengths, not read all of them.
        var q = new Counting(0.5);
        Assert.Equal(1, SpeculationCostModel.BestLength(q, new Linear(0, 1), maxLength, out double rate));
        Assert.Equal(1.0, rate, 15);
        Assert.InRange(q.Asked, 1, 12);

        // Same answer through the tabulated search, which the per-round choice uses.
        var cost = new double[maxLength + 1];
        var minFrom = new double[maxLength + 1];
        SpeculationCostModel.Tabulate(new Linear(0, 1), maxLength, cost, minFrom);
        var again = new Counting(0.5);
        Assert.Equal(1, SpeculationCostModel.BestLength(again, cost, minFrom, maxLength, out _));
        Assert.InRange(again.Asked, 1, 12);
    }

    [Fact]
    public void TheSearchAllocatesNothing()
    {
        var q = new Constant(0.9);
        var cost = new Linear(1, 0.05);
        SpeculationCostModel.BestLength(q, cost, 256, out _); // compiled first
        long before = GC.GetAllocatedBytesForCurrentThread();
        int best = SpeculationCostModel.BestLength(q, cost, 256, out _);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(best > 1);
    }

    [Fact]
    public void MeasuredAcceptanceRefusesImpossibleCounts()
    {
        Assert.Throws<ArgumentNullException>(() => new MeasuredAcceptance(null!));
        foreach (PositionAcceptance bad in (PositionAcceptance[])[new(0, 2, 1), new(1, -1, 0), new(1, 2, -1), new(1, 2, 3)])
        {
            var e = Assert.Throws<ArgumentException>(() => new MeasuredAcceptance([bad]));
            Assert.Contains($"at position {bad.Position}: {bad.Accepted} of {bad.Attempts}", e.Message);
        }

        // The edges are counts: none accepted, all accepted, nothing attempted.
        _ = new MeasuredAcceptance([new(1, 0, 0), new(2, 3, 0), new(3, 3, 3)]);
    }

    [Fact]
    public void MeasuredAcceptanceWithoutDataAssumesEveryDraftAccepted()
    {
        var none = new MeasuredAcceptance([]);
        Assert.Equal(0, none.MaxPosition);
        Assert.Equal(1.0, none.Acceptance(1));
        Assert.Equal(1.0, none.Acceptance(7));
    }

    [Fact]
    public void MeasuredAcceptanceSumsRepeatedPositionsAndSkipsUnattemptedOnes()
    {
        // Position 2 has a row with no attempts: it takes position 1's value, not 0 / 0. Position 3 comes in two rows
        // (two runs' counts), which add up.
        var q = new MeasuredAcceptance([new(1, 4, 3), new(2, 0, 0), new(3, 2, 2), new(3, 2, 0)]);
        Assert.Equal(3, q.MaxPosition);
        Assert.Equal(0.75, q.Acceptance(1), 15);
        Assert.Equal(0.75, q.Acceptance(2), 15);
        Assert.Equal(0.5, q.Acceptance(3), 15);
        Assert.Equal(0.5, q.Acceptance(9), 15);
        Assert.Equal(0.75, q.Acceptance(0), 15); // below 1: position 1's
    }
}
