using Asd.Simd.Kernels.Gemm;
using Asd.Simd.Vectors;

namespace Asd.Tests.Simd;

/// <summary>
/// The SGEMM on every ISA path this machine supports, against a scalar reference written independently of packing
/// and tiling. Tolerance: 0. Every output element is one fused-multiply-add chain over k on every path, so the
/// results must agree bit for bit (the reference itself is checked against double precision).
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class GemmTests(ITestOutputHelper output)
{
    public static TheoryData<IsaPath> Paths
    {
        get
        {
            var data = new TheoryData<IsaPath>();
            foreach (IsaPath p in Isa.Supported())
            {
                data.Add(p);
            }

            return data;
        }
    }

    /// <summary>C = act(A W + bias) + residual, element by element: fma chain over k from 0, then bias, act, residual.</summary>
    internal static float[] Reference(float[] a, int m, int k, int lda, float[] w, int n, float[]? bias, Activation act, float[]? residual, int ldr)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float acc = 0f;
                for (int kk = 0; kk < k; kk++)
                {
                    acc = MathF.FusedMultiplyAdd(a[(i * lda) + kk], w[(kk * n) + j], acc);
                }

                if (bias is not null)
                {
                    acc += bias[j];
                }

                acc = ActivationMath.Apply(act, VecScalar.Broadcast(acc)).V;
                if (residual is not null)
                {
                    acc += residual[(i * ldr) + j];
                }

                c[(i * n) + j] = acc;
            }
        }

        return c;
    }

    private static float[] Random(System.Random rng, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2) - 1))];

    /// <summary>Runs one GEMM through the public API at element offset <paramref name="offset"/> in every buffer, and compares.</summary>
    private static void Check(IsaPath path, int m, int k, int n, Activation act, bool withBias, bool withResidual, int offset, int seed)
    {
        var rng = new System.Random(seed);
        int lda = k + (seed % 3), ldr = n + (seed % 2);
        float[] a = Random(rng, (m * lda) + offset);
        float[] w = Random(rng, k * n);
        float[]? bias = withBias ? Random(rng, n + offset) : null;
        float[]? residual = withResidual ? Random(rng, (m * ldr) + offset) : null;
        PackedMatrix packed = PackedMatrix.Pack(w, k, n, outputMajor: false, path);
        var c = new float[(m * n) + offset];
        Sgemm.Multiply(
            a.AsSpan(offset), m, lda, packed,
            bias is null ? default : bias.AsSpan(offset, n), act,
            residual is null ? default : residual.AsSpan(offset), ldr,
            c.AsSpan(offset), n);
        float[] expected = Reference(a[offset..], m, k, lda, w, n, bias?[offset..], act, residual?[offset..], ldr);
        for (int i = 0; i < m * n; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(c[offset + i]))
            {
                Assert.Fail($"{path} M={m} K={k} N={n} {act} bias={withBias} residual={withResidual} offset={offset}: element ({i / n}, {i % n}) is {c[offset + i]:R}, reference {expected[i]:R}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void EveryAxisFrom1To67MatchesTheReferenceBitForBit(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        int seed = 1;
        for (int s = 1; s <= 67; s++)
        {
            Check(path, s, 13, 37, Activation.Identity, false, false, 0, seed++);
            Check(path, 5, s, 33, Activation.Silu, true, false, 1, seed++);
            Check(path, 9, 21, s, Activation.GeluTanh, true, true, 3, seed++);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BatchesFrom1To64AndEveryEpilogueMatch(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        foreach (Activation act in Enum.GetValues<Activation>())
        {
            for (int m = 1; m <= 64; m++)
            {
                Check(path, m, 40, 70, act, m % 2 == 0, m % 3 == 0, m % 4, 1000 + m);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void LongInnerDimensionsCrossKBlocks(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        const int kb = Sgemm.KBlock;
        foreach ((int m, int k, int n) in new[] { (1, kb + 44, 32), (3, (2 * kb) + 88, 97), (8, (2 * kb) + 1, 64), (13, kb + 1, 45), (32, (2 * kb) + 8, 130) })
        {
            Check(path, m, k, n, Activation.Mish, true, true, 2, m * k);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void RandomShapesMatch(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        var rng = new System.Random(77);
        for (int t = 0; t < 60; t++)
        {
            Check(path, rng.Next(1, 68), rng.Next(1, 68), rng.Next(1, 68), (Activation)rng.Next(5), rng.Next(2) == 0, rng.Next(2) == 0, rng.Next(4), t);
        }
    }

    [Fact]
    public void PanelRangesSplitTheWorkWithoutChangingBits()
    {
        var rng = new System.Random(3);
        const int m = 11, k = 100, n = 200;
        float[] a = Random(rng, m * k), w = Random(rng, k * n), bias = Random(rng, n);
        PackedMatrix packed = PackedMatrix.Pack(w, k, n, outputMajor: false);
        var packedA = new float[Sgemm.PackedSize(m, k)];
        Sgemm.PackA(a, m, k, k, packed.Path, packedA);
        var whole = new float[m * n];
        Sgemm.MultiplyPacked(packedA, m, packed, 0, packed.Panels, bias, Activation.Relu, default, 0, whole, n);
        foreach (int split in (int[])[1, 2, 3, packed.Panels - 1])
        {
            var parts = new float[m * n];
            Sgemm.MultiplyPacked(packedA, m, packed, 0, split, bias, Activation.Relu, default, 0, parts, n);
            Sgemm.MultiplyPacked(packedA, m, packed, split, packed.Panels, bias, Activation.Relu, default, 0, parts, n);
            Assert.Equal(whole, parts);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PackingTheNextInputInTheEpilogueEqualsPackingItAfterwards(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        var rng = new System.Random(12);
        foreach ((int m, int k, int n) in new[] { (1, 40, 37), (5, 33, 64), (13, 70, 24), (32, 300, 50) })
        {
            float[] a = Random(rng, m * k), w = Random(rng, k * n), bias = Random(rng, n);
            PackedMatrix packed = PackedMatrix.Pack(w, k, n, outputMajor: false, path);
            var packedA = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(a, m, k, k, path, packedA);
            var c = new float[m * n];
            var chained = new float[Sgemm.PackedSize(m, n)];
            Array.Fill(chained, float.NaN);
            int tiles = Sgemm.TileCount(m, path);
            Sgemm.MultiplyPacked(packedA, m, packed, 0, packed.Panels, bias, Activation.Silu, default, 0, c, n, chained, 0, (tiles + 1) / 2);
            Sgemm.MultiplyPacked(packedA, m, packed, 0, packed.Panels, bias, Activation.Silu, default, 0, c, n, chained, (tiles + 1) / 2);
            var repacked = new float[Sgemm.PackedSize(m, n)];
            Sgemm.PackA(c, m, n, n, path, repacked);
            Assert.Equal(repacked, chained);
        }
    }

    [Fact]
    public void ReferenceAgreesWithDoublePrecision()
    {
        var rng = new System.Random(9);
        const int m = 7, k = 67, n = 19;
        float[] a = Random(rng, m * k), w = Random(rng, k * n);
        float[] c = Reference(a, m, k, k, w, n, null, Activation.Identity, null, n);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double exact = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    exact += (double)a[(i * k) + kk] * w[(kk * n) + j];
                }

                Assert.True(Math.Abs(c[(i * n) + j] - exact) < 1e-5, $"({i},{j}): {c[(i * n) + j]} vs {exact}");
            }
        }
    }

    [Fact]
    public void OutputMajorPackingIsTheTranspose()
    {
        var rng = new System.Random(4);
        float[] w = Random(rng, 5 * 7);
        PackedMatrix rowMajor = PackedMatrix.Pack(w, 5, 7, outputMajor: false);
        var transposed = new float[7 * 5];
        for (int kk = 0; kk < 5; kk++)
        {
            for (int j = 0; j < 7; j++)
            {
                transposed[(j * 5) + kk] = w[(kk * 7) + j];
            }
        }

        PackedMatrix outputMajor = PackedMatrix.Pack(transposed, 5, 7, outputMajor: true);
        for (int kk = 0; kk < 5; kk++)
        {
            for (int j = 0; j < 7; j++)
            {
                Assert.Equal(rowMajor[kk, j], outputMajor[kk, j]);
            }
        }
    }

    /// <summary>A [N, K] tensor read as W[K, N].</summary>
    private readonly record struct Transposed(int K) : IElementIndex
    {
        public int Of(int row, int col) => (col * K) + row;
    }

    [Fact]
    public void RepackingForAnotherPathAndPackingAPermutationEqualPackingDirectly()
    {
        // A model keeps one packed copy of its weights and derives another path's from it (Unet1dModel.PackedFor), and
        // packs a tensor's permutation without a K x N copy: both must store exactly what packing the row-major
        // matrix for that path stores, padding included. K = 1100 crosses a K block; N = 37 leaves an edge panel on
        // every path; float16 and float32 alike. The control: a repack that drops one element is told apart.
        var rng = new System.Random(17);
        int k = Sgemm.KBlock + 76, n = 37;
        float[] w = Random(rng, k * n);
        ushort[] h = [.. w.Select(v => BitConverter.HalfToUInt16Bits((Half)v))];
        // The same matrix as a [n, k] tensor (an nn.Linear weight), read through the index a layer's packing uses.
        float[] tensor = new float[n * k];
        for (int r = 0; r < k; r++)
        {
            for (int c = 0; c < n; c++)
            {
                tensor[(c * k) + r] = w[(r * n) + c];
            }
        }

        ushort[] halfTensor = [.. tensor.Select(v => BitConverter.HalfToUInt16Bits((Half)v))];
        IsaPath[] paths = [.. Isa.Supported()];
        foreach (IsaPath from in paths)
        {
            PackedMatrix f = PackedMatrix.PackPermuted(tensor, k, n, new Transposed(k), from);
            PackedMatrix hf = PackedMatrix.PackPermuted(halfTensor, k, n, new Transposed(k), from);
            Assert.Equal(PackedMatrix.Pack(w, k, n, outputMajor: false, from).Data, f.Data);
            Assert.Equal(PackedMatrix.PackHalf(h, k, n, outputMajor: false, from).HalfData, hf.HalfData);
            foreach (IsaPath to in paths)
            {
                PackedMatrix direct = PackedMatrix.Pack(w, k, n, outputMajor: false, to), repacked = f.Repack(to);
                Assert.Equal(to, repacked.Path);
                Assert.Equal(direct.Data, repacked.Data);
                Assert.True(repacked.HalfData.Length == 0);
                Assert.Equal(PackedMatrix.PackHalf(h, k, n, outputMajor: false, to).HalfData, hf.Repack(to).HalfData);
            }
        }

        float[] dropped = (float[])w.Clone();
        dropped[(k - 1) * n] = 0f;
        Assert.NotEqual(PackedMatrix.Pack(dropped, k, n, outputMajor: false, paths[0]).Data, PackedMatrix.Pack(w, k, n, outputMajor: false, paths[^1]).Repack(paths[0]).Data);
        output.WriteLine($"paths: {string.Join(", ", paths)}");
    }

    [Fact]
    public void BadShapesAreRejected()
    {
        PackedMatrix w = PackedMatrix.Pack(new float[6], 2, 3, outputMajor: false);
        Assert.Throws<ArgumentException>(() => PackedMatrix.Pack(new float[5], 2, 3, outputMajor: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedMatrix.Pack([], 0, 3, outputMajor: false));
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(new float[3], 2, 2, w, default, Activation.Identity, default, 0, new float[6], 3));
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(new float[4], 2, 2, w, default, Activation.Identity, default, 0, new float[5], 3));
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(new float[4], 2, 2, w, new float[2], Activation.Identity, default, 0, new float[6], 3));
        var c = new float[6];
        Assert.Throws<ArgumentException>(() => Sgemm.Multiply(new float[4], 2, 2, w, default, Activation.Identity, c, 3, c, 3));
    }

    [Fact]
    public void ActivationsMatchTheirDefinitions()
    {
        double worst = 0;
        for (int i = -4000; i <= 4000; i++)
        {
            float x = i / 200f;
            double xd = x;
            double sig = 1 / (1 + Math.Exp(-xd));
            double[] exact =
            [
                xd, Math.Max(xd, 0), xd * sig,
                0.5 * xd * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (xd + (0.044715 * xd * xd * xd)))),
                xd * Math.Tanh(Math.Log(1 + Math.Exp(xd))),
            ];
            for (int a = 0; a < 5; a++)
            {
                float got = ActivationMath.Apply((Activation)a, VecScalar.Broadcast(x)).V;
                worst = Math.Max(worst, Math.Abs(got - exact[a]) / (1 + Math.Abs(exact[a])));
            }
        }

        output.WriteLine($"worst relative error of the activations on [-20, 20]: {worst:E2}");
        Assert.True(worst < 1e-6);
        Assert.True(Math.Abs(ActivationMath.Apply(Activation.Silu, VecScalar.Broadcast(-200f)).V) < 1e-30f);
        Assert.Equal(300f, ActivationMath.Apply(Activation.Mish, VecScalar.Broadcast(300f)).V);
    }
}
