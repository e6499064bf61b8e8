namespace Asd.Cli;

/// <summary>Entry point of the <c>asd</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args)
    {
        using var interrupts = Output.Interrupts.Register(Console.Error);
        return CliApp.Run(args, Console.Out, Console.Error);
    }
}
