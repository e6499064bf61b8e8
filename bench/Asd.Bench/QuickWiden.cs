using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Asd.Bench;

/// <summary>
/// <c>-- quick-widen [rounds]</c> (development probe, AVX-512): the inner loop of an 8-row x 32-column float16 tile
/// (the _F16S kernels' shape, A already scaled) alone, on one thread, with the data in L1/L2, three ways: the widening
/// before 9d80ba5 (sign-extend 16 halves to 32 bits, shift, mask: per vector), the pairs the kernels use now (one load
/// of a k-step's 32 halves interleaved in 32-bit pairs, shifts and a mask), and float32 weights (no widening), as
/// GFLOP/s round by round. It says what the widening costs beside the FMAs on a CPU, apart from memory and threads.
/// </summary>
internal static class QuickWiden
{
    private const int Kc = 256, Rows = 8;

    public static void Run(string[] args)
    {
        if (!Avx512F.IsSupported)
        {
            Console.WriteLine("quick-widen needs AVX-512");
            return;
        }

        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7;
        var rng = new Random(1);
        float[] a = [.. Enumerable.Range(0, Kc * Rows).Select(_ => (float)rng.NextDouble())];
        ushort[] halves = [.. Enumerable.Range(0, Kc * 32).Select(_ => BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() - 0.5)))];
        float[] floats = Array.ConvertAll(halves, h => (float)BitConverter.UInt16BitsToHalf(h));
        var pairs = new ushort[halves.Length];
        for (int k = 0; k < Kc; k++)
        {
            for (int j = 0; j < 16; j++)
            {
                pairs[(k * 32) + (2 * j)] = halves[(k * 32) + j];
                pairs[(k * 32) + (2 * j) + 1] = halves[(k * 32) + 16 + j];
            }
        }

        Vector512<float> sepSum = Separate(ref a[0], ref halves[0], 1), pairSum = Paired(ref a[0], ref pairs[0], 1), floatSum = Floats(ref a[0], ref floats[0], 1);
        // The widened halves are the weights times 2^-112 (A would be scaled by 2^112 in the engine): the same sums, scaled.
        Console.WriteLine($"the three give the same sums: {sepSum.Equals(pairSum) && (pairSum * MathF.Pow(2, 112)).Equals(floatSum)}");
        const int reps = 2000;
        double flops = 2.0 * Kc * Rows * 32 * reps;
        for (int round = 0; round < rounds; round++)
        {
            double Time(Func<Vector512<float>> loop)
            {
                long start = Stopwatch.GetTimestamp();
                Vector512<float> s = loop();
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                GC.KeepAlive(s);
                return flops / seconds / 1e9;
            }

            double sep = Time(() => Separate(ref a[0], ref halves[0], reps));
            double pair = Time(() => Paired(ref a[0], ref pairs[0], reps));
            double f32 = Time(() => Floats(ref a[0], ref floats[0], reps));
            Console.WriteLine($"round {round + 1}: widened per vector {sep,6:F1}  in pairs {pair,6:F1}  float32 weights {f32,6:F1} GFLOP/s");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WidenOne(Vector256<ushort> h) =>
        (Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(h.AsInt16()), 13) & Vector512.Create(unchecked((int)0x8FFF_FFFF))).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> Separate(ref float a, ref ushort b, int reps)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        for (int r = 0; r < reps; r++)
        {
            for (nint k = 0; k < Kc; k++)
            {
                Vector512<float> w0 = WidenOne(Vector256.LoadUnsafe(ref b, (nuint)(k * 32)));
                Vector512<float> w1 = WidenOne(Vector256.LoadUnsafe(ref b, (nuint)((k * 32) + 16)));
                Tile(ref Unsafe.Add(ref a, (k & 15) + ((k >> 4) * 16 * Rows)), w0, w1, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7, ref d0, ref d1, ref d2, ref d3, ref d4, ref d5, ref d6, ref d7);
            }
        }

        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> Paired(ref float a, ref ushort b, int reps)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        Vector512<int> mask = Vector512.Create(unchecked((int)0x8FFF_E000)); // as the kernels' constant: a register, not a static field
        for (int r = 0; r < reps; r++)
        {
            for (nint k = 0; k < Kc; k++)
            {
                Vector512<int> h = Vector512.LoadUnsafe(ref b, (nuint)(k * 32)).AsInt32();
                Vector512<float> w0 = (Avx512F.ShiftRightArithmetic(Avx512F.ShiftLeftLogical(h, 16), 3) & mask).AsSingle();
                Vector512<float> w1 = (Avx512F.ShiftRightArithmetic(h, 3) & mask).AsSingle();
                Tile(ref Unsafe.Add(ref a, (k & 15) + ((k >> 4) * 16 * Rows)), w0, w1, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7, ref d0, ref d1, ref d2, ref d3, ref d4, ref d5, ref d6, ref d7);
            }
        }

        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> Floats(ref float a, ref float b, int reps)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default, d6 = default, d7 = default;
        for (int r = 0; r < reps; r++)
        {
            for (nint k = 0; k < Kc; k++)
            {
                Vector512<float> w0 = Vector512.LoadUnsafe(ref b, (nuint)(k * 32));
                Vector512<float> w1 = Vector512.LoadUnsafe(ref b, (nuint)((k * 32) + 16));
                Tile(ref Unsafe.Add(ref a, (k & 15) + ((k >> 4) * 16 * Rows)), w0, w1, ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7, ref d0, ref d1, ref d2, ref d3, ref d4, ref d5, ref d6, ref d7);
            }
        }

        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
    }

    /// <summary>One k-step of the 8 x 32 tile: 8 broadcasts of A, 16 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(
        ref float ag, Vector512<float> w0, Vector512<float> w1,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3, ref Vector512<float> c4, ref Vector512<float> c5, ref Vector512<float> c6, ref Vector512<float> c7,
        ref Vector512<float> d0, ref Vector512<float> d1, ref Vector512<float> d2, ref Vector512<float> d3, ref Vector512<float> d4, ref Vector512<float> d5, ref Vector512<float> d6, ref Vector512<float> d7)
    {
        Vector512<float> x = Vector512.Create(ag);
        c0 = Vector512.FusedMultiplyAdd(x, w0, c0);
        d0 = Vector512.FusedMultiplyAdd(x, w1, d0);
        x = Vector512.Create(Unsafe.Add(ref ag, 16));
        c1 = Vector512.FusedMultiplyAdd(x, w0, c1);
        d1 = Vector512.FusedMultiplyAdd(x, w1, d1);
        x = Vector512.Create(Unsafe.Add(ref ag, 32));
        c2 = Vector512.FusedMultiplyAdd(x, w0, c2);
        d2 = Vector512.FusedMultiplyAdd(x, w1, d2);
        x = Vector512.Create(Unsafe.Add(ref ag, 48));
        c3 = Vector512.FusedMultiplyAdd(x, w0, c3);
        d3 = Vector512.FusedMultiplyAdd(x, w1, d3);
        x = Vector512.Create(Unsafe.Add(ref ag, 64));
        c4 = Vector512.FusedMultiplyAdd(x, w0, c4);
        d4 = Vector512.FusedMultiplyAdd(x, w1, d4);
        x = Vector512.Create(Unsafe.Add(ref ag, 80));
        c5 = Vector512.FusedMultiplyAdd(x, w0, c5);
        d5 = Vector512.FusedMultiplyAdd(x, w1, d5);
        x = Vector512.Create(Unsafe.Add(ref ag, 96));
        c6 = Vector512.FusedMultiplyAdd(x, w0, c6);
        d6 = Vector512.FusedMultiplyAdd(x, w1, d6);
        x = Vector512.Create(Unsafe.Add(ref ag, 112));
        c7 = Vector512.FusedMultiplyAdd(x, w0, c7);
        d7 = Vector512.FusedMultiplyAdd(x, w1, d7);
    }
}
