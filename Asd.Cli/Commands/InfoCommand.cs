using System.CommandLine;
using System.Runtime.InteropServices;
using Asd.Simd;

namespace Asd.Cli.Commands;

/// <summary><c>asd info</c>: what this build and machine will run.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter stdout)
    {
        var command = new Command("info", "Show the CPU features and the kernel path this build runs.");
        command.SetAction(_ =>
        {
            stdout.WriteLine($"asd {typeof(InfoCommand).Assembly.GetName().Version}");
            stdout.WriteLine($"runtime    {RuntimeInformation.FrameworkDescription} {RuntimeInformation.ProcessArchitecture}");
            stdout.WriteLine($"kernels    {Isa.Name(Isa.Active)} (supported: {string.Join(", ", Array.ConvertAll(Isa.Supported(), Isa.Name))}; force with {Isa.ForceVariable})");
            stdout.WriteLine($"rng        {Asd.Simd.Random.CounterRng.SchemeName}, version {Asd.Simd.Random.CounterRng.SchemeVersion}");
            return 0;
        });
        return command;
    }
}
