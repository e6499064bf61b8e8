namespace Asd.Cli.Commands;

/// <summary>
/// The engine names fields (<c>train_steps</c>, <c>spec_len</c>); the command line names flags. An engine error that
/// starts with a field name is reworded to start with the flag the user typed.
/// </summary>
internal static class FieldFlags
{
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["steps"] = "--steps",
        ["spec_len"] = "--spec-len",
        ["max_batch_rows"] = "--max-batch-rows",
        ["cost_curve"] = "--cost-curve",
        ["guidance_scale"] = "--guidance",
        ["threads"] = "--threads",
        ["train_steps"] = "--train-steps",
        ["beta_schedule"] = "--beta-schedule",
        ["beta_start"] = "--beta-start",
        ["beta_end"] = "--beta-end",
        ["prediction_type"] = "--prediction-type",
        ["variance_type"] = "--variance-type",
        ["timestep_spacing"] = "--timestep-spacing",
        ["steps_offset"] = "--steps-offset",
        ["clip_sample"] = "--clip-sample",
        ["clip_sample_range"] = "--clip-sample-range",
    };

    /// <summary>Whether <paramref name="option"/> was typed (not its default).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>Runs <paramref name="engine"/>, rewording an <see cref="ArgumentException"/> that names a field.</summary>
    public static T Map<T>(Func<T> engine)
    {
        try
        {
            return engine();
        }
        catch (ArgumentException e) when (Reworded(e.Message) is string message)
        {
            throw new ArgumentException(message, e);
        }
    }

    private static string? Reworded(string message)
    {
        int end = message.IndexOfAny([' ', ':']);
        return end > 0 && Flags.TryGetValue(message[..end], out string? flag) ? flag + message[end..] : null;
    }
}
