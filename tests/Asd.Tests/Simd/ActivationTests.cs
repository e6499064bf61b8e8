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

    /// <summary>
    /// The activations with <see cref="ReferenceExp"/>; <paramref name="clampedTail"/> false leaves out the x 0 taken
    /// where exp's argument passed its clamp (the form before it, kept as the negative control of
    /// <see cref="EveryInputGivesTheDefinitionsValueOnEveryPath"/>).
    /// </summary>
    private static float ReferenceApply(Activation activation, float value, bool clampedTail = true)
    {
        VecScalar x = VecScalar.Broadcast(value);
        VecScalar one = VecScalar.Broadcast(1f);
        VecScalar u = VecScalar.Multiply(
            VecScalar.Multiply(x, VecScalar.MultiplyAdd(VecScalar.Multiply(x, x), VecScalar.Broadcast(0.044715f), one)),
            VecScalar.Broadcast(-1.5957691216057308f));
        (float y, bool clamped) = activation switch
        {
            Activation.Silu => (VecScalar.Divide(x, VecScalar.Add(one, ReferenceExp(VecScalar.Subtract(VecScalar.Broadcast(0f), x)))).V, value < -88.3f),
            Activation.GeluTanh => (VecScalar.Divide(x, VecScalar.Add(one, ReferenceExp(u))).V, u.V > 88.3f),
            _ => (Mish(x), value < -87.3f),
        };
        return clampedTail && clamped ? value * 0f : y;

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

    /// <summary>
    /// Each activation as defined, in double and rounded once (PyTorch's formulas: x sigmoid(x), 0.5 x (1 + tanh(
    /// sqrt(2/pi) (x + 0.044715 x^3))), x tanh(softplus(x))), including x beyond 1e30 and the infinities that an
    /// overflowing network feeds it. Tolerance: 4e-7 relative (the exp's 1 ulp, a divide and for Mish a product;
    /// worst measured 2.3e-7 SiLU, 2.9e-7 Mish), times 1 + |u| for GELU, whose exp argument u = 1.596 x (1 + 0.044715
    /// x^2) rounds in float and e^u multiplies that error by |u| (worst measured 1.6e-7 (1 + |u|)), plus 1e-35 absolute (the results that the kernels flush
    /// towards zero: every one below e^-87 in size); NaN exactly where the
    /// definition gives NaN. Negative control: the same check must reject the form without the clamped-tail select,
    /// which gave -0.5 at x = -1e38.
    /// </summary>
    [Fact]
    public void EveryInputGivesTheDefinitionsValueOnEveryPath()
    {
        float[] x = [.. Inputs(), -1e30f, -1e34f, -1e36f, -1e38f, 1e38f, -3e19f, -1e19f, -2e13f, -300f, -88f, -10.5f];
        var output = new float[x.Length];
        try
        {
            foreach (Activation activation in Exponential)
            {
                float[] expected = [.. x.Select(v => (float)Definition(activation, v))];
                float[] far = [-1e38f];
                float controlAtFar = ReferenceApply(activation, far[0], clampedTail: false);
                Assert.True(
                    FirstMiss(activation, far, [(float)Definition(activation, far[0])], [controlAtFar]) is not null,
                    $"{activation}: the negative control (no clamped-tail select) passed the check at x = -1e38 with {controlAtFar:R}");
                Assert.True(Math.Abs(controlAtFar) > 0.1f, $"{activation}: the control gave {controlAtFar:R} at x = -1e38, expected about -0.5");
                Assert.NotNull(FirstMiss(activation, x, expected, [.. x.Select(v => ReferenceApply(activation, v, clampedTail: false))]));
                foreach (IsaPath path in Isa.Supported())
                {
                    Isa.Force(path);
                    ActivationMath.ApplyRow(x, default, activation, default, output);
                    string? miss = FirstMiss(activation, x, expected, output);
                    Assert.True(miss is null, $"{path}: {miss}");
                }
            }
        }
        finally
        {
            Isa.Force(null);
        }

        static double Definition(Activation activation, float value)
        {
            double v = value;
            return activation switch
            {
                Activation.Silu => v * Sigmoid(v),
                // 0.5 v (1 + tanh a) = v sigmoid(2 a): the same number, without the cancellation 1 + tanh a has in
                // double for a < -19 (0.5 relative error at v = -7.2).
                Activation.GeluTanh => v * Sigmoid(2 * Math.Sqrt(2 / Math.PI) * (v + (0.044715 * v * v * v))),
                _ => v * TanhSoftplus(v),
            };

            // tanh(log(1 + e^v)) = n / (n + 2) with n = e^v (e^v + 2), exactly; the log form loses everything in
            // double once e^v < 1e-16 (.NET has no log1p). 1 - 2 / (n + 2) keeps it 1 where n overflows.
            static double TanhSoftplus(double v)
            {
                double e = Math.Exp(v), n = e * (e + 2);
                return v > 0 ? 1 - (2 / (n + 2)) : n / (n + 2);
            }

            static double Sigmoid(double v) => v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v));
        }

        // The worst miss is reported: a random input hit first would hide the edge that broke.
        static string? FirstMiss(Activation activation, float[] x, float[] expected, float[] got)
        {
            string? worst = null;
            double worstExcess = 0;
            for (int i = 0; i < x.Length; i++)
            {
                if (float.IsNaN(expected[i]) || float.IsNaN(got[i]))
                {
                    if (float.IsNaN(expected[i]) != float.IsNaN(got[i]))
                    {
                        return $"{activation}: x = {x[i]:R} gave {got[i]:R}, the definition {expected[i]:R}";
                    }

                    continue;
                }

                double v = x[i], condition = activation == Activation.GeluTanh ? Math.Abs(1.5957691216057308 * v * (1 + (0.044715 * v * v))) : 0;
                double excess = expected[i] == got[i] ? 0 : Math.Abs((double)got[i] - expected[i]) - ((4e-7 * (1 + condition) * Math.Abs((double)expected[i])) + 1e-35);
                if (excess > worstExcess)
                {
                    worstExcess = excess;
                    worst = $"{activation}: x = {x[i]:R} gave {got[i]:R}, the definition {expected[i]:R}";
                }
            }

            return worst;
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
