namespace Asd.Tests.Threading;

public sealed class CorePoolTests
{
    private sealed class CountingWork(int count) : IRangeWork
    {
        public readonly int[] Hits = new int[count];
        public int MaxThreadsSeen;
        private int _active;

        public void Execute(int start, int end)
        {
            int now = Interlocked.Increment(ref _active);
            InterlockedMax(ref MaxThreadsSeen, now);
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
            }

            Thread.SpinWait(2000);
            Interlocked.Decrement(ref _active);
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void EveryIndexRunsExactlyOnce(int threads)
    {
        using var pool = new CorePool(threads);
        foreach (int count in (int[])[1, 2, 3, 7, 64, 1000])
        {
            var work = new CountingWork(count);
            for (int repeat = 0; repeat < 20; repeat++)
            {
                pool.Run(work, count);
            }

            Assert.All(work.Hits, h => Assert.Equal(20, h));
        }
    }

    /// <summary>What the slot of each chunk's thread was: per thread, the slots it ran under.</summary>
    private sealed class SlotWork : IRangeWork
    {
        public readonly System.Collections.Concurrent.ConcurrentDictionary<int, HashSet<int>> SlotsByThread = new();

        public void Execute(int start, int end)
        {
            HashSet<int> slots = SlotsByThread.GetOrAdd(Environment.CurrentManagedThreadId, _ => []);
            lock (slots)
            {
                slots.Add(CorePool.CurrentSlot);
            }

            Thread.SpinWait(5000);
        }
    }

    /// <summary>
    /// RowSplit picks a lane's scratch by CorePool.CurrentSlot: every thread must keep one slot below the pool's size,
    /// whichever chunks it claims, the caller's being 0, and no two threads may share one. The control: outside a chunk
    /// the slot reads 0, and a worker's slot does not leak into the caller.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void EachThreadRunsEveryChunkItClaimsUnderItsOwnSlot(int threads)
    {
        using var pool = new CorePool(threads);
        var work = new SlotWork();
        for (int repeat = 0; repeat < 200; repeat++)
        {
            pool.Run(work, threads);
            Assert.Equal(0, CorePool.CurrentSlot);
        }

        Assert.All(work.SlotsByThread.Values, s => Assert.Single(s));
        int[] slots = [.. work.SlotsByThread.Values.Select(s => s.Single())];
        Assert.Equal(slots.Length, slots.Distinct().Count());
        Assert.All(slots, s => Assert.InRange(s, 0, threads - 1));
        Assert.Equal(0, work.SlotsByThread[Environment.CurrentManagedThreadId].Single());
        Assert.True(work.SlotsByThread.Count >= 2, $"only {work.SlotsByThread.Count} thread(s) ran chunks in 200 calls");
    }

    /// <summary>Chunk 0 (the caller's: it publishes the call with chunk 0 claimed) waits until chunk 1 has started on
    /// another thread, so the call finishes only if a worker woke for it.</summary>
    private sealed class NeedsAWorker : IRangeWork
    {
        private int _started;

        public bool WorkerJoined { get; private set; }

        public void Execute(int start, int end)
        {
            if (start == 0)
            {
                WorkerJoined = SpinWait.SpinUntil(() => Volatile.Read(ref _started) == 1, TimeSpan.FromSeconds(10));
            }
            else
            {
                Volatile.Write(ref _started, 1);
            }
        }
    }

    [Fact]
    public async Task WorkersThatFellAsleepWakeForACallAndForDispose()
    {
        // An idle worker spins, then sleeps on a semaphore. A call must wake it (its chunk would otherwise wait for
        // the caller, which here waits for it), and Dispose must wake it too, or joining it would hang. A worker that
        // checked the generation after announcing its sleep without a fence could miss Dispose's wake.
        for (int i = 0; i < 5; i++)
        {
            var pool = new CorePool(2);
            Thread.Sleep(200);
            var work = new NeedsAWorker();
            Task run = Task.Run(() => pool.Run(work, 2));
            Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))) == run, "the call hung");
            Assert.True(work.WorkerJoined, "no worker woke for a call made while the workers slept");
            Thread.Sleep(200);
            Task dispose = Task.Run(pool.Dispose);
            Assert.True(await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(20))) == dispose, "Dispose hung joining a sleeping worker");
        }
    }

    [Fact]
    public async Task ACallRightAfterConstructionDoesNotWaitForever()
    {
        // Regression: a worker that read the generation only when its thread first ran missed a call submitted
        // before that, and the submitter waited for it forever.
        for (int i = 0; i < 200; i++)
        {
            using var pool = new CorePool(3);
            var work = new CountingWork(9);
            Task run = Task.Run(() => pool.Run(work, 9));
            Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))) == run, "the pool hung on its first call");
            Assert.All(work.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void ExceptionsAreRethrownOnTheCaller()
    {
        using var pool = new CorePool(3);
        var boom = new ThrowingWork();
        Assert.Throws<InvalidOperationException>(() => pool.Run(boom, 30));

        // The pool stays usable after a failed call.
        var work = new CountingWork(30);
        pool.Run(work, 30);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    private sealed class ThrowingWork : IRangeWork
    {
        public void Execute(int start, int end)
        {
            if (start > 0)
            {
                throw new InvalidOperationException("chunk failed");
            }
        }
    }

    [Fact]
    public void ConcurrentSubmittersAreQueued()
    {
        // The contract: calls from several threads are serialized; each gets the whole pool and correct results.
        using var pool = new CorePool(2);
        const int submitters = 4, calls = 50, count = 33;
        var works = Enumerable.Range(0, submitters).Select(_ => new CountingWork(count)).ToArray();
        Parallel.For(0, submitters, new ParallelOptions { MaxDegreeOfParallelism = submitters }, s =>
        {
            for (int c = 0; c < calls; c++)
            {
                pool.Run(works[s], count);
            }
        });
        Assert.All(works, w => Assert.All(w.Hits, h => Assert.Equal(calls, h)));
        Assert.All(works, w => Assert.True(w.MaxThreadsSeen <= 2, "two submissions overlapped in one pool"));
    }

    [Fact]
    public void NestedCallsRunInline()
    {
        using var pool = new CorePool(2);
        var inner = new CountingWork(10);
        var outer = new NestedWork(pool, inner);
        pool.Run(outer, 4);
        Assert.All(inner.Hits, h => Assert.Equal(4, h));
    }

    private sealed class NestedWork(CorePool pool, IRangeWork inner) : IRangeWork
    {
        public void Execute(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                pool.Run(inner, 10);
            }
        }
    }

    [Fact]
    public void CallsAllocateNothing()
    {
        // Three passes of 100 calls, at most one of which may allocate: in CI one pass read 2088 bytes once (a clean
        // run of the same commit read 0, as every local run did), the runtime's, not the pool's, which would allocate
        // in every pass. The ONNX allocation check allows the same (OnnxTestFiles).
        using var pool = new CorePool(2);
        var work = new CountingWork(100);
        pool.Run(work, 100);
        long[] passes = AllocatedPerPass(() => pool.Run(work, 100));
        Assert.True(passes.Count(b => b == 0) >= 2, $"bytes allocated per pass of 100 calls: {string.Join(", ", passes)}");

        // The control: a call that allocates fails the check in every pass.
        Assert.Equal(0, AllocatedPerPass(() => _kept = new object[4]).Count(b => b == 0));
    }

    private static object? _kept;

    private static long[] AllocatedPerPass(Action call) => AllocationCheck.PerPass(() =>
    {
        for (int i = 0; i < 100; i++)
        {
            call();
        }
    });

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CorePool(-1));
        var pool = new CorePool(2);
        Assert.Throws<ArgumentNullException>(() => pool.Run(null!, 3));
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new CountingWork(1), 1));
        Assert.Equal(Environment.ProcessorCount, new CorePool(0).Threads);
    }
}
