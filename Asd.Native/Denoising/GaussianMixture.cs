namespace Asd.Native.Denoising;

/// <summary>
/// A Gaussian mixture target with isotropic components: weights w_k, means mu_k, variances v_k (docs/math.md section 4).
/// Its exact posterior under the stochastic-localization observation y = s x0 + W_s is closed form, which makes it
/// the ground truth for the samplers' tests. Immutable and thread-safe.
/// </summary>
public sealed class GaussianMixture
{
    private readonly double[] _weights;
    private readonly double[] _means;
    private readonly double[] _variances;

    /// <summary>Creates a mixture; <paramref name="means"/> holds Components x Dimension values.</summary>
    public GaussianMixture(ReadOnlySpan<double> weights, ReadOnlySpan<double> means, ReadOnlySpan<double> variances)
    {
        int k = weights.Length;
        if (k == 0 || variances.Length != k || means.Length % k != 0 || means.Length == 0)
        {
            throw new ArgumentException($"A mixture needs K weights, K variances and K x d means (got {weights.Length}, {variances.Length}, {means.Length}).");
        }

        double total = 0;
        for (int i = 0; i < k; i++)
        {
            if (!(weights[i] > 0) || !(variances[i] > 0))
            {
                throw new ArgumentException($"Component {i} needs a positive weight and variance (got {weights[i]}, {variances[i]}).");
            }

            total += weights[i];
        }

        _weights = new double[k];
        for (int i = 0; i < k; i++)
        {
            _weights[i] = weights[i] / total;
        }

        _means = means.ToArray();
        _variances = variances.ToArray();
        Components = k;
        Dimension = means.Length / k;
    }

    /// <summary>Number of components K.</summary>
    public int Components { get; }

    /// <summary>Dimension d.</summary>
    public int Dimension { get; }

    /// <summary>Normalized weights.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>Means, row k = component k.</summary>
    public ReadOnlySpan<double> Means => _means;

    /// <summary>Variances v_k.</summary>
    public ReadOnlySpan<double> Variances => _variances;

    /// <summary>
    /// The built-in mixture of docs/math.md section 5: 8 equal-weight components with variance 0.05 and means
    /// mu_k[j] = 4 sqrt(2/d) cos(2 pi k (floor(j/2) + 1) / 8 + (j mod 2) pi / 2), so |mu_k| = 4. d must be even.
    /// </summary>
    public static GaussianMixture Builtin(int dimension)
    {
        if (dimension < 2 || dimension % 2 != 0)
        {
            throw new ArgumentException($"builtin:mixture needs an even dimension >= 2 (got {dimension}).");
        }

        const int K = 8;
        var means = new double[K * dimension];
        double scale = 4.0 * Math.Sqrt(2.0 / dimension);
        for (int k = 0; k < K; k++)
        {
            for (int j = 0; j < dimension; j++)
            {
                means[(k * dimension) + j] = scale * Math.Cos((2.0 * Math.PI * k * ((j / 2) + 1) / 8.0) + ((j % 2) * Math.PI / 2.0));
            }
        }

        double[] weights = [.. Enumerable.Repeat(1.0 / K, K)];
        double[] variances = [.. Enumerable.Repeat(0.05, K)];
        return new GaussianMixture(weights, means, variances);
    }

    /// <summary>
    /// The posterior of x0 given the observation y at signal-to-noise ratio s &gt;= 0: component probabilities
    /// (proportional to w_k N(y; s mu_k, (s^2 v_k + s) I), normalized with log-sum-exp) and the component
    /// posterior means (mu_k / v_k + y) / (1 / v_k + s). At s = 0 the posterior is the prior.
    /// </summary>
    /// <param name="y">The observation (d values).</param>
    /// <param name="s">The signal-to-noise ratio.</param>
    /// <param name="probabilities">K posterior component probabilities (output).</param>
    /// <param name="componentMeans">K x d component posterior means (output; may be empty to skip).</param>
    /// <param name="dropVarianceTerm">
    /// Test hook for the exchangeability test's negative control: uses (s) instead of (s^2 v_k + s) as the
    /// predictive variance, which is wrong.
    /// </param>
    public void Posterior(ReadOnlySpan<double> y, double s, Span<double> probabilities, Span<double> componentMeans, bool dropVarianceTerm = false)
    {
        int d = Dimension, kCount = Components;
        if (y.Length != d || probabilities.Length != kCount || (!componentMeans.IsEmpty && componentMeans.Length != kCount * d))
        {
            throw new ArgumentException("Posterior buffers do not match the mixture's dimension and component count.");
        }

        if (!(s >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(s), $"The SNR must be >= 0 (got {s}).");
        }

        double maxLog = double.NegativeInfinity;
        for (int k = 0; k < kCount; k++)
        {
            double logp = Math.Log(_weights[k]);
            if (s > 0)
            {
                double variance = dropVarianceTerm ? s : (s * s * _variances[k]) + s;
                ReadOnlySpan<double> mu = _means.AsSpan(k * d, d);
                double sq = 0;
                for (int j = 0; j < d; j++)
                {
                    double diff = y[j] - (s * mu[j]);
                    sq += diff * diff;
                }

                logp += (-0.5 * d * Math.Log(variance)) - (sq / (2.0 * variance));
            }

            probabilities[k] = logp;
            maxLog = Math.Max(maxLog, logp);
        }

        double total = 0;
        for (int k = 0; k < kCount; k++)
        {
            probabilities[k] = Math.Exp(probabilities[k] - maxLog);
            total += probabilities[k];
        }

        for (int k = 0; k < kCount; k++)
        {
            probabilities[k] /= total;
        }

        if (componentMeans.IsEmpty)
        {
            return;
        }

        for (int k = 0; k < kCount; k++)
        {
            double precision = (1.0 / _variances[k]) + s;
            for (int j = 0; j < d; j++)
            {
                componentMeans[(k * d) + j] = ((_means[(k * d) + j] / _variances[k]) + y[j]) / precision;
            }
        }
    }

    /// <summary>E[x0 | y] at SNR s: the exact denoiser.</summary>
    public void PosteriorMean(ReadOnlySpan<double> y, double s, Span<double> mean)
    {
        int d = Dimension, kCount = Components;
        Span<double> p = kCount <= 64 ? stackalloc double[kCount] : new double[kCount];
        double[] means = new double[kCount * d];
        Posterior(y, s, p, means);
        mean.Clear();
        for (int k = 0; k < kCount; k++)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += p[k] * means[(k * d) + j];
            }
        }
    }

    /// <summary>log p_s(y), the density of y = s x0 + W_s (for Tweedie's formula in tests).</summary>
    public double LogDensity(ReadOnlySpan<double> y, double s)
    {
        int d = Dimension;
        double maxLog = double.NegativeInfinity;
        Span<double> logs = stackalloc double[Components];
        for (int k = 0; k < Components; k++)
        {
            double variance = (s * s * _variances[k]) + s;
            double sq = 0;
            for (int j = 0; j < d; j++)
            {
                double diff = y[j] - (s * _means[(k * d) + j]);
                sq += diff * diff;
            }

            logs[k] = Math.Log(_weights[k]) - (0.5 * d * Math.Log(2 * Math.PI * variance)) - (sq / (2.0 * variance));
            maxLog = Math.Max(maxLog, logs[k]);
        }

        double total = 0;
        foreach (double l in logs)
        {
            total += Math.Exp(l - maxLog);
        }

        return maxLog + Math.Log(total);
    }
}
