namespace Asd.Simd;

/// <summary>One operation and the kernel that runs it.</summary>
/// <param name="Operation">What is computed.</param>
/// <param name="Path">The ISA path taken.</param>
/// <param name="Implementation">Which kernel, in words.</param>
public readonly record struct KernelChoice(string Operation, IsaPath Path, string Implementation);

/// <summary>
/// The kernel each operation runs on the active path (<see cref="Isa.Active"/>). The order of preference between paths
/// is fixed in <see cref="Isa.PreferenceOrder"/>, never chosen by timing at run time, so a machine always takes the same
/// path. All paths give the same bits except the GEMM's relative speed: every kernel below is written so an element's
/// arithmetic does not depend on the vector width.
/// </summary>
public static class KernelRegistry
{
    /// <summary>The operations and the kernels that run them on <paramref name="path"/> (default: the active path).</summary>
    public static IReadOnlyList<KernelChoice> Describe(IsaPath? path = null)
    {
        IsaPath p = path ?? Isa.Active;
        string width = p switch
        {
            IsaPath.Avx512 => "Vector512",
            IsaPath.Avx2 => "Vector256",
            IsaPath.Neon or IsaPath.Vector128 => "Vector128",
            _ => "scalar",
        };
        string gemm = p switch
        {
            IsaPath.Avx512 => "Vector512 FMA, tiles up to 12 rows x 32 columns; 1-3 rows walk 4 panels (128 columns); weights prefetched",
            IsaPath.Avx2 => "Vector256 FMA, tiles up to 6 rows x 16 columns; 1-3 rows walk 2 panels; weights prefetched",
            IsaPath.Neon => "AdvSimd fmla by element, 4 rows x 16 columns (narrower tiles broadcast)",
            IsaPath.Vector128 => "portable Vector128 FMA, tiles up to 4 rows x 16 columns",
            _ => "scalar fused multiply-add reference",
        };
        return
        [
            new("sgemm", p, gemm + "; float32 or float16 weights (widened in registers)"),
            new("gemm epilogue (bias, activation, residual)", p, width),
            new("gaussian noise (Box-Muller)", p, width),
            new("row update (DDPM/ASD step, x0 conversion)", p, width),
            new("verifier reductions (z.d, |d|^2)", p, $"{DoubleLanes(p)}, 8 fixed lanes"),
            new("layer norm, time embedding", p, $"layer norm: {DoubleLanes(p)} statistics in the group norm's 8 fixed lanes; time embedding: scalar double per row"),
            new("group norm (Mish, FiLM, residual)", p, $"{DoubleLanes(p)} statistics and normalization, 8 fixed lanes; {width} epilogue"),
        ];
    }

    /// <summary>How a path holds the 8 double lanes of the statistics and the verifier's reductions.</summary>
    private static string DoubleLanes(IsaPath p) => p switch
    {
        IsaPath.Avx512 => "Vector512<double>",
        IsaPath.Avx2 => "2 x Vector256<double>",
        IsaPath.Neon or IsaPath.Vector128 => "4 x Vector128<double>",
        _ => "scalar double",
    };
}
