using System.Runtime.InteropServices;
using Asd.Native.IO;
using Spectre.Console;

namespace Asd.Cli.Output;

/// <summary>
/// What the <c>asd</c> process does when Ctrl-C, <c>kill</c> or a closed terminal ends it (SIGINT, SIGTERM, SIGHUP):
/// it removes the temporary files of outputs still being written (AtomicFile), so that a cut-short <c>--out</c> of a
/// large run or an <c>asd merge</c> of gigabytes leaves neither a partial file nor a stray <c>.tmp</c> on the disk,
/// and shows the terminal's cursor again if a progress bar hid it. Then the signal ends the process as it would have
/// (a shell sees 128 + the signal's number). Registered by <see cref="Program"/> only: tests run the CLI in-process.
/// </summary>
internal sealed class Interrupts : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;

    private Interrupts(TextWriter stderr)
    {
        PosixSignal[] signals = [PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP];
        _registrations = [.. signals.Select(s => PosixSignalRegistration.Create(s, context => OnSignal(context, stderr)))];
    }

    /// <summary>Handles the signals until disposed.</summary>
    public static Interrupts Register(TextWriter stderr) => new(stderr);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations)
        {
            r.Dispose();
        }
    }

    private static void OnSignal(PosixSignalContext context, TextWriter stderr)
    {
        SampleProgress.ShowCursorIfHidden();
        foreach (string target in AtomicFile.EndOfProcess())
        {
            stderr.WriteLine($"asd: {context.Signal} while writing {target}: its unfinished copy was removed ({target} is as it was before the run)");
        }

        // context.Cancel stays false: the process ends as the signal's default has it.
    }
}
