namespace Asd.Tests.Sampling;

/// <summary>Properties 7d (closed-form moments) and 7e (exchangeability), each with negative controls.</summary>
public sealed class ClosedFormAndExchangeabilityTests(ITestOutputHelper output)
{
    private const ulong ClosedFormSeed = 0x7D01;
    private const ulong ExchangeabilitySeed = 0x7E01;

    [Fact]
    public void AsdMatchesClosedFormMoments() =>
        PropertyAssert.Holds(ClosedFormProperty.Run(ClosedFormSeed, AsdFault.None), output);

    [Theory]
    [InlineData(AsdFault.AlwaysAccept)]
    [InlineData(AsdFault.StaleModelAfterRejection)]
    internal void ClosedForm_Control_IsRejected(AsdFault fault) =>
        PropertyAssert.IsRejected(ClosedFormProperty.Run(ClosedFormSeed, fault), output);

    [Fact]
    public void StochasticLocalizationIncrementsAreExchangeable() =>
        PropertyAssert.Holds(ExchangeabilityProperty.Run(ExchangeabilitySeed, wrongPosterior: false), output);

    [Fact]
    public void Exchangeability_Control_WrongPosterior_IsRejected() =>
        PropertyAssert.IsRejected(ExchangeabilityProperty.Run(ExchangeabilitySeed, wrongPosterior: true), output);
}
