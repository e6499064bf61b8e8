namespace Asd.Tests.Onnx;

/// <summary>ASD's law through ONNX Runtime, with its negative control.</summary>
public sealed class OnnxLawTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x0AA1;

    [Fact]
    public void AsdHasTheDdpmLawThroughOnnxRuntime()
    {
        var outcome = OnnxLawProperty.Run(Seed, AsdFault.None);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void Control_AlwaysAccept_IsRejected()
    {
        var outcome = OnnxLawProperty.Run(Seed, AsdFault.AlwaysAccept);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }
}
