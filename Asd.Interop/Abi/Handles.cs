using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Asd.Interop.Abi;

/// <summary>
/// Opaque handles. A handle is the address of a GCHandle (so it looks like, and is as unique as, a pointer), and
/// every live handle is registered: a call with a freed, foreign or wrong-kind handle gets ASD_ERR_INVALID_HANDLE
/// instead of undefined behaviour. (A freed value may be reused by a later handle, as with malloc.)
/// </summary>
internal static class Handles
{
    private static readonly ConcurrentDictionary<nint, object> s_live = new();

    public static nint Add(object target)
    {
        nint h = GCHandle.ToIntPtr(GCHandle.Alloc(target));
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

        if (!s_live.TryRemove(handle, out _))
        {
            return null; // another thread freed it first
        }

        GCHandle.FromIntPtr(handle).Free();
        return typed;
    }

    private static string Kind(object target) => target switch
    {
        ModelHandle => "asd_model",
        SamplerHandle => "asd_sampler",
        _ => target.GetType().Name,
    };
}
