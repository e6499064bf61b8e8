namespace Asd.Tests.Sampling;

/// <summary>Property 7a (the output law and the acceptance rate) and their negative controls, from the catalogue.</summary>
public sealed class RejectionSamplerTests(ITestOutputHelper output) : PropertyTests<RejectionSamplerTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["7a law", "7a acceptance rate"];
}
