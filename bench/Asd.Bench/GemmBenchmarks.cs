using Asd.Simd;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;
using Asd.Simd.Vectors;
using BenchmarkDotNet.Attributes;

namespace Asd.Bench;

/// <summary>
/// SGEMM C = A W (M x K times K x N, packed W, 1 thread) next to the machine's FMA peak and read bandwidth measured
/// in the same run. GFLOP/s = 2 M N K / time; the FMA peak does 2 x lanes x 12 flops per loop iteration, with the
/// vectors of the kernels' path (<see cref="Isa.Active"/>: 16 lanes on AVX-512, 8 on AVX2, 4 on NEON), so that a
/// machine without AVX-512 is not timed on emulated Vector512 code.
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

    /// <summary>12 independent FMA chains of the active path's vectors, 2^20 iterations: 2 * lanes * 12 * 2^20 flops per call (402.7 MFLOP with AVX-512).</summary>
    [Benchmark]
    public float FmaPeak() => FmaChains(1 << 20);

    /// <summary>Sums <see cref="StreamBytes"/> bytes with 8 independent accumulators of the active path's vectors.</summary>
    [Benchmark]
    public float StreamRead() => Isa.Active switch
    {
        IsaPath.Avx512 => MachineProbes.StreamSum<Vec512>(_stream),
        IsaPath.Avx2 => MachineProbes.StreamSum<Vec256>(_stream),
        IsaPath.Neon or IsaPath.Vector128 => MachineProbes.StreamSum<Vec128>(_stream),
        _ => MachineProbes.StreamSum<VecScalar>(_stream),
    };

    /// <summary>The float lanes of the active path's vectors.</summary>
    internal static int Lanes => Isa.Active switch
    {
        IsaPath.Avx512 => Vec512.Count,
        IsaPath.Avx2 => Vec256.Count,
        IsaPath.Neon or IsaPath.Vector128 => Vec128.Count,
        _ => VecScalar.Count,
    };

    /// <summary>The flops of <see cref="FmaChains"/>(<paramref name="iterations"/>).</summary>
    internal static double FmaFlops(int iterations) => 2.0 * Lanes * 12 * iterations;

    internal static float FmaChains(int iterations) => Isa.Active switch
    {
        IsaPath.Avx512 => MachineProbes.FmaChains<Vec512>(iterations),
        IsaPath.Avx2 => MachineProbes.FmaChains<Vec256>(iterations),
        IsaPath.Neon or IsaPath.Vector128 => MachineProbes.FmaChains<Vec128>(iterations),
        _ => MachineProbes.FmaChains<VecScalar>(iterations),
    };
}
