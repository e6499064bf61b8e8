using System.Text;
using Hash = Asd.Native.IO.Sha256;

namespace Asd.Native.Models;

/// <summary>
/// The content hash of a model, which shard manifests record so that shards sampled on different machines can be
/// checked to come from the same model (docs/distributed.md). Paths never enter it: copies of a model hash alike.
/// Python's <c>asd.shards.model_sha256</c> computes the same value.
/// </summary>
public static class ModelDigest
{
    private const string Scheme = "asd-model-1";

    /// <summary>
    /// sha256 (hex) of the text "asd-model-1\n" followed by "builtin NAME\n" for a built-in (NAME its canonical
    /// name, e.g. builtin:mixture?dim=32, whose parameters the engine's version pins) or by a line
    /// "ROLE SHA256-OF-FILE\n" for each of the model's files (<see cref="Files"/>).
    /// </summary>
    /// <param name="spec">The spec the model was opened with.</param>
    /// <param name="name">The opened model's name (<c>IDiffusionModel.Name</c>).</param>
    public static string Sha256(string spec, string name)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var text = new StringBuilder(Scheme).Append('\n');
        if (spec.StartsWith("builtin:", StringComparison.Ordinal))
        {
            text.Append("builtin ").Append(name).Append('\n');
        }
        else
        {
            foreach ((string role, string path) in Files(spec))
            {
                text.Append(role).Append(' ').Append(Hash.HexOfFile(path)).Append('\n');
            }
        }

        return Hash.Hex(Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>
    /// The files whose bytes define a model, with their roles: a folder: every regular file directly in it (role:
    /// its name; ordinal order); a <c>.json</c> file: ("json", it) and, when it names one (its "weights" key) or
    /// one exists beside it with the same stem, ("weights", the safetensors file); any other file: ("file", it).
    /// Only files the model may read: a link that resolves outside the model's folder, or a "weights" reference the
    /// loader refuses (absolute, with "..", outside the folder), is not read to hash it (opening the model names the
    /// problem). The digest is taken before the model is opened, and had read "/etc/shadow" or a 100 GB file for a
    /// JSON naming it.
    /// </summary>
    public static IReadOnlyList<(string Role, string Path)> Files(string spec)
    {
        // Regular files only, links followed, as Python's os.path.isfile: a FIFO or a link to a device in a model's
        // folder is no part of the model, and hashing one would wait for a writer or read without end.
        if (Directory.Exists(spec))
        {
            return [.. Directory.EnumerateFiles(spec)
                .Where(p => IO.ModelFiles.IsRegularFile(p) && IO.ModelFiles.ResolvesInside(spec, p))
                .Select(p => (Path.GetFileName(p), p))
                .OrderBy(f => f.Item1, StringComparer.Ordinal)];
        }

        if (!IO.ModelFiles.IsRegularFile(spec))
        {
            throw new FileNotFoundException($"Model file '{spec}' does not exist or is not a regular file.", spec);
        }

        if (!spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return [("file", spec)];
        }

        string reference = Path.GetFileName(Path.ChangeExtension(spec, ".safetensors"));
        using (JsonDocument doc = IO.StrictJson.ReadFile(spec, "model"))
        {
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("weights", out JsonElement w) && w.ValueKind == JsonValueKind.String)
            {
                reference = w.GetString()!;
            }
        }

        string? weights;
        try
        {
            IO.ModelFiles.ResolveInFolder(spec, reference, "weights");
            weights = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(spec))!, reference);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            weights = null;
        }

        return weights is not null && IO.ModelFiles.IsRegularFile(weights) ? [("json", spec), ("weights", weights)] : [("json", spec)];
    }
}
