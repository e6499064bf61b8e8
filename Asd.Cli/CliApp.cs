using Asd.Cli.Commands;

namespace Asd.Cli;

/// <summary>The <c>asd</c> command tree, runnable in-process (tests call <see cref="Run"/> directly).</summary>
public static class CliApp
{
    /// <summary>
    /// Parses and runs <paramref name="args"/>; returns the exit code: 0 ok, 2 bad input (a wrong flag or value, a
    /// missing file: one line on stderr), 1 a check that ran and failed (selftest).
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ParseResult parse = Commands(stdout, stderr).Parse(args);
        if (parse.Errors.Count > 0 && args.Length > 0)
        {
            // One line, not the errors followed by the whole help: the help is one flag away.
            stderr.WriteLine($"asd: error: {UsageErrors.Describe(parse)}");
            return 2;
        }

        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        try
        {
            return parse.Invoke(config);
        }
        catch (Exception e) when (IsUserError(e))
        {
            stderr.WriteLine($"asd: error: {e.Message}");
            return 2;
        }
    }

    /// <summary>The command tree (also read by the test that every flag is documented in the README).</summary>
    internal static RootCommand Commands(TextWriter stdout, TextWriter stderr) =>
        new("asd: exact and parallel diffusion sampling (DDPM and autospeculative decoding).")
        {
            SampleCommand.Create(stdout, stderr),
            MergeCommand.Create(stdout),
            BenchCommand.Create(stdout, stderr),
            SelftestCommand.Create(stdout),
            InfoCommand.Create(stdout),
        };

    /// <summary>Errors that mean bad input or environment rather than a bug: reported in one line, exit code 2.</summary>
    internal static bool IsUserError(Exception e) =>
        e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
            or PlatformNotSupportedException or NotSupportedException or InvalidOperationException or OperationCanceledException;
}
