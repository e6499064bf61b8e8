using Asd.Cli;
using Asd.Tests.Simd;

namespace Asd.Tests.Cli;

/// <summary>The README documents every flag of every <c>asd</c> command (two had gone missing from its tables).</summary>
public sealed class CliDocumentationTests
{
    /// <summary>Each command's options by name, from the command tree the CLI runs (help and version flags aside).</summary>
    private static (string Command, string Flag)[] Flags() =>
    [
        .. CliApp.Commands(TextWriter.Null, TextWriter.Null).Subcommands
            .SelectMany(c => c.Options.Select(o => (Command: c.Name, Flag: o.Name)))
            .Where(f => f.Flag.StartsWith("--", StringComparison.Ordinal) && f.Flag is not "--help" and not "--version"),
    ];

    /// <summary>"asd COMMAND --flag" for each flag the text never writes as code (`--flag` or `--flag ...`).</summary>
    private static string[] Undocumented(string readme, IEnumerable<(string Command, string Flag)> flags) =>
    [
        .. flags.Where(f => !readme.Contains($"`{f.Flag}`", StringComparison.Ordinal) && !readme.Contains($"`{f.Flag} ", StringComparison.Ordinal))
            .Select(f => $"asd {f.Command} {f.Flag}").Distinct(),
    ];

    [Fact]
    public void EveryFlagOfEveryCommandIsInTheReadme()
    {
        string readme = File.ReadAllText(Path.Combine(GeneratedCodeTests.RepositoryRoot(), "README.md"));
        (string Command, string Flag)[] flags = Flags();
        Assert.True(flags.Length > 40, $"only {flags.Length} flags found: the tree is not the CLI's");
        Assert.Contains(("sample", "--onnx-native"), flags);
        Assert.Contains(("bench", "--acceptance-from"), flags);
        string[] missing = Undocumented(readme, flags);
        Assert.True(missing.Length == 0, "not in README.md: " + string.Join(", ", missing));

        // Control: the README without `--onnx-native` written as code is reported for both commands that take it.
        Assert.Equal(["asd sample --onnx-native", "asd bench --onnx-native"], Undocumented(readme.Replace("`--onnx-native", "`--onnx-nativ", StringComparison.Ordinal), flags));
    }
}
