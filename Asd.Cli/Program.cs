namespace Asd.Cli;

/// <summary>Entry point of the <c>asd</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => CliApp.Run(args, Console.Out, Console.Error);
}
