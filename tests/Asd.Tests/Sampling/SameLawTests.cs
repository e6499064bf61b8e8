namespace Asd.Tests.Sampling;

/// <summary>Property 7c and its three negative controls.</summary>
public sealed class SameLawTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x7C01;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AsdHasTheDdpmLaw(bool hard)
    {
        var outcome = SameLawProperty.Run(Seed, AsdFault.None, hard);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    [Theory]
    [InlineData(AsdFault.AlwaysAccept, false)]
    [InlineData(AsdFault.StaleModelAfterRejection, false)]
    [InlineData(AsdFault.NoHalfInLogRatio, true)]
    internal void Control_IsRejected(AsdFault fault, bool hard)
    {
        var outcome = SameLawProperty.Run(Seed, fault, hard);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }
}
