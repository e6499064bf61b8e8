using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Asd.Native.Sampling;

/// <summary>
/// Batch-cost curves measured for the automatic speculation length, kept in memory per model and thread count, so a
/// model is calibrated once per process however many samplers it serves, and across processes in the
/// <see cref="CostCurveStore"/> the environment selects, so that it is calibrated once per machine.
/// </summary>
public static class CostCurveCache
{
    /// <summary>The largest batch a calibration times (beyond it the curve is extrapolated).</summary>
    public const int CalibrationRows = 64;

    private static readonly ConditionalWeakTable<object, ConcurrentDictionary<(int, bool), Lazy<CostCurve>>> Curves = [];

    /// <summary>
    /// The cached curve of <paramref name="model"/> at <paramref name="threads"/> threads (with or without guidance, which
    /// evaluates two rows per row), measuring it on first use.
    /// </summary>
    public static CostCurve GetOrMeasure(object model, int threads, bool guided, Func<CostCurve> measure) => GetOrMeasure(model, threads, guided, measure, null);

    /// <summary>
    /// The curve of <paramref name="model"/> at <paramref name="threads"/> threads: from memory, else from the store
    /// (<paramref name="store"/>, or the environment's when null) under the key <paramref name="key"/> computes, else
    /// measured and remembered there. <paramref name="refresh"/> measures again and replaces both (<c>--recalibrate</c>);
    /// a remembered curve for which <paramref name="stale"/> gives a reason is measured again too, with a warning.
    /// Without a key, only memory is used.
    /// </summary>
    public static CostCurve GetOrMeasure(object model, int threads, bool guided, Func<CostCurve> measure, Func<CostCurveKey>? key, bool refresh = false, CostCurveStore? store = null, Func<CostCurve, string?>? stale = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(measure);
        ConcurrentDictionary<(int, bool), Lazy<CostCurve>> byThreads = Curves.GetValue(model, _ => new ConcurrentDictionary<(int, bool), Lazy<CostCurve>>());
        if (refresh)
        {
            byThreads.TryRemove((threads, guided), out _);
        }

        store ??= key is null ? null : CostCurveStore.FromEnvironment();
        Func<CostCurve> load = store is null || key is null ? measure : () =>
        {
            CostCurveKey k = key();
            if (!refresh && store.TryLoad(k) is { } remembered)
            {
                // A curve remembered under another load (or before an upgrade the key does not see) is measured
                // again: stale says why, from a few timed calls (CostCurve.Disagreement).
                if (stale?.Invoke(remembered) is not { } why)
                {
                    return remembered;
                }

                CostCurveStore.Warn($"the remembered cost curve {store.PathOf(k)} no longer matches this machine ({why}); calibrating again.");
            }

            CostCurve measured = measure();
            store.Save(k, measured);
            return measured;
        };
        Lazy<CostCurve> lazy = byThreads.GetOrAdd((threads, guided), _ => new Lazy<CostCurve>(load, LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A cancelled or failed measurement is not a curve: forget it, so the next sampler measures again.
            byThreads.TryRemove(KeyValuePair.Create((threads, guided), lazy));
            throw;
        }
    }

    /// <summary>Whether a curve is cached for the model and thread count.</summary>
    public static bool Contains(object model, int threads, bool guided = false) =>
        Curves.TryGetValue(model, out ConcurrentDictionary<(int, bool), Lazy<CostCurve>>? byThreads) && byThreads.TryGetValue((threads, guided), out Lazy<CostCurve>? lazy) && lazy.IsValueCreated;
}
