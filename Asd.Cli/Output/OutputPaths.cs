namespace Asd.Cli.Output;

/// <summary>
/// Output files named by flags (--out, --stats, --plot, --json, --save-cost-curve) are checked before any sampling
/// or timing starts, all in the same way: the folder must exist (none is created) and accept a new file, and the path
/// must not be a folder. A failure names the flag; so does a write that fails later anyway (a full disk).
/// </summary>
internal static class OutputPaths
{
    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="flag"/> unless <paramref name="path"/> can be written.</summary>
    public static void Check(string? path, string flag)
    {
        if (path is null)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(path) || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{flag}: the path is empty.");
        }

        if (Directory.Exists(path))
        {
            throw new ArgumentException($"{flag} {path}: is a folder; give a file name.");
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? Path.GetFullPath(path);
        if (!Directory.Exists(folder))
        {
            throw new ArgumentException($"{flag} {path}: the folder '{folder}' does not exist (it is not created).");
        }

        // A probe file beside the target, removed at once: write permission and a writable file system, before the run.
        string probe = Path.Combine(folder, $".asd-write-check-{Environment.ProcessId}.tmp");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{flag} {path}: cannot write in '{folder}' ({e.Message}).", e);
        }
    }

    /// <summary>Runs <paramref name="write"/>, naming <paramref name="flag"/> and the path if it fails.</summary>
    public static void Write(string path, string flag, Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{flag} {path}: {e.Message}", e);
        }
    }
}
