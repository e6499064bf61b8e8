namespace Asd.Tests.Properties;

/// <summary>Test-only denoiser that ignores both x and t: every draft is exact, so ASD must give DDPM's bytes for any L.</summary>
internal sealed class ConstantDenoiser(float[] value) : IDenoiser
{
    public int SampleSize => value.Length;

    public int ConditionSize => 0;

    public bool IsBatchInvariant => true;

    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        DenoiserChecks.CheckBatch(this, samples.Length, timesteps.Length, conditioning.Length, output.Length);
        for (int r = 0; r < timesteps.Length; r++)
        {
            value.CopyTo(output.Slice(r * value.Length, value.Length));
        }
    }
}

/// <summary>
/// A random smooth nonlinear map of (x, t): out = A tanh(B x + u tau + c) + g x + e with tau = t / T, computed per
/// row in double (batch-invariant). Its output is whatever the schedule's prediction type says it is: exactness
/// of ASD must not depend on the denoiser being a good model.
/// </summary>
internal sealed class NonlinearDenoiser : IDenoiser
{
    private readonly int _d, _h, _trainSteps;
    private readonly double[] _a, _b, _u, _c, _e;
    private readonly double _g;

    public NonlinearDenoiser(int dimension, int trainSteps, ulong seed, double strength = 1.5, double sharpness = 1.5, double timeScale = 2, double? identityGain = null)
    {
        _d = dimension;
        _h = 8;
        _trainSteps = trainSteps;
        var rng = new System.Random((int)(seed % int.MaxValue));
        double G() => RejectionSamplerProperty.Gaussian(rng);
        _a = [.. Enumerable.Range(0, _d * _h).Select(_ => G() * strength / Math.Sqrt(_h))];
        _b = [.. Enumerable.Range(0, _h * _d).Select(_ => G() * sharpness / Math.Sqrt(_d))];
        _u = [.. Enumerable.Range(0, _h).Select(_ => G() * timeScale)];
        _c = [.. Enumerable.Range(0, _h).Select(_ => G() * 0.5)];
        _e = [.. Enumerable.Range(0, _d).Select(_ => G() * 0.5)];
        _g = identityGain ?? 0.3 * G();
    }

    public int SampleSize => _d;

    public int ConditionSize => 0;

    public bool IsBatchInvariant => true;

    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        DenoiserChecks.CheckBatch(this, samples.Length, timesteps.Length, conditioning.Length, output.Length);
        Span<double> hidden = stackalloc double[_h];
        for (int r = 0; r < timesteps.Length; r++)
        {
            ReadOnlySpan<float> x = samples.Slice(r * _d, _d);
            double tau = (double)timesteps[r] / _trainSteps;
            for (int k = 0; k < _h; k++)
            {
                double acc = _c[k] + (_u[k] * tau);
                for (int j = 0; j < _d; j++)
                {
                    acc += _b[(k * _d) + j] * x[j];
                }

                hidden[k] = Math.Tanh(acc);
            }

            for (int i = 0; i < _d; i++)
            {
                double acc = _e[i] + (_g * x[i]);
                for (int k = 0; k < _h; k++)
                {
                    acc += _a[(i * _h) + k] * hidden[k];
                }

                output[(r * _d) + i] = (float)acc;
            }
        }
    }
}

/// <summary>Replays recorded noise (golden vectors): Gaussian(chain, step) = noise[step][chain], initial = init[chain].</summary>
internal sealed class RecordedNoise(double[][][] stepNoise, double[][] initial) : Asd.Native.Sampling.INoiseSource
{
    public void Gaussian(ulong chain, int step, Asd.Native.Sampling.NoisePurpose purpose, Span<float> destination)
    {
        double[] src = purpose == Asd.Native.Sampling.NoisePurpose.Initial ? initial[chain] : stepNoise[step][chain];
        for (int j = 0; j < destination.Length; j++)
        {
            destination[j] = (float)src[j];
        }
    }

    public double Uniform(ulong chain, int step, Asd.Native.Sampling.NoisePurpose purpose) =>
        throw new InvalidOperationException("Recorded noise has no uniforms; use it with DDPM only.");
}
