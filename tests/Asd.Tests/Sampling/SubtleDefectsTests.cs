namespace Asd.Tests.Sampling;

/// <summary>Property 7h and its eight negative controls, each rejected in at least twice the critical count of cases.</summary>
public sealed class SubtleDefectsTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x7B01;

    public static TheoryData<string> Controls => [.. SubtleDefectsProperty.Controls.Select(f => f.ToString())];

    [Fact]
    public void AsdHasTheClosedFormLawWhereSubtleDefectsShow() =>
        PropertyAssert.Holds(SubtleDefectsProperty.Run(Seed, AsdFault.None), output);

    [Theory]
    [MemberData(nameof(Controls))]
    public void Control_IsRejectedWithMargin(string name)
    {
        var fault = Enum.Parse<AsdFault>(name);
        var outcome = SubtleDefectsProperty.Run(Seed, fault);
        output.WriteLine($"{Faults.Describe(fault)}: {outcome}");
        Assert.True(outcome.Rejections >= 2 * outcome.Rule.CriticalCount, $"{Faults.Describe(fault)}: only {outcome.Rejections} rejecting cases, {2 * outcome.Rule.CriticalCount} asserted\n{outcome}");
    }
}
