namespace Asd.Tests.Sampling;

/// <summary>Property 7a and its negative controls, at the suite's fixed seeds.</summary>
public sealed class RejectionSamplerTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x7A01;

    [Fact]
    public void OutputLawIsTheTarget() =>
        PropertyAssert.Holds(RejectionSamplerProperty.RunLaw(Seed, AsdFault.None), output);

    [Fact]
    public void Control_ResampleFromDraft_IsRejected() =>
        PropertyAssert.IsRejected(RejectionSamplerProperty.RunLaw(Seed, AsdFault.ResampleFromDraft), output);

    [Fact]
    public void Control_ReflectAboutWrongAxis_IsRejected() =>
        PropertyAssert.IsRejected(RejectionSamplerProperty.RunLaw(Seed, AsdFault.ReflectWrongAxis, minDimension: 2), output);

    [Fact]
    public void AcceptanceRateIsOneMinusTotalVariation() =>
        PropertyAssert.Holds(RejectionSamplerProperty.RunRate(Seed, AsdFault.None), output);

    /// <summary>With the plan's b != 1, |d|^2 = b |u|^2 instead of b^2 |u|^2 changes the acceptance.</summary>
    [Fact]
    public void Control_BNotSquared_BreaksTheAcceptanceRate() =>
        PropertyAssert.IsRejected(RejectionSamplerProperty.RunRate(Seed, AsdFault.BNotSquared), output);

    [Fact]
    public void Control_NoHalfInLogRatio_BreaksTheAcceptanceRate() =>
        PropertyAssert.IsRejected(RejectionSamplerProperty.RunRate(Seed, AsdFault.NoHalfInLogRatio), output);
}
