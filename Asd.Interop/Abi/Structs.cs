namespace Asd.Interop.Abi;

// The parameter and result structs of asd.h, field for field (x86-64 SysV natural alignment in both languages).
// Each starts with struct_size: the caller's sizeof, so later ABI versions can append fields and still read
// structs from older callers. tests/interop/robustness.c checks the layout field by field through error messages.

/// <summary>A parameter struct of asd.h that asd_*_default_params fills in.</summary>
internal interface IParams<TSelf>
    where TSelf : unmanaged, IParams<TSelf>
{
    /// <summary>The defaults the struct's asd_*_default_params writes.</summary>
    static abstract TSelf Default { get; }

    /// <summary>The smallest struct_size accepted: the struct as ABI 1 first shipped it; 0 when that is this library's size.</summary>
    static virtual int AbiOneSize => 0;
}

/// <summary>asd_model_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ModelParams : IParams<ModelParams>
{
    public uint StructSize;
    public byte* Device;
    public int Threads;

    // Appended after ABI 1's first release. Pointer-aligned, so the struct grows (24 -> 32 bytes on x86-64) and an
    // older caller's struct_size, which counts threads' tail padding, stops before it: a new field in that padding
    // would read whatever bytes an older caller left there.
    public byte* OnnxNative;

    /// <summary>The size of the struct as ABI 1 first shipped it (up to threads and its padding).</summary>
    public static int AbiOneSize
    {
        get
        {
            ModelParams p = default;
            return (int)((byte*)&p.OnnxNative - (byte*)&p);
        }
    }

    public static ModelParams Default => new() { StructSize = (uint)sizeof(ModelParams), Device = null, Threads = 0, OnnxNative = null };
}

/// <summary>asd_sampler_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SamplerParams : IParams<SamplerParams>
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

    // Appended after ABI 1's first release: callers compiled against the older header pass a smaller struct_size
    // (at least AbiOneSize), and these keep their defaults.
    public double CalibrationSeconds;
    public delegate* unmanaged<void*, long, long, long, int> CalibrationProgress;
    public void* CalibrationUser;

    /// <summary>The size of the struct as ABI 1 first shipped it (up to timestep_spacing).</summary>
    public static int AbiOneSize
    {
        get
        {
            SamplerParams p = default;
            return (int)Unsafe.ByteOffset(ref Unsafe.As<SamplerParams, byte>(ref p), ref Unsafe.As<double, byte>(ref p.CalibrationSeconds));
        }
    }

    public static SamplerParams Default => new()
    {
        StructSize = (uint)sizeof(SamplerParams),
        // The engine's defaults (SamplerRequest), in the ABI's encodings.
        Sampler = (int)Asd.Native.Sampling.SamplerRequest.Default.Kind,
        Steps = Asd.Native.Sampling.SamplerRequest.Default.Steps,
        SpecLen = Asd.Native.Sampling.SamplerRequest.Default.SpecLength.Encoded,
        MaxBatchRows = Asd.Native.Sampling.SamplerRequest.Default.MaxBatchRows,
        StepsOffset = -1,
        ClipSample = -1,
    };
}

/// <summary>asd_sample_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SampleParams : IParams<SampleParams>
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
    /// Reads a caller's struct. Its struct_size must be at least <paramref name="minSize"/> (the size of the struct's
    /// first ABI-1 release; default: this library's size). A smaller struct from an older header keeps the defaults
    /// for the fields it lacks; a larger one from a newer header has its extra fields ignored. Reads exactly
    /// min(struct_size, this library's size) bytes.
    /// </summary>
    public static T Read<T>(T* p, string name, string defaultsFunction, T defaults, int minSize = 0)
        where T : unmanaged
    {
        if (p == null)
        {
            return defaults;
        }

        minSize = minSize > 0 ? minSize : sizeof(T);
        uint size = *(uint*)p;
        if (size < (uint)minSize)
        {
            throw new AsdException(Status.InvalidArgument, $"{name}.struct_size is {size}, but this libasd (ABI {Exports.AbiVersionValue}) needs at least {minSize}: initialise the struct with {defaultsFunction}(&params, sizeof params).");
        }

        T result = defaults;
        new ReadOnlySpan<byte>(p, (int)Math.Min(size, (uint)sizeof(T))).CopyTo(new Span<byte>(&result, sizeof(T)));
        return result;
    }

    /// <summary>
    /// Writes <paramref name="value"/> into a caller's struct of <paramref name="callerSize"/> bytes and sets its
    /// struct_size to the bytes written: min(callerSize, this library's size). Nothing beyond this library's struct is
    /// touched, whatever callerSize says (a hostile SIZE_MAX included); a struct from an older header (at least
    /// <paramref name="minSize"/> bytes; default: this library's size) gets the fields it has.
    /// </summary>
    public static void Write<T>(T* p, nuint callerSize, string name, T value, int minSize = 0)
        where T : unmanaged
    {
        if (p == null)
        {
            throw AsdException.Null(name);
        }

        minSize = minSize > 0 ? minSize : sizeof(T);
        if (callerSize < (nuint)minSize)
        {
            throw new AsdException(Status.BufferSize, $"{name}: size {callerSize} is smaller than this libasd's struct ({minSize} bytes); pass sizeof of the struct from the asd.h you compiled with (and check asd_abi_version()).");
        }

        int n = (int)Math.Min(callerSize, (nuint)sizeof(T));
        new ReadOnlySpan<byte>(&value, n).CopyTo(new Span<byte>(p, n));
        *(uint*)p = (uint)n;
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
    public static Status Write(ReadOnlySpan<byte> utf8, byte* buffer, nuint length, nuint* needed, string what)
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
