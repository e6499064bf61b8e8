using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;
using Asd.Simd.Vectors;
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
    public float StreamRead() => MachineProbes.StreamSum<Vec512>(_stream);

    internal static float FmaChains(int iterations) => MachineProbes.FmaChains<Vec512>(iterations);
}
