using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Asd.Simd;

/// <summary>The kernel families, widest first within each architecture.</summary>
public enum IsaPath
{
    /// <summary>Plain scalar code: the reference every other path is tested against.</summary>
    Scalar,

    /// <summary>Portable <see cref="Vector128{T}"/> code (SSE on x64, NEON on arm64) without ISA-specific intrinsics.</summary>
    Vector128,

    /// <summary>Arm64 AdvSimd (NEON) with fused multiply-add.</summary>
    Neon,

    /// <summary>x64 AVX2 with FMA3 (<see cref="Vector256{T}"/>).</summary>
    Avx2,

    /// <summary>x64 AVX-512F (<see cref="Vector512{T}"/>).</summary>
    Avx512,
}

/// <summary>
/// Which kernel family runs. The order of preference is fixed in code (never chosen by timing), so a machine
/// always takes the same path; <c>ASD_FORCE_ISA=avx512|avx2|neon|vector128|scalar</c> forces one.
/// </summary>
public static class Isa
{
    /// <summary>The environment variable that forces a path.</summary>
    public const string ForceVariable = "ASD_FORCE_ISA";

    private static IsaPath? s_override;

    /// <summary>The preference order, best first. Fixed from benchmark results; see the README.</summary>
    public static ReadOnlySpan<IsaPath> PreferenceOrder => [IsaPath.Avx512, IsaPath.Avx2, IsaPath.Neon, IsaPath.Vector128, IsaPath.Scalar];

    /// <summary>The path in use: the forced one, else the first supported one in <see cref="PreferenceOrder"/>.</summary>
    public static IsaPath Active => s_override ?? Default;

    private static readonly (IsaPath Path, string? Error) s_default = ChooseDefault();

    /// <summary>The path chosen at start-up (the environment variable, else the best supported).</summary>
    /// <exception cref="PlatformNotSupportedException"><c>ASD_FORCE_ISA</c> names an unknown or unsupported path.</exception>
    public static IsaPath Default => s_default.Error is null ? s_default.Path : throw new PlatformNotSupportedException(s_default.Error);

    /// <summary>Whether this process can run <paramref name="path"/>.</summary>
    public static bool IsSupported(IsaPath path) => path switch
    {
        IsaPath.Scalar => true,
        IsaPath.Vector128 => Vector128.IsHardwareAccelerated,
        IsaPath.Neon => AdvSimd.IsSupported,
        IsaPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        IsaPath.Avx512 => Avx512F.IsSupported && Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>All paths this process can run, in preference order.</summary>
    public static IsaPath[] Supported()
    {
        var list = new List<IsaPath>();
        foreach (IsaPath path in PreferenceOrder)
        {
            if (IsSupported(path))
            {
                list.Add(path);
            }
        }

        return [.. list];
    }

    /// <summary>Parses a path name as <see cref="ForceVariable"/> spells it.</summary>
    public static IsaPath Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "avx512" => IsaPath.Avx512,
        "avx2" => IsaPath.Avx2,
        "neon" => IsaPath.Neon,
        "vector128" => IsaPath.Vector128,
        "scalar" => IsaPath.Scalar,
        _ => throw new ArgumentException($"Unknown ISA path '{name}'. Expected one of: avx512, avx2, neon, vector128, scalar."),
    };

    /// <summary>The name as <see cref="ForceVariable"/> spells it.</summary>
    public static string Name(IsaPath path) => path.ToString().ToLowerInvariant();

    /// <summary>
    /// Forces <paramref name="path"/> for this process (null restores the default). For tests and tools that
    /// run a suite once per path; not thread-safe with kernels running concurrently.
    /// </summary>
    public static void Force(IsaPath? path)
    {
        if (path is { } p && !IsSupported(p))
        {
            throw new PlatformNotSupportedException($"ISA path '{Name(p)}' is not supported on this machine.");
        }

        s_override = path;
    }

    // Never throws: a type initializer that throws would surface as an opaque TypeInitializationException.
    private static (IsaPath, string?) ChooseDefault()
    {
        string? forced = Environment.GetEnvironmentVariable(ForceVariable);
        if (!string.IsNullOrWhiteSpace(forced))
        {
            IsaPath path;
            try
            {
                path = Parse(forced);
            }
            catch (ArgumentException e)
            {
                return (IsaPath.Scalar, $"{ForceVariable}={forced}: {e.Message}");
            }

            return IsSupported(path)
                ? (path, null)
                : (IsaPath.Scalar, $"{ForceVariable}={forced}: that path is not supported on this machine (supported: {string.Join(", ", Array.ConvertAll(Supported(), Name))}).");
        }

        foreach (IsaPath path in PreferenceOrder)
        {
            if (IsSupported(path))
            {
                return (path, null);
            }
        }

        return (IsaPath.Scalar, null);
    }
}
