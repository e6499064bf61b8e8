using Asd.Native.Denoising;

namespace Asd.Tests.Onnx;

/// <summary>Row-parallel ONNX verification (issue 17): rows split across the pool, a one-thread session per lane.</summary>
public sealed class OnnxRowParallelTests
{
    [Fact]
    public void ARowsBitsDependNeitherOnItsNeighboursNorOnTheThreadCount()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { RowParallel = true });
        Assert.True(model.RowParallel);
        const int Rows = 7;
        var rng = new Random(17);
        float[] x = [.. Enumerable.Range(0, Rows * 256).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
        int[] t = [.. Enumerable.Range(0, Rows).Select(_ => rng.Next(1000))];

        // Each row alone, on one thread.
        var alone = new float[Rows * 256];
        using (var one = (OnnxRowParallelDenoiser)model.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = Rows }))
        {
            for (int r = 0; r < Rows; r++)
            {
                one.Denoise(x.AsSpan(r * 256, 256), t.AsSpan(r, 1), [], alone.AsSpan(r * 256, 256));
            }
        }

        foreach (int threads in (int[])[1, 2, 3, 4])
        {
            using var pool = new CorePool(threads);
            using var den = (OnnxRowParallelDenoiser)model.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = Rows, Pool = pool });
            Assert.Equal(threads, den.Lanes);
            Assert.True(den.IsBatchInvariant);
            foreach (int rows in (int[])[Rows, 3, 1])
            {
                var y = new float[rows * 256];
                den.Denoise(x.AsSpan(0, rows * 256), t.AsSpan(0, rows), [], y);
                Assert.True(y.AsSpan().SequenceEqual(alone.AsSpan(0, rows * 256)), $"{threads} threads, {rows} rows: bits differ from each row evaluated alone");
            }
        }

        // And the same values as the batched intra-op path, within ONNX Runtime's batch-to-batch rounding.
        using var batched = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"));
        var b = (OnnxDenoiser)batched.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = Rows });
        var yb = new float[Rows * 256];
        b.Denoise(x, t, [], yb);
        Assert.True(yb.Zip(alone).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);
        b.Dispose();
    }

    /// <summary>
    /// A call of one row may run on one session with the pool's threads as intra-op threads (when it times faster, and
    /// only when its bits equal a lane's): forced on here, its rows still carry each row's bits evaluated alone; the
    /// control, forced off, runs them on a lane, and a pool of one thread never makes the session.
    /// </summary>
    [Fact]
    public void OneRowCallsOnIntraOpThreadsKeepARowsBits()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { RowParallel = true });
        var rng = new Random(23);
        float[] x = [.. Enumerable.Range(0, 3 * 256).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
        int[] t = [5, 500, 999];
        var alone = new float[3 * 256];
        using (var one = new OnnxRowParallelDenoiser(model, null, flagged: false))
        {
            Assert.StartsWith("one lane", one.SingleRowMode);
            for (int r = 0; r < 3; r++)
            {
                one.Denoise(x.AsSpan(r * 256, 256), t.AsSpan(r, 1), [], alone.AsSpan(r * 256, 256));
            }
        }

        using var pool = new CorePool(2);
        foreach (bool intraOp in (bool[])[true, false])
        {
            using var den = new OnnxRowParallelDenoiser(model, pool, flagged: false, singleRowIntraOp: intraOp);
            Assert.True(intraOp ? den.SingleRowMode.StartsWith("2 intra-op threads", StringComparison.Ordinal) : den.SingleRowMode.StartsWith("one lane", StringComparison.Ordinal), den.SingleRowMode);
            var y = new float[256];
            for (int r = 0; r < 3; r++)
            {
                den.Denoise(x.AsSpan(r * 256, 256), t.AsSpan(r, 1), [], y);
                Assert.True(y.AsSpan().SequenceEqual(alone.AsSpan(r * 256, 256)), $"intra-op {intraOp}, row {r}: bits differ from the row evaluated alone on one thread");
            }
        }
    }

    /// <summary>
    /// How one-row calls run is probed once per model and lane count: a second denoiser of the model (another sampler:
    /// an `asd bench`'s DDPM and ASD) shares the running choice it starts without timing again; the calls run both ways
    /// now and then with the same bits; another model times its own.
    /// </summary>
    [Fact]
    public void OneRowCallsAreTimedOncePerModelAndLaneCount()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { RowParallel = true });
        using var pool = new CorePool(2);
        using var first = new OnnxRowParallelDenoiser(model, pool, flagged: false);
        using var second = new OnnxRowParallelDenoiser(model, pool, flagged: false);
        const string Pattern = @"^(one lane \(one thread\)|2 intra-op threads) now, whichever recent calls timed faster \(the other tried 3 calls in 128; moved \d+ time\(s\); (no calls yet|one lane \(one thread\) in \d+% of \d+ calls); started from one row: \d+ us on one lane, \d+ us on 2 intra-op threads, timed when the model's first row-parallel denoiser on this many lanes was made\)$";
        Assert.Matches(Pattern, first.SingleRowMode);
        Assert.Same(first.SingleRowChoice, second.SingleRowChoice);
        Assert.Equal(1, model.SingleRowChoice.Probes);

        // The calls keep the choice right by running the other way now and then: across three periods both ways ran,
        // each row with the bits of a lane.
        var rng = new Random(29);
        float[] x = [.. Enumerable.Range(0, 256).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
        var reference = new float[256];
        using (var lane = new OnnxRowParallelDenoiser(model, pool, flagged: false, singleRowIntraOp: false))
        {
            lane.Denoise(x, [500], [], reference);
        }

        var y = new float[256];
        for (int call = 0; call < 3 * TwoWayChoice.Period; call++)
        {
            second.Denoise(x, [500], [], y);
            Assert.True(y.AsSpan().SequenceEqual(reference), $"call {call}: {second.SingleRowMode}");
        }

        TwoWayChoice choice = second.SingleRowChoice!;
        Assert.True(choice.Runs(0) > 0 && choice.Runs(1) > 0, second.SingleRowMode);
        Assert.Matches(Pattern, second.SingleRowMode);

        // Control: another model times its own.
        using var other = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16"), new ModelOpenOptions { RowParallel = true });
        using var third = new OnnxRowParallelDenoiser(other, pool, flagged: false);
        Assert.Equal(1, other.SingleRowChoice.Probes);
        Assert.NotSame(first.SingleRowChoice, third.SingleRowChoice);
    }

    [Fact]
    public void RowParallelCallsAllocateNothingAfterTheFirstCall()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.MlpSmall, new ModelOpenOptions { RowParallel = true });
        using var pool = new CorePool(2);
        using var den = (OnnxRowParallelDenoiser)model.CreateDenoiser(OnnxTestFiles.AnySchedule, new DenoiserOptions { MaxBatchRows = 8, Pool = pool });
        OnnxTestFiles.AssertNoAllocationAfterFirstCallOfEachSize(den);
    }

    [Fact]
    public void StaticBatchModelsKeepTheBatchedPath()
    {
        using var model = (OnnxModel)ModelCatalog.Open(OnnxTestFiles.Fixture("unet16_static3"), new ModelOpenOptions { RowParallel = true });
        Assert.False(model.RowParallel);
    }
}
