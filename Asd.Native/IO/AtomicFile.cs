using System.Collections.Concurrent;

namespace Asd.Native.IO;

/// <summary>
/// Output files that appear whole or not at all: written beside the target under a temporary name of their own, then
/// moved over it. A write that fails (a full disk, a file-size limit) removes its temporary file and leaves the target
/// as it was; so does an interrupted one in the CLI, whose signal handler calls <see cref="EndOfProcess"/>.
/// </summary>
/// <remarks>
/// The temporary name is the target's plus ".PID-N.tmp", created only if no such file exists: a user's file named
/// like the target plus ".tmp" is never overwritten, and two processes writing the same target do not share one.
/// </remarks>
internal static class AtomicFile
{
    private static readonly ConcurrentDictionary<string, string> Unfinished = new(StringComparer.Ordinal);
    private static long _written;

    /// <summary>Writes through <paramref name="write"/> to a temporary file, then moves it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using Pending file = Create(path);
        write(file.Stream);
        file.Commit();
    }

    /// <summary>
    /// A write of <paramref name="path"/> made (<paramref name="write"/> given <paramref name="state"/>, which may be a
    /// span) and not yet moved into place, for <see cref="CommitTogether"/>; a write that throws removes its file.
    /// </summary>
    public static Pending Begin<TState>(string path, TState state, Action<Stream, TState> write)
        where TState : allows ref struct
    {
        ArgumentNullException.ThrowIfNull(write);
        Pending file = Create(path);
        try
        {
            write(file.Stream, state);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts a write of <paramref name="path"/>: write to <see cref="Pending.Stream"/>, then <see cref="Pending.Commit"/>;
    /// disposed without a commit (an exception on the way), the temporary file is removed and the target left as it was.
    /// </summary>
    public static Pending Create(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        while (true)
        {
            string temp = $"{path}.{Environment.ProcessId}-{Interlocked.Increment(ref _written)}.tmp";

            // Registered before it exists, so that an interrupt between creating it and registering it cannot leave it.
            Unfinished[temp] = path;
            Pending file;
            try
            {
                file = new Pending(path, temp, new TargetStream(path, new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16)));
            }
            catch (IOException) when (File.Exists(temp))
            {
                Unfinished.TryRemove(temp, out _); // someone else's file of that name: take the next
                continue;
            }
            catch
            {
                Unfinished.TryRemove(temp, out _);
                throw;
            }

            if (_ending)
            {
                // The process is ending on a signal (EndOfProcess), which may have looked for unfinished files already.
                file.Dispose();
                WaitForTheEnd();
                throw new IOException($"{path}: not written: the process is ending on a signal.");
            }

            return file;
        }
    }

    /// <summary>A write in progress (<see cref="Create"/>).</summary>
    public sealed class Pending : IDisposable
    {
        private readonly string _path, _temp;
        private bool _done;

        internal Pending(string path, string temp, Stream stream) => (_path, _temp, Stream) = (path, temp, stream);

        /// <summary>Where the content goes. Its errors are <see cref="IOException"/>s that name the target.</summary>
        public Stream Stream { get; }

        /// <summary>Closes the stream and moves the file into place.</summary>
        public void Commit() => CommitTogether(this);

        internal void Close()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            Stream.Dispose(); // flushes: a full disk fails here, before anything is moved
        }

        internal void MoveIntoPlace()
        {
            File.Move(_temp, _path, overwrite: true);
            _done = true;
            Unfinished.TryRemove(_temp, out _);
        }

        internal string Target => _path;

        /// <summary>Without a commit: closes the stream and removes the temporary file.</summary>
        public void Dispose()
        {
            if (_done)
            {
                return;
            }

            _done = true;
            try
            {
                Stream.Dispose();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The flush of a failed write fails again (the disk is still full): the write's own error is reported.
            }

            Delete(_temp);
            Unfinished.TryRemove(_temp, out _);
        }
    }

    /// <summary>
    /// Moves files that belong together (an .npy and its manifest) into place as one: every stream is closed first (a
    /// full disk fails there, and nothing is moved), then the moves run with the signal handler held off
    /// (<see cref="EndOfProcess"/> waits for them), so a signal leaves all of the files or none, never a new .npy beside
    /// an old manifest. The moves are renames within each target's folder; a crash of the machine between two of them
    /// can still separate the files, and the manifest's data hash then tells (asd merge refuses the pair).
    /// </summary>
    /// <exception cref="IOException">A write or move failed, naming the target; files not yet moved are left as they were.</exception>
    public static void CommitTogether(params ReadOnlySpan<Pending> files)
    {
        foreach (Pending file in files)
        {
            file.Close();
        }

        foreach (Pending file in files)
        {
            if (Directory.Exists(file.Target))
            {
                throw new IOException($"{file.Target}: is a folder; no file of the write was moved into place.");
            }
        }

        lock (Moves)
        {
            if (!_ending)
            {
                foreach (Pending file in files)
                {
                    file.MoveIntoPlace();
                    AfterMoveForTests?.Invoke(file.Target);
                }

                return;
            }
        }

        // The process is ending on a signal, whose handler removes these files once it holds the lock: no error of
        // ours should race the signal's end.
        WaitForTheEnd();
        throw new IOException($"{files[0].Target}: not written: the process is ending on a signal.");
    }

    /// <summary>Held while files move into place (<see cref="CommitTogether"/>) and while a signal's handler removes unfinished ones.</summary>
    private static readonly Lock Moves = new();

    /// <summary>For tests: runs after each move of <see cref="CommitTogether"/>, with the lock held.</summary>
    internal static Action<string>? AfterMoveForTests { get; set; }

    /// <summary>Writes indented JSON through <paramref name="write"/>, as <see cref="Write(string, Action{Stream})"/>.</summary>
    public static void WriteJson(string path, Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            write(w);
        });
    }

    /// <summary>Writes <paramref name="bytes"/>, as <see cref="Write(string, Action{Stream})"/>.</summary>
    public static void WriteBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>
    /// Removes the temporary files of the writes still in progress in this process (those of targets in
    /// <paramref name="folder"/>, when given), for a process about to end on a signal; the writes themselves then fail
    /// (their move finds no file) and leave their targets as they were.
    /// </summary>
    /// <returns>The targets whose writes were cut short.</returns>
    public static IReadOnlyList<string> RemoveUnfinished(string? folder = null)
    {
        string? under = folder is null ? null : Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var targets = new List<string>();
        lock (Moves) // a group's moves finish first: all of its files land, or none
        {
            foreach ((string temp, string target) in Unfinished)
            {
                if (under is null || Path.GetFullPath(target).StartsWith(under, StringComparison.Ordinal))
                {
                    Delete(temp);
                    targets.Add(target);
                }
            }
        }

        return targets;
    }

    /// <summary>
    /// For a process about to end on a signal (the CLI's handler of SIGINT, SIGTERM, SIGHUP): removes the unfinished
    /// files as <see cref="RemoveUnfinished"/> does, and from now on a write that would start, or that fails because its
    /// file was removed, waits for the end instead. Without that wait the write's own error ("could not find file")
    /// raced the signal, and the process could exit with it, as if the run had failed, before the signal ended it.
    /// </summary>
    /// <returns>The targets whose writes were cut short.</returns>
    public static IReadOnlyList<string> EndOfProcess()
    {
        _ending = true;
        return RemoveUnfinished();
    }

    private static volatile bool _ending;

    /// <summary>Waits for the signal to end the process; if it has not after a while, the caller goes on to fail.</summary>
    private static void WaitForTheEnd() => Thread.Sleep(TimeSpan.FromSeconds(10));

    /// <summary>Temporary names taken so far (the N of the next is one more), for tests.</summary>
    internal static long TemporaryNamesTaken => Volatile.Read(ref _written);

    private static void Delete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write's own error is the one to report; a temporary file that cannot be removed either stays.
        }
    }
    /// <summary>
    /// The temporary file's stream, whose failures name the target (the temporary name means nothing to a user) and are
    /// all <see cref="IOException"/>s: .NET reports EFBIG (a file-size limit, <c>ulimit -f</c>) as an
    /// <see cref="ArgumentOutOfRangeException"/> about a parameter 'value'.
    /// </summary>
    private sealed class TargetStream(string path, FileStream file) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => file.Length;

        public override long Position
        {
            get => file.Position;
            set => throw new NotSupportedException();
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try
            {
                file.Write(buffer);
            }
            catch (Exception e) when (IsWriteFailure(e))
            {
                throw Named(e);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);

        public override void Flush()
        {
            try
            {
                file.Flush();
            }
            catch (Exception e) when (IsWriteFailure(e))
            {
                throw Named(e);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try
                {
                    file.Dispose(); // flushes what is buffered
                }
                catch (Exception e) when (IsWriteFailure(e))
                {
                    throw Named(e);
                }
            }

            base.Dispose(disposing);
        }

        private static bool IsWriteFailure(Exception e) => e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException;

        private IOException Named(Exception e) => e is ArgumentOutOfRangeException
            ? new IOException($"{path}: the file system refused the file's size (EFBIG: a file-size limit such as ulimit -f, or the file system's largest file).", e)
            : new IOException($"{path}: {e.Message}", e);
    }
}
