namespace Asd.Tests.Properties;

/// <summary>The kinds of denoiser the law properties draw from.</summary>
internal enum DenoiserKind
{
    Nonlinear,
    Affine,
    Mixture,
}

/// <summary>Random denoisers for the law properties, all batch-invariant and seeded.</summary>
internal static class RandomModels
{
    /// <summary>
    /// Creates a denoiser. <paramref name="hard"/> picks sharper maps (steeper nonlinearity, tight well-separated
    /// mixtures) where drafts are often wrong, so defects that act only on rejections become visible.
    /// </summary>
    public static IDenoiser Create(DenoiserKind kind, int dimension, DiffusionSchedule schedule, ulong seed, bool hard = false, double timeScale = 1) => kind switch
    {
        DenoiserKind.Nonlinear => hard
            ? new NonlinearDenoiser(dimension, schedule.TrainSteps, seed, strength: 2, sharpness: 2, timeScale: 2 * timeScale, identityGain: 1)
            : new NonlinearDenoiser(dimension, schedule.TrainSteps, seed),
        DenoiserKind.Affine => new AffineDenoiser(dimension, t => Affine(dimension, schedule.TrainSteps, seed, t, hard ? timeScale : 1), schedule),
        _ => new MixtureDenoiser(Mixture(dimension, seed, hard), schedule),
    };

    /// <summary>
    /// A_t = (0.8 + 0.4 tau) I + R1 + tau R2 and c_t = c1 + s tau c2 with tau = t / T, R entries N(0, 1 / (16 d))
    /// (spectral norm well below 0.8, so A_t is invertible and the output covariance positive definite) and drift
    /// scale s: varying with t so drafts made with a stale m are wrong.
    /// </summary>
    public static (double[] A, double[] C) Affine(int d, int trainSteps, ulong seed, int t, double timeScale = 1)
    {
        var rng = new System.Random((int)(seed % int.MaxValue));
        double G() => RejectionSamplerProperty.Gaussian(rng);
        double[] r1 = [.. Enumerable.Range(0, d * d).Select(_ => G() * 0.25 / Math.Sqrt(d))];
        double[] r2 = [.. Enumerable.Range(0, d * d).Select(_ => G() * 0.25 / Math.Sqrt(d))];
        double[] c1 = [.. Enumerable.Range(0, d).Select(_ => G())];
        double[] c2 = [.. Enumerable.Range(0, d).Select(_ => G())];
        double tau = (double)t / trainSteps;
        var a = new double[d * d];
        var c = new double[d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < d; j++)
            {
                a[(i * d) + j] = (i == j ? 0.8 + (0.4 * tau) : 0) + r1[(i * d) + j] + (tau * r2[(i * d) + j]);
            }

            c[i] = c1[i] + (timeScale * tau * c2[i]);
        }

        return (a, c);
    }

    /// <summary>The unit direction of the affine denoiser's drift in t (c2), an informative projection fixed by the model.</summary>
    public static double[] AffineDrift(int d, ulong seed)
    {
        var rng = new System.Random((int)(seed % int.MaxValue));
        double G() => RejectionSamplerProperty.Gaussian(rng);
        for (int i = 0; i < (2 * d * d) + d; i++)
        {
            G();
        }

        double[] c2 = [.. Enumerable.Range(0, d).Select(_ => G())];
        double norm = Math.Sqrt(c2.Sum(v => v * v));
        return [.. c2.Select(v => v / norm)];
    }

    /// <summary>2 to 5 components, means N(0, 3^2) per coordinate, variances in [0.05, 0.5], unequal weights (hard: N(0, 5^2), [0.01, 0.05]).</summary>
    public static GaussianMixture Mixture(int d, ulong seed, bool hard = false) =>
        hard ? Mixture(d, seed, spread: 5, minVariance: 0.01, maxVariance: 0.05) : Mixture(d, seed, spread: 3, minVariance: 0.05, maxVariance: 0.5);

    /// <summary>2 to 5 components with means N(0, spread^2) per coordinate, variances log-uniform in the range, weights in [0.5, 1.5].</summary>
    public static GaussianMixture Mixture(int d, ulong seed, double spread, double minVariance, double maxVariance)
    {
        var rng = new System.Random((int)(seed % int.MaxValue) ^ 0x3A3A);
        int k = 2 + rng.Next(4);
        double[] w = [.. Enumerable.Range(0, k).Select(_ => 0.5 + rng.NextDouble())];
        double[] mu = [.. Enumerable.Range(0, k * d).Select(_ => spread * RejectionSamplerProperty.Gaussian(rng))];
        double[] v = [.. Enumerable.Range(0, k).Select(_ => minVariance * Math.Pow(maxVariance / minVariance, rng.NextDouble()))];
        return new GaussianMixture(w, mu, v);
    }
}
