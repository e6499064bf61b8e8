using Asd.Simd.Kernels.Gemm;

namespace Asd.Tests.Simd;

/// <summary>
/// The GEMM with float16 weights (<see cref="PackedMatrix.PackHalf"/>): on every ISA path it must give, bit for bit,
/// what the float32 GEMM gives on the same weights widened to float, and so the scalar reference of
/// <see cref="GemmTests"/>. The weights cover every class of half: zeros of both signs, subnormals, the smallest and
/// largest normals, and ordinary values.
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class HalfGemmTests
{
    public static TheoryData<IsaPath> Paths => GemmTests.Paths;

    /// <summary>Random half bit patterns: mostly ordinary weights, with every special finite class mixed in.</summary>
    internal static ushort[] RandomHalves(System.Random rng, int count)
    {
        var h = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            h[i] = (rng.Next(8)) switch
            {
                0 => (ushort)rng.Next(0, 0x400),                       // +subnormal (and +0)
                1 => (ushort)(0x8000 | rng.Next(0, 0x400)),            // -subnormal (and -0)
                2 => (ushort)(rng.Next(2) << 15 | rng.Next(0x7800, 0x7C00)), // the largest exponents
                3 => (ushort)(rng.Next(2) << 15 | rng.Next(0x400, 0x800)),   // the smallest normals
                _ => BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() * 2) - 1)),
            };
        }

        return h;
    }

    private static float[] Widen(ushort[] h) => [.. h.Select(b => (float)BitConverter.UInt16BitsToHalf(b))];

    /// <summary>
    /// Packing weights runs every kernel of their path and type once (SgemmKernels.CompileAll), so that a JIT build
    /// compiles them at model load, not inside the first call of each new row count; and the empty runs leave the
    /// products as they were.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void PackingCompilesEveryKernelOfItsPathAndType(IsaPath path)
    {
        var rng = new System.Random(3);
        ushort[] h = RandomHalves(rng, 40 * 70);
        PackedMatrix half = PackedMatrix.PackHalf(h, 40, 70, outputMajor: false, path);
        PackedMatrix full = PackedMatrix.Pack(Widen(h), 40, 70, outputMajor: false, path);
        Assert.True(SgemmKernels.Compiled(path, half: true));
        Assert.True(SgemmKernels.Compiled(path, half: false));

        float[] a = [.. Enumerable.Range(0, 5 * 40).Select(_ => (float)rng.NextDouble() - 0.5f)];
        float[] ch = new float[5 * 70], cf = new float[5 * 70];
        Sgemm.Multiply(a, 5, 40, half, [], Asd.Simd.Kernels.Activation.Identity, [], 0, ch, 70);
        Sgemm.Multiply(a, 5, 40, full, [], Asd.Simd.Kernels.Activation.Identity, [], 0, cf, 70);
        Assert.Equal(cf, ch);
        Assert.Contains(cf, v => v != 0);
    }

    [Fact]
    public void TheWideningScaleIsTwoToThe112()
    {
        float scale = SgemmKernels.HalfScale;
        int mask = SgemmKernels.HalfMask;
        Assert.Equal(Math.Pow(2, 112), scale);
        Assert.Equal(0x8FFFFFFFu, unchecked((uint)mask));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void HalfWeightsGiveTheFloatGemmOfTheWidenedWeights(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        var rng = new System.Random(15);

        // Every tile height and multi-panel width, edge panels, K across blocks, both layouts.
        (int M, int K, int N)[] shapes =
        [
            (1, 1, 1), (1, 7, 130), (2, 33, 129), (3, 257, 300), (4, 16, 64), (5, 40, 37), (6, 300, 96), (7, 5, 17),
            (8, 513, 64), (12, 24, 33), (13, 70, 128), (16, 31, 257), (25, 100, 45), (64, 20, 20), (70, 1100, 40),
        ];
        foreach ((int m, int k, int n) in shapes)
        {
            foreach (bool outputMajor in (bool[])[false, true])
            {
                // Activations up to 2^16 exercise the largest products; large halves times large activations stay finite.
                float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)(((rng.NextDouble() * 2) - 1) * (rng.Next(4) == 0 ? 1e-3 : 1)))];
                ushort[] h = RandomHalves(rng, k * n);
                float[] bias = [.. Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble())];
                PackedMatrix half = PackedMatrix.PackHalf(h, k, n, outputMajor, path);
                PackedMatrix full = PackedMatrix.Pack(Widen(h), k, n, outputMajor, path);
                Assert.True(half.HalfWeights);
                Assert.Equal(full.Bytes, 2 * half.Bytes);
                var c16 = new float[m * n];
                var c32 = new float[m * n];
                Sgemm.Multiply(a, m, k, half, bias, Activation.Mish, default, 0, c16, n);
                Sgemm.Multiply(a, m, k, full, bias, Activation.Mish, default, 0, c32, n);
                for (int i = 0; i < c16.Length; i++)
                {
                    if (BitConverter.SingleToInt32Bits(c16[i]) != BitConverter.SingleToInt32Bits(c32[i]))
                    {
                        Assert.Fail($"{path} M={m} K={k} N={n} outputMajor={outputMajor}: element {i} is {c16[i]:R} with half weights, {c32[i]:R} with float weights");
                    }
                }

                for (int kk = 0; kk < k; kk += Math.Max(1, k / 5))
                {
                    Assert.Equal(full[kk, n - 1], half[kk, n - 1]);
                }
            }
        }
    }

    /// <summary>
    /// A GEMM with many row tiles widens each block of float16 weights once and runs the float kernels on it
    /// (Sgemm.WidenOnceTiles): the same bits as the float16 kernels, which widen in registers, on every path, from one
    /// tile to many, with edge panels, K across blocks and activations beyond the scaled kernels' limit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void WideningOnceForAllTilesGivesTheKernelsBits(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        var rng = new System.Random(27);
        int before = Sgemm.WidenOnceTiles;
        try
        {
            foreach ((int m, int k, int n) in ((int, int, int)[])[(1, 40, 33), (7, 300, 64), (30, 1100, 40), (64, 50, 97)])
            {
                float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
                a[rng.Next(a.Length)] = 1e6f;
                ushort[] h = RandomHalves(rng, k * n);
                PackedMatrix half = PackedMatrix.PackHalf(h, k, n, outputMajor: false, path);
                var inKernels = new float[m * n];
                var once = new float[m * n];
                Sgemm.WidenOnceTiles = int.MaxValue;
                Sgemm.Multiply(a, m, k, half, default, Activation.Identity, default, 0, inKernels, n);
                Sgemm.WidenOnceTiles = 1;
                Sgemm.Multiply(a, m, k, half, default, Activation.Identity, default, 0, once, n);
                Assert.Equal(inKernels.Select(BitConverter.SingleToInt32Bits), once.Select(BitConverter.SingleToInt32Bits));
                Assert.Contains(once, v => v != 0);
            }
        }
        finally
        {
            Sgemm.WidenOnceTiles = before;
        }
    }

    /// <summary>
    /// The float16 kernels take A scaled by 2^112 and skip the multiply in the widening (Sgemm.ScaleForHalf); a GEMM whose
    /// A holds |x| >= 2^16, an infinity or a NaN runs the kernels that multiply. Both must give the float GEMM's bits:
    /// activations at the limit and beyond it, subnormal activations (which the scale makes normal), products that
    /// overflow, and a NaN.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void ScaledAndUnscaledActivationsGiveTheFloatBits(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        var rng = new System.Random(21);
        const int k = 70, n = 65;
        ushort[] h = RandomHalves(rng, k * n);
        PackedMatrix half = PackedMatrix.PackHalf(h, k, n, outputMajor: false, path);
        PackedMatrix full = PackedMatrix.Pack(Widen(h), k, n, outputMajor: false, path);
        float below = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(Sgemm.ScaledHalfLimit) - 1);
        float[] specials = [below, -below, Sgemm.ScaledHalfLimit, 1e30f, float.Epsilon, -1e-40f, 1e-38f, float.MaxValue, float.PositiveInfinity, float.NaN];
        foreach (float special in specials)
        {
            foreach (int m in (int[])[1, 4, 8, 13])
            {
                float[] a = [.. Enumerable.Range(0, m * k).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
                a[rng.Next(a.Length)] = special;
                a[rng.Next(a.Length)] = (float)(rng.NextDouble() * 1e-39); // subnormal
                var c16 = new float[m * n];
                var c32 = new float[m * n];
                Sgemm.Multiply(a, m, k, half, default, Activation.Identity, default, 0, c16, n);
                Sgemm.Multiply(a, m, k, full, default, Activation.Identity, default, 0, c32, n);
                for (int i = 0; i < c16.Length; i++)
                {
                    bool same = BitConverter.SingleToInt32Bits(c16[i]) == BitConverter.SingleToInt32Bits(c32[i]) || (float.IsNaN(c16[i]) && float.IsNaN(c32[i]));
                    Assert.True(same, $"{path} M={m} with {special:R} in A: element {i} is {c16[i]:R} with half weights, {c32[i]:R} with float weights");
                }

                if (float.IsFinite(special) && special != float.MaxValue)
                {
                    Assert.Contains(c32, v => v != 0 && float.IsFinite(v));
                }
            }
        }
    }

    /// <summary>ScaleForHalf: x 2^112 exactly, and true only while every |x| is below 2^16 (not NaN, not infinite).</summary>
    [Fact]
    public void ScalingForTheHalfKernelsIsExactAndRefusesWhatWouldOverflow()
    {
        float below = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(Sgemm.ScaledHalfLimit) - 1);
        float[] fine = [0f, -0f, 1f, -1.5f, below, -below, float.Epsilon, 1e-40f, 3.25e-20f, 12345.678f];
        foreach (int length in (int[])[1, 7, 16, 33])
        {
            float[] src = [.. Enumerable.Range(0, length).Select(i => fine[i % fine.Length])];
            var dst = new float[length];
            Assert.True(Sgemm.ScaleForHalf(src, dst));
            for (int i = 0; i < length; i++)
            {
                Assert.Equal((double)src[i] * Math.Pow(2, 112), (double)dst[i]);
            }

            foreach (float bad in (float[])[Sgemm.ScaledHalfLimit, -Sgemm.ScaledHalfLimit, 1e20f, float.PositiveInfinity, float.NegativeInfinity, float.NaN])
            {
                float[] with = [.. src];
                with[length - 1] = bad;
                Assert.False(Sgemm.ScaleForHalf(with, dst), $"{bad} at position {length - 1} of {length}");
                with = [.. src];
                with[0] = bad;
                Assert.False(Sgemm.ScaleForHalf(with, dst), $"{bad} at position 0 of {length}");
            }
        }
    }

    [Fact]
    public void EveryFiniteHalfWidensExactly()
    {
        // A 1 x 1 x N GEMM with A = 1 returns the widened weights themselves: all 63,488 finite half patterns.
        ushort[] all = [.. Enumerable.Range(0, 0x10000).Where(b => (b & 0x7C00) != 0x7C00).Select(b => (ushort)b)];
        foreach (IsaPath path in Isa.Supported())
        {
            using ForcedIsa forced = ForcedIsa.On(path);
            PackedMatrix w = PackedMatrix.PackHalf(all, 1, all.Length, outputMajor: false, path);
            var c = new float[all.Length];
            Sgemm.Multiply([1f], 1, 1, w, default, Activation.Identity, default, 0, c, all.Length);
            for (int i = 0; i < all.Length; i++)
            {
                float want = (float)BitConverter.UInt16BitsToHalf(all[i]);

                // 1 * w + 0: -0 becomes +0 in the chain that starts from +0, on every path alike.
                Assert.True(c[i] == want, $"{path}: half 0x{all[i]:X4} widened to {c[i]:R}, expected {want:R}");
            }
        }
    }

    [Fact]
    public void NonFiniteHalvesAreRejected()
    {
        ushort inf = BitConverter.HalfToUInt16Bits(Half.PositiveInfinity), nan = BitConverter.HalfToUInt16Bits(Half.NaN);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => PackedMatrix.PackHalf([0, inf], 1, 2, outputMajor: false)).Message);
        Assert.Throws<ArgumentException>(() => PackedMatrix.PackHalf([nan, 0], 2, 1, outputMajor: false));
        Assert.Throws<ArgumentException>(() => PackedMatrix.PackHalf([0, 0, 0], 2, 1, outputMajor: false));
    }
}
