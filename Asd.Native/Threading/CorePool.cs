using System.Runtime.ExceptionServices;

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
/// <para>With <c>Threads</c> = 1 every call runs inline on the caller. Otherwise the caller runs the first chunk
/// and <c>Threads - 1</c> workers run the others; workers spin briefly, then sleep, between calls.
/// A call allocates nothing.</para>
/// <para>Concurrency contract: <see cref="Run"/> may be called from several threads at once; submissions are
/// queued (a lock serializes them), so each call still gets the whole pool and results do not depend on
/// what else runs. A call made from inside a running work item runs inline instead of deadlocking.
/// Samplers that must not wait for each other should use separate pools.</para>
/// </remarks>
public sealed class CorePool : IDisposable
{
    private readonly Worker[] _workers;
    private readonly object _submitLock = new();
    private IRangeWork? _work;
    private int _count;
    private int _parts;
    private int _pending;
    private long _generation;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    [ThreadStatic]
    private static bool t_insideWork;

    /// <summary>Creates a pool of <paramref name="threads"/> threads including the caller (0 means one per core).</summary>
    public CorePool(int threads)
    {
        if (threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), $"Thread count must be >= 0 (0 = one per core); got {threads}.");
        }

        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        _workers = new Worker[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Worker(this, i + 1);
        }
    }

    /// <summary>Threads that share each call, the caller included.</summary>
    public int Threads { get; }

    /// <summary>How long an idle worker spins before it sleeps; a trade between wake-up latency and wasted cycles.</summary>
    public static int SpinIterations { get; set; } = 2000;

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
            _work = work;
            _count = count;
            _parts = parts;
            _failure = null;
            // Every worker takes part in every generation (those past the last chunk do nothing), so no worker can
            // lag a generation behind and mistake a later call's state for the one it woke for.
            Volatile.Write(ref _pending, _workers.Length);
            Interlocked.Increment(ref _generation);
            foreach (Worker w in _workers)
            {
                w.Wake();
            }

            RunChunk(0);

            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            _work = null;
            _failure?.Throw();
        }
    }

    private void RunChunk(int index)
    {
        int start = (int)((long)_count * index / _parts);
        int end = (int)((long)_count * (index + 1) / _parts);
        t_insideWork = true;
        try
        {
            _work!.Execute(start, end);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
        }
        finally
        {
            t_insideWork = false;
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
            Interlocked.Increment(ref _generation);
            foreach (Worker w in _workers)
            {
                w.Wake();
            }
        }

        foreach (Worker w in _workers)
        {
            w.Join();
        }
    }

    private sealed class Worker
    {
        private readonly CorePool _pool;
        private readonly int _index;
        private readonly Thread _thread;
        private readonly SemaphoreSlim _signal = new(0);
        private readonly long _startGeneration;
        private int _sleeping;

        public Worker(CorePool pool, int index)
        {
            _pool = pool;
            _index = index;

            // Read here, not when the thread first runs: a call submitted before the thread is scheduled must still
            // count as new to it, or the submitter would wait for this worker forever.
            _startGeneration = Volatile.Read(ref pool._generation);
            _thread = new Thread(Loop) { IsBackground = true, Name = $"asd-core-{index}" };
            _thread.Start();
        }

        public void Wake()
        {
            if (Interlocked.Exchange(ref _sleeping, 0) == 1)
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
                long now = WaitForGeneration(seen);
                seen = now;
                if (_pool._disposed)
                {
                    return;
                }

                if (_index < _pool._parts)
                {
                    _pool.RunChunk(_index);
                }

                Interlocked.Decrement(ref _pool._pending);
            }
        }

        private long WaitForGeneration(long seen)
        {
            for (int i = 0; i < SpinIterations; i++)
            {
                long g = Volatile.Read(ref _pool._generation);
                if (g != seen)
                {
                    return g;
                }

                Thread.SpinWait(20);
            }

            while (true)
            {
                Volatile.Write(ref _sleeping, 1);
                long g = Volatile.Read(ref _pool._generation);
                if (g != seen)
                {
                    // A submitter may have cleared the flag and released the semaphore already: consume that release.
                    if (Interlocked.Exchange(ref _sleeping, 0) == 0)
                    {
                        _signal.Wait();
                    }

                    return g;
                }

                _signal.Wait();
                g = Volatile.Read(ref _pool._generation);
                if (g != seen)
                {
                    return g;
                }
            }
        }
    }
}
