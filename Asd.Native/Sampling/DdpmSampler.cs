namespace Asd.Native.Sampling;

/// <summary>
/// The sequential reference: K steps, each one batched model call over all chains (split by the row cap),
/// then x_{i+1} = a_i x_i + b_i m_i + sigma_i z_i.
/// </summary>
public sealed class DdpmSampler(IDenoiser denoiser, InferencePlan plan, SamplerOptions? options = null)
    : Sampler(denoiser, plan, options ?? new SamplerOptions())
{
    /// <summary>Test hook: called with (step, states) after every step (states hold x_{step+1}).</summary>
    internal Action<int, ReadOnlyMemory<float>>? StepObserver { get; set; }

    /// <inheritdoc/>
    protected override void ResetStats(SamplingStats stats) => stats.Reset("ddpm", Plan.Steps, N, "-", "-");

    /// <inheritdoc/>
    protected override void Run() => RunDdpmSteps();

    /// <inheritdoc/>
    protected override void AfterDdpmStep(int step) => StepObserver?.Invoke(step, X.ToArray());
}
