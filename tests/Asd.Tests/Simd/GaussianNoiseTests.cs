namespace Asd.Tests.Simd;

/// <summary>The counter-based Gaussians are i.i.d. N(0, 1), with their negative control, from the catalogue.</summary>
public sealed class GaussianNoiseTests(ITestOutputHelper output) : PropertyTests<GaussianNoiseTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["noise Gaussians"];
}
