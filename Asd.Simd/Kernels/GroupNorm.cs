using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Asd.Simd.Vectors;

namespace Asd.Simd.Kernels;

/// <summary>
/// Group normalization of one sample's group of channels over its positions, fused with what follows it in a 1-D
/// convolution block: <c>y = act(gamma (x - mean) / sqrt(var + eps) + beta)</c>, then optionally
/// <c>y = y * scale + shift</c> (FiLM, per channel) and <c>y = y + residual</c>.
/// </summary>
/// <remarks>
/// The bits of a value depend on its sample's group alone, never on the ISA path, the batch or where the rows sit in
/// memory: the statistics are accumulated in double over the group's elements in (position, channel) order, element e
/// into lane e mod 8 of 8 fixed lanes that are then summed in a fixed tree (AVX-512 holds the 8 lanes in one vector;
/// other paths run the same additions one lane at a time); the normalization is evaluated per element in double and
/// rounded once; the activation and the FiLM and residual terms are exactly rounded float operations, the same on every
/// width (<see cref="ActivationMath"/>).
/// </remarks>
public static class GroupNorm
{
    /// <summary>
    /// Normalizes channels [<paramref name="channel0"/>, <paramref name="channel0"/> + <paramref name="channels"/>) of
    /// <paramref name="length"/> rows of <paramref name="x"/> (one sample, one group) into the same places of
    /// <paramref name="y"/>, which may be <paramref name="x"/> itself. <paramref name="gamma"/>, <paramref name="beta"/>,
    /// <paramref name="scale"/> and <paramref name="shift"/> are indexed by absolute channel; the last three terms may
    /// be empty (skipped).
    /// </summary>
    public static void Apply(
        ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, int length, int channel0, int channels,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, double epsilon, Activation activation,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual, int ldr) =>
        ApplyGroups(x, ldx, y, ldy, length, channel0, 1, channels, gamma, beta, epsilon, activation, scale, shift, residual, ldr);

    /// <summary>
    /// <see cref="Apply"/> for <paramref name="groups"/> adjacent groups of <paramref name="width"/> channels each,
    /// starting at <paramref name="channel0"/>: every group gets its own statistics, and the bits of each are those
    /// <see cref="Apply"/> gives it alone. Rows are processed whole across the groups, so the activation runs on full
    /// vectors even where a group is narrower than one (8 channels of a 64-channel layer in 8 groups).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyGroups(
        ReadOnlySpan<float> x, int ldx, Span<float> y, int ldy, int length, int channel0, int groups, int width,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, double epsilon, Activation activation,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual, int ldr)
    {
        long endLong = channel0 + ((long)groups * width);
        int end = (int)Math.Min(endLong, int.MaxValue);
        if (length < 1 || channel0 < 0 || groups < 1 || width < 1 || endLong > int.MaxValue || ldx < end || ldy < end
            || x.Length < ((long)(length - 1) * ldx) + end || y.Length < ((long)(length - 1) * ldy) + end
            || gamma.Length < end || beta.Length < end
            || (!scale.IsEmpty && scale.Length < end) || (!shift.IsEmpty && shift.Length < end)
            || (!residual.IsEmpty && (ldr < end || residual.Length < ((long)(length - 1) * ldr) + end)))
        {
            throw new ArgumentException($"GroupNorm spans disagree with {length} rows x {groups} group(s) of {width} channels from {channel0} (x {x.Length}/{ldx}, y {y.Length}/{ldy}, gamma {gamma.Length}, beta {beta.Length}, scale {scale.Length}, shift {shift.Length}, residual {residual.Length}/{ldr}).");
        }

        // Statistics for a bounded number of groups at a time (a hostile group count must not overflow the stack).
        const int Batch = 64;
        Span<double> stats = stackalloc double[2 * Batch];
        for (int g0 = 0; g0 < groups; g0 += Batch)
        {
            int count = Math.Min(Batch, groups - g0), first = channel0 + (g0 * width), span = count * width;
            for (int g = 0; g < count; g++)
            {
                (stats[2 * g], stats[(2 * g) + 1]) = Statistics(x, ldx, length, first + (g * width), width, epsilon);
            }

            for (int t = 0; t < length; t++)
            {
                Span<float> ys = y.Slice((t * ldy) + first, span);
                NormalizeGroups(x.Slice((t * ldx) + first, span), gamma.Slice(first, span), beta.Slice(first, span), stats[..(2 * count)], width, ys);
                Post(
                    ys, activation,
                    scale.IsEmpty ? default : scale.Slice(first, span),
                    shift.IsEmpty ? default : shift.Slice(first, span),
                    residual.IsEmpty ? default : residual.Slice((t * ldr) + first, span));
            }
        }
    }

    /// <summary>Mean and 1 / sqrt(variance + eps) of the group (population variance, two passes, 8 fixed lanes).</summary>
    /// <remarks>
    /// Where the group's rows hold whole multiples of 8 channels, every row starts in lane 0, so vectors of double
    /// lanes kept in registers across rows add the elements in the same order as the lane-by-lane loop: one vector of
    /// 8 on AVX-512, two of 4 on AVX2, four of 2 on NEON and Vector128. Without them AVX2 ran the lane-by-lane loop, and
    /// the statistics and the normalization below took 17% of the trained 1-D U-Net policy's 4-sample call on a Zen 3
    /// (perf, 2 threads).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (double Mean, double Inverse) Statistics(ReadOnlySpan<float> x, int ldx, int length, int channel0, int channels, double epsilon)
    {
        if (channels % 8 == 0)
        {
            switch (Isa.Active)
            {
                case IsaPath.Avx512:
                    return Statistics<Lanes512>(x, ldx, length, channel0, channels, epsilon);
                case IsaPath.Avx2:
                    return Statistics<Lanes256>(x, ldx, length, channel0, channels, epsilon);
                case IsaPath.Neon or IsaPath.Vector128:
                    return Statistics<Lanes128>(x, ldx, length, channel0, channels, epsilon);
            }
        }

        double n = (double)length * channels;
        Span<double> lanes = stackalloc double[8];
        lanes.Clear();
        for (int t = 0, e = 0; t < length; t++, e += channels)
        {
            ReadOnlySpan<float> xs = x.Slice((t * ldx) + channel0, channels);
            for (int c = 0; c < channels; c++)
            {
                lanes[(e + c) & 7] += xs[c];
            }
        }

        double mean = LaneSum(lanes) / n;
        lanes.Clear();
        for (int t = 0, e = 0; t < length; t++, e += channels)
        {
            ReadOnlySpan<float> xs = x.Slice((t * ldx) + channel0, channels);
            for (int c = 0; c < channels; c++)
            {
                double d = xs[c] - mean;
                lanes[(e + c) & 7] = Math.FusedMultiplyAdd(d, d, lanes[(e + c) & 7]);
            }
        }

        return (mean, 1.0 / Math.Sqrt((LaneSum(lanes) / n) + epsilon));
    }

    /// <summary><see cref="Statistics"/> with the 8 lanes in registers (channels a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double Mean, double Inverse) Statistics<TL>(ReadOnlySpan<float> x, int ldx, int length, int channel0, int channels, double epsilon)
        where TL : struct, ILanes8<TL>
    {
        double n = (double)length * channels;
        ref float p = ref MemoryMarshal.GetReference(x);
        TL acc = default;
        for (int t = 0; t < length; t++)
        {
            ref float row = ref Unsafe.Add(ref p, (t * (nint)ldx) + channel0);
            for (int c = 0; c < channels; c += 8)
            {
                acc = TL.Add(acc, ref Unsafe.Add(ref row, c));
            }
        }

        double mean = TL.Sum(acc) / n;
        TL m = TL.Broadcast(mean);
        acc = default;
        for (int t = 0; t < length; t++)
        {
            ref float row = ref Unsafe.Add(ref p, (t * (nint)ldx) + channel0);
            for (int c = 0; c < channels; c += 8)
            {
                acc = TL.AddSquare(acc, ref Unsafe.Add(ref row, c), m);
            }
        }

        return (mean, 1.0 / Math.Sqrt((TL.Sum(acc) / n) + epsilon));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LaneSum(ReadOnlySpan<double> l) =>
        ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));

    /// <summary>y = (float)((x - mean) * inv * gamma + beta), each step a double operation, per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Normalize(ReadOnlySpan<float> xs, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, double mean, double inv, Span<float> ys)
    {
        int c = Isa.Active switch
        {
            IsaPath.Avx512 => NormalizeFrom<Lanes512>(0, xs.Length, xs, gamma, beta, mean, inv, ys),
            IsaPath.Avx2 => NormalizeFrom<Lanes256>(0, xs.Length, xs, gamma, beta, mean, inv, ys),
            IsaPath.Neon or IsaPath.Vector128 => NormalizeFrom<Lanes128>(0, xs.Length, xs, gamma, beta, mean, inv, ys),
            _ => 0,
        };
        for (; c < xs.Length; c++)
        {
            double v = (xs[c] - mean) * inv;
            ys[c] = (float)((v * gamma[c]) + beta[c]);
        }
    }

    /// <summary><see cref="Normalize"/> of a row of adjacent groups of <paramref name="width"/> channels, group g with (mean, inverse) = stats[2g], stats[2g + 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizeGroups(ReadOnlySpan<float> xs, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<double> stats, int width, Span<float> ys)
    {
        int groups = stats.Length / 2;
        for (int g = 0, c = 0; g < groups; g++)
        {
            double mean = stats[2 * g], inv = stats[(2 * g) + 1];
            int end = c + width;
            c = Isa.Active switch
            {
                IsaPath.Avx512 => NormalizeFrom<Lanes512>(c, end, xs, gamma, beta, mean, inv, ys),
                IsaPath.Avx2 => NormalizeFrom<Lanes256>(c, end, xs, gamma, beta, mean, inv, ys),
                IsaPath.Neon or IsaPath.Vector128 => NormalizeFrom<Lanes128>(c, end, xs, gamma, beta, mean, inv, ys),
                _ => c,
            };
            for (; c < end; c++)
            {
                double v = (xs[c] - mean) * inv;
                ys[c] = (float)((v * gamma[c]) + beta[c]);
            }
        }
    }

    /// <summary>
    /// Normalizes elements [c, end) a vector at a time, the same double operations per element as the scalar loop
    /// (subtract, multiply, multiply, add: no fused multiply-add, one rounding to float); returns where it stopped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NormalizeFrom<TL>(int c, int end, ReadOnlySpan<float> xs, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, double mean, double inv, Span<float> ys)
        where TL : struct, ILanes8<TL>
    {
        ref float px = ref MemoryMarshal.GetReference(xs), pg = ref MemoryMarshal.GetReference(gamma), pb = ref MemoryMarshal.GetReference(beta);
        ref float py = ref MemoryMarshal.GetReference(ys);
        TL m = TL.Broadcast(mean), s = TL.Broadcast(inv);
        for (; c + TL.Step <= end; c += TL.Step)
        {
            TL.NormalizeStep(ref Unsafe.Add(ref px, c), ref Unsafe.Add(ref pg, c), ref Unsafe.Add(ref pb, c), m, s, ref Unsafe.Add(ref py, c));
        }

        return c;
    }

    /// <summary>
    /// Eight double lanes of the statistics in the vectors of one path, and that path's step of the normalization.
    /// Lane j of the 8 holds the elements j, j + 8, ... of the group's rows (channels a multiple of 8), and
    /// <see cref="Sum"/> adds the lanes in the fixed tree of <see cref="LaneSum(ReadOnlySpan{double})"/>.
    /// </summary>
    private interface ILanes8<TSelf>
        where TSelf : struct, ILanes8<TSelf>
    {
        /// <summary>Floats per <see cref="NormalizeStep"/>.</summary>
        static abstract int Step { get; }

        static abstract TSelf Broadcast(double value);

        /// <summary>lane j += p[j] for j &lt; 8.</summary>
        static abstract TSelf Add(TSelf acc, ref float p);

        /// <summary>lane j = fma(p[j] - mean, p[j] - mean, lane j) for j &lt; 8.</summary>
        static abstract TSelf AddSquare(TSelf acc, ref float p, TSelf mean);

        static abstract double Sum(TSelf acc);

        /// <summary>y[j] = (float)(((x[j] - mean) * inv * gamma[j]) + beta[j]) for j &lt; <see cref="Step"/>.</summary>
        static abstract void NormalizeStep(ref float x, ref float gamma, ref float beta, TSelf mean, TSelf inv, ref float y);
    }

    private struct Lanes512 : ILanes8<Lanes512>
    {
        private Vector512<double> _v;

        public static int Step => 8;

        public static Lanes512 Broadcast(double value) => new() { _v = Vector512.Create(value) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes512 Add(Lanes512 acc, ref float p) => new() { _v = acc._v + Wide(ref p) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes512 AddSquare(Lanes512 acc, ref float p, Lanes512 mean)
        {
            Vector512<double> d = Wide(ref p) - mean._v;
            return new() { _v = Vector512.FusedMultiplyAdd(d, d, acc._v) };
        }

        public static double Sum(Lanes512 acc) =>
            ((acc._v[0] + acc._v[4]) + (acc._v[2] + acc._v[6])) + ((acc._v[1] + acc._v[5]) + (acc._v[3] + acc._v[7]));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void NormalizeStep(ref float x, ref float gamma, ref float beta, Lanes512 mean, Lanes512 inv, ref float y)
        {
            Vector512<double> v = (Wide(ref x) - mean._v) * inv._v;
            v = (v * Wide(ref gamma)) + Wide(ref beta);
            Vector512.Narrow(v, v).GetLower().StoreUnsafe(ref y);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<double> Wide(ref float p) => Vector512.WidenLower(Vector256.LoadUnsafe(ref p).ToVector512Unsafe());
    }

    private struct Lanes256 : ILanes8<Lanes256>
    {
        private Vector256<double> _lo, _hi;

        public static int Step => 8;

        public static Lanes256 Broadcast(double value) => new() { _lo = Vector256.Create(value), _hi = Vector256.Create(value) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes256 Add(Lanes256 acc, ref float p)
        {
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref p));
            return new() { _lo = acc._lo + lo, _hi = acc._hi + hi };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes256 AddSquare(Lanes256 acc, ref float p, Lanes256 mean)
        {
            (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref p));
            lo -= mean._lo;
            hi -= mean._lo;
            return new() { _lo = Vector256.FusedMultiplyAdd(lo, lo, acc._lo), _hi = Vector256.FusedMultiplyAdd(hi, hi, acc._hi) };
        }

        public static double Sum(Lanes256 acc)
        {
            // (l0 + l4, l1 + l5, l2 + l6, l3 + l7), then ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
            Vector256<double> s = acc._lo + acc._hi;
            return (s[0] + s[2]) + (s[1] + s[3]);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void NormalizeStep(ref float x, ref float gamma, ref float beta, Lanes256 mean, Lanes256 inv, ref float y)
        {
            (Vector256<double> xl, Vector256<double> xh) = Vector256.Widen(Vector256.LoadUnsafe(ref x));
            (Vector256<double> gl, Vector256<double> gh) = Vector256.Widen(Vector256.LoadUnsafe(ref gamma));
            (Vector256<double> bl, Vector256<double> bh) = Vector256.Widen(Vector256.LoadUnsafe(ref beta));
            Vector256<double> lo = (((xl - mean._lo) * inv._lo) * gl) + bl, hi = (((xh - mean._lo) * inv._lo) * gh) + bh;
            Vector256.Narrow(lo, hi).StoreUnsafe(ref y);
        }
    }

    private struct Lanes128 : ILanes8<Lanes128>
    {
        private Vector128<double> _a, _b, _c, _d;

        public static int Step => 4;

        public static Lanes128 Broadcast(double value)
        {
            Vector128<double> v = Vector128.Create(value);
            return new() { _a = v, _b = v, _c = v, _d = v };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes128 Add(Lanes128 acc, ref float p)
        {
            (Vector128<double> a, Vector128<double> b) = Vector128.Widen(Vector128.LoadUnsafe(ref p));
            (Vector128<double> c, Vector128<double> d) = Vector128.Widen(Vector128.LoadUnsafe(ref Unsafe.Add(ref p, 4)));
            return new() { _a = acc._a + a, _b = acc._b + b, _c = acc._c + c, _d = acc._d + d };
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes128 AddSquare(Lanes128 acc, ref float p, Lanes128 mean)
        {
            (Vector128<double> a, Vector128<double> b) = Vector128.Widen(Vector128.LoadUnsafe(ref p));
            (Vector128<double> c, Vector128<double> d) = Vector128.Widen(Vector128.LoadUnsafe(ref Unsafe.Add(ref p, 4)));
            a -= mean._a;
            b -= mean._a;
            c -= mean._a;
            d -= mean._a;
            return new()
            {
                _a = Vector128.FusedMultiplyAdd(a, a, acc._a),
                _b = Vector128.FusedMultiplyAdd(b, b, acc._b),
                _c = Vector128.FusedMultiplyAdd(c, c, acc._c),
                _d = Vector128.FusedMultiplyAdd(d, d, acc._d),
            };
        }

        public static double Sum(Lanes128 acc)
        {
            // _a = (l0, l1), _b = (l2, l3), _c = (l4, l5), _d = (l6, l7).
            Vector128<double> ac = acc._a + acc._c, bd = acc._b + acc._d;
            return (ac[0] + bd[0]) + (ac[1] + bd[1]);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void NormalizeStep(ref float x, ref float gamma, ref float beta, Lanes128 mean, Lanes128 inv, ref float y)
        {
            (Vector128<double> xl, Vector128<double> xh) = Vector128.Widen(Vector128.LoadUnsafe(ref x));
            (Vector128<double> gl, Vector128<double> gh) = Vector128.Widen(Vector128.LoadUnsafe(ref gamma));
            (Vector128<double> bl, Vector128<double> bh) = Vector128.Widen(Vector128.LoadUnsafe(ref beta));
            Vector128<double> lo = (((xl - mean._a) * inv._a) * gl) + bl, hi = (((xh - mean._a) * inv._a) * gh) + bh;
            Vector128.Narrow(lo, hi).StoreUnsafe(ref y);
        }
    }

    /// <summary>
    /// ys = act(ys), then * scale, + shift, + residual where given. Its own loop rather than a shared entry like
    /// <see cref="ActivationMath.ApplyRow"/>: a group's row is often 8-32 channels, called once per position, group and
    /// layer, and routing it through that entry's checks and operand setup measured slower on the 1-D U-Net policy
    /// (asd bench, 2 threads, interleaved runs on a noisy 2-vCPU VM: T(1) median 0.82 ms against 0.73 over 11 runs;
    /// with this loop back, 0.685 against 0.663 over 5).
    /// </summary>
    private static void Post(Span<float> ys, Activation activation, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual)
    {
        switch (activation)
        {
            case Activation.Relu:
                Post<ActivationMath.ReluOp>(ys, scale, shift, residual);
                break;
            case Activation.Silu:
                Post<ActivationMath.SiluOp>(ys, scale, shift, residual);
                break;
            case Activation.GeluTanh:
                Post<ActivationMath.GeluTanhOp>(ys, scale, shift, residual);
                break;
            case Activation.Mish:
                Post<ActivationMath.MishOp>(ys, scale, shift, residual);
                break;
            default:
                Post<ActivationMath.IdentityOp>(ys, scale, shift, residual);
                break;
        }
    }

    /// <summary>Two vectors at a time, then one, then lanes (as <see cref="ActivationMath.ApplyRow"/>): the same operations per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Post<TA>(Span<float> ys, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual)
        where TA : struct, ActivationMath.IActivationOp
    {
        int i = Isa.Active switch
        {
            IsaPath.Avx512 => PostFrom<Vec512, TA>(PostFrom<VecPair<Vec512>, TA>(0, ys, scale, shift, residual), ys, scale, shift, residual),
            IsaPath.Avx2 => PostFrom<Vec256, TA>(PostFrom<VecPair<Vec256>, TA>(0, ys, scale, shift, residual), ys, scale, shift, residual),
            IsaPath.Neon or IsaPath.Vector128 => PostFrom<Vec128, TA>(PostFrom<VecPair<Vec128>, TA>(0, ys, scale, shift, residual), ys, scale, shift, residual),
            _ => 0,
        };
        PostFrom<VecScalar, TA>(i, ys, scale, shift, residual);
    }

    /// <remarks>
    /// One method per width and activation, not inlined: inside <see cref="ApplyGroups"/> the JIT ran out of its
    /// inlining budget and left the vector operations as calls (Vec256.Multiply, Add and Store took 8% of the trained
    /// 1-D U-Net's 4-sample call, which ran 1.3x slower, when the exp's clamps became compare-and-select).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static int PostFrom<TV, TA>(int i, Span<float> ys, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual)
        where TV : struct, IVec<TV>
        where TA : struct, ActivationMath.IActivationOp
    {
        for (; i + TV.Count <= ys.Length; i += TV.Count)
        {
            TV v = TA.Apply(TV.Load(ys, i));
            if (!scale.IsEmpty)
            {
                v = TV.Multiply(v, TV.Load(scale, i));
            }

            if (!shift.IsEmpty)
            {
                v = TV.Add(v, TV.Load(shift, i));
            }

            if (!residual.IsEmpty)
            {
                v = TV.Add(v, TV.Load(residual, i));
            }

            TV.Store(v, ys, i);
        }

        return i;
    }
}
