using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Asd.Native.Sampling;

/// <summary>
/// Batch-cost curves measured for the automatic speculation length, kept in memory per model and thread count, so a
/// model is calibrated once per process however many samplers it serves.
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
    public static CostCurve GetOrMeasure(object model, int threads, bool guided, Func<CostCurve> measure)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(measure);
        ConcurrentDictionary<(int, bool), Lazy<CostCurve>> byThreads = Curves.GetValue(model, _ => new ConcurrentDictionary<(int, bool), Lazy<CostCurve>>());
        Lazy<CostCurve> lazy = byThreads.GetOrAdd((threads, guided), _ => new Lazy<CostCurve>(measure, LazyThreadSafetyMode.ExecutionAndPublication));
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
