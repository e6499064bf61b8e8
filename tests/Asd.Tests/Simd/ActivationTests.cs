using Asd.Simd.Vectors;

namespace Asd.Tests.Simd;

/// <summary>
/// The activations' exp clamps its input with compare-and-select and converts its integer part with the platform's own
/// conversion (the cheap forms); these tests pin that this changed no bit against the IEEE min/max and the saturating
/// conversion it was first written with (<see cref="ReferenceApply"/>), on every path this machine has. Tolerance: 0,
/// NaN payloads included. An exhaustive run over all 2^32 inputs on AVX2 found no difference either (2026-12-05,
/// a one-off program); here, the special values and the clamps' edges, a dense sweep and random bit patterns.
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class ActivationTests
{
    private static readonly Activation[] Exponential = [Activation.Silu, Activation.GeluTanh, Activation.Mish];

    /// <summary>The exp of the activations as first written: IEEE min/max clamps and the saturating conversion.</summary>
    private static TV ReferenceExp<TV>(TV x)
        where TV : struct, IVec<TV>
    {
        x = TV.Max(TV.Min(x, TV.Broadcast(88.3f)), TV.Broadcast(-87.3f));
        TV k = TV.Round(TV.Multiply(x, TV.Broadcast(1.44269504088896341f)));
        TV r = TV.MultiplyAdd(k, TV.Broadcast(-0.693145751953125f), x);
        r = TV.MultiplyAdd(k, TV.Broadcast(-1.428606765330187e-06f), r);
        TV p = TV.MultiplyAdd(r, TV.Broadcast(1f / 5040f), TV.Broadcast(1f / 720f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 120f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 24f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 6f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(0.5f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f));
        TV scale = TV.ShiftLeftBits(TV.AddBits(TV.ConvertToInt32Bits(k), TV.BroadcastBits(127u)), 23);
        return TV.Multiply(p, scale);
    }

    private static float ReferenceApply(Activation activation, float value)
    {
        VecScalar x = VecScalar.Broadcast(value);
        VecScalar one = VecScalar.Broadcast(1f);
        return activation switch
        {
            Activation.Silu => VecScalar.Divide(x, VecScalar.Add(one, ReferenceExp(VecScalar.Subtract(VecScalar.Broadcast(0f), x)))).V,
            Activation.GeluTanh => VecScalar.Divide(x, VecScalar.Add(one, ReferenceExp(VecScalar.Multiply(
                VecScalar.Multiply(x, VecScalar.MultiplyAdd(VecScalar.Multiply(x, x), VecScalar.Broadcast(0.044715f), one)),
                VecScalar.Broadcast(-1.5957691216057308f))))).V,
            _ => Mish(x),
        };

        static float Mish(VecScalar x)
        {
            VecScalar e = ReferenceExp(VecScalar.Min(x, VecScalar.Broadcast(20f)));
            VecScalar n = VecScalar.Multiply(e, VecScalar.Add(e, VecScalar.Broadcast(2f)));
            return VecScalar.Multiply(x, VecScalar.Divide(n, VecScalar.Add(n, VecScalar.Broadcast(2f)))).V;
        }
    }

    private static float[] Inputs()
    {
        var values = new List<float>
        {
            float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7FC0_1234), BitConverter.UInt32BitsToSingle(0xFF80_0001),
            float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue,
            88.3f, -88.3f, 87.3f, -87.3f, 20f, -20f, 100f, -100f,
        };
        foreach (float edge in new[] { 88.3f, -87.3f, 20f, -20f, 88.3f / 1.5957691f, 0f })
        {
            for (int d = -3; d <= 3; d++)
            {
                values.Add(MathF.BitIncrement(edge) + (d * 1e-6f));
                values.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(edge) + d));
            }
        }

        for (int i = -200_000; i <= 200_000; i++)
        {
            values.Add(i / 2000f);
        }

        var rng = new Random(17);
        for (int i = 0; i < 200_000; i++)
        {
            values.Add(BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)));
        }

        return [.. values];
    }

    [Fact]
    public void TheCheapClampAndConversionChangeNoBitOnAnyPath()
    {
        float[] x = Inputs();
        var output = new float[x.Length];
        try
        {
            foreach (Activation activation in Exponential)
            {
                uint[] expected = [.. x.Select(v => BitConverter.SingleToUInt32Bits(ReferenceApply(activation, v)))];
                foreach (IsaPath path in Isa.Supported())
                {
                    Isa.Force(path);
                    ActivationMath.ApplyRow(x, default, activation, default, output);
                    for (int i = 0; i < x.Length; i++)
                    {
                        uint got = BitConverter.SingleToUInt32Bits(output[i]);
                        Assert.True(got == expected[i], $"{activation} on {path}: x = {x[i]:R} (0x{BitConverter.SingleToUInt32Bits(x[i]):X8}) gave 0x{got:X8}, the reference 0x{expected[i]:X8}");
                    }
                }
            }
        }
        finally
        {
            Isa.Force(null);
        }
    }

    /// <summary>The cheap forms themselves, on every path: a &lt; b ? a : b and a &gt; b ? a : b, NaN and signed zeros included.</summary>
    [Fact]
    public void LesserAndGreaterAreCompareAndSelect()
    {
        float[] values = [float.NaN, float.NegativeInfinity, -3f, -0f, 0f, 2.5f, float.PositiveInfinity];
        foreach (float a in values)
        {
            foreach (float b in values)
            {
                uint lesser = BitConverter.SingleToUInt32Bits(a < b ? a : b), greater = BitConverter.SingleToUInt32Bits(a > b ? a : b);
                Assert.Equal(lesser, BitConverter.SingleToUInt32Bits(VecScalar.Lesser(VecScalar.Broadcast(a), VecScalar.Broadcast(b)).V));
                Assert.Equal(greater, BitConverter.SingleToUInt32Bits(VecScalar.Greater(VecScalar.Broadcast(a), VecScalar.Broadcast(b)).V));
                Assert.Equal(lesser, BitConverter.SingleToUInt32Bits(Vec128.Lesser(Vec128.Broadcast(a), Vec128.Broadcast(b)).V[2]));
                Assert.Equal(greater, BitConverter.SingleToUInt32Bits(Vec128.Greater(Vec128.Broadcast(a), Vec128.Broadcast(b)).V[2]));
                if (Isa.IsSupported(IsaPath.Avx2))
                {
                    Assert.Equal(lesser, BitConverter.SingleToUInt32Bits(Vec256.Lesser(Vec256.Broadcast(a), Vec256.Broadcast(b)).V[5]));
                    Assert.Equal(greater, BitConverter.SingleToUInt32Bits(Vec256.Greater(Vec256.Broadcast(a), Vec256.Broadcast(b)).V[5]));
                }

                if (Isa.IsSupported(IsaPath.Avx512))
                {
                    Assert.Equal(lesser, BitConverter.SingleToUInt32Bits(Vec512.Lesser(Vec512.Broadcast(a), Vec512.Broadcast(b)).V[11]));
                    Assert.Equal(greater, BitConverter.SingleToUInt32Bits(Vec512.Greater(Vec512.Broadcast(a), Vec512.Broadcast(b)).V[11]));
                }
            }
        }
    }
}
