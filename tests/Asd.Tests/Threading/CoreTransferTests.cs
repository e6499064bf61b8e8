using Asd.Cli.Bench;
using Asd.Native.Threading;

namespace Asd.Tests.Threading;

/// <summary>The core-to-core probe <c>asd bench</c> takes before and between its repeats (<see cref="MachineLimits.CoreTransferSeconds"/>).</summary>
public sealed class CoreTransferTests
{
    [Fact]
    public void TwoThreadsHandALineBackAndForthInAPlausibleTimeAndOneThreadHasNothingToMeasure()
    {
        using var two = new CorePool(2);
        double seconds = MachineLimits.CoreTransferSeconds(two);
        // A cache-line transfer takes tens to hundreds of nanoseconds on any multi-core CPU (an SMT sibling a few); a
        // probe that timed nothing, or its loop without the other thread, would read far below or far above.
        Assert.InRange(seconds, 1e-9, 20e-6);

        // The control: one thread cannot run the two halves at once, so the probe says it measured nothing.
        using var one = new CorePool(1);
        Assert.True(double.IsNaN(MachineLimits.CoreTransferSeconds(one)));
    }

    [Fact]
    public void AProbeCalledFromInsidePoolWorkRunsBothHalvesOnOneThreadAndGivesUpCleanly()
    {
        // Inside a chunk of a split call the pool runs nested work on the calling thread, as one range: no second
        // thread to answer, so the probe must neither hang nor report a time.
        using var pool = new CorePool(2);
        var inner = new ProbeWork(pool);
        pool.Run(inner, 2);
        Assert.True(double.IsNaN(inner.Seconds));
    }

    [Theory]
    [InlineData(new[] { 30e-9, 170e-9, 31e-9, 172e-9, 32e-9, 168e-9 }, true)] // two placements
    [InlineData(new[] { 30e-9, 31e-9, 32e-9, 29e-9, 30e-9, 400e-9 }, false)] // one preempted probe
    [InlineData(new[] { 165e-9, 170e-9, 172e-9, 168e-9, 175e-9 }, false)] // across complexes throughout
    public void ThePlacementCountsAsMovedOnlyWhenItsQuartilesAreTwoGroups(double[] probes, bool moved)
    {
        CoreTransfer? t = CoreTransfer.Of(probes);
        Assert.NotNull(t);
        Assert.Equal(moved, t.Moved);
        Assert.Equal(probes.Length, t.Probes);
        Assert.Equal(probes.Min(), t.LowSeconds);
        Assert.Equal(probes.Max(), t.HighSeconds);
    }

    [Fact]
    public void ProbesThatDidNotCompleteAreLeftOutAndNoneLeavesNoSummary()
    {
        CoreTransfer? t = CoreTransfer.Of([double.NaN, 40e-9, double.NaN, 60e-9, 50e-9]);
        Assert.NotNull(t);
        Assert.Equal(3, t.Probes);
        Assert.Equal(50e-9, t.MedianSeconds);
        Assert.Null(CoreTransfer.Of([double.NaN, double.NaN]));
    }

    private sealed class ProbeWork(CorePool pool) : IRangeWork
    {
        public double Seconds { get; private set; } = -1;

        public void Execute(int start, int end) => Seconds = MachineLimits.CoreTransferSeconds(pool);
    }
}
