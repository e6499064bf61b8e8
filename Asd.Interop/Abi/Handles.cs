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
internal static class Handles
{
    private const long Base = 0x0A5D_0000_0000_0000;
    private static readonly ConcurrentDictionary<nint, object> s_live = new();
    private static long s_next;

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

    /// <summary>Unregisters a handle of type <typeparamref name="T"/> and returns its target, or null if it is not live.</summary>
    public static T? Remove<T>(nint handle)
        where T : class
    {
        if (handle == 0 || !s_live.TryGetValue(handle, out object? target) || target is not T typed)
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
}
