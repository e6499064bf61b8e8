namespace Asd.Tests;

/// <summary>
/// The two verdicts a statistical property's test asserts: the property holds, or (a negative control) it is
/// rejected. Either way the outcome, with its worst cases, goes to the test's log first, and it is the message of
/// a failing assertion.
/// </summary>
internal static class PropertyAssert
{
    /// <summary>Asserts that the property holds: fewer rejecting cases than its critical count.</summary>
    public static void Holds(PropertyOutcome outcome, ITestOutputHelper output)
    {
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    /// <summary>
    /// Asserts that the property is rejected: a negative control, whose defect the property must see. With a
    /// <paramref name="margin"/> above 1 it must reject in at least that many times the critical count of cases.
    /// </summary>
    public static void IsRejected(PropertyOutcome outcome, ITestOutputHelper output, int margin = 1)
    {
        output.WriteLine(outcome.ToString());
        int asserted = margin * outcome.Rule.CriticalCount;
        Assert.True(outcome.Rejections >= asserted, margin == 1 ? outcome.ToString() : $"only {outcome.Rejections} rejecting cases, {asserted} asserted ({margin} x the critical count)\n{outcome}");
    }
}
