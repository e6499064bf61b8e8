using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Asd.Simd.Vectors;

namespace Asd.Simd.Kernels;

/// <summary>
/// Row updates and reductions the samplers need. Element-wise operations give the same bits on every
/// vector width (one fused multiply-add chain per element). The double-precision reductions use a fixed
/// 8-lane accumulation order on every width, so their bits depend neither on the ISA path nor on the
/// row's memory alignment.
/// </summary>
public static class RowOps
{
    private static void CheckSameLength(int expected, int actual, string name)
    {
        if (actual != expected)
        {
            ThrowLength(name, expected, actual);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLength(string name, int expected, int actual) =>
        throw new ArgumentException($"'{name}' has length {actual}, expected {expected}.", name);

    /// <summary>
    /// destination = a * x + b * m + c * z, evaluated per element as fma(c, z, fma(b, m, a * x)).
    /// When <paramref name="c"/> is 0 the z term is skipped entirely (so a non-finite z cannot leak in).
    /// <paramref name="destination"/> may alias any input.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LinearCombination(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> m, float c, ReadOnlySpan<float> z, Span<float> destination)
    {
        int n = destination.Length;
        CheckSameLength(n, x.Length, nameof(x));
        CheckSameLength(n, m.Length, nameof(m));
        if (c != 0f)
        {
            CheckSameLength(n, z.Length, nameof(z));
        }

        int i = Isa.Active switch
        {
            IsaPath.Avx512 => Combine<Vec512>(a, x, b, m, c, z, destination),
            IsaPath.Avx2 => Combine<Vec256>(a, x, b, m, c, z, destination),
            IsaPath.Neon or IsaPath.Vector128 => Combine<Vec128>(a, x, b, m, c, z, destination),
            _ => 0,
        };
        CombineFrom<VecScalar>(i, a, x, b, m, c, z, destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Combine<TV>(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> m, float c, ReadOnlySpan<float> z, Span<float> destination)
        where TV : struct, IVec<TV>
    {
        int n = destination.Length;
        return n < TV.Count ? 0 : CombineFrom<TV>(0, a, x, b, m, c, z, destination[..(n - (n % TV.Count))]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CombineFrom<TV>(int start, float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> m, float c, ReadOnlySpan<float> z, Span<float> destination)
        where TV : struct, IVec<TV>
    {
        TV va = TV.Broadcast(a), vb = TV.Broadcast(b), vc = TV.Broadcast(c);
        int i = start;
        if (c != 0f)
        {
            for (; i + TV.Count <= destination.Length; i += TV.Count)
            {
                TV t = TV.MultiplyAdd(vb, TV.Load(m, i), TV.Multiply(va, TV.Load(x, i)));
                TV.Store(TV.MultiplyAdd(vc, TV.Load(z, i), t), destination, i);
            }
        }
        else
        {
            for (; i + TV.Count <= destination.Length; i += TV.Count)
            {
                TV.Store(TV.MultiplyAdd(vb, TV.Load(m, i), TV.Multiply(va, TV.Load(x, i))), destination, i);
            }
        }

        return i;
    }

    /// <summary>
    /// destination = clamp(c1 * x + c2 * y, -limit, limit) per element as fma(c2, y, c1 * x); no clamp when
    /// <paramref name="limit"/> is +infinity. This is the one place model outputs become x0 estimates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineCombineClamp(float c1, ReadOnlySpan<float> x, float c2, ReadOnlySpan<float> y, float limit, Span<float> destination)
    {
        int n = destination.Length;
        CheckSameLength(n, x.Length, nameof(x));
        CheckSameLength(n, y.Length, nameof(y));
        int i = Isa.Active switch
        {
            IsaPath.Avx512 => n < Vec512.Count ? 0 : AffineFrom<Vec512>(0, c1, x, c2, y, limit, destination[..(n - (n % Vec512.Count))]),
            IsaPath.Avx2 => n < Vec256.Count ? 0 : AffineFrom<Vec256>(0, c1, x, c2, y, limit, destination[..(n - (n % Vec256.Count))]),
            IsaPath.Neon or IsaPath.Vector128 => n < Vec128.Count ? 0 : AffineFrom<Vec128>(0, c1, x, c2, y, limit, destination[..(n - (n % Vec128.Count))]),
            _ => 0,
        };
        AffineFrom<VecScalar>(i, c1, x, c2, y, limit, destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AffineFrom<TV>(int start, float c1, ReadOnlySpan<float> x, float c2, ReadOnlySpan<float> y, float limit, Span<float> destination)
        where TV : struct, IVec<TV>
    {
        TV v1 = TV.Broadcast(c1), v2 = TV.Broadcast(c2), hi = TV.Broadcast(limit), lo = TV.Broadcast(-limit);
        bool clamp = float.IsFinite(limit);
        int i = start;
        for (; i + TV.Count <= destination.Length; i += TV.Count)
        {
            TV r = TV.MultiplyAdd(v2, TV.Load(y, i), TV.Multiply(v1, TV.Load(x, i)));
            if (clamp)
            {
                r = TV.Max(TV.Min(r, hi), lo);
            }

            TV.Store(r, destination, i);
        }

        return i;
    }

    /// <summary>
    /// With u = p - q computed exactly in double, returns z . u and u . u accumulated in double. Element k goes
    /// to accumulator lane k mod 8 and the lanes are summed in a fixed tree, on every ISA path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DifferenceDotAndNorm(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, out double zDotU, out double uDotU)
    {
        int n = z.Length;
        CheckSameLength(n, p.Length, nameof(p));
        CheckSameLength(n, q.Length, nameof(q));
        Span<double> zu = stackalloc double[8];
        Span<double> uu = stackalloc double[8];
        zu.Clear();
        uu.Clear();
        int i = 0;
        if (n >= 8)
        {
            i = Isa.Active switch
            {
                IsaPath.Avx512 => DifferenceDot512(z, p, q, zu, uu),
                IsaPath.Avx2 => DifferenceDot256(z, p, q, zu, uu),
                IsaPath.Neon or IsaPath.Vector128 => DifferenceDot128(z, p, q, zu, uu),
                _ => 0,
            };
        }

        for (; i < n; i++)
        {
            double u = (double)p[i] - q[i];
            zu[i & 7] = Math.FusedMultiplyAdd(z[i], u, zu[i & 7]);
            uu[i & 7] = Math.FusedMultiplyAdd(u, u, uu[i & 7]);
        }

        zDotU = LaneSum(zu);
        uDotU = LaneSum(uu);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int DifferenceDot512(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<double> zuLanes, Span<double> uuLanes)
    {
        Vector512<double> zu = Vector512<double>.Zero, uu = Vector512<double>.Zero;
        int i = 0;
        for (; i + 8 <= z.Length; i += 8)
        {
            Vector512<double> vz = Vector512.Widen(Vector256.Create(z.Slice(i, 8)).ToVector512()).Lower;
            Vector512<double> vu = Vector512.Widen(Vector256.Create(p.Slice(i, 8)).ToVector512()).Lower
                - Vector512.Widen(Vector256.Create(q.Slice(i, 8)).ToVector512()).Lower;
            zu = Vector512.FusedMultiplyAdd(vz, vu, zu);
            uu = Vector512.FusedMultiplyAdd(vu, vu, uu);
        }

        zu.CopyTo(zuLanes);
        uu.CopyTo(uuLanes);
        return i;
    }

    /// <summary>
    /// <see cref="DifferenceDot512"/> in two vectors of 4 doubles (lanes 0-3 and 4-7: i is a multiple of 8, so each
    /// element lands in lane i mod 8 as on the other paths).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int DifferenceDot256(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<double> zuLanes, Span<double> uuLanes)
    {
        Vector256<double> zuLo = Vector256<double>.Zero, zuHi = Vector256<double>.Zero, uuLo = Vector256<double>.Zero, uuHi = Vector256<double>.Zero;
        int i = 0;
        for (; i + 8 <= z.Length; i += 8)
        {
            (Vector256<double> zLo, Vector256<double> zHi) = Vector256.Widen(Vector256.Create(z.Slice(i, 8)));
            (Vector256<double> pLo, Vector256<double> pHi) = Vector256.Widen(Vector256.Create(p.Slice(i, 8)));
            (Vector256<double> qLo, Vector256<double> qHi) = Vector256.Widen(Vector256.Create(q.Slice(i, 8)));
            Vector256<double> uLo = pLo - qLo, uHi = pHi - qHi;
            zuLo = Vector256.FusedMultiplyAdd(zLo, uLo, zuLo);
            zuHi = Vector256.FusedMultiplyAdd(zHi, uHi, zuHi);
            uuLo = Vector256.FusedMultiplyAdd(uLo, uLo, uuLo);
            uuHi = Vector256.FusedMultiplyAdd(uHi, uHi, uuHi);
        }

        zuLo.CopyTo(zuLanes);
        zuHi.CopyTo(zuLanes[4..]);
        uuLo.CopyTo(uuLanes);
        uuHi.CopyTo(uuLanes[4..]);
        return i;
    }

    /// <summary><see cref="DifferenceDot512"/> in four vectors of 2 doubles (lanes 0-1, 2-3, 4-5, 6-7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int DifferenceDot128(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<double> zuLanes, Span<double> uuLanes)
    {
        Span<Vector128<double>> zu = stackalloc Vector128<double>[4];
        Span<Vector128<double>> uu = stackalloc Vector128<double>[4];
        zu.Clear();
        uu.Clear();
        int i = 0;
        for (; i + 8 <= z.Length; i += 8)
        {
            for (int h = 0; h < 2; h++)
            {
                (Vector128<double> zLo, Vector128<double> zHi) = Vector128.Widen(Vector128.Create(z.Slice(i + (4 * h), 4)));
                (Vector128<double> pLo, Vector128<double> pHi) = Vector128.Widen(Vector128.Create(p.Slice(i + (4 * h), 4)));
                (Vector128<double> qLo, Vector128<double> qHi) = Vector128.Widen(Vector128.Create(q.Slice(i + (4 * h), 4)));
                Vector128<double> uLo = pLo - qLo, uHi = pHi - qHi;
                zu[2 * h] = Vector128.FusedMultiplyAdd(zLo, uLo, zu[2 * h]);
                zu[(2 * h) + 1] = Vector128.FusedMultiplyAdd(zHi, uHi, zu[(2 * h) + 1]);
                uu[2 * h] = Vector128.FusedMultiplyAdd(uLo, uLo, uu[2 * h]);
                uu[(2 * h) + 1] = Vector128.FusedMultiplyAdd(uHi, uHi, uu[(2 * h) + 1]);
            }
        }

        for (int v = 0; v < 4; v++)
        {
            zu[v].CopyTo(zuLanes[(2 * v)..]);
            uu[v].CopyTo(uuLanes[(2 * v)..]);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LaneSum(ReadOnlySpan<double> l) =>
        ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));

    /// <summary>
    /// Reflects z about the hyperplane orthogonal to u = p - q (u computed in double):
    /// destination = z - 2 (z . u / u . u) u. Requires u . u &gt; 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReflectAcrossDifference(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, double zDotU, double uDotU, Span<float> destination)
    {
        int n = z.Length;
        CheckSameLength(n, p.Length, nameof(p));
        CheckSameLength(n, q.Length, nameof(q));
        CheckSameLength(n, destination.Length, nameof(destination));
        if (!(uDotU > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(uDotU), "The reflection axis must be non-zero.");
        }

        double scale = 2.0 * zDotU / uDotU;
        for (int i = 0; i < n; i++)
        {
            double u = (double)p[i] - q[i];
            destination[i] = (float)(z[i] - scale * u);
        }
    }

    /// <summary>True when every element is finite (no NaN, no infinity).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        // x - x is 0 for finite x and NaN otherwise; a NaN survives the sum.
        float acc = 0f;
        foreach (float v in values)
        {
            acc += v - v;
        }

        return acc == 0f;
    }
}
