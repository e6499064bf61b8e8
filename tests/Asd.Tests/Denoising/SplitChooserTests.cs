using Asd.Native.Denoising;

namespace Asd.Tests.Denoising;

/// <summary>The choice between a column split and a row split follows the timings, and a slow outlier moves nothing.</summary>
public class SplitChooserTests
{
    /// <summary>Runs <paramref name="calls"/> calls of 4 rows whose ways cost the given seconds; returns how many split rows.</summary>
    private static int RowSplits(SplitChooser chooser, int calls, double columns, double rows)
    {
        int count = 0;
        for (int i = 0; i < calls; i++)
        {
            bool split = chooser.SplitRows(4);
            count += split ? 1 : 0;
            chooser.Record(4, split, split ? rows : columns);
        }

        return count;
    }

    [Fact]
    public void BothWaysAreTriedThenTheFasterRunsWithARecheckOfTheOther()
    {
        var chooser = new SplitChooser(8);
        // The trials: a block of column splits, then a block of row splits.
        bool[] first = [.. Enumerable.Range(0, 2 * SplitChooser.Trials).Select(_ => { bool s = chooser.SplitRows(4); chooser.Record(4, s, s ? 1e-4 : 2e-4); return s; })];
        Assert.Equal([false, false, false, true, true, true], first);

        // Rows are faster: of the next 320 calls, all but a recheck block in each RecheckPeriod split rows.
        int rows = RowSplits(chooser, 320, columns: 2e-4, rows: 1e-4);
        Assert.Equal(320 - (320 / SplitChooser.RecheckPeriod * SplitChooser.RecheckLength), rows);

        // Control: when the columns become faster the same chooser turns at its next recheck.
        int turned = RowSplits(chooser, 640, columns: 0.5e-4, rows: 1e-4);
        Assert.True(turned <= SplitChooser.RecheckPeriod + (640 / SplitChooser.RecheckPeriod * SplitChooser.RecheckLength), $"{turned} of 640 calls still split rows after the column split became faster");
        Assert.Equal(0.5e-4, chooser.Estimate(4, splitRows: false), 6);
    }

    [Fact]
    public void APreemptedCallMovesAnEstimateByAtMostAQuarterOfItself()
    {
        var chooser = new SplitChooser(8);
        RowSplits(chooser, 2 * SplitChooser.Trials, columns: 2e-4, rows: 1e-4);
        double before = chooser.Estimate(4, splitRows: true);
        chooser.Record(4, true, 1.0); // a whole second: the thread was preempted
        Assert.Equal(before * 1.25, chooser.Estimate(4, splitRows: true), 12);

        // A faster timing is believed at once.
        chooser.Record(4, true, 0.5e-4);
        Assert.Equal(0.5e-4, chooser.Estimate(4, splitRows: true), 12);
        Assert.True(chooser.SplitRows(4), "one slow call must not turn the choice");
    }

    [Fact]
    public void RowCountsAreIndependent()
    {
        var chooser = new SplitChooser(8);
        for (int i = 0; i < 2 * SplitChooser.Trials; i++)
        {
            bool a = chooser.SplitRows(2);
            chooser.Record(2, a, a ? 2e-4 : 1e-4);
            bool b = chooser.SplitRows(8);
            chooser.Record(8, b, b ? 1e-4 : 2e-4);
        }

        Assert.False(chooser.SplitRows(2));
        Assert.True(chooser.SplitRows(8));
    }
}
