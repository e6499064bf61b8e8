using System.Diagnostics;
using Asd.Native.Denoising;

namespace Asd.Tests.Denoising;

/// <summary>
/// <see cref="TwoWayChoice"/> on timings it is fed (deterministic: the calls' times are set, not measured): the other
/// way runs <see cref="TwoWayChoice.Block"/> calls in <see cref="TwoWayChoice.Period"/>, the first of a block and the
/// call after it untimed; the choice moves within a bounded number of calls once the other way is clearly faster, and
/// never within the margin (the control).
/// </summary>
public sealed class TwoWayChoiceTests
{
    private static readonly double Us = 1e-6;

    private static TwoWayChoice Start(int initial, double first, double second) =>
        new(initial, ["way 0", "way 1"], Enumerable.Repeat(first, 10).ToArray(), Enumerable.Repeat(second, 10).ToArray(), "the probe");

    /// <summary>Runs <paramref name="calls"/> calls whose times are <paramref name="time"/>(way); returns the call at which the choice first moved, or -1.</summary>
    private static int Drive(TwoWayChoice choice, int calls, Func<int, double> time)
    {
        int moved = -1, before = choice.Current;
        for (int call = 0; call < calls; call++)
        {
            TwoWayChoice.Ticket ticket = choice.Next();
            choice.Record(ticket, (long)(time(ticket.Way) * Stopwatch.Frequency));
            if (moved < 0 && choice.Current != before)
            {
                moved = call;
            }
        }

        return moved;
    }

    [Fact]
    public void TheOtherWayRunsAShortUntimedFirstBlockEveryPeriod()
    {
        TwoWayChoice choice = Start(0, 300 * Us, 400 * Us);
        var seen = new List<TwoWayChoice.Ticket>();
        // Ten whole blocks (the tenth starts at call 10 Period) and the call after the last.
        for (int call = 0; call < (10 * TwoWayChoice.Period) + TwoWayChoice.Block; call++)
        {
            TwoWayChoice.Ticket ticket = choice.Next();
            seen.Add(ticket);
            choice.Record(ticket, (long)((ticket.Way == 0 ? 300 : 400) * Us * Stopwatch.Frequency));
        }

        Assert.Equal(0, choice.Current);
        Assert.Equal(10 * TwoWayChoice.Block, seen.Count(t => t.Way == 1));
        Assert.Equal(10 * TwoWayChoice.Block, choice.Runs(1));
        for (int i = 0; i < seen.Count; i++)
        {
            bool blockStart = seen[i].Way == 1 && (i == 0 || seen[i - 1].Way == 0);
            bool afterBlock = seen[i].Way == 0 && i > 0 && seen[i - 1].Way == 1;
            Assert.True(seen[i].Timed == !(blockStart || afterBlock), $"call {i}: {seen[i]}");
            Assert.True(seen[i].EndsBlock == (seen[i].Way == 1 && (i + 1 == seen.Count || seen[i + 1].Way == 0)), $"call {i}: {seen[i]}");
        }

        // The first block starts at call Period (1-based), so the share is Block / Period.
        Assert.Equal(1, seen[TwoWayChoice.Period - 1].Way);
        Assert.Equal(0, seen[TwoWayChoice.Period - 2].Way);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void AClearlyFasterOtherWayTakesOverWithinAFewBlocks(int initial)
    {
        // The probe said the start was faster; then the machine changed and the other way takes 0.7 of its time.
        TwoWayChoice choice = Start(initial, initial == 0 ? 300 * Us : 450 * Us, initial == 0 ? 450 * Us : 300 * Us);
        int other = 1 - initial;
        int moved = Drive(choice, 10 * TwoWayChoice.Period, way => way == other ? 321 * Us : 465 * Us);
        Assert.Equal(other, choice.Current);
        Assert.InRange(moved, 0, ((TwoWayChoice.Window / 2) + 1) * TwoWayChoice.Period);
        Assert.Equal(1, choice.Switches);
        Assert.Contains("moved 1 time(s)", choice.Describe());
    }

    [Fact]
    public void ControlAWayWithinTheMarginNeverTakesOver()
    {
        TwoWayChoice choice = Start(0, 300 * Us, 300 * Us);
        Assert.Equal(-1, Drive(choice, 20 * TwoWayChoice.Period, way => way == 1 ? 300 * Us / 1.03 : 300 * Us));
        Assert.Equal(0, choice.Switches);

        // And back: after moving, a way that is slower again loses its place.
        int moved = Drive(choice, 10 * TwoWayChoice.Period, way => way == 1 ? 200 * Us : 300 * Us);
        Assert.True(moved >= 0 && choice.Current == 1);
        moved = Drive(choice, 10 * TwoWayChoice.Period, way => way == 1 ? 400 * Us : 300 * Us);
        Assert.True(moved >= 0 && choice.Current == 0);
        Assert.Equal(2, choice.Switches);
    }

    [Fact]
    public void UntimedCallsDoNotCount()
    {
        // Blocks of the other way whose untimed calls (a pool waking up) are fast and whose timed ones are slow: only
        // the timed count, so nothing moves. Control: the same calls timed move it.
        TwoWayChoice choice = Start(0, 300 * Us, 400 * Us);
        for (int block = 0; block < 2 * TwoWayChoice.Window; block++)
        {
            choice.Record(new TwoWayChoice.Ticket(1, Timed: false, EndsBlock: false), (long)(1 * Us * Stopwatch.Frequency));
            choice.Record(new TwoWayChoice.Ticket(1, Timed: false, EndsBlock: true), (long)(1 * Us * Stopwatch.Frequency));
        }

        Assert.Equal(0, choice.Current);

        TwoWayChoice control = Start(0, 300 * Us, 400 * Us);
        for (int block = 0; block < 2 * TwoWayChoice.Window; block++)
        {
            control.Record(new TwoWayChoice.Ticket(1, Timed: true, EndsBlock: false), (long)(1 * Us * Stopwatch.Frequency));
            control.Record(new TwoWayChoice.Ticket(1, Timed: true, EndsBlock: true), (long)(1 * Us * Stopwatch.Frequency));
        }

        Assert.Equal(1, control.Current);
    }
}
