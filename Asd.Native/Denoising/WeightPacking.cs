using Asd.Simd;

namespace Asd.Native.Denoising;

/// <summary>How a model packs its float16-valued weights; the bits are the same either way (widening float16 is exact).</summary>
internal enum HalfPacking
{
    /// <summary><see cref="WeightPacking.HalfPays"/> decides per ISA path and thread count.</summary>
    ByMachine,

    /// <summary>Float16 wherever the weights are float16 values.</summary>
    Always,

    /// <summary>Float32 (tests and benches compare the two).</summary>
    Never,
}

/// <summary>The choice between float16 and float32 packing of float16-valued weights (the MLP's).</summary>
internal static class WeightPacking
{
    /// <summary>
    /// Whether float16 packing is the faster of two that give the same bits. Float16 halves the bytes a call streams,
    /// but .NET exposes no half-conversion instruction, so the kernels widen each weight vector with integer operations
    /// beside its FMAs (three per vector until 9d80ba5; since then, on AVX-512 and AVX2, five per two vectors: the
    /// measurements below are of the three, and the rule has not been measured again on an AVX2 CPU). builtin:policy (2.5M weights: 10 MB as float32), <c>Asd.Bench
    /// quick-policy-half</c>, float32 time over float16 time: on the AVX-512 Zen 5 VM 1.03-1.81 at 1-8 rows on 1 and 2
    /// threads (float16 always faster; docs/bench/issue17/policy-half.txt); on the AVX2 Zen 3 VM (32 MB L3) 0.83-0.96 at
    /// 2-8 rows on 1 thread and 0.88-0.98 at 1-8 rows on 2 threads (float32 faster: its weights stay in the L3, and the
    /// widening's integer operations share the FMA pipes' ports), but 1.08-1.31 at 1 row on 1 thread
    /// (docs/bench/avx2/policy-half.md). So float32 on AVX2 with two or more threads when the float32 copy fits in half
    /// the last-level cache; float16 everywhere else, and wherever the cache size is unknown (0). The MLP applies it;
    /// the ConditionalUnet1D keeps float16: on the trained one (16.4 MB as float32) <c>quick-unet</c> read float32
    /// 0.83-0.94 of float16's time at 4-8 samples, but whole requests did not follow (<c>tools/auto_ab.sh</c>, 8 run
    /// pairs: auto 1.03, L = 2 1.12, L = 4 and 8 0.96, with the A/A control at 1.09 on that hour's machine), and side
    /// by side in one process float32 was 3-12% slower at one sample and between 8% faster and 5% slower at 2-8
    /// (<c>ASD_AB_F32=1 Asd.Bench quick-unet</c>, six runs; docs/bench/avx2/policy-half.md). A Zen 4, whose AVX-512
    /// runs on 256-bit units, reads like the Zen 3 beyond one row (float32 0.82-0.95 of float16's time at 2-8 rows on 2
    /// threads, 1.20 at one), and float32 copies there made auto's request 0.94x the time but DDPM's 1.20x
    /// (docs/bench/issue17-zen4/policy-float32-copies-ab.txt), so AVX-512 keeps float16 for DDPM's sake. Float16 at one
    /// row with float32 copies beyond kept DDPM's time and made auto's 0.95x, but spread auto's dominant length
    /// (policy-mixed-packing-ab.txt); not adopted for 5%.
    /// </summary>
    internal static bool HalfPays(IsaPath path, int threads, long floatBytes, long lastLevelCacheBytes) =>
        !(path == IsaPath.Avx2 && threads >= 2 && lastLevelCacheBytes > 0 && floatBytes <= lastLevelCacheBytes / 2);

    /// <summary><paramref name="choice"/> applied: whether float16-valued weights are packed as float16.</summary>
    internal static bool PacksHalf(HalfPacking choice, IsaPath path, int threads, long floatBytes) => choice switch
    {
        HalfPacking.Always => true,
        HalfPacking.Never => false,
        _ => HalfPays(path, threads, floatBytes, Threading.MachineLimits.LastLevelCacheBytes),
    };
}
