using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Asd.Native.Sampling;

namespace Asd.Interop.Abi;

/// <summary>The status codes of asd.h (0 = ok). The values are part of the ABI: never renumber.</summary>
internal static class Status
{
    public const int Ok = 0;
    public const int Cancelled = 1;
    public const int InvalidArgument = 2;
    public const int NullPointer = 3;
    public const int BufferSize = 4;
    public const int InvalidHandle = 5;
    public const int Model = 6;
    public const int Unsupported = 7;
    public const int Numeric = 8;
    public const int Busy = 9;
    public const int State = 10;
    public const int OutOfMemory = 11;
    public const int Io = 12;
    public const int Internal = 99;

    /// <summary>The constant's name as asd.h spells it.</summary>
    public static string Name(int status) => status switch
    {
        Ok => "ASD_OK",
        Cancelled => "ASD_CANCELLED",
        InvalidArgument => "ASD_ERR_INVALID_ARGUMENT",
        NullPointer => "ASD_ERR_NULL_POINTER",
        BufferSize => "ASD_ERR_BUFFER_SIZE",
        InvalidHandle => "ASD_ERR_INVALID_HANDLE",
        Model => "ASD_ERR_MODEL",
        Unsupported => "ASD_ERR_UNSUPPORTED",
        Numeric => "ASD_ERR_NUMERIC",
        Busy => "ASD_ERR_BUSY",
        State => "ASD_ERR_STATE",
        OutOfMemory => "ASD_ERR_OUT_OF_MEMORY",
        Io => "ASD_ERR_IO",
        Internal => "ASD_ERR_INTERNAL",
        _ => "ASD_ERR_UNKNOWN",
    };

    /// <summary>
    /// Converts any exception to a status and records its message as this thread's last error. Called from the
    /// catch block of every export: no exception crosses the C boundary.
    /// </summary>
    public static int Fail(Exception e)
    {
        // A static constructor's failure (ASD_FORCE_ISA naming an unsupported path, say) is its inner exception.
        while (e is TypeInitializationException { InnerException: { } inner })
        {
            e = inner;
        }

        int status = e switch
        {
            AsdException a => a.Status,
            SamplingCancelledException or CalibrationCancelledException => Cancelled,
            Asd.Native.Denoising.ModelRunException => Model,
            NonFiniteModelOutputException => Numeric,
            FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException => Io,
            InvalidDataException => Model,
            IOException => Io,
            ArgumentException => InvalidArgument,
            OverflowException => InvalidArgument,
            PlatformNotSupportedException or NotSupportedException => Unsupported,
            OutOfMemoryException or InsufficientExecutionStackException => OutOfMemory,
            ObjectDisposedException => InvalidHandle,
            _ => Internal,
        };
        string message = e switch
        {
            // .NET appends " (Parameter 'name')" naming a C# parameter the C caller never saw.
            ArgumentException { ParamName: { } p } a when a.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
                => a.Message[..^$" (Parameter '{p}')".Length],
            AsdException or ArgumentException or SamplingCancelledException or CalibrationCancelledException or NonFiniteModelOutputException
                or Asd.Native.Denoising.ModelRunException
                or IOException or InvalidDataException or UnauthorizedAccessException or PlatformNotSupportedException => e.Message,
            // A safety net: every input path checks its sizes first (ResourceLimits, Shapes), so an overflow here
            // is a missed check; the message still says what kind of input it was, not .NET's bare text.
            OverflowException => $"a size or count in the input is too large for this engine ({e.Message})",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        return Fail(status, message);
    }

    /// <summary>Records <paramref name="message"/> as this thread's last error and returns <paramref name="status"/>.</summary>
    public static int Fail(int status, string message)
    {
        try
        {
            LastError.Set(message);
        }
        catch (OutOfMemoryException)
        {
            LastError.SetStatic();
        }

        return status;
    }
}

/// <summary>An error with an explicit asd.h status.</summary>
internal sealed class AsdException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static AsdException Null(string parameter) => new(Abi.Status.NullPointer, $"{parameter} is NULL.");
}

/// <summary>
/// The thread-local last-error message. The library owns the bytes: a pinned array referenced from a thread-static
/// field, so the pointer handed out stays valid until the thread's next failing call, and the memory is collected
/// with the thread (no native allocation that could leak).
/// </summary>
internal static unsafe class LastError
{
    private static readonly byte[] s_empty = GC.AllocateArray<byte>(1, pinned: true);
    private static readonly byte[] s_noMemory = Pinned("out of memory while recording an error message");

    [ThreadStatic]
    private static byte[]? t_message;

    public static byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_message ?? s_empty));

    public static void Set(string message) => t_message = Pinned(message);

    public static void SetStatic() => t_message = s_noMemory;

    /// <summary>A NUL-terminated UTF-8 copy in a pinned array (the pointer never moves).</summary>
    public static byte[] Pinned(string text)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(text);
        byte[] bytes = GC.AllocateArray<byte>(n + 1, pinned: true);
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
