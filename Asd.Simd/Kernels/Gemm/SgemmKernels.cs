using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Asd.Simd.Kernels.Gemm;

/// <summary>Constants the generated microkernels share (the kernels themselves are in the .g.cs files).</summary>
internal static partial class SgemmKernels
{
    /// <summary>
    /// Keeps the sign bit and the 28 low bits of a half's bits sign-extended to 32 and shifted left by 13: the sign,
    /// then the half's exponent and mantissa in float position.
    /// </summary>
    internal const int HalfMask = unchecked((int)0x8FFF_FFFF);

    /// <summary>
    /// Keeps the sign bit and the 15 bits of exponent and mantissa of a half shifted into float position from the high
    /// 16 bits of a 32-bit pair (arithmetic shift right by 3): clears the sign's copies above them and the other half's
    /// bits below (tools/gen_gemm_kernels.py, the AVX-512 and AVX2 packing in pairs).
    /// </summary>
    internal const int HalfPairMask = unchecked((int)0x8FFF_E000);

    /// <summary>2^112 = 2^(127 - 15): turns a half's exponent field, read with the float bias, into its value.</summary>
    internal const float HalfScale = 5.192296858534828E+33f;

    /// <summary>
    /// dst = the float values of the packed IEEE half bits in src (whole k-steps of full panels, as
    /// <see cref="PackedMatrix"/> lays them out for <paramref name="path"/>), in the float packing's order, with the
    /// widening the float16 kernels do in registers (the same values: the conversion is exact), for a GEMM that widens a
    /// block of weights once and runs the float kernels on it for every row tile.
    /// </summary>
    internal static void Widen(IsaPath path, ReadOnlySpan<ushort> src, Span<float> dst)
    {
        int n = src.Length, i = 0;
        if (dst.Length < n)
        {
            throw new ArgumentException($"dst holds {dst.Length} floats; {n} needed.", nameof(dst));
        }

        int pairGroup = PackedMatrix.HalfPairs(path) ? Sgemm.PanelWidth(path) : 1;
        if (n % pairGroup != 0)
        {
            throw new ArgumentException($"src holds {n} halves; {Isa.Name(path)} widens whole k-steps of {pairGroup}.", nameof(src));
        }

        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        switch (path)
        {
            case IsaPath.Avx512:
                for (; i + 32 <= n; i += 32)
                {
                    Vector512<ushort> h = Vector512.LoadUnsafe(ref s, (nuint)i);
                    WidenHalfLowAvx512(h).StoreUnsafe(ref d, (nuint)i);
                    WidenHalfHighAvx512(h).StoreUnsafe(ref d, (nuint)(i + 16));
                }

                break;
            case IsaPath.Avx2:
                for (; i + 16 <= n; i += 16)
                {
                    Vector256<ushort> h = Vector256.LoadUnsafe(ref s, (nuint)i);
                    WidenHalfLowAvx2(h).StoreUnsafe(ref d, (nuint)i);
                    WidenHalfHighAvx2(h).StoreUnsafe(ref d, (nuint)(i + 8));
                }

                break;
            case IsaPath.Neon:
                for (; i + 4 <= n; i += 4)
                {
                    WidenHalfNeon(Vector64.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
                }

                break;
            case IsaPath.Vector128:
                for (; i + 4 <= n; i += 4)
                {
                    WidenHalfVector128(Vector64.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
                }

                break;
        }

        for (; i < n; i++)
        {
            dst[i] = (float)BitConverter.UInt16BitsToHalf(src[i]);
        }
    }

    /// <summary>How many k-steps ahead a tile that streams its own weights prefetches them (AVX-512 and AVX2 kernels).</summary>
    internal const int PrefetchSteps = 24;

    /// <summary>The (path, weight type) pairs whose microkernels <see cref="CompileAll"/> has run: bit 2 x path + half.</summary>
    private static int s_compiled;

    /// <summary>
    /// Runs every microkernel of <paramref name="path"/> for one weight type once, on an empty product (kc = 0, so it
    /// reads nothing and writes zeros to scratch), the first time weights of that type are packed for that path.
    /// </summary>
    /// <remarks>
    /// A JIT build compiles each kernel at its first call: 1-3 ms each, fully optimised. Sampling meets new tile heights
    /// as auto's L and the row split change, so without this the first call of each new size paid it inside a request:
    /// builtin:policy's first 10-, 12- or 6-row call took 2.1-3.3 ms against 0.14-0.25 ms after
    /// (<c>Asd.Bench first-calls</c>), and auto on a remembered curve (no calibration had run those sizes) ran at
    /// 0.56-0.6x of fixed L = 8 in the first repeats of a bench. Packing is where a model pays its start-up, once per
    /// process. Under Native AOT the kernels are compiled ahead and this is a few microseconds.
    /// </remarks>
    internal static void CompileAll(IsaPath path, bool half)
    {
        if (Compiled(path, half) || !Isa.IsSupported(path))
        {
            return;
        }

        int maxPanels = 1;
        foreach ((int panels, _) in Multi(path, half))
        {
            maxPanels = Math.Max(maxPanels, panels);
        }

        int ldc = maxPanels * PanelWidth(path);
        Span<float> c = stackalloc float[MaxRows(path) * ldc];
        float a = 0, b = 0;
        ushort bh = 0;
        for (int rows = 1; rows <= MaxRows(path); rows++)
        {
            RunEmpty(path, rows, 1, ref a, ref b, ref bh, c, ldc, half);
        }

        foreach ((int panels, int maxRows) in Multi(path, half))
        {
            for (int rows = 1; rows <= maxRows; rows++)
            {
                RunEmpty(path, rows, panels, ref a, ref b, ref bh, c, ldc, half);
            }
        }

        Interlocked.Or(ref s_compiled, CompiledBit(path, half));
    }

    /// <summary>Whether <see cref="CompileAll"/> has run the kernels of <paramref name="path"/> for one weight type.</summary>
    internal static bool Compiled(IsaPath path, bool half) => (Volatile.Read(ref s_compiled) & CompiledBit(path, half)) != 0;

    private static int CompiledBit(IsaPath path, bool half) => 1 << ((2 * (int)path) + (half ? 1 : 0));

    private static void RunEmpty(IsaPath path, int rows, int panels, ref float a, ref float b, ref ushort bh, Span<float> c, int ldc, bool half)
    {
        ref float c0 = ref MemoryMarshal.GetReference(c);
        _ = half
            ? Run(path, rows, panels, ref a, ref bh, panelStride: 0, kc: 0, ref c0, ldc, first: true, prefetch: 0)
                && RunScaled(path, rows, panels, ref a, ref bh, panelStride: 0, kc: 0, ref c0, ldc, first: true, prefetch: 0)
            : Run(path, rows, panels, ref a, ref b, panelStride: 0, kc: 0, ref c0, ldc, first: true, prefetch: 0);
    }
}
