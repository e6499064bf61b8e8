namespace Asd.Simd.Kernels.Gemm;

/// <summary>Constants the generated microkernels share (the kernels themselves are in the .g.cs files).</summary>
internal static partial class SgemmKernels
{
    /// <summary>
    /// Keeps the sign bit and the 28 low bits of a half's bits sign-extended to 32 and shifted left by 13: the sign,
    /// then the half's exponent and mantissa in float position.
    /// </summary>
    internal const int HalfMask = unchecked((int)0x8FFF_FFFF);

    /// <summary>2^112 = 2^(127 - 15): turns a half's exponent field, read with the float bias, into its value.</summary>
    internal const float HalfScale = 5.192296858534828E+33f;
}
