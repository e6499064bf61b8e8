using System.Runtime.CompilerServices;

namespace Asd.Tests;

/// <summary>Process-wide settings of the test run.</summary>
internal static class TestEnvironment
{
    /// <summary>
    /// Tests never read or write the user's remembered cost curves (CostCurveStore): a curve remembered by an earlier
    /// run would skip the calibration a test means to exercise (its budget, its cancellation). The store's own tests
    /// pass their own folder explicitly.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => Environment.SetEnvironmentVariable(Native.Sampling.CostCurveStore.DisableVariable, "1");
}
