using Asd.Native.Backends.Unet1d;
using Asd.Native.Tasks;

namespace Asd.Tests.Denoising;

/// <summary>
/// The trained ConditionalUnet1D policy (models/unet-policy, tools/train_unet_policy.py) on builtin:policy's task: the
/// same quality test (200 observations, K = 100, fixed seeds; >= 90% reach the goal, >= 95% avoid the obstacle, each
/// mode >= 20% on symmetric observations) with DDPM and with ASD, and its negative control, the same network blind to
/// its observation, which must fail. The trained policy clears the bars by a wide margin (models/unet-policy/QUALITY.md),
/// so the false-alarm rate is negligible at these sample sizes.
/// </summary>
public sealed class Unet1dPolicyTests(ITestOutputHelper output)
{
    internal static string PolicyPath => Path.Combine(AppContext.BaseDirectory, "unet-policy", "policy.json");

    [Fact]
    public void ItIsASmallConditionalUnet1DWithFloat16Weights()
    {
        using var model = (Unet1dModel)ModelCatalog.Open(PolicyPath);
        Assert.Equal([PolicyTask.Waypoints, 2], model.SampleShape);
        Assert.Equal(PolicyTask.ObservationSize, model.ConditionSize);
        Assert.Equal([64, 128, 256], model.Config.DownDims);
        Assert.Equal(4_102_530, model.Parameters);
        Assert.Equal("float16", model.WeightPrecision);
        Assert.Equal(100, model.DefaultScheduler.NumTrainTimesteps);
    }

    [Fact]
    public void PolicyPassesTheQualityTestWithDdpmAndAsd()
    {
        using IDiffusionModel model = ModelCatalog.Open(PolicyPath);
        using var pool = new CorePool(0);
        PolicyAssessment ddpm = PolicyTask.Assess(model, 100, pool: pool);
        output.WriteLine("DDPM: " + ddpm);
        Assert.True(ddpm.Passed, "DDPM: " + ddpm);
        PolicyAssessment asd = PolicyTask.Assess(model, 100, kind: SamplerKind.Asd, specLength: SpecLength.Fixed(8), pool: pool, seed: 7);
        output.WriteLine("ASD: " + asd);
        Assert.True(asd.Passed, "ASD: " + asd);
    }

    [Fact]
    public void NegativeControlTheSameNetworkBlindToItsObservationFails()
    {
        using IDiffusionModel model = ModelCatalog.Open(PolicyPath);
        using var blind = new PolicyTests.BlindModel(model);
        using var pool = new CorePool(0);
        PolicyAssessment a = PolicyTask.Assess(blind, 100, pool: pool);
        output.WriteLine("blind: " + a);
        Assert.False(a.Passed, "a policy that ignores the observation passed: " + a);
        Assert.True(a.General.ReachedShare < 0.5, a.ToString());
    }
}
