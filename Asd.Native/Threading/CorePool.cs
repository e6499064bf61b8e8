using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Asd.Native.Threading;

/// <summary>A unit of parallel work over an index range; implementations are reused across calls, so no allocation.</summary>
public interface IRangeWork
{
    /// <summary>Processes indices [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Execute(int start, int end);
}

/// <summary>
/// Persistent worker threads that split an index range (batch rows, or GEMM column blocks) across cores.
/// </summary>
/// <remarks>
/// <para>With <c>Threads</c> = 1 every call runs inline on the caller. Otherwise the range is cut into at most
/// <c>Threads</c> contiguous chunks: the caller publishes the call with chunk 0 its own, and the workers (and the
/// caller, once done) claim the rest one at a time; workers spin briefly, then sleep, between calls. A call allocates
/// nothing.</para>
/// <para>Claiming (rather than giving chunk i to worker i) is what keeps latency sane on a busy machine: when another
/// process holds the cores, a worker may not run for a whole scheduler quantum (milliseconds); the caller then does
/// that worker's chunk itself instead of waiting for it. A chunk's result does not depend on which thread runs it,
/// so outputs stay bit-identical.</para>
/// <para>Concurrency contract: <see cref="Run"/> may be called from several threads at once; submissions are
/// queued (a lock serializes them), so each call still gets the whole pool and results do not depend on
/// what else runs. A call made from inside a running work item runs inline instead of deadlocking.
/// Samplers that must not wait for each other should use separate pools.</para>
/// </remarks>
public sealed class CorePool : IDisposable
{
    private const long ChunkMask = 0xFFFF_FFFF;

    private readonly Worker[] _workers;
    private readonly object _submitLock = new();

    // The claim word, the call's description and the count of finished chunks each on a cache line of its own: idle
    // workers poll the claim word, so the caller's writes of the description must not land on that line (each write
    // would take it back from the pollers), and a worker's count must not take it from a core that is claiming.
    private ClaimLine _claim;
    private CallLine _call;
    private CounterLine _done;

    // Chunks finished by the end of the current call: the done count only grows, so starting a call writes nothing on
    // its line (caller only).
    private int _doneTarget;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    [ThreadStatic]
    private static bool t_insideWork;

    [ThreadStatic]
    private static int t_slot;

    /// <summary>Creates a pool of <paramref name="threads"/> threads including the caller (0 means one per core).</summary>
    public CorePool(int threads)
    {
        if (threads < 0 || threads > Validation.ResourceLimits.MaxThreads)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), $"Thread count must be 0 (one per core) to {Validation.ResourceLimits.MaxThreads}; got {threads}.");
        }

        Threads = threads == 0 ? Math.Min(Environment.ProcessorCount, Validation.ResourceLimits.MaxThreads) : threads;
        _workers = new Worker[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Worker(this, i + 1);
        }
    }

    /// <summary>Threads that share each call, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Inside a chunk of <see cref="Run"/>: the running thread's place in the pool, 0 for the thread that called Run and
    /// i for worker i (so always below <see cref="Threads"/>); 0 outside any chunk. Chunks are claimed by whichever
    /// thread is free first, so work that keeps per-thread scratch indexes it by slot, not by chunk: each thread then
    /// finds its own scratch in its own cache, whichever chunk it took.
    /// </summary>
    internal static int CurrentSlot => t_slot;

    /// <summary>How long (Stopwatch ticks, 50 us) a caller spins for workers' chunks before it yields its core.</summary>
    private static readonly long SpinBeforeYieldTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

    /// <summary>How long an idle worker spins before it sleeps; a trade between wake-up latency and wasted cycles.</summary>
    public static int SpinIterations { get; set; } = 2000;

    /// <summary>
    /// Runs <paramref name="work"/> over [0, <paramref name="count"/>) on <paramref name="pool"/>, or on the caller
    /// alone when there is no pool or <paramref name="worthSplitting"/> is false (too little work to pay for waking
    /// the workers). Chunks give the same bits on any thread, so the choice only changes the time.
    /// </summary>
    internal static void RunOrInline(CorePool? pool, IRangeWork work, int count, bool worthSplitting = true)
    {
        if (pool is null || !worthSplitting)
        {
            work.Execute(0, count);
        }
        else
        {
            pool.Run(work, count);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> over [0, <paramref name="count"/>) split into at most <see cref="Threads"/>
    /// contiguous chunks, and returns when all are done. An exception in any chunk is rethrown here.
    /// </summary>
    public void Run(IRangeWork work, int count)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0)
        {
            return;
        }

        int parts = Math.Min(Threads, count);
        if (parts == 1 || t_insideWork)
        {
            work.Execute(0, count);
            return;
        }

        lock (_submitLock)
        {
            _call.Work = work;
            _call.Count = count;
            _call.Parts = parts;
            _failure = null;
            _doneTarget = unchecked(_doneTarget + parts);

            // Publishing the new generation releases the description written above. It is published with chunk 0
            // claimed already, by the caller, which saves the caller a compare-and-swap on a line the spinning workers
            // are reading.
            long generation = (Volatile.Read(ref _claim.State) >> 32) + 1;
            Volatile.Write(ref _claim.State, (generation << 32) | 1);
            foreach (Worker w in _workers)
            {
                w.Wake();
            }

            RunChunk(0, 0);
            while (TryClaim(generation << 32, out int chunk))
            {
                RunChunk(chunk, 0);
            }

            WaitForChunks(_doneTarget);
            _call.Work = null;
            _failure?.Throw();
        }
    }

    /// <summary>Claims the next chunk of the call whose state word had generation bits <paramref name="generationBits"/>.</summary>
    private bool TryClaim(long generationBits, out int chunk)
    {
        while (true)
        {
            long s = Volatile.Read(ref _claim.State);
            int next = (int)(s & ChunkMask);
            if ((s & ~ChunkMask) != generationBits || next >= _call.Parts)
            {
                chunk = -1;
                return false;
            }

            if (Interlocked.CompareExchange(ref _claim.State, s + 1, s) == s)
            {
                chunk = next;
                return true;
            }
        }
    }

    private void RunChunk(int index, int slot)
    {
        int count = _call.Count, parts = _call.Parts;
        int start = (int)((long)count * index / parts);
        int end = (int)((long)count * (index + 1) / parts);
        t_insideWork = true;
        t_slot = slot;
        try
        {
            _call.Work!.Execute(start, end);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
        }
        finally
        {
            t_insideWork = false;
            t_slot = 0;
            Interlocked.Increment(ref _done.Value);
        }
    }

    /// <summary>
    /// Waits until the done count reaches <paramref name="target"/>: only chunks that a worker claimed and is running
    /// remain. Spins without yielding for up to <see cref="SpinBeforeYieldTicks"/>, since a yield is a system call whose
    /// return can come microseconds after the worker finished (on the 2-vCPU VM the per-layer hand-offs of a 4-row MLP
    /// call waited ~0.9 us); after that yields, so a worker preempted onto this core can run.
    /// </summary>
    private void WaitForChunks(int target)
    {
        if (Volatile.Read(ref _done.Value) == target)
        {
            return;
        }

        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _done.Value) != target)
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() - start > SpinBeforeYieldTicks)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref _done.Value) != target)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }

                return;
            }

            Thread.SpinWait(1);
        }
    }

    /// <summary>Stops the workers.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        lock (_submitLock)
        {
            _disposed = true;
            Interlocked.Add(ref _claim.State, 1L << 32);
            foreach (Worker w in _workers)
            {
                w.Wake(certain: true);
            }
        }

        foreach (Worker w in _workers)
        {
            w.Join();
        }
    }

    /// <summary>The claim word, with a cache line of padding on either side.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 136)]
    private struct ClaimLine
    {
        /// <summary>(generation &lt;&lt; 32) | next unclaimed chunk. One word, so a claim (compare-and-swap) can only
        /// succeed for the call whose description the claimer read: a later call changes the generation half.</summary>
        [FieldOffset(64)]
        public long State;
    }

    /// <summary>The call's description, with a cache line of padding on either side.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 144)]
    private struct CallLine
    {
        [FieldOffset(64)]
        public IRangeWork? Work;

        [FieldOffset(72)]
        public int Count;

        [FieldOffset(76)]
        public int Parts;
    }

    /// <summary>A counter with a cache line of padding on either side.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 132)]
    private struct CounterLine
    {
        [FieldOffset(64)]
        public int Value;
    }

    private sealed class Worker
    {
        private readonly CorePool _pool;
        private readonly Thread _thread;
        private readonly SemaphoreSlim _signal = new(0);
        private readonly long _startGeneration;
        private readonly int _slot;

        // On a line of its own: the caller reads it on every call, and this worker's spin loop reads its other fields.
        private CounterLine _sleeping;

        public Worker(CorePool pool, int index)
        {
            _pool = pool;
            _slot = index;

            // Read here, not when the thread first runs: a call submitted before the thread is scheduled must still
            // count as new to it.
            _startGeneration = Volatile.Read(ref pool._claim.State) >> 32;
            _thread = new Thread(Loop) { IsBackground = true, Name = $"asd-core-{index}" };
            _thread.Start();
        }

        /// <summary>
        /// Wakes the worker if it sleeps. A plain read first, so that a call to a spinning worker costs no locked
        /// instruction (which would wait for the caller's publication to reach the worker's core before the caller's
        /// own chunk may start). The read may miss a worker that is just going to sleep: it then sleeps through this
        /// call, whose chunks the caller claims itself, and the next call's wake sees it. Dispose passes
        /// <paramref name="certain"/>, a full fence (the interlocked exchange) that cannot miss it.
        /// </summary>
        public void Wake(bool certain = false)
        {
            if ((certain || Volatile.Read(ref _sleeping.Value) == 1) && Interlocked.Exchange(ref _sleeping.Value, 0) == 1)
            {
                _signal.Release();
            }
        }

        public void Join() => _thread.Join();

        private void Loop()
        {
            long seen = _startGeneration;
            while (true)
            {
                seen = WaitForGeneration(seen);
                if (_pool._disposed)
                {
                    return;
                }

                // Claim chunks of the call this worker woke for; a claim fails once they are gone or a later call began.
                while (_pool.TryClaim(seen << 32, out int chunk))
                {
                    _pool.RunChunk(chunk, _slot);
                }
            }
        }

        private long Generation() => Volatile.Read(ref _pool._claim.State) >> 32;

        private long WaitForGeneration(long seen)
        {
            for (int i = 0; i < SpinIterations; i++)
            {
                long g = Generation();
                if (g != seen)
                {
                    return g;
                }

                Thread.SpinWait(20);
            }

            while (true)
            {
                // An interlocked write (a full fence), so the generation below is read after the flag is visible: a
                // submitter that publishes and then checks the flag with a fence of its own cannot miss this worker.
                Interlocked.Exchange(ref _sleeping.Value, 1);
                long g = Generation();
                if (g != seen)
                {
                    // A submitter may have cleared the flag and released the semaphore already: consume that release.
                    if (Interlocked.Exchange(ref _sleeping.Value, 0) == 0)
                    {
                        _signal.Wait();
                    }

                    return g;
                }

                _signal.Wait();
                g = Generation();
                if (g != seen)
                {
                    return g;
                }
            }
        }
    }
}
