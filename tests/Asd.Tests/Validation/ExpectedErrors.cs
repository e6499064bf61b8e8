namespace Asd.Tests.Validation;

/// <summary>
/// The manifests of the broken fixtures: tests/fixtures/FOLDER/expected-errors.tsv lists each broken model file of
/// the folder with a substring its loader's error must contain. The loaders' tests take their cases from a manifest,
/// and <see cref="ExpectedErrorsTests"/> holds every folder to its manifest, so a broken fixture added without an
/// expected error fails the suite instead of going untested.
/// </summary>
internal static class ExpectedErrors
{
    public const string Manifest = "expected-errors.tsv";

    /// <summary>The folders with a manifest, as fixtures/ names them.</summary>
    public static readonly string[] Folders = ["mlp_bad", "unet1d_bad", "onnx/bad"];

    /// <summary>A folder of broken fixtures in the test output.</summary>
    public static string Folder(string folder) => Path.Combine(AppContext.BaseDirectory, "fixtures", folder);

    /// <summary>The rows of a folder's manifest: file name, a TAB, expected message substring; lines starting with '#' are comments.</summary>
    public static IReadOnlyList<(string File, string Message)> Rows(string folder) =>
        [.. File.ReadLines(Path.Combine(Folder(folder), Manifest))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('\t') is [string file, string message] && file.Length > 0 && message.Length > 0
                ? (file, message)
                : throw new InvalidDataException($"{folder}/{Manifest}: '{line}' is not FILE<TAB>MESSAGE"))];

    /// <summary>A folder's manifest as theory cases (file name, expected message substring).</summary>
    public static TheoryData<string, string> Cases(string folder)
    {
        var data = new TheoryData<string, string>();
        foreach ((string file, string message) in Rows(folder))
        {
            data.Add(file, message);
        }

        return data;
    }
}

/// <summary>Every broken fixture has an expected error, and every expected error has its fixture.</summary>
public sealed class ExpectedErrorsTests
{
    public static TheoryData<string> Folders => [.. ExpectedErrors.Folders];

    [Theory]
    [MemberData(nameof(Folders))]
    public void EveryBrokenFixtureIsListedAndEveryRowHasItsFile(string folder)
    {
        string dir = ExpectedErrors.Folder(folder);
        IReadOnlyList<(string File, string Message)> rows = ExpectedErrors.Rows(folder);
        Assert.NotEmpty(rows);
        Assert.Equal(rows.Count, rows.DistinctBy(r => r.File).Count());
        Assert.All(rows, r => Assert.True(File.Exists(Path.Combine(dir, r.File)), $"{folder}/{ExpectedErrors.Manifest} lists {r.File}, which does not exist"));

        // A model file and its companions (x.json with x.safetensors) share a stem; any file of another stem is a
        // broken fixture no test opens.
        HashSet<string> listed = [.. rows.Select(r => Path.GetFileNameWithoutExtension(r.File))];
        string[] unlisted = [.. Directory.GetFiles(dir).Select(Path.GetFileName).OfType<string>()
            .Where(f => f != ExpectedErrors.Manifest && !listed.Contains(Path.GetFileNameWithoutExtension(f)))];
        Assert.True(unlisted.Length == 0, $"{folder}: not in {ExpectedErrors.Manifest}: {string.Join(", ", unlisted)}");
    }
}
