namespace Asd.Tests.Sampling;

/// <summary>Property 7c and its three negative controls.</summary>
public sealed class SameLawTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x7C01;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AsdHasTheDdpmLaw(bool hard) =>
        PropertyAssert.Holds(SameLawProperty.Run(Seed, AsdFault.None, hard), output);

    [Theory]
    [InlineData(AsdFault.AlwaysAccept, false)]
    [InlineData(AsdFault.StaleModelAfterRejection, false)]
    [InlineData(AsdFault.NoHalfInLogRatio, true)]
    internal void Control_IsRejected(AsdFault fault, bool hard) =>
        PropertyAssert.IsRejected(SameLawProperty.Run(Seed, fault, hard), output);
}
