namespace Asd.Tests.Sampling;

/// <summary>Property 7a and its negative controls, at the suite's fixed seeds.</summary>
public sealed class RejectionSamplerTests(ITestOutputHelper output)
{
    private const ulong Seed = 0x7A01;

    [Fact]
    public void OutputLawIsTheTarget()
    {
        var outcome = RejectionSamplerProperty.RunLaw(Seed, AsdFault.None);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void Control_ResampleFromDraft_IsRejected()
    {
        var outcome = RejectionSamplerProperty.RunLaw(Seed, AsdFault.ResampleFromDraft);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void Control_ReflectAboutWrongAxis_IsRejected()
    {
        var outcome = RejectionSamplerProperty.RunLaw(Seed, AsdFault.ReflectWrongAxis, minDimension: 2);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void AcceptanceRateIsOneMinusTotalVariation()
    {
        var outcome = RejectionSamplerProperty.RunRate(Seed, AsdFault.None);
        output.WriteLine(outcome.ToString());
        Assert.False(outcome.Rejected, outcome.ToString());
    }

    /// <summary>With the plan's b != 1, |d|^2 = b |u|^2 instead of b^2 |u|^2 changes the acceptance.</summary>
    [Fact]
    public void Control_BNotSquared_BreaksTheAcceptanceRate()
    {
        var outcome = RejectionSamplerProperty.RunRate(Seed, AsdFault.BNotSquared);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }

    [Fact]
    public void Control_NoHalfInLogRatio_BreaksTheAcceptanceRate()
    {
        var outcome = RejectionSamplerProperty.RunRate(Seed, AsdFault.NoHalfInLogRatio);
        output.WriteLine(outcome.ToString());
        Assert.True(outcome.Rejected, outcome.ToString());
    }
}
