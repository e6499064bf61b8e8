namespace Asd.Tests.Sampling;

/// <summary>Property 7c, in the ordinary and the hard regime, and its three negative controls, from the catalogue.</summary>
public sealed class SameLawTests(ITestOutputHelper output) : PropertyTests<SameLawTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["7c same law", "7c same law (hard cases)"];
}
