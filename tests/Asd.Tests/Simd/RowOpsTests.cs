namespace Asd.Tests.Simd;

/// <summary>
/// The verifier's reductions and row updates, and the per-row kernels, on every ISA path, at every length 0..257 and
/// misaligned offsets 0..15 (floats). Tolerance: 0 between paths and offsets (the kernels are written so the bits do
/// not depend on either); against double-precision references, the stated relative tolerance.
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class RowOpsTests
{
    private static float[] Random(System.Random rng, int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 4) - 2))];

    private static void OnEveryPath(Action<IsaPath> test)
    {
        try
        {
            foreach (IsaPath path in Isa.Supported())
            {
                Isa.Force(path);
                test(path);
            }
        }
        finally
        {
            Isa.Force(null);
        }
    }

    [Fact]
    public void DotProductsDoNotDependOnPathOrAlignment()
    {
        var rng = new System.Random(1);
        for (int n = 0; n <= 257; n++)
        {
            float[] z = Random(rng, n + 16), p = Random(rng, n + 16), q = Random(rng, n + 16);
            Isa.Force(IsaPath.Scalar);
            RowOps.DifferenceDotAndNorm(z.AsSpan(0, n), p.AsSpan(0, n), q.AsSpan(0, n), out double zu0, out double uu0);
            Isa.Force(null);
            double zuExact = 0, uuExact = 0;
            for (int i = 0; i < n; i++)
            {
                double u = (double)p[i] - q[i];
                zuExact += z[i] * u;
                uuExact += u * u;
            }

            Assert.True(Math.Abs(zu0 - zuExact) <= 1e-12 * (1 + Math.Abs(zuExact)) && Math.Abs(uu0 - uuExact) <= 1e-12 * (1 + uuExact));
            int length = n;
            OnEveryPath(path =>
            {
                for (int offset = 0; offset < 16; offset++)
                {
                    // The same values placed at another offset: the bits must not move.
                    float[] z2 = new float[length + 16], p2 = new float[length + 16], q2 = new float[length + 16];
                    Array.Copy(z, 0, z2, offset, length);
                    Array.Copy(p, 0, p2, offset, length);
                    Array.Copy(q, 0, q2, offset, length);
                    RowOps.DifferenceDotAndNorm(z2.AsSpan(offset, length), p2.AsSpan(offset, length), q2.AsSpan(offset, length), out double zu, out double uu);
                    Assert.True(zu == zu0 && uu == uu0, $"{path}, n={length}, offset {offset}: ({zu}, {uu}) vs ({zu0}, {uu0})");
                }
            });
        }
    }

    [Fact]
    public void RowUpdatesAgreeOnEveryPathAndOffset()
    {
        var rng = new System.Random(2);
        for (int n = 0; n <= 257; n++)
        {
            float[] x = Random(rng, n + 16), m = Random(rng, n + 16), z = Random(rng, n + 16);
            var expected = new float[n];
            for (int i = 0; i < n; i++)
            {
                expected[i] = MathF.FusedMultiplyAdd(0.3f, z[i], MathF.FusedMultiplyAdd(-1.7f, m[i], 0.9f * x[i]));
            }

            int length = n;
            OnEveryPath(path =>
            {
                for (int offset = 0; offset < 16; offset += 3)
                {
                    var dst = new float[length + 16];
                    RowOps.LinearCombination(0.9f, x.AsSpan(0, length), -1.7f, m.AsSpan(0, length), 0.3f, z.AsSpan(0, length), dst.AsSpan(offset, length));
                    Assert.True(expected.AsSpan().SequenceEqual(dst.AsSpan(offset, length)), $"{path}, n={length}, offset {offset}");

                    RowOps.AffineCombineClamp(1.5f, x.AsSpan(0, length), -0.5f, m.AsSpan(0, length), 1f, dst.AsSpan(offset, length));
                    for (int i = 0; i < length; i++)
                    {
                        float e = Math.Clamp(MathF.FusedMultiplyAdd(-0.5f, m[i], 1.5f * x[i]), -1f, 1f);
                        Assert.Equal(e, dst[offset + i]);
                    }
                }
            });
        }
    }

    [Fact]
    public void ReflectionEqualsTheHouseholderMatrixOfTheDifference()
    {
        // Independent of the kernel's formula: the reflection across the hyperplane orthogonal to u = p - q is the
        // Householder matrix H = I - 2 u u^T / (u^T u), applied here as an explicit matrix in double. It is an isometry,
        // flips the component along u and keeps the rest.
        var rng = new System.Random(4);
        for (int n = 1; n <= 40; n++)
        {
            float[] z = Random(rng, n), p = Random(rng, n), q = Random(rng, n);
            double[] u = [.. p.Zip(q, (a, b) => (double)a - b)];
            double uu = u.Sum(v => v * v), zu = z.Zip(u, (a, b) => a * b).Sum();
            var reflected = new float[n];
            RowOps.ReflectAcrossDifference(z, p, q, zu, uu, reflected);
            for (int i = 0; i < n; i++)
            {
                double h = 0;
                for (int j = 0; j < n; j++)
                {
                    h += ((i == j ? 1 : 0) - (2 * u[i] * u[j] / uu)) * z[j];
                }

                Assert.True(Math.Abs(reflected[i] - h) <= 1e-5 * (1 + Math.Abs(h)), $"n={n}, element {i}: {reflected[i]} vs {h}");
            }

            double norm = Math.Sqrt(z.Sum(v => (double)v * v)), reflectedNorm = Math.Sqrt(reflected.Sum(v => (double)v * v));
            Assert.True(Math.Abs(norm - reflectedNorm) <= 1e-5 * (1 + norm), $"n={n}: |z| {norm} vs |z'| {reflectedNorm}");
            Assert.True(Math.Abs(reflected.Zip(u, (a, b) => a * b).Sum() + zu) <= 1e-5 * (1 + (norm * Math.Sqrt(uu))), $"n={n}: z'.u must be -z.u");
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => RowOps.ReflectAcrossDifference([1f], [2f], [2f], 0, 0, new float[1]));
    }

    [Fact]
    public void AllFiniteFindsNaNAndInfinityAnywhere()
    {
        for (int n = 1; n <= 70; n++)
        {
            var v = new float[n];
            Assert.True(RowOps.AllFinite(v));
            for (int i = 0; i < n; i += 7)
            {
                v[i] = float.NaN;
                Assert.False(RowOps.AllFinite(v));
                v[i] = float.NegativeInfinity;
                Assert.False(RowOps.AllFinite(v));
                v[i] = 0;
            }
        }
    }

    [Fact]
    public void LayerNormAndEmbeddingMatchTheirDefinitions()
    {
        var rng = new System.Random(3);
        for (int n = 1; n <= 67; n++)
        {
            float[] x = Random(rng, n), w = Random(rng, n), b = Random(rng, n);
            var y = new float[n];
            RowNorm.LayerNorm(x, w, b, 1e-5, y);
            double mean = x.Average(v => (double)v);
            double var = x.Average(v => (v - mean) * (v - mean));
            for (int i = 0; i < n; i++)
            {
                double e = ((x[i] - mean) / Math.Sqrt(var + 1e-5) * w[i]) + b[i];
                Assert.True(Math.Abs(y[i] - e) <= 1e-5 * (1 + Math.Abs(e)), $"n={n}: {y[i]} vs {e}");
            }

            // In place gives the same bits.
            float[] copy = (float[])x.Clone();
            RowNorm.LayerNorm(copy, w, b, 1e-5, copy);
            Assert.Equal(y, copy);
        }

        // Every path and offset gives the scalar path's bits (rows of 8k and not, so the vector statistics and
        // normalization and their scalar tails all run).
        foreach (int n in new[] { 1, 3, 4, 7, 8, 12, 16, 24, 31, 64, 100, 256, 768 })
        {
            float[] x = Random(rng, n), w = Random(rng, n), b = Random(rng, n);
            var reference = new float[n];
            Isa.Force(IsaPath.Scalar);
            RowNorm.LayerNorm(x, w, b, 1e-5, reference);
            Isa.Force(null);
            OnEveryPath(path =>
            {
                for (int offset = 0; offset < 16; offset += 5)
                {
                    float[] x2 = new float[n + 16], w2 = new float[n + 16], b2 = new float[n + 16], y2 = new float[n + 16];
                    Array.Copy(x, 0, x2, offset, n);
                    Array.Copy(w, 0, w2, offset, n);
                    Array.Copy(b, 0, b2, offset, n);
                    RowNorm.LayerNorm(x2.AsSpan(offset, n), w2.AsSpan(offset, n), b2.AsSpan(offset, n), 1e-5, y2.AsSpan(offset, n));
                    Assert.True(reference.AsSpan().SequenceEqual(y2.AsSpan(offset, n)), $"{path}, n={n}, offset {offset}");
                }
            });
        }

        float[] freqs = RowNorm.SinusoidalFrequencies(8, 10000, 1);
        var emb = new float[8];
        RowNorm.SinusoidalEmbedding(250, freqs, 1f, flipSinToCos: false, emb);
        for (int i = 0; i < 4; i++)
        {
            double f = Math.Exp(-Math.Log(10000) * i / 3.0);
            Assert.Equal(Math.Sin(250 * f), emb[i], 1e-5);
            Assert.Equal(Math.Cos(250 * f), emb[4 + i], 1e-5);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => RowNorm.SinusoidalFrequencies(7, 10000, 1));
    }

    /// <summary>
    /// The group statistics add the elements in one fixed order on every path (element e into lane e mod 8, the lanes
    /// in a fixed tree), so the double mean and inverse are equal bit for bit. The values span 2^-30..2^30, where
    /// double sums lose bits and any other order of additions gives other doubles (the float outputs of a
    /// normalization would rarely show it).
    /// </summary>
    [Fact]
    public void GroupStatisticsAreTheSameDoublesOnEveryPath()
    {
        var rng = new System.Random(4);
        foreach ((int length, int channels) in new[] { (1, 8), (1, 768), (16, 8), (16, 32), (8, 64), (4, 256), (5, 12), (3, 20), (7, 40) })
        {
            int ld = channels + 3, channel0 = 2;
            float[] x = [.. Enumerable.Range(0, (length * ld) + channel0).Select(_ => (float)(((rng.NextDouble() * 2) - 1) * Math.Pow(2, rng.Next(-30, 31))))];
            Isa.Force(IsaPath.Scalar);
            (double mean0, double inv0) = GroupNorm.Statistics(x, ld, length, channel0, channels, 1e-5);
            Isa.Force(null);
            OnEveryPath(path =>
            {
                (double mean, double inv) = GroupNorm.Statistics(x, ld, length, channel0, channels, 1e-5);
                Assert.True(mean.Equals(mean0) && inv.Equals(inv0), $"{path}, {length} x {channels}: ({mean:R}, {inv:R}) vs ({mean0:R}, {inv0:R})");
            });
        }
    }

    /// <summary>Every row kernel checks its spans' lengths first and names the one that disagrees (a short span must
    /// never be read past, nor a long one silently cut).</summary>
    [Fact]
    public void MismatchedLengthsAreRejectedByName()
    {
        float[] four = new float[4], five = new float[5];
        void Named(string name, Action call) =>
            Assert.Contains($"'{name}' has length 5, expected 4", Assert.Throws<ArgumentException>(call).Message);

        Named("x", () => RowOps.LinearCombination(1f, five, 1f, four, 1f, four, four));
        Named("m", () => RowOps.LinearCombination(1f, four, 1f, five, 1f, four, four));
        Named("z", () => RowOps.LinearCombination(1f, four, 1f, four, 1f, five, four));
        Named("x", () => RowOps.AffineCombineClamp(1f, five, 1f, four, 1f, four));
        Named("y", () => RowOps.AffineCombineClamp(1f, four, 1f, five, 1f, four));
        Named("p", () => RowOps.DifferenceDotAndNorm(four, five, four, out _, out _));
        Named("q", () => RowOps.DifferenceDotAndNorm(four, four, five, out _, out _));
        Named("p", () => RowOps.ReflectAcrossDifference(four, five, four, 1, 1, four));
        Named("q", () => RowOps.ReflectAcrossDifference(four, four, five, 1, 1, four));
        Named("destination", () => RowOps.ReflectAcrossDifference(four, four, four, 1, 1, five));
    }

    /// <summary>p = q gives no reflection axis: an error that says so, not a division by zero into NaN.</summary>
    [Fact]
    public void AZeroReflectionAxisIsRejected()
    {
        float[] z = [1f, 2f], p = [3f, 4f];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => RowOps.ReflectAcrossDifference(z, p, p, 0, 0, new float[2]));
        Assert.Equal("uDotU", e.ParamName);
        Assert.Contains("reflection axis must be non-zero", e.Message);
    }
}
