namespace Asd.Cli.Output;

/// <summary>
/// Output files named by flags (--out, --stats, --plot, --json, --save-cost-curve) are checked before any sampling
/// or timing starts, all in the same way: the folder must exist (none is created) and accept a new file, and the path
/// must not be a folder. A failure names the flag; so does a write that fails later anyway (a full disk).
/// </summary>
internal static class OutputPaths
{
    /// <summary>
    /// An output's name must end in <paramref name="extension"/> (any case), the format it is written in: <c>--plot
    /// x.svg</c> had written PNG bytes under an SVG name, and <c>--out x.csv</c> a float32 .npy under a CSV name, which
    /// the programs that open them then refused or misread. <paramref name="what"/> says what the file is.
    /// </summary>
    public static void CheckExtension(string? path, string flag, string extension, string what)
    {
        if (path is not null && !path.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"{flag} {path}: {what}; give a file name ending in {extension}.");
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="flag"/> unless <paramref name="path"/> can be
    /// written, and with <paramref name="withSidecar"/> its manifest PATH.json too (--out, whose two files land together).
    /// </summary>
    public static void Check(string? path, string flag, bool withSidecar = false)
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

        if (withSidecar && Directory.Exists(path + ".json"))
        {
            throw new ArgumentException($"{flag} {path}: its manifest {path}.json is a folder; move it or give another name.");
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

    /// <summary>
    /// The files a run reads before it writes: the model's (every file of a model folder, an asd-mlp or asd-unet1d
    /// JSON and its weights, a .onnx file; none for a built-in) and <paramref name="others"/> (a --cond .npy, a cost
    /// curve), those that exist; and the model folder, when the model is one.
    /// </summary>
    public static RunInputs Inputs(string modelSpec, params (string What, string? Path)[] others)
    {
        ArgumentNullException.ThrowIfNull(modelSpec);
        var files = new List<(string What, string Path)>();
        string? folder = null;
        if (!modelSpec.StartsWith("builtin:", StringComparison.Ordinal) && (Directory.Exists(modelSpec) || File.Exists(modelSpec)))
        {
            folder = Directory.Exists(modelSpec) ? Path.GetFullPath(modelSpec) : null;
            foreach ((string role, string file) in Asd.Native.Models.ModelDigest.Files(modelSpec))
            {
                files.Add((role switch { "json" => "the model's JSON", "weights" => "the model's weights", "file" => "the model file", _ => "a file of the model folder" }, file));
            }
        }

        foreach ((string what, string? path) in others)
        {
            if (!string.IsNullOrEmpty(path) && File.Exists(path))
            {
                files.Add((what, path));
            }
        }

        return new RunInputs([.. files.Select(f => (f.What, Canonical(f.Path)))], folder);
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="flag"/> when writing <paramref name="path"/> (and,
    /// for --out, its manifest PATH.json) would replace one of the run's inputs: the run reads them first and would
    /// overwrite them with its output afterwards, so the model would be lost. With <paramref name="outsideModelFolder"/>
    /// the path must also lie outside a model folder: a folder's content hash covers every file in it, so shards
    /// written into it would each record a different model hash and never merge.
    /// </summary>
    public static void CheckNotAnInput(string? path, string flag, RunInputs inputs, bool withSidecar = false, bool outsideModelFolder = false)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (path is null)
        {
            return;
        }

        foreach (string written in withSidecar ? [path, path + ".json"] : new[] { path })
        {
            string target = Canonical(written);
            foreach ((string what, string input) in inputs.Files)
            {
                if (string.Equals(target, input, StringComparison.Ordinal))
                {
                    string how = written == path ? "is" : $"writes its manifest {written}, which is";
                    throw new ArgumentException($"{flag} {path}: {how} {what} ({input}); the run reads it and would overwrite it. Write elsewhere.");
                }
            }
        }

        if (outsideModelFolder && inputs.ModelFolder is string folder
            && Canonical(path).StartsWith(Canonical(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"{flag} {path}: inside the model folder {folder}, whose content hash covers every file in it: shards written there would each record another model hash and never merge. Write elsewhere.");
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when two of a run's outputs name the same file (with a symbolic link or
    /// another spelling too), or one names the manifest --out writes beside its .npy: the later write replaced the
    /// earlier (--out x.npy --plot x.npy left a PNG named x.npy and no samples).
    /// </summary>
    public static void CheckDistinct(params (string Flag, string? Path, bool WithSidecar)[] outputs)
    {
        var seen = new List<(string Flag, string Path, string File, string Written)>();
        foreach ((string flag, string? path, bool withSidecar) in outputs)
        {
            if (path is null)
            {
                continue;
            }

            foreach (string written in withSidecar ? [path, path + ".json"] : new[] { path })
            {
                string file = Canonical(written);
                foreach ((string otherFlag, string otherPath, string otherFile, string otherWritten) in seen)
                {
                    if (string.Equals(file, otherFile, StringComparison.Ordinal))
                    {
                        string mine = written == path ? path : $"{path} (its manifest {written})";
                        string theirs = otherWritten == otherPath ? $"{otherFlag} {otherPath}" : $"the manifest {otherWritten} that {otherFlag} {otherPath} writes";
                        throw new ArgumentException($"{flag} {mine}: the same file as {theirs}; one would replace the other. Give each output its own name.");
                    }
                }

                seen.Add((flag, path, file, written));
            }
        }
    }

    /// <summary>A full path with symbolic links resolved (of the file, when it exists, and of its folder).</summary>
    private static string Canonical(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            if (File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is FileSystemInfo target)
            {
                full = target.FullName;
            }

            string? dir = Path.GetDirectoryName(full);
            if (dir is not null && Directory.Exists(dir) && Directory.ResolveLinkTarget(dir, returnFinalTarget: true) is FileSystemInfo real)
            {
                full = Path.Combine(real.FullName, Path.GetFileName(full));
            }
        }
        catch (IOException)
        {
            // A link loop or an unreadable link: compared as written.
        }

        return full;
    }

    /// <summary>
    /// Runs <paramref name="write"/>, naming <paramref name="flag"/> and the path if it fails (a full disk, a lost
    /// permission, a file-size limit). The writers leave no partial file behind (AtomicFile).
    /// </summary>
    public static void Write(string path, string flag, Action write)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // AtomicFile's errors start with the path already.
            throw new IOException(e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? $"{flag} {e.Message}" : $"{flag} {path}: {e.Message}", e);
        }
    }
}

/// <summary>What a run reads (<see cref="OutputPaths.Inputs"/>): files by what they are, canonical paths; the model folder, if any.</summary>
/// <param name="Files">Each input file: what it is, its canonical path.</param>
/// <param name="ModelFolder">The model's folder when the model is a folder, else null.</param>
internal sealed record RunInputs(IReadOnlyList<(string What, string Path)> Files, string? ModelFolder);
