using System.Runtime.CompilerServices;
using Asd.Simd.Vectors;

namespace Asd.Simd.Random;

/// <summary>
/// Elementary functions written once over <see cref="IVec{TSelf}"/> from exactly rounded operations only,
/// so every width (and every architecture) returns the same bits. Accuracy is a few ulp, which is all
/// the Gaussian transform needs; these are not general-purpose replacements for MathF.
/// </summary>
public static class VecMath
{
    // ln 2 split so that k * Ln2Hi is exact for |k| < 2^9.
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.428606765330187e-06f;
    private const float HalfPi = 1.5707963267948966f;

    /// <summary>Natural log of positive normal floats (the Box-Muller radius argument lies in [2^-32, 1]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Log<TV>(TV x) where TV : struct, IVec<TV>
    {
        // Write x = 2^k * m with m in [sqrt(1/2), sqrt(2)): shift the bit pattern so that m's range starts at
        // the exponent boundary, then split exponent and mantissa.
        TV ix = TV.AddBits(x, TV.BroadcastBits(0x3F800000u - 0x3F3504F3u));
        TV k = TV.ConvertInt32ToSingle(TV.AddBits(TV.ShiftRightArithmeticBits(ix, 23), TV.BroadcastBits(unchecked((uint)-0x7F))));
        TV m = TV.AddBits(TV.AndBits(ix, TV.BroadcastBits(0x007FFFFFu)), TV.BroadcastBits(0x3F3504F3u));

        // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: the series to s^11 is exact to float precision.
        TV f = TV.Subtract(m, TV.Broadcast(1f));
        TV s = TV.Divide(f, TV.Add(f, TV.Broadcast(2f)));
        TV z = TV.Multiply(s, s);
        TV r = TV.MultiplyAdd(z, TV.Broadcast(2f / 11f), TV.Broadcast(2f / 9f));
        r = TV.MultiplyAdd(z, r, TV.Broadcast(2f / 7f));
        r = TV.MultiplyAdd(z, r, TV.Broadcast(2f / 5f));
        r = TV.MultiplyAdd(z, r, TV.Broadcast(2f / 3f));
        r = TV.Multiply(z, r);
        TV lnm = TV.MultiplyAdd(s, r, TV.Add(s, s));
        return TV.MultiplyAdd(k, TV.Broadcast(Ln2Hi), TV.MultiplyAdd(k, TV.Broadcast(Ln2Lo), lnm));
    }

    /// <summary>
    /// sin and cos of x in [0, pi/4] by their Taylor series (truncation below 2e-9).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SinCosQuarter<TV>(TV x, out TV sin, out TV cos) where TV : struct, IVec<TV>
    {
        TV x2 = TV.Multiply(x, x);
        TV ps = TV.MultiplyAdd(x2, TV.Broadcast(1f / 362880f), TV.Broadcast(-1f / 5040f));
        ps = TV.MultiplyAdd(x2, ps, TV.Broadcast(1f / 120f));
        ps = TV.MultiplyAdd(x2, ps, TV.Broadcast(-1f / 6f));
        sin = TV.MultiplyAdd(TV.Multiply(x2, x), ps, x);

        TV pc = TV.MultiplyAdd(x2, TV.Broadcast(-1f / 3628800f), TV.Broadcast(1f / 40320f));
        pc = TV.MultiplyAdd(x2, pc, TV.Broadcast(-1f / 720f));
        pc = TV.MultiplyAdd(x2, pc, TV.Broadcast(1f / 24f));
        pc = TV.MultiplyAdd(x2, pc, TV.Broadcast(-0.5f));
        cos = TV.MultiplyAdd(x2, pc, TV.Broadcast(1f));
    }

    /// <summary>
    /// cos and sin of 2 pi w / 2^32 for 32-bit words w (the angle uses the top 26 bits: 2 for the quadrant, 24 within it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CosSinTurn<TV>(TV w, out TV cos, out TV sin) where TV : struct, IVec<TV>
    {
        // Fraction of the quadrant in [0, 1), exact in float.
        TV f = TV.Multiply(
            TV.ConvertInt32ToSingle(TV.AndBits(TV.ShiftRightLogicalBits(w, 6), TV.BroadcastBits(0x00FFFFFFu))),
            TV.Broadcast(1f / 16777216f));

        // Reflect the upper half of the quadrant so the polynomial argument stays in [0, pi/4].
        TV upper = TV.LessThan(TV.Broadcast(0.5f), f);
        TV g = TV.Select(upper, TV.Subtract(TV.Broadcast(1f), f), f);
        SinCosQuarter(TV.Multiply(g, TV.Broadcast(HalfPi)), out TV s0, out TV c0);

        // Odd quadrants swap sin and cos; so does the reflection. Signs: sin < 0 in quadrants 2, 3 (bit 31),
        // cos < 0 in quadrants 1, 2 (bit 31 xor bit 30).
        TV oddQuadrant = TV.ShiftRightArithmeticBits(TV.ShiftLeftBits(w, 1), 31);
        TV swap = TV.XorBits(upper, oddQuadrant);
        TV signBit = TV.BroadcastBits(0x80000000u);
        TV sinSign = TV.AndBits(w, signBit);
        TV cosSign = TV.AndBits(TV.XorBits(w, TV.ShiftLeftBits(w, 1)), signBit);
        cos = TV.XorBits(TV.Select(swap, s0, c0), cosSign);
        sin = TV.XorBits(TV.Select(swap, c0, s0), sinSign);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BoxMullerStep<TV>(ReadOnlySpan<uint> radiusWords, ReadOnlySpan<uint> angleWords, int i, out TV cos, out TV sin)
        where TV : struct, IVec<TV>
    {
        TV w1 = TV.LoadBits(radiusWords, i);
        TV u1 = TV.Multiply(
            TV.Add(TV.ConvertInt32ToSingle(TV.ShiftRightLogicalBits(w1, 1)), TV.Broadcast(0.5f)),
            TV.Broadcast(1f / 2147483648f));
        TV radius = TV.Sqrt(TV.Multiply(TV.Broadcast(-2f), Log(u1)));
        CosSinTurn(TV.LoadBits(angleWords, i), out TV c, out TV s);
        cos = TV.Multiply(radius, c);
        sin = TV.Multiply(radius, s);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Vectorized<TV>(ReadOnlySpan<uint> radiusWords, ReadOnlySpan<uint> angleWords, Span<float> cosOut, Span<float> sinOut)
        where TV : struct, IVec<TV>
    {
        int i = 0;
        for (; i + TV.Count <= sinOut.Length; i += TV.Count)
        {
            BoxMullerStep(radiusWords, angleWords, i, out TV c, out TV s);
            TV.Store(c, cosOut, i);
            TV.Store(s, sinOut, i);
        }

        return i;
    }

    /// <summary>
    /// Box-Muller in structure-of-arrays form: pair p uses <paramref name="radiusWords"/>[p] and
    /// <paramref name="angleWords"/>[p] and writes <paramref name="cosOut"/>[p] and, where it exists,
    /// <paramref name="sinOut"/>[p]. <paramref name="sinOut"/> may be one shorter than <paramref name="cosOut"/>
    /// (an odd count of Gaussians). The bits do not depend on the vector width used.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BoxMuller(ReadOnlySpan<uint> radiusWords, ReadOnlySpan<uint> angleWords, Span<float> cosOut, Span<float> sinOut)
    {
        int h = cosOut.Length;
        if (radiusWords.Length < h || angleWords.Length < h || sinOut.Length > h || sinOut.Length < h - 1)
        {
            throw new ArgumentException("Box-Muller spans disagree in length.");
        }

        int i = Isa.Active switch
        {
            IsaPath.Avx512 => Vectorized<Vec512>(radiusWords, angleWords, cosOut, sinOut),
            IsaPath.Avx2 => Vectorized<Vec256>(radiusWords, angleWords, cosOut, sinOut),
            IsaPath.Neon or IsaPath.Vector128 => Vectorized<Vec128>(radiusWords, angleWords, cosOut, sinOut),
            _ => 0,
        };

        for (; i < h; i++)
        {
            BoxMullerStep(radiusWords, angleWords, i, out VecScalar c, out VecScalar s);
            cosOut[i] = c.V;
            if (i < sinOut.Length)
            {
                sinOut[i] = s.V;
            }
        }
    }
}
