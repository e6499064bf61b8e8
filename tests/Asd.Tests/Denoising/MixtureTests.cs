namespace Asd.Tests.Denoising;

public sealed class MixtureTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void PosteriorMeanMatchesTweedieByNumericalDifferentiation(int d)
    {
        // E[x0 | y] = y / s + grad log p_s(y), with p_s the mixture of N(s mu_k, (s^2 v_k + s) I).
        GaussianMixture mixture = RandomModels.Mixture(d, (ulong)(17 + d));
        var rng = new System.Random(d);
        foreach (double s in (double[])[0.05, 0.5, 3, 40])
        {
            for (int trial = 0; trial < 5; trial++)
            {
                double[] y = [.. Enumerable.Range(0, d).Select(_ => (rng.NextDouble() * 6 - 3) * s)];
                var mean = new double[d];
                mixture.PosteriorMean(y, s, mean);
                for (int j = 0; j < d; j++)
                {
                    double h = 1e-4 * Math.Max(1, Math.Sqrt(s));
                    double[] plus = (double[])y.Clone(), minus = (double[])y.Clone();
                    plus[j] += h;
                    minus[j] -= h;
                    double grad = (mixture.LogDensity(plus, s) - mixture.LogDensity(minus, s)) / (2 * h);
                    double tweedie = (y[j] / s) + grad;
                    Assert.True(Math.Abs(tweedie - mean[j]) <= 1e-5 * (1 + Math.Abs(mean[j])), $"d={d} s={s}: Tweedie {tweedie} vs posterior {mean[j]}");
                }
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(32)]
    public void BuiltinMixtureIsPinned(int d)
    {
        GaussianMixture m = GaussianMixture.Builtin(d);
        Assert.Equal(8, m.Components);
        for (int k = 0; k < 8; k++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, d).Sum(j => m.Means[(k * d) + j] * m.Means[(k * d) + j]));
            Assert.Equal(4.0, norm, 10);
            Assert.Equal(0.05, m.Variances[k]);
            Assert.Equal(0.125, m.Weights[k], 15);
        }

        if (d == 2)
        {
            // The ring of 8 Gaussians: mu_k = 4 (cos(2 pi k / 8), -sin(2 pi k / 8)).
            Assert.Equal(4 * Math.Cos(2 * Math.PI * 3 / 8), m.Means[6], 12);
            Assert.Equal(-4 * Math.Sin(2 * Math.PI * 3 / 8), m.Means[7], 12);
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(0)]
    [InlineData(-2)]
    public void OddOrNonPositiveDimensionIsRejected(int d) =>
        Assert.Contains("even dimension", Assert.Throws<ArgumentException>(() => GaussianMixture.Builtin(d)).Message);

    [Fact]
    public void AnalyticDenoisersAreBatchInvariant()
    {
        // A row's output bits must not depend on the batch size, its position or the thread count. 400 rows are
        // enough work for both denoisers to split them across the pool (AnalyticDenoiser's threshold; 37 were not).
        var schedule = new DiffusionSchedule(new SchedulerConfig { PredictionType = PredictionType.Epsilon });
        const int d = 6, rows = 400;
        IDenoiser[] Make(CorePool? pool) =>
        [
            new MixtureDenoiser(GaussianMixture.Builtin(d), schedule, pool),
            new AffineDenoiser(d, t => RandomModels.Affine(d, 1000, 3, t), schedule, pool),
        ];
        var rng = new System.Random(11);
        float[] x = [.. Enumerable.Range(0, rows * d).Select(_ => (float)(rng.NextDouble() * 8 - 4))];
        int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(1000))];
        IDenoiser[] single = Make(null);
        using var pool2 = new CorePool(2);
        using var pool3 = new CorePool(3);
        foreach (IDenoiser[] set in (IDenoiser[][])[single, Make(pool2), Make(pool3)])
        {
            for (int which = 0; which < set.Length; which++)
            {
                var batch = new float[rows * d];
                set[which].Denoise(x, t, default, batch);
                for (int r = 0; r < rows; r++)
                {
                    var alone = new float[d];
                    single[which].Denoise(x.AsSpan(r * d, d), [t[r]], default, alone);
                    Assert.True(alone.AsSpan().SequenceEqual(batch.AsSpan(r * d, d)), $"denoiser {which}, row {r} differs in a batch");
                }
            }
        }
    }

    [Fact]
    public void DenoiserChecksShapes()
    {
        var den = new MixtureDenoiser(GaussianMixture.Builtin(2), new DiffusionSchedule(new SchedulerConfig()));
        Assert.Contains("need 4", Assert.Throws<ArgumentException>(() => den.Denoise(new float[3], [1, 2], default, new float[4])).Message);
        Assert.Contains("unconditional", Assert.Throws<ArgumentException>(() => den.Denoise(new float[2], [1], new float[3], new float[2])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => den.Denoise(new float[2], [1000], default, new float[2]));
    }
}
