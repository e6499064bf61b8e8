using System.Collections.Concurrent;

namespace Asd.Interop.Abi;

/// <summary>What a handle of asd.h points at: its asd_*_free ends the caller's use of it.</summary>
internal interface IHandleTarget
{
    /// <summary>What asd_*_free does once the handle is unregistered.</summary>
    void Free();
}

/// <summary>
/// Opaque handles. A handle is a registry key that is never reused in the process (unlike a pointer, which malloc
/// may hand out again), so a call with a freed, foreign or wrong-kind handle gets ASD_ERR_INVALID_HANDLE instead of
/// undefined behaviour or, worse, another object. The caller never dereferences a handle; the values are spaced
/// like aligned pointers in a range no allocator uses, so they also look like what they are in a debugger.
/// </summary>
internal static partial class Handles
{
    private const long Base = 0x0A5D_0000_0000_0000;
    private static readonly ConcurrentDictionary<nint, object> s_live = new();
    private static long s_next;
    private static int s_runtimePid;

    /// <summary>Where the runtime started: libasd's first call runs the module initializers.</summary>
#pragma warning disable CA2255 // a library's own initializer on purpose: the process the runtime starts in, before any export runs
    [ModuleInitializer]
    internal static void RecordRuntimeProcess() => s_runtimePid = GetPid();
#pragma warning restore CA2255

    /// <summary>
    /// Throws in a process that fork() made from the one the runtime started in. fork() copies the memory but only the
    /// calling thread: the runtime's thread list still holds the parent's threads (the core pool's workers, caught
    /// mid-spin in managed code), and the child's first garbage collection crashed scanning their stacks
    /// (SIGSEGV in GCHeap::Promote) or, with the background collector, waited forever for its thread. Nothing can be
    /// made safe after the fact, so every call that could allocate is refused, naming the way out.
    /// </summary>
    public static void CheckProcess()
    {
        int now = GetPid();
        if (now != s_runtimePid)
        {
            throw new AsdException(Status.Unsupported, $"libasd started in process {s_runtimePid}, and this process ({now}) is a fork() of it: the .NET runtime inside libasd keeps threads that fork() does not copy, and its next garbage collection here would crash or hang. Use libasd in a child only when the parent has not called it, or start the child with exec (Python's multiprocessing: the 'spawn' or 'forkserver' start method). asd_*_free is allowed and does nothing here.");
        }
    }

    /// <summary>Whether this is a fork() of the process the runtime started in.</summary>
    public static bool Forked => GetPid() != s_runtimePid;

    /// <summary>Registers <paramref name="target"/>; the caller has checked the process (<see cref="CheckProcess"/>) before building it.</summary>
    public static nint Add(object target)
    {
        nint h = (nint)(Base + (Interlocked.Increment(ref s_next) << 4));
        s_live[h] = target;
        return h;
    }

    /// <summary>The target of a live handle of type <typeparamref name="T"/>; throws with a message naming the handle kind.</summary>
    public static T Get<T>(nint handle, string what)
        where T : class
    {
        CheckProcess();
        if (handle == 0)
        {
            throw AsdException.Null(what);
        }

        if (!s_live.TryGetValue(handle, out object? target))
        {
            throw new AsdException(Status.InvalidHandle, $"{what} (0x{handle:x}) is not a live handle: it was freed, or never returned by libasd.");
        }

        return target as T ?? throw new AsdException(Status.InvalidHandle, $"{what} (0x{handle:x}) is a handle of another kind ({Kind(target)}).");
    }

    /// <summary>
    /// Unregisters a handle of type <typeparamref name="T"/> and returns its target, or null if it is not live. In a
    /// fork() of the runtime's process nothing is touched (freeing would join threads that are not there; the child's
    /// copy of the memory goes with the child), so a host's finalizers can still free what it inherited.
    /// </summary>
    public static T? Remove<T>(nint handle)
        where T : class
    {
        if (handle == 0 || Forked || !s_live.TryGetValue(handle, out object? target) || target is not T typed)
        {
            return null;
        }

        return s_live.TryRemove(handle, out _) ? typed : null; // null: another thread freed it first
    }

    private static string Kind(object target) => target switch
    {
        ModelHandle => "asd_model",
        SamplerHandle => "asd_sampler",
        _ => target.GetType().Name,
    };

    /// <summary>The calling process's id, asked of the kernel each time (Environment.ProcessId is read once and then
    /// cached, so a forked child would see its parent's).</summary>
    [LibraryImport("libc.so.6", EntryPoint = "getpid")]
    private static partial int GetPid();
}
