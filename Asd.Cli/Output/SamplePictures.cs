using Asd.Cli.Plotting;
using Asd.Native.Backends.Analytic;

namespace Asd.Cli.Output;

/// <summary>The picture <c>asd sample</c> writes: what the samples look like, with what ASD saved in the caption.</summary>
internal static class SamplePictures
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>Writes the picture that fits the model; returns what was drawn, or null when no picture fits the shape.</summary>
    public static string? Write(string path, IDiffusionModel model, float[] samples, int n, float[] conditioning, SamplingStats stats)
    {
        string title = Title(model.Name, n, stats);
        string caption = Caption(stats.Sampler, stats.Steps, stats.SpecLength, stats.SpecLengthEffective, stats.SequentialModelCalls);
        int d = samples.Length / n;
        if (model.ConditionSize == PolicyTask.ObservationSize && d == PolicyTask.Waypoints * 2)
        {
            Plots.PolicyTrajectories(path, title, caption, (0, 0, PolicyTask.ObstacleRadius), (-1, 1, -1, 1), Episodes(samples, n, conditioning));
            return "trajectories";
        }

        if (model.SampleShape is [2] && model.TargetDensity([0.0, 0.0]) is not null)
        {
            (double, double, double, double) ranges = (-5.5, 5.5, -5.5, 5.5);
            Plots.MixtureScatter(path, title, caption, DensityGrid.Evaluate((x, y) => model.TargetDensity([x, y]) ?? 0, ranges), samples, ranges, DensityScale.Log);
            return "scatter over the target density";
        }

        IReadOnlyList<int> shape = model.SampleShape;
        if (shape.Count == 3 && shape[0] is 1 or 3)
        {
            Plots.ImageGrid(path, title, caption, samples, n, shape[0], shape[1], shape[2]);
            return "image grid";
        }

        return null;
    }

    /// <summary>"model: N samples, ASD (L = auto), K = 100": one line in the picture's title.</summary>
    internal static string Title(string model, int n, SamplingStats stats) =>
        string.Create(Ci, $"{model}: {n} samples, {(stats.Sampler == "asd" ? $"ASD (L = {stats.SpecLength})" : "DDPM")}, K = {stats.Steps}");

    /// <summary>
    /// What the run saved, in sequential model calls per sample. When ASD made as many calls as DDPM (auto judged that
    /// speculation does not pay on this model, or L = 1), it says so instead of "1.00x fewer".
    /// </summary>
    internal static string Caption(string sampler, int steps, string specLength, string effective, double calls)
    {
        if (sampler != "asd")
        {
            return string.Create(Ci, $"sequential model calls per sample: {calls:F0} (DDPM: one per step)");
        }

        // Rounded as printed: a saving that shows as 1.00x is no saving.
        if (Math.Round(steps / calls, 2) > 1.0)
        {
            return string.Create(Ci, $"sequential model calls per sample: ASD {calls:F1}, DDPM {steps} ({steps / calls:F2}x fewer); same law as DDPM");
        }

        string why = specLength == "1" ? " (with L = 1, ASD is DDPM)"
            : effective.StartsWith("auto", StringComparison.Ordinal) && effective.Split(' ').Skip(1).All(h => h.StartsWith("1:", StringComparison.Ordinal))
                ? " (auto chose L = 1 throughout: speculating costs more than it saves on this model)"
                : "";
        return string.Create(Ci, $"sequential model calls per sample: ASD {calls:F1}, as many as DDPM{why}; same law as DDPM");
    }

    /// <summary>Consecutive chains with the same observation form one episode (at most 8 are drawn).</summary>
    private static List<(float[] Start, float[] Goal, float[][] Paths)> Episodes(float[] samples, int n, float[] cond)
    {
        const int c = PolicyTask.ObservationSize, a = PolicyTask.Waypoints * 2;
        var episodes = new List<(float[], float[], List<float[]>)>();
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> o = cond.Length == c ? cond : cond.AsSpan(i * c, c);
            float[] path = samples.AsSpan(i * a, a).ToArray();
            if (episodes.Count > 0 && episodes[^1].Item1.AsSpan().SequenceEqual(o[..2]) && episodes[^1].Item2.AsSpan().SequenceEqual(o[2..]))
            {
                episodes[^1].Item3.Add(path);
            }
            else if (episodes.Count < 8)
            {
                episodes.Add((o[..2].ToArray(), o[2..].ToArray(), [path]));
            }
        }

        return [.. episodes.Select(e => (e.Item1, e.Item2, e.Item3.ToArray()))];
    }
}
