namespace Asd.Tests.Sampling;

/// <summary>Properties 7d (closed-form moments) and 7e (exchangeability), each with negative controls, from the catalogue.</summary>
public sealed class ClosedFormAndExchangeabilityTests(ITestOutputHelper output) : PropertyTests<ClosedFormAndExchangeabilityTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["7d closed form", "7e exchangeability"];
}
