namespace Asd.Tests;

/// <summary>
/// A temporary model folder for loader tests: a fixture's weights copied in under a chosen name, and the model's JSON
/// (m.json) rewritten for each case. Deleted on dispose.
/// </summary>
internal sealed class ScratchModelFolder : IDisposable
{
    public ScratchModelFolder(string prefix, string weightsSource, string weightsName)
    {
        Dir = Directory.CreateTempSubdirectory(prefix).FullName;
        File.Copy(weightsSource, Path.Combine(Dir, weightsName));
    }

    /// <summary>The folder.</summary>
    public string Dir { get; }

    /// <summary>Writes <paramref name="json"/> as the folder's m.json and returns its path.</summary>
    public string WriteJson(string json)
    {
        string path = Path.Combine(Dir, "m.json");
        File.WriteAllText(path, json);
        return path;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
