namespace Asd.Tests.Sampling;

/// <summary>
/// The decision of one draft (<see cref="ReflectionCoupling.Decide"/>) on inputs where it is exact, not statistical:
/// which branches draw a uniform, and the accept/reject threshold against the log-ratio computed here independently.
/// The law tests (7a, 7h) cannot see a branch that decides the same way with a needless draw, nor the sigma = 0 branch,
/// which no random plan reaches before the last step.
/// </summary>
public sealed class ReflectionCouplingTests
{
    /// <summary>A uniform of fixed value that counts its draws (passed by ref, so the count survives the call).</summary>
    private struct CountingUniform(double value) : IUniformDraw
    {
        public int Draws;

        public double Next()
        {
            Draws++;
            return value;
        }
    }

    private static readonly float[] Z = [0.7f, -1.3f, 0.4f];
    private static readonly float[] Target = [0.9f, 0.2f, -0.5f];
    private static readonly float[] Draft = [0.6f, 0.5f, -0.1f];

    [Theory]
    [InlineData(0.8, 0.3)]
    [InlineData(-2.0, 1.0)]
    public void ADraftEqualToItsTargetIsAcceptedWithoutADraw(double b, double sigma)
    {
        var uniform = new CountingUniform(0.999999);
        var corrected = new float[3];
        CouplingDecision decision = ReflectionCoupling.Decide(Z, Target, Target, b, sigma, ref uniform, corrected);
        Assert.Equal(CouplingDecision.Accept, decision);
        Assert.Equal(0, uniform.Draws);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.0)]
    public void ZeroBIsAcceptedWithoutADraw(double sigma)
    {
        var uniform = new CountingUniform(0.999999);
        CouplingDecision decision = ReflectionCoupling.Decide(Z, Target, Draft, 0, sigma, ref uniform, new float[3]);
        Assert.Equal(CouplingDecision.Accept, decision);
        Assert.Equal(0, uniform.Draws);
    }

    [Fact]
    public void ALikelihoodRatioAboveOneIsAlwaysAccepted()
    {
        // b = 0.8, sigma = 1.7: exp(log-ratio) = 1.18, so even U close to 1 accepts.
        var uniform = new CountingUniform(0.999999);
        CouplingDecision decision = ReflectionCoupling.Decide(Z, Target, Draft, 0.8, 1.7, ref uniform, new float[3]);
        Assert.Equal(CouplingDecision.Accept, decision);
        Assert.Equal(1, uniform.Draws);
    }

    [Fact]
    public void WithoutNoiseADifferentMeanIsRejectedWithoutADraw()
    {
        // sigma = 0: the draft and the target are point masses at different values, so the target's value replaces it.
        var uniform = new CountingUniform(1e-300);
        CouplingDecision decision = ReflectionCoupling.Decide(Z, Target, Draft, 0.8, 0, ref uniform, new float[3]);
        Assert.Equal(CouplingDecision.Reject, decision);
        Assert.Equal(0, uniform.Draws);
    }

    [Theory]
    [InlineData(0.8, 0.3)]
    [InlineData(-1.5, 0.9)]
    [InlineData(-0.3, 2.0)]
    [InlineData(3.0, 0.05)]
    public void AcceptsExactlyWhenLogUIsBelowTheLogRatio(double b, double sigma)
    {
        // The log-ratio of N(mu_t, s^2) over N(mu_d, s^2) at the draft, with d = b (target - draft), in noise units.
        double zd = 0, dd = 0;
        for (int i = 0; i < Z.Length; i++)
        {
            double d = b * ((double)Target[i] - Draft[i]);
            zd += Z[i] * d;
            dd += d * d;
        }

        double logRatio = (zd / sigma) - (dd / (2 * sigma * sigma));
        foreach ((double factor, CouplingDecision expected) in new[] { (0.999, CouplingDecision.Accept), (1.001, CouplingDecision.Reject) })
        {
            double u = Math.Exp(logRatio) * factor;
            Assert.True(u is > 0 and < 1, $"b={b} sigma={sigma}: U = {u} is not a possible draw; choose a case with exp(log-ratio) in (0, 1)");

            var uniform = new CountingUniform(u);
            var corrected = new float[3];
            CouplingDecision decision = ReflectionCoupling.Decide(Z, Target, Draft, b, sigma, ref uniform, corrected);
            Assert.True(decision == expected, $"b={b} sigma={sigma} log-ratio={logRatio}: U = {factor} exp(log-ratio) gave {decision}");
            Assert.Equal(1, uniform.Draws);
            if (expected == CouplingDecision.Reject)
            {
                // z' is z reflected across the hyperplane orthogonal to d: z' = z - 2 (z.u / u.u) u, with u = target - draft.
                double zu = 0, uu = 0;
                for (int i = 0; i < Z.Length; i++)
                {
                    double ui = (double)Target[i] - Draft[i];
                    zu += Z[i] * ui;
                    uu += ui * ui;
                }

                for (int i = 0; i < Z.Length; i++)
                {
                    double want = Z[i] - (2 * zu / uu * ((double)Target[i] - Draft[i]));
                    Assert.True(Math.Abs(corrected[i] - want) <= 1e-5, $"z'[{i}] = {corrected[i]}, want {want}");
                }
            }
        }
    }
}
