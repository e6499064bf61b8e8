namespace Asd.Tests.Sampling;

/// <summary>Properties 7d (closed-form moments) and 7e (exchangeability), each with negative controls.</summary>
public sealed class ClosedFormAndExchangeabilityTests(ITestOutputHelper output)
{
    private const ulong ClosedFormSeed = 0x7D01;
    private const ulong ExchangeabilitySeed = 0x7E01;

    [Fact]
    public void AsdMatchesClosedFormMoments()
    {
        var outcome = ClosedFormProperty.Run(ClosedFormSeed, AsdFault.None);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    [Theory]
    [InlineData(AsdFault.AlwaysAccept)]
    [InlineData(AsdFault.StaleModelAfterRejection)]
    internal void ClosedForm_Control_IsRejected(AsdFault fault)
    {
        var outcome = ClosedFormProperty.Run(ClosedFormSeed, fault);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void StochasticLocalizationIncrementsAreExchangeable()
    {
        var outcome = ExchangeabilityProperty.Run(ExchangeabilitySeed, wrongPosterior: false);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void Exchangeability_Control_WrongPosterior_IsRejected()
    {
        var outcome = ExchangeabilityProperty.Run(ExchangeabilitySeed, wrongPosterior: true);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }
}
