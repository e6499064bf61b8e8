namespace Asd.Tests.Validation;

/// <summary>
/// The manifests of the broken fixtures: tests/fixtures/FOLDER/expected-errors.tsv lists each broken model file of
/// the folder (asd-mlp, ConditionalUnet1D and ONNX models) with a substring its error must contain.
/// <see cref="ExpectedErrorsTests"/> opens every listed file and holds every folder to its manifest, so a broken
/// fixture added without an expected error fails the suite instead of going untested.
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
}

/// <summary>Every broken fixture has an expected error, and every expected error has its fixture.</summary>
public sealed class ExpectedErrorsTests(ITestOutputHelper output)
{
    public static TheoryData<string> Folders => [.. ExpectedErrors.Folders];

    /// <summary>Every manifest's rows: folder, file, expected message substring.</summary>
    public static TheoryData<string, string, string> BrokenFiles
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (string folder in ExpectedErrors.Folders)
            {
                foreach ((string file, string message) in ExpectedErrors.Rows(folder))
                {
                    data.Add(folder, file, message);
                }
            }

            return data;
        }
    }

    /// <summary>
    /// Each broken file, opened as a user opens any model (<see cref="ModelCatalog.Open"/>, which routes by kind to the
    /// asd-mlp, ConditionalUnet1D or ONNX loader), is refused with an error that says what is wrong.
    /// </summary>
    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void EachBrokenFileGivesItsListedError(string folder, string file, string message) =>
        Assert.Contains(message, LoggedThrows.Message<InvalidDataException>(() => ModelCatalog.Open(Path.Combine(ExpectedErrors.Folder(folder), file)), output));

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
