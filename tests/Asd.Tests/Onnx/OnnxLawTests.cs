namespace Asd.Tests.Onnx;

/// <summary>ASD's law through ONNX Runtime, with its negative control.</summary>
public sealed class OnnxLawTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x0AA1;

    [Fact]
    public void AsdHasTheDdpmLawThroughOnnxRuntime() =>
        PropertyAssert.Holds(OnnxLawProperty.Run(Seed, AsdFault.None), output);

    [Fact]
    public void Control_AlwaysAccept_IsRejected() =>
        PropertyAssert.IsRejected(OnnxLawProperty.Run(Seed, AsdFault.AlwaysAccept), output);
}
