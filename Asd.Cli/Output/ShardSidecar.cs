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

    /// <summary>
    /// The content hashes of the files a run with <c>--out</c> reads (the model's and the cost curve's), taken before
    /// it reads them; <see cref="Write"/> hashes them again and refuses to label the samples when they differ.
    /// </summary>
    /// <param name="Model">The model's <see cref="ModelDigest"/>, or null for a built-in (no file) or a model whose
    /// files could not be hashed (opening it reports why).</param>
    /// <param name="Curve">The --cost-curve file's sha256, or null without one.</param>
    public sealed record InputDigests(string? Model, string? Curve)
    {
        /// <summary>Hashes what the run is about to read; call it before the cost curve and the model are loaded.</summary>
        public static InputDigests AtStart(string spec, string? curve)
        {
            string? model = null;
            if (!spec.StartsWith("builtin:", StringComparison.Ordinal))
            {
                try
                {
                    model = ModelDigest.Sha256(spec, "");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
                {
                    // Opening the model names the problem with its own words; a model that opens after all is
                    // compared with nothing and refused below.
                }
            }

            string? curveSha = null;
            if (curve is not null)
            {
                try
                {
                    curveSha = ShardManifest.FileSha256(curve);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Loading the curve reports it.
                }
            }

            return new InputDigests(model, curveSha);
        }

        /// <summary>
        /// Hashes the model and the cost curve again and returns both hashes when they equal those taken at the start;
        /// an <see cref="IOException"/> naming the input that changed otherwise.
        /// </summary>
        public (string Model, string? Curve) Confirm(string spec, string modelName, string? curve)
        {
            string modelSha = ModelDigest.Sha256(spec, modelName);
            if (!spec.StartsWith("builtin:", StringComparison.Ordinal) && modelSha != Model)
            {
                throw new IOException($"the model '{spec}' changed while this run read it (content sha256 {Model ?? "unreadable"} before opening, {modelSha} after sampling): the samples cannot be labelled with one model, so none were written; run again once the model's files stay put.");
            }

            string? curveSha = curve is null ? null : ShardManifest.FileSha256(curve);
            if (curveSha != Curve)
            {
                throw new IOException($"the --cost-curve file '{curve}' changed while this run read it (sha256 {Curve ?? "unreadable"} before loading, {curveSha} after sampling): none of the samples were written; run again once it stays put.");
            }

            return (modelSha, curveSha);
        }
    }

    /// <summary>
    /// Writes the samples (X.npy) and their manifest (X.npy.json). The model's and the cost curve's hashes are taken
    /// again first: a file replaced while the run read it (a checkpoint saved over, a folder being synced) would
    /// otherwise label samples of one model with another's hash, and <c>asd merge</c> trusts that label. Then nothing
    /// is written, and the error says which input changed.
    /// </summary>
    public static void Write(string outPath, ParseResult parse, string spec, IDiffusionModel model, SamplingStats stats, ReadOnlySpan<float> samples, ulong seed, ulong firstChain, ReadOnlySpan<float> conditioning, InputDigests atStart)
    {
        ArgumentNullException.ThrowIfNull(atStart);
        string? curve = parse.GetValue<string?>("--cost-curve");
        (string modelSha, string? curveSha) = atStart.Confirm(spec, model.Name, curve);
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

        var run = new ShardRun(
            BuildInfo.Version, modelSha, [.. model.SampleShape], stats.Sampler, stats.Steps, stats.SpecLength,
            curveSha, seed, parse.GetValue<double?>("--guidance"), parse.GetValue<string?>("--guidance-null"),
            schedule, ShardManifest.CondDigest(conditioning, model.ConditionSize));
        int[] shape = [stats.Samples, .. model.SampleShape];
        ShardManifest.Write(outPath, samples, shape, run, firstChain, ShardManifest.StatsJson(stats, model.Name, indented: false), spec);
    }
}
