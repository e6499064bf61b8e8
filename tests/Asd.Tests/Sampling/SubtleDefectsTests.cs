namespace Asd.Tests.Sampling;

/// <summary>
/// Property 7h and its eight negative controls, from the catalogue: each control must be rejected in at least twice
/// the critical count of cases (the catalogue's margin for 7h).
/// </summary>
public sealed class SubtleDefectsTests(ITestOutputHelper output) : PropertyTests<SubtleDefectsTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["7h subtle defects"];
}
