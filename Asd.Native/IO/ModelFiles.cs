using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Asd.Native.IO;

/// <summary>
/// The one way the engine reads a file that comes from a model or from a user's argument: a regular file (never a
/// device, FIFO, socket or folder, so /dev/urandom cannot hang a load nor /dev/zero fill memory), whose size is
/// checked against a limit before a byte is read. A file that a model <em>references</em> (asd-mlp "weights", and
/// whatever a future format names) must also lie inside the model's folder: a relative path without "..", and after
/// symbolic links are resolved still inside the folder, as ONNX Runtime requires of external-data paths. Every
/// backend reads through this class. Failures are <see cref="InvalidDataException"/> (the model is invalid) or
/// <see cref="FileNotFoundException"/>, with a message naming the field and the path.
/// </summary>
public static partial class ModelFiles
{
    /// <summary>
    /// The real path of the file that <paramref name="reference"/> (a model's field <paramref name="field"/>) names,
    /// relative to the folder of <paramref name="modelFile"/>; checked as the class describes, not read.
    /// </summary>
    public static string ResolveInFolder(string modelFile, string reference, string field)
    {
        ArgumentNullException.ThrowIfNull(modelFile);
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelFile)) ?? throw new InvalidDataException($"{modelFile}: has no folder.");
        if (string.IsNullOrEmpty(reference) || reference.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{modelFile}: \"{field}\" must name a file in the model's folder (got '{Printable(reference)}').");
        }

        if (Path.IsPathRooted(reference) || reference.StartsWith('~'))
        {
            throw new InvalidDataException($"{modelFile}: \"{field}\" '{Printable(reference)}' is an absolute path; a model may reference only files inside its own folder.");
        }

        string[] parts = reference.Split(['/', '\\']);
        if (parts.Contains(".."))
        {
            throw new InvalidDataException($"{modelFile}: \"{field}\" '{Printable(reference)}' contains '..'; a model may reference only files inside its own folder.");
        }

        string lexical = Path.GetFullPath(Path.Combine(folder, reference));
        if (!File.Exists(lexical))
        {
            throw new FileNotFoundException($"{modelFile}: \"{field}\": the file '{lexical}' does not exist.", lexical);
        }

        string real = RealPath(lexical);
        if (!ResolvesInside(folder, lexical))
        {
            // A folder's own file (model.onnx, asd.json) is its own reference: named once, not as file, field and name.
            string named = field == reference ? lexical : $"{modelFile}: \"{field}\" '{Printable(reference)}'";
            throw new InvalidDataException($"{named} resolves (through a symbolic link) to '{real}', outside the model's folder '{RealPath(folder)}'.");
        }

        return real;
    }

    /// <summary>
    /// Reads a regular file of at most <paramref name="maxBytes"/> bytes; <paramref name="what"/> names it in messages
    /// (a field, a flag or a role, for example "asd-mlp weights" or "--cond").
    /// </summary>
    public static byte[] ReadAllBytes(string path, string what, long maxBytes)
    {
        using FileStream stream = OpenRegular(path, what, maxBytes, out long length);
        var bytes = new byte[length];
        int read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read != bytes.Length)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{what} '{path}': the file shrank while it was read ({read} of {length} bytes)."));
        }

        return bytes;
    }

    /// <summary>A UTF-8 text file read as <see cref="ReadAllBytes"/> does.</summary>
    public static string ReadAllText(string path, string what, long maxBytes)
    {
        byte[] bytes = ReadAllBytes(path, what, maxBytes);
        int start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        return Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
    }

    /// <summary>
    /// Opens a regular file of at most <paramref name="maxBytes"/> bytes for reading, without blocking on a FIFO; the
    /// type and the size are taken from the opened descriptor, so a file swapped after a check is still checked.
    /// </summary>
    public static FileStream OpenRegular(string path, string what, long maxBytes, out long length)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{what}: the path is empty or contains a NUL character.");
        }

        if (Directory.Exists(path))
        {
            throw new InvalidDataException($"{what} '{path}' is a folder, not a file.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{what} '{path}' does not exist.", path);
        }

        SafeFileHandle handle = OperatingSystem.IsLinux() ? OpenLinux(path, what, out length) : OpenPortable(path, what, out length);
        try
        {
            if (length > maxBytes)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{what} '{path}' is {length} bytes; the limit is {maxBytes}."));
            }

            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SafeFileHandle OpenPortable(string path, string what, out long length)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo { Exists: true })
        {
            throw new InvalidDataException($"{what} '{path}' is not a regular file.");
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        length = RandomAccess.GetLength(handle);
        return handle;
    }

    private const int OReadOnlyNonBlockCloexec = 0x800 | 0x80000; // O_RDONLY | O_NONBLOCK | O_CLOEXEC (Linux, every arch)
    private const int AtEmptyPath = 0x1000;
    private const uint StatxTypeAndSize = 0x1 | 0x200; // STATX_TYPE | STATX_SIZE
    private const ushort FileTypeMask = 0xF000;
    private const ushort RegularFile = 0x8000;

    private static unsafe SafeFileHandle OpenLinux(string path, string what, out long length)
    {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (a hang); it does not affect reads
        // of a regular file, which is all this ever reads.
        int fd = Open(path, OReadOnlyNonBlockCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == 2
                ? new FileNotFoundException($"{what} '{path}' does not exist.", path)
                : new IOException($"{what} '{path}' cannot be opened ({Marshal.GetPInvokeErrorMessage(errno)}).");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // struct statx: stx_mode (u16) at byte 28, stx_size (u64) at byte 40; the same layout on every architecture.
            byte* buffer = stackalloc byte[256];
            if (Statx(fd, "", AtEmptyPath, StatxTypeAndSize, buffer) != 0)
            {
                throw new IOException($"{what} '{path}': cannot read its type ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}).");
            }

            ushort mode = *(ushort*)(buffer + 28);
            if ((mode & FileTypeMask) != RegularFile)
            {
                throw new InvalidDataException($"{what} '{path}' is {TypeName(mode)}, not a regular file.");
            }

            length = (long)*(ulong*)(buffer + 40);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private const int AtCurrentFolder = -100; // AT_FDCWD

    /// <summary>
    /// Whether <paramref name="path"/> is a regular file, symbolic links followed (Python's <c>os.path.isfile</c>),
    /// without opening it: a FIFO, a device, a socket or a dangling link is not.
    /// </summary>
    public static unsafe bool IsRegularFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux())
        {
            var info = new FileInfo(path);
            return info.Exists && (info.LinkTarget is null || info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true });
        }

        byte* buffer = stackalloc byte[256];
        return !path.Contains('\0', StringComparison.Ordinal) && Statx(AtCurrentFolder, path, 0, StatxTypeAndSize, buffer) == 0
            && (*(ushort*)(buffer + 28) & FileTypeMask) == RegularFile;
    }

    private static string TypeName(ushort mode) => (mode & FileTypeMask) switch
    {
        0x2000 => "a character device",
        0x6000 => "a block device",
        0x1000 => "a FIFO",
        0xC000 => "a socket",
        0x4000 => "a folder",
        _ => "a special file",
    };

    /// <summary>
    /// Whether the existing <paramref name="path"/> resolves (symbolic links followed) to a file inside
    /// <paramref name="folder"/>, as every file a model reads must (<see cref="ResolveInFolder"/>).
    /// </summary>
    public static bool ResolvesInside(string folder, string path)
    {
        string realFolder = RealPath(folder);
        string prefix = realFolder.EndsWith(Path.DirectorySeparatorChar) ? realFolder : realFolder + Path.DirectorySeparatorChar;
        return RealPath(path).StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>The canonical path (symbolic links and "." / ".." resolved) of an existing path.</summary>
    public static string RealPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere: the full path, with the final component's link chain followed.
            string full = Path.GetFullPath(path);
            var info = new FileInfo(full);
            return info.LinkTarget is null ? full : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        }

        nint resolved = RealPathNative(path, 0);
        if (resolved == 0)
        {
            throw new FileNotFoundException($"'{path}' cannot be resolved ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}).", path);
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            Free(resolved);
        }
    }

    private static string Printable(string? s) => s is null ? "" : new string([.. s.Take(200).Select(c => char.IsControl(c) ? '?' : c)]);

    [LibraryImport("libc.so.6", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc.so.6", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc.so.6", EntryPoint = "free")]
    private static partial void Free(nint pointer);
}
