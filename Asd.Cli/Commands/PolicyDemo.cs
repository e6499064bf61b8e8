namespace Asd.Cli.Commands;

/// <summary>
/// The demo a bare <c>asd sample</c> or <c>asd bench</c> runs: builtin:policy without --cond. Its defaults live here:
/// 8 chains for each of the policy's demo observations, compared with DDPM one request at a time (sample), one
/// observation and the quality test before timing (bench).
/// </summary>
internal static class PolicyDemo
{
    /// <summary>Chains per demo observation in <c>asd sample</c>.</summary>
    public const int ChainsPerObservation = 8;

    /// <summary>True for builtin:policy without --cond.</summary>
    public static bool Applies(string spec, string? cond) => spec == ModelCatalog.DefaultModel && cond is null;

    /// <summary>True when <c>asd bench</c> runs the policy's quality test before timing (a smoothed policy must not get timed).</summary>
    public static bool RunsQualityTest(string spec) => spec == ModelCatalog.DefaultModel;

    /// <summary>--samples when not given: 8 per observation for the demo, else 16.</summary>
    public static int DefaultSamples(bool demo) => demo ? ChainsPerObservation * ObservationCount : 16;

    /// <summary>--vs-ddpm and --one-by-one when not given: on for the demo.</summary>
    public static bool CompareByDefault(bool demo) => demo;

    private static int ObservationCount => PolicyTask.DefaultObservations().Length / PolicyTask.ObservationSize;

    /// <summary>Conditioning for <paramref name="n"/> chains: chain i gets demo observation i * count / n (consecutive chains share one).</summary>
    public static float[] Observations(int n)
    {
        float[] demo = PolicyTask.DefaultObservations();
        int count = ObservationCount;
        var cond = new float[n * PolicyTask.ObservationSize];
        for (int i = 0; i < n; i++)
        {
            int o = (int)((long)i * count / n);
            demo.AsSpan(o * PolicyTask.ObservationSize, PolicyTask.ObservationSize).CopyTo(cond.AsSpan(i * PolicyTask.ObservationSize));
        }

        return cond;
    }

    /// <summary>The one observation <c>asd bench</c> times (the symmetric one: both ways around the obstacle are likely).</summary>
    public static float[] BenchObservation() => PolicyTask.DefaultObservations()[..PolicyTask.ObservationSize];
}
