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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static (double Mean, double Inverse) Statistics(ReadOnlySpan<float> x, int ldx, int length, int channel0, int channels, double epsilon)
    {
        double n = (double)length * channels;
        if (Isa.Active == IsaPath.Avx512 && channels % 8 == 0)
        {
            // Every row starts in lane 0 (channels is a multiple of 8), so one vector of 8 double lanes, kept in a
            // register across rows, adds the elements in the same order as the lane-by-lane loop below.
            ref float p = ref MemoryMarshal.GetReference(x);
            Vector512<double> acc = Vector512<double>.Zero;
            for (int t = 0; t < length; t++)
            {
                nint row = (t * (nint)ldx) + channel0;
                for (int c = 0; c < channels; c += 8)
                {
                    acc += Wide(ref Unsafe.Add(ref p, row), c);
                }
            }

            double wideMean = LaneSum(acc) / n;
            Vector512<double> m = Vector512.Create(wideMean);
            acc = Vector512<double>.Zero;
            for (int t = 0; t < length; t++)
            {
                nint row = (t * (nint)ldx) + channel0;
                for (int c = 0; c < channels; c += 8)
                {
                    Vector512<double> d = Wide(ref Unsafe.Add(ref p, row), c) - m;
                    acc = Vector512.FusedMultiplyAdd(d, d, acc);
                }
            }

            return (wideMean, 1.0 / Math.Sqrt((LaneSum(acc) / n) + epsilon));
        }

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LaneSum(Vector512<double> l) =>
        ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double LaneSum(ReadOnlySpan<double> l) =>
        ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));

    /// <summary>y = (float)((x - mean) * inv * gamma + beta), each step a double operation, per element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Normalize(ReadOnlySpan<float> xs, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, double mean, double inv, Span<float> ys)
    {
        int c = 0;
        if (Isa.Active == IsaPath.Avx512)
        {
            Vector512<double> m = Vector512.Create(mean), s = Vector512.Create(inv);
            ref float px = ref MemoryMarshal.GetReference(xs), pg = ref MemoryMarshal.GetReference(gamma), pb = ref MemoryMarshal.GetReference(beta);
            ref float py = ref MemoryMarshal.GetReference(ys);
            for (; c + 8 <= xs.Length; c += 8)
            {
                Vector512<double> v = (Wide(ref px, c) - m) * s;
                v = (v * Wide(ref pg, c)) + Wide(ref pb, c);
                Vector512.Narrow(v, v).GetLower().StoreUnsafe(ref py, (nuint)c);
            }
        }

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
        if (Isa.Active == IsaPath.Avx512 && width % 8 == 0)
        {
            ref float px = ref MemoryMarshal.GetReference(xs), pg = ref MemoryMarshal.GetReference(gamma), pb = ref MemoryMarshal.GetReference(beta);
            ref float py = ref MemoryMarshal.GetReference(ys);
            for (int g = 0, c = 0; g < groups; g++)
            {
                Vector512<double> m = Vector512.Create(stats[2 * g]), s = Vector512.Create(stats[(2 * g) + 1]);
                for (int end = c + width; c < end; c += 8)
                {
                    Vector512<double> v = (Wide(ref px, c) - m) * s;
                    v = (v * Wide(ref pg, c)) + Wide(ref pb, c);
                    Vector512.Narrow(v, v).GetLower().StoreUnsafe(ref py, (nuint)c);
                }
            }

            return;
        }

        for (int g = 0, c = 0; g < groups; g++)
        {
            double mean = stats[2 * g], inv = stats[(2 * g) + 1];
            for (int end = c + width; c < end; c++)
            {
                double v = (xs[c] - mean) * inv;
                ys[c] = (float)((v * gamma[c]) + beta[c]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Wide(ref float p, int c) =>
        Vector512.WidenLower(Vector256.LoadUnsafe(ref p, (nuint)c).ToVector512Unsafe());

    /// <summary>
    /// ys = act(ys), then * scale, + shift, + residual where given. Its own loop rather than a shared entry like
    /// <see cref="ActivationMath.ApplyRow"/>: a group's row is often 8-32 channels, called once per position, group and
    /// layer, and routing it through that entry's checks and operand setup measured slower on the 1-D U-Net policy
    /// (asd bench, 2 threads, interleaved runs on a noisy 2-vCPU VM: T(1) median 0.82 ms against 0.73 over 11 runs;
    /// with this loop back, 0.685 against 0.663 over 5).
    /// </summary>
    private static void Post(Span<float> ys, Activation activation, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual)
    {
        int i = Isa.Active switch
        {
            IsaPath.Avx512 => PostFrom<Vec512>(0, ys, activation, scale, shift, residual),
            IsaPath.Avx2 => PostFrom<Vec256>(0, ys, activation, scale, shift, residual),
            IsaPath.Neon or IsaPath.Vector128 => PostFrom<Vec128>(0, ys, activation, scale, shift, residual),
            _ => 0,
        };
        PostFrom<VecScalar>(i, ys, activation, scale, shift, residual);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int PostFrom<TV>(int i, Span<float> ys, Activation activation, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, ReadOnlySpan<float> residual)
        where TV : struct, IVec<TV>
    {
        for (; i + TV.Count <= ys.Length; i += TV.Count)
        {
            TV v = ActivationMath.Apply(activation, TV.Load(ys, i));
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
