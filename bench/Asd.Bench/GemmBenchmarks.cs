using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;
using BenchmarkDotNet.Attributes;

namespace Asd.Bench;

/// <summary>
/// SGEMM C = A W (M x K times K x N, packed W, 1 thread) next to the machine's FMA peak and read bandwidth measured
/// in the same run. GFLOP/s = 2 M N K / time; the FMA peak does 2 x 16 x 12 flops per loop iteration.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a = [], _c = [];
    private PackedMatrix _w = null!;
    private float[] _stream = [];

    [Params(1, 8, 32, 512)]
    public int M { get; set; }

    [Params(256, 512, 1024)]
    public int N { get; set; }

    [Params(256, 512, 1024)]
    public int K { get; set; }

    /// <summary>Bytes read by <see cref="StreamRead"/>: 1 MB (L2), 16 MB (L3) or 256 MB (DRAM), chosen by N.</summary>
    public int StreamBytes => N switch { 256 => 1 << 20, 512 => 16 << 20, _ => 256 << 20 };

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = [.. Enumerable.Range(0, M * K).Select(_ => (float)rng.NextDouble() - 0.5f)];
        float[] w = [.. Enumerable.Range(0, K * N).Select(_ => (float)rng.NextDouble() - 0.5f)];
        _w = PackedMatrix.Pack(w, K, N, outputMajor: false);
        _c = new float[M * N];
        _stream = [.. Enumerable.Range(0, StreamBytes / 4).Select(i => (float)(i & 7))];
    }

    [Benchmark]
    public float Sgemm()
    {
        Asd.Simd.Kernels.Gemm.Sgemm.Multiply(_a, M, K, _w, default, Activation.Identity, default, 0, _c, N);
        return _c[0];
    }

    /// <summary>12 independent Vector512 FMA chains, 2^20 iterations: 2 * 16 * 12 * 2^20 = 402.7 MFLOP per call.</summary>
    [Benchmark]
    public float FmaPeak() => FmaChains(1 << 20);

    /// <summary>Sums <see cref="StreamBytes"/> bytes with 8 independent Vector512 accumulators.</summary>
    [Benchmark]
    public float StreamRead()
    {
        ref float p = ref _stream[0];
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        nint n = _stream.Length;
        for (nint i = 0; i + 128 <= n; i += 128)
        {
            s0 += Vector512.LoadUnsafe(ref p, (nuint)i);
            s1 += Vector512.LoadUnsafe(ref p, (nuint)(i + 16));
            s2 += Vector512.LoadUnsafe(ref p, (nuint)(i + 32));
            s3 += Vector512.LoadUnsafe(ref p, (nuint)(i + 48));
            s4 += Vector512.LoadUnsafe(ref p, (nuint)(i + 64));
            s5 += Vector512.LoadUnsafe(ref p, (nuint)(i + 80));
            s6 += Vector512.LoadUnsafe(ref p, (nuint)(i + 96));
            s7 += Vector512.LoadUnsafe(ref p, (nuint)(i + 112));
        }

        return Vector512.Sum(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static float FmaChains(int iterations)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(1f), c1 = Vector512.Create(2f), c2 = Vector512.Create(3f), c3 = Vector512.Create(4f),
            c4 = Vector512.Create(5f), c5 = Vector512.Create(6f), c6 = Vector512.Create(7f), c7 = Vector512.Create(8f),
            c8 = Vector512.Create(9f), c9 = Vector512.Create(10f), c10 = Vector512.Create(11f), c11 = Vector512.Create(12f);
        for (int i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a);
            c1 = Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = Vector512.FusedMultiplyAdd(c2, m, a);
            c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a);
            c5 = Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = Vector512.FusedMultiplyAdd(c6, m, a);
            c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a);
            c9 = Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = Vector512.FusedMultiplyAdd(c10, m, a);
            c11 = Vector512.FusedMultiplyAdd(c11, m, a);
        }

        return Vector512.Sum(((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)));
    }
}
