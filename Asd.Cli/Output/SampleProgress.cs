using Spectre.Console;

namespace Asd.Cli.Output;

/// <summary>
/// A Spectre.Console progress bar for runs that last more than about a second: the run starts on a worker thread,
/// and the bar appears only if it is still going after <see cref="Delay"/>; short runs print nothing extra. Only
/// when standard output is an interactive terminal (never in pipes, files or tests).
/// </summary>
internal sealed class SampleProgress : ISamplingProgress
{
    /// <summary>How long a run may take before the bar appears.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    private long _completed, _total = 1, _calls;

    /// <inheritdoc/>
    public bool OnProgress(in SamplingProgress progress)
    {
        Volatile.Write(ref _total, Math.Max(1, progress.TotalSteps));
        Volatile.Write(ref _calls, progress.Invocations);
        Volatile.Write(ref _completed, progress.CompletedSteps);
        return true;
    }

    private static bool _barShown;

    /// <summary>
    /// Shows the terminal's cursor, which a bar hides while it is drawn, when a bar is up: for a process about to end
    /// on a signal (<see cref="Interrupts"/>), which would otherwise leave the user's terminal without one.
    /// </summary>
    public static void ShowCursorIfHidden()
    {
        if (Volatile.Read(ref _barShown))
        {
            AnsiConsole.Cursor.Show(true);
            AnsiConsole.WriteLine();
        }
    }

    /// <summary>Runs <paramref name="work"/>, showing a bar titled <paramref name="label"/> if it lasts.</summary>
    public static T Run<T>(TextWriter stdout, string label, Func<ISamplingProgress?, T> work)
    {
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            return work(null);
        }

        var progress = new SampleProgress();
        var task = Task.Factory.StartNew(() => work(progress), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!task.Wait(Delay))
        {
            Volatile.Write(ref _barShown, true);
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask bar = ctx.AddTask(label, maxValue: 1.0);
                    while (!task.Wait(100))
                    {
                        bar.Value = (double)Volatile.Read(ref progress._completed) / Volatile.Read(ref progress._total);
                        bar.Description = $"{label} ({Volatile.Read(ref progress._calls)} model calls)";
                    }

                    bar.Value = 1.0;
                });
            Volatile.Write(ref _barShown, false);
        }

        return task.GetAwaiter().GetResult();
    }
}
