namespace Asd.Cli.Output;

/// <summary>
/// The manifest <c>asd sample --out X.npy</c> writes beside its samples (X.npy.json), so that runs split by
/// <c>--chain-offset</c> can be checked and joined by <c>asd merge</c> (docs/distributed.md). Python's
/// <c>asd.distributed.to_npy</c> writes the same format.
/// </summary>
internal static class ShardSidecar
{
    /// <summary>The CLI flags that override the scheduler, by diffusers' name.</summary>
    private static readonly (string Flag, string Key)[] ScheduleFlags =
    [
        ("--train-steps", "train_steps"), ("--beta-schedule", "beta_schedule"), ("--beta-start", "beta_start"), ("--beta-end", "beta_end"),
        ("--prediction-type", "prediction_type"), ("--variance-type", "variance_type"), ("--timestep-spacing", "timestep_spacing"),
        ("--steps-offset", "steps_offset"), ("--clip-sample", "clip_sample"), ("--clip-sample-range", "clip_sample_range"),
    ];

    public static void Write(string outPath, ParseResult parse, string spec, IDiffusionModel model, SamplingStats stats, ReadOnlySpan<float> samples, ulong seed, ulong firstChain, ReadOnlySpan<float> conditioning)
    {
        var schedule = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach ((string flag, string key) in ScheduleFlags)
        {
            object? value = key switch
            {
                "train_steps" or "steps_offset" => parse.GetValue<int?>(flag),
                "beta_start" or "beta_end" or "clip_sample_range" => parse.GetValue<double?>(flag),
                "clip_sample" => parse.GetValue<bool?>(flag),
                _ => parse.GetValue<string?>(flag),
            };
            if (value is not null)
            {
                schedule[key] = value;
            }
        }

        string? curve = parse.GetValue<string?>("--cost-curve");
        var run = new ShardRun(
            BuildInfo.Version, ModelDigest.Sha256(spec, model.Name), [.. model.SampleShape], stats.Sampler, stats.Steps, stats.SpecLength,
            curve is null ? null : ShardManifest.FileSha256(curve), seed, parse.GetValue<double?>("--guidance"), parse.GetValue<string?>("--guidance-null"),
            schedule, ShardManifest.CondDigest(conditioning, model.ConditionSize));
        int[] shape = [stats.Samples, .. model.SampleShape];
        ShardManifest.Write(outPath, run, firstChain, shape, ShardManifest.DataSha256(samples), ShardManifest.StatsJson(stats, model.Name, indented: false), spec);
    }
}
