using System.Text;
using Asd.Native.IO;
using Asd.Native.Sampling;
using Asd.Native.Schedules;

namespace Asd.Fuzz;

/// <summary>
/// One fuzz target per parser of untrusted bytes. A target may reject its input only with the engine's documented
/// errors, <see cref="InvalidDataException"/> (a malformed file) or a plain <see cref="ArgumentException"/> (a malformed
/// spec or argument); anything else (an index out of range, a null reference, an overflow, an out-of-memory) is a bug.
/// Shared by the harness (tools/fuzz/Asd.Fuzz) and the test that replays the reproducers (tests/Asd.Tests).
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The bytes of tests/fixtures/mlp_small/mlp_small.safetensors (the harness embeds them; the tests read the fixture).</summary>
    public static Func<byte[]> MlpWeights { get; set; } = () => File.ReadAllBytes(Path.Combine("fixtures", "mlp_small", "mlp_small.safetensors"));

    /// <summary>The bytes of tests/fixtures/unet1d/small_local.safetensors (embedded in the harness, read from the fixture by the tests).</summary>
    public static Func<byte[]> Unet1dWeights { get; set; } = () => File.ReadAllBytes(Path.Combine("fixtures", "unet1d", "small_local.safetensors"));

    private static byte[]? s_weights, s_unet1dWeights;

    private static byte[] Weights => s_weights ??= MlpWeights();

    private static byte[] Unet1dWeightBytes => s_unet1dWeights ??= Unet1dWeights();

    /// <summary>The targets, by name (tools/fuzz/seeds/NAME holds each one's seed corpus).</summary>
    internal static readonly IReadOnlyDictionary<string, Action<byte[]>> Targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        // asd-mlp JSON against the mlp_small fixture's tensors: reaches the layer, shape and scheduler checks.
        // A model that loads builds a denoiser and runs one row: its buffers are sized by what the file declares.
        ["mlp-json"] = b =>
        {
            using Asd.Native.Backends.Mlp.MlpModel m = Asd.Native.Backends.Mlp.MlpModel.Parse(b, Weights, "fuzz.json");
            OneRow(m.CreateDenoiser(64, null));
        },

        // safetensors: the header, then every tensor read as float32 with its own shape.
        ["safetensors"] = b =>
        {
            SafeTensorsFile f = SafeTensorsFile.Parse(b, "fuzz.safetensors");
            foreach (TensorInfo t in f.Tensors.Values)
            {
                if (t.Count <= 1 << 20)
                {
                    f.ReadFloat32(t.Name, t.Shape);
                }
            }
        },

        // ONNX exports of a ConditionalUnet1D taken over by the native engine: the protobuf reader, the graph walk
        // and the model built from what it found.
        ["onnx-unet1d"] = b =>
        {
            using Asd.Native.Backends.Unet1d.Unet1dModel m = Asd.Native.Backends.Unet1d.Unet1dOnnx.Import(b, "fuzz.onnx", "fuzz", new SchedulerConfig { ClipSample = true });
            OneRow(m.CreateDenoiser(64, null));
        },

        // asd-unet1d JSON against the small_local fixture's tensors (a U-Net with local conditioning): the configuration's
        // checks, then every tensor's name and shape against it.
        ["unet1d-json"] = b =>
        {
            using Asd.Native.Backends.Unet1d.Unet1dModel m = Asd.Native.Backends.Unet1d.Unet1dModel.Parse(b, Unet1dWeightBytes, "fuzz.json");
            OneRow(m.CreateDenoiser(64, null));
        },

        // .npy (--cond files).
        ["npy"] = b => Npy.Parse(b, "fuzz.npy"),

        // scheduler_config.json, then the schedule and a plan built from it.
        ["scheduler-config"] = b =>
        {
            SchedulerConfig c = SchedulerConfigJson.Parse(b, "scheduler_config.json");
            var schedule = new DiffusionSchedule(c);
            schedule.Plan(Math.Min(c.NumTrainTimesteps, 50));
        },

        // asd.json of an ONNX model folder.
        ["asd-json"] = b => Asd.Native.Backends.Onnx.OnnxIoConfig.Parse(b, "asd.json"),

        // Cost-curve files, then the automatic length's cost model over them.
        ["cost-curve"] = b =>
        {
            CostCurve curve = CostCurve.Parse(b, "curve.json");
            for (int rows = 1; rows <= 300; rows += 7)
            {
                _ = curve.Ratio(rows);
            }
        },

        // Shard manifests (X.npy.json beside each shard of a split run, from other jobs or machines): the manifest
        // with its run and stats, then the tiling check and the statistics of the shard merged with itself.
        ["shard-manifest"] = b =>
        {
            Shard shard = ShardManifest.Parse(b, "fuzz.npy", "fuzz.npy.json");
            ShardManifest.CheckTiling([shard]);
            ShardManifest.MergeStats([shard.Stats, shard.Stats]);
        },

        // Model specs (builtin:...): the strict parser of names and parameters.
        ["model-spec"] = b => Asd.Native.Models.ModelCatalog.ParseBuiltin(Encoding.UTF8.GetString(b)),

        // --cond lists of numbers, against a model with 4 conditioning values and 3 samples.
        ["cond-list"] = b =>
        {
            string text = Encoding.UTF8.GetString(b);
            if (!text.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            {
                Asd.Cli.Commands.SampleCommand.ReadConditioning(text, 4, 3);
            }
        },
    };

    /// <summary>
    /// One call of one row (zeros, timestep 0) of a denoiser built for up to 64 rows: a horizon or a width within its
    /// own limit once sized 64 rows of buffers past what a process can hold (tools/fuzz/regressions/unet1d-json).
    /// </summary>
    private static void OneRow(Asd.Native.Denoising.IDenoiser denoiser) =>
        denoiser.Denoise(new float[denoiser.SampleSize], [0], new float[denoiser.ConditionSize], new float[denoiser.SampleSize]);

    /// <summary>Runs target <paramref name="name"/> on <paramref name="input"/>.</summary>
    public static void Run(string name, byte[] input) => Targets[name](input);

    /// <summary>InvalidDataException, or exactly ArgumentException (its subclasses, such as ArgumentOutOfRangeException from an indexer, are bugs here).</summary>
    public static bool IsDocumentedRejection(Exception e) => e is InvalidDataException || e.GetType() == typeof(ArgumentException);
}
