namespace Asd.Interop.Abi;

/// <summary>
/// The status codes of asd.h (asd_status; 0 = ok), returned as is by every export. The values are part of the ABI:
/// never renumber. Each name is asd.h's without its prefix (see <see cref="StatusErrors.Name"/>).
/// </summary>
internal enum Status
{
    Ok = 0,
    Cancelled = 1,
    InvalidArgument = 2,
    NullPointer = 3,
    BufferSize = 4,
    InvalidHandle = 5,
    Model = 6,
    Unsupported = 7,
    Numeric = 8,
    Busy = 9,
    State = 10,
    OutOfMemory = 11,
    Io = 12,
    Internal = 99,
}

/// <summary>What every export does with a status: names it as asd.h does, and makes a failure this thread's last error.</summary>
internal static class StatusErrors
{
    extension(Status)
    {
        /// <summary>
        /// The constant's name as asd.h spells it: ASD_OK and ASD_CANCELLED, every failure ASD_ERR_ and its name in
        /// upper snake case (InvalidArgument: ASD_ERR_INVALID_ARGUMENT), any other value ASD_ERR_UNKNOWN.
        /// </summary>
        public static string Name(int status)
        {
            if (!Enum.IsDefined((Status)status))
            {
                return "ASD_ERR_UNKNOWN";
            }

            Status s = (Status)status;
            string snake = string.Concat(s.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()));
            return s is Status.Ok or Status.Cancelled ? "ASD_" + snake : "ASD_ERR_" + snake;
        }

        /// <summary>
        /// Converts any exception to a status and records its message as this thread's last error. Called from the
        /// catch block of every export: no exception crosses the C boundary.
        /// </summary>
        public static Status Fail(Exception e)
        {
            // A static constructor's failure (ASD_FORCE_ISA naming an unsupported path, say) is its inner exception.
            while (e is TypeInitializationException { InnerException: { } inner })
            {
                e = inner;
            }

            Status status = e switch
            {
                AsdException a => a.Status,
                SamplingCancelledException or CalibrationCancelledException => Status.Cancelled,
                Asd.Native.Denoising.ModelRunException => Status.Model,
                NonFiniteModelOutputException => Status.Numeric,
                FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException => Status.Io,
                InvalidDataException => Status.Model,
                IOException => Status.Io,
                ArgumentException => Status.InvalidArgument,
                OverflowException => Status.InvalidArgument,
                PlatformNotSupportedException or NotSupportedException => Status.Unsupported,
                OutOfMemoryException or InsufficientExecutionStackException => Status.OutOfMemory,
                ObjectDisposedException => Status.InvalidHandle,
                _ => Status.Internal,
            };
            string message = e switch
            {
                // .NET appends " (Parameter 'name')" naming a C# parameter the C caller never saw.
                ArgumentException { ParamName: { } p } a when a.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
                    => a.Message[..^$" (Parameter '{p}')".Length],
                AsdException or ArgumentException or SamplingCancelledException or CalibrationCancelledException or NonFiniteModelOutputException
                    or Asd.Native.Denoising.ModelRunException
                    or IOException or InvalidDataException or UnauthorizedAccessException or NotSupportedException => e.Message,
                // A safety net: every input path checks its sizes first (ResourceLimits, Shapes), so an overflow here
                // is a missed check; the message still says what kind of input it was, not .NET's bare text.
                OverflowException => $"a size or count in the input is too large for this engine ({e.Message})",
                _ => $"{e.GetType().Name}: {e.Message}",
            };
            return Fail(status, message);
        }

        /// <summary>Records <paramref name="message"/> as this thread's last error and returns <paramref name="status"/>.</summary>
        public static Status Fail(Status status, string message)
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
}

/// <summary>An error with an explicit asd.h status.</summary>
internal sealed class AsdException(Status status, string message) : Exception(message)
{
    public Status Status { get; } = status;

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
