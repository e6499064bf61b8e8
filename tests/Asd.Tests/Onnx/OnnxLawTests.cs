namespace Asd.Tests.Onnx;

/// <summary>ASD's law through ONNX Runtime, with its negative control, from the catalogue.</summary>
public sealed class OnnxLawTests(ITestOutputHelper output) : PropertyTests<OnnxLawTests>(output), IPropertyGroup
{
    public static IReadOnlyList<string> Properties => ["onnx same law"];
}
