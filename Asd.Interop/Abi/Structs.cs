using System.Runtime.InteropServices;

namespace Asd.Interop.Abi;

// The parameter and result structs of asd.h, field for field (x86-64 SysV natural alignment in both languages).
// Each starts with struct_size: the caller's sizeof, so later ABI versions can append fields and still read
// structs from older callers. tests/interop/robustness.c checks the layout field by field through error messages.

/// <summary>asd_model_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ModelParams
{
    public uint StructSize;
    public byte* Device;
    public int Threads;

    public static ModelParams Default => new() { StructSize = (uint)sizeof(ModelParams), Device = null, Threads = 0 };
}

/// <summary>asd_sampler_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SamplerParams
{
    public uint StructSize;
    public int Sampler;
    public int Steps;
    public int SpecLen;
    public int MaxBatchRows;
    public float GuidanceScale;
    public byte* CostCurvePath;
    public int TrainSteps;
    public int StepsOffset;
    public int ClipSample;
    public double BetaStart;
    public double BetaEnd;
    public double ClipSampleRange;
    public byte* BetaSchedule;
    public byte* PredictionType;
    public byte* VarianceType;
    public byte* TimestepSpacing;

    public static SamplerParams Default => new()
    {
        StructSize = (uint)sizeof(SamplerParams),
        Sampler = 0,
        Steps = 100,
        SpecLen = -1,
        MaxBatchRows = Asd.Native.Sampling.SamplerOptions.DefaultMaxBatchRows,
        StepsOffset = -1,
        ClipSample = -1,
    };
}

/// <summary>asd_sample_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SampleParams
{
    public uint StructSize;
    public ulong Seed;
    public ulong ChainOffset;
    public float* Cond;
    public nuint CondLen;
    public float* InitNoise;
    public nuint InitNoiseLen;
    public delegate* unmanaged<void*, long, long, long, int> Progress;
    public void* ProgressUser;

    public static SampleParams Default => new() { StructSize = (uint)sizeof(SampleParams) };
}

/// <summary>asd_stats.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Stats
{
    public uint StructSize;
    public int Sampler;
    public int Steps;
    public int Samples;
    public int SequentialModelCallsMax;
    public double SequentialModelCalls;
    public double AlgorithmicSpeedup;
    public long DenoiserInvocations;
    public long RowsEvaluated;
    public long Rounds;
    public double WallSeconds;
}

/// <summary>Copying structs across the boundary with their size fields.</summary>
internal static unsafe class StructIo
{
    /// <summary>
    /// Reads a caller's struct: the caller's struct_size must cover this version's fields (a struct from a newer
    /// header is larger, and its extra fields are ignored by this older library).
    /// </summary>
    public static T Read<T>(T* p, string name, string defaultsFunction, T defaults)
        where T : unmanaged
    {
        if (p == null)
        {
            return defaults;
        }

        uint size = *(uint*)p;
        if (size < (uint)sizeof(T))
        {
            throw new AsdException(Status.InvalidArgument, $"{name}.struct_size is {size}, but this libasd (ABI {Exports.AbiVersionValue}) needs at least {sizeof(T)}: initialise the struct with {defaultsFunction}(&params, sizeof params).");
        }

        return *p;
    }

    /// <summary>Writes <paramref name="value"/> into a caller's struct of <paramref name="callerSize"/> bytes, setting struct_size.</summary>
    public static void Write<T>(T* p, nuint callerSize, string name, T value)
        where T : unmanaged
    {
        if (p == null)
        {
            throw AsdException.Null(name);
        }

        if (callerSize < (nuint)sizeof(T))
        {
            throw new AsdException(Status.BufferSize, $"{name}: size {callerSize} is smaller than this libasd's struct ({sizeof(T)} bytes); pass sizeof of the struct from the asd.h you compiled with (and check asd_abi_version()).");
        }

        // A newer caller's struct is larger: clear its tail so unknown fields read as zero, then write ours.
        new Span<byte>(p, (int)Math.Min(callerSize, 1u << 20)).Clear();
        *p = value;
        *(uint*)p = (uint)sizeof(T);
    }
}

/// <summary>UTF-8 strings across the boundary.</summary>
internal static unsafe class Text
{
    /// <summary>A NUL-terminated UTF-8 argument, or null for NULL.</summary>
    public static string? Read(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((nint)s);

    /// <summary>
    /// Writes <paramref name="value"/> NUL-terminated into a caller's buffer. <paramref name="needed"/> (optional)
    /// receives the bytes needed including the NUL. A NULL buffer with length 0 is a size query and succeeds.
    /// </summary>
    public static int Write(ReadOnlySpan<byte> utf8, byte* buffer, nuint length, nuint* needed, string what)
    {
        nuint need = (nuint)utf8.Length + 1;
        if (needed != null)
        {
            *needed = need;
        }

        if (buffer == null)
        {
            if (length != 0)
            {
                throw AsdException.Null($"{what}: buf (with buf_len {length})");
            }

            if (needed == null)
            {
                throw new AsdException(Status.NullPointer, $"{what}: buf and needed are both NULL; pass needed to learn the size.");
            }

            return Status.Ok;
        }

        if (length < need)
        {
            throw new AsdException(Status.BufferSize, $"{what}: the buffer holds {length} bytes; {need} are needed (including the terminating NUL).");
        }

        utf8.CopyTo(new Span<byte>(buffer, utf8.Length));
        buffer[utf8.Length] = 0;
        return Status.Ok;
    }
}
