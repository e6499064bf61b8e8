namespace Asd.Tests.Sampling;

/// <summary>
/// Property 7g: on builtin:mixture?dim=32 with the linear 1000-step schedule at K = 1000, the mean sequential model
/// calls over 16 chains stay within the prototype's measurements (21.4x unbounded, 6.75x at L = 8).
/// Deterministic (fixed seed), so this is a regression check, not a statistical one.
/// </summary>
public sealed class SpeedupRegressionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("inf", 18.0)]
    [InlineData("8", 6.2)]
    public void AlgorithmicSpeedupOnMixture32(string specLength, double minimumSpeedup)
    {
        using var model = ModelCatalog.Open("builtin:mixture?dim=32");
        Sampler sampler = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 1000, Threads = 1, SpecLength = SpecLength.Parse(specLength) });
        var samples = new float[16 * 32];
        SamplingStats stats = sampler.Sample(16, 2025, samples);
        output.WriteLine(stats.ToString());
        Assert.True(stats.SequentialModelCalls <= 1000 / minimumSpeedup,
            $"L={specLength}: {stats.SequentialModelCalls:F1} sequential calls, more than K/{minimumSpeedup} = {1000 / minimumSpeedup:F1}");
    }
}
