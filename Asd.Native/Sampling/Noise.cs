using Asd.Simd.Random;

namespace Asd.Native.Sampling;

/// <summary>What a random draw is for; part of its key, so draws for different purposes never collide.</summary>
public enum NoisePurpose : uint
{
    /// <summary>The initial sample x_T of a chain (index 0).</summary>
    Initial = 1,

    /// <summary>The Gaussian z_i of step i (index i), shared by DDPM and every ASD draft of that step.</summary>
    Step = 2,

    /// <summary>The uniform U_i deciding the draft of step i (index i).</summary>
    Accept = 3,

    /// <summary>Fresh noise used only by the "resample from the draft" negative control.</summary>
    FaultResample = 15,
}

/// <summary>
/// The random numbers of a run: pure functions of (seed, chain id, step, purpose) (docs/math.md section 6), so a chain
/// gets the same numbers however chains are batched, threaded or split across processes by chain offset.
/// </summary>
public interface INoiseSource
{
    /// <summary>Standard normal values for (chain, step, purpose).</summary>
    void Gaussian(ulong chain, int step, NoisePurpose purpose, Span<float> destination);

    /// <summary>A uniform value in the open interval (0, 1) for (chain, step, purpose).</summary>
    double Uniform(ulong chain, int step, NoisePurpose purpose);
}

/// <summary>The engine's default noise: <see cref="CounterRng"/> keyed by the run's seed.</summary>
public sealed class CounterNoise(ulong seed) : INoiseSource
{
    /// <summary>The seed.</summary>
    public ulong Seed { get; set; } = seed;

    /// <inheritdoc/>
    public void Gaussian(ulong chain, int step, NoisePurpose purpose, Span<float> destination) =>
        CounterRng.Gaussian(Seed, chain, (uint)step, (uint)purpose, destination);

    /// <inheritdoc/>
    public double Uniform(ulong chain, int step, NoisePurpose purpose) =>
        CounterRng.Uniform(Seed, chain, (uint)step, (uint)purpose);
}
