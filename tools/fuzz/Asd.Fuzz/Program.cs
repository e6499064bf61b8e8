using System.Text;
using Asd.Cli.Commands;
using Asd.Native.IO;
using Asd.Native.Models;
using Asd.Native.Sampling;
using Asd.Native.Schedules;
using SharpFuzz;

namespace Asd.Fuzz;

/// <summary>
/// One fuzz target per parser of untrusted bytes. A target may reject its input only with the engine's documented
/// errors, <see cref="InvalidDataException"/> (a malformed file) or a plain <see cref="ArgumentException"/> (a malformed
/// spec or argument); any other exception (an index out of range, a null reference, an overflow, an out-of-memory)
/// reaches SharpFuzz and afl-fuzz records a crash, and a run past afl's timeout a hang.
/// <code>
/// dotnet Asd.Fuzz.dll TARGET                 run under afl-fuzz (tools/fuzz/run.sh)
/// dotnet Asd.Fuzz.dll TARGET --replay FILE... run each file once; print ok / rejected / CRASH with the exception
/// </code>
/// </summary>
internal static class Program
{
    private static readonly Lazy<byte[]> MlpWeights = new(() =>
    {
        using Stream s = typeof(Program).Assembly.GetManifestResourceStream("mlp_small.safetensors")!;
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>The targets, by name (tools/fuzz/seeds/NAME holds each one's seed corpus).</summary>
    internal static readonly IReadOnlyDictionary<string, Action<byte[]>> Targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        // asd-mlp JSON against the mlp_small fixture's tensors: reaches the layer, shape and scheduler checks.
        ["mlp-json"] = b => MlpModel.Parse(b, MlpWeights.Value, "fuzz.json"),

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
        ["asd-json"] = b => OnnxIoConfig.Parse(b, "asd.json"),

        // Cost-curve files, then the automatic length's cost model over them.
        ["cost-curve"] = b =>
        {
            CostCurve curve = CostCurve.Parse(b, "curve.json");
            for (int rows = 1; rows <= 300; rows += 7)
            {
                _ = curve.Ratio(rows);
            }
        },

        // Model specs (builtin:...): the strict parser of names and parameters.
        ["model-spec"] = b => ModelCatalog.ParseBuiltin(Encoding.UTF8.GetString(b)),

        // --cond lists of numbers, against a model with 4 conditioning values and 3 samples.
        ["cond-list"] = b =>
        {
            string text = Encoding.UTF8.GetString(b);
            if (!text.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            {
                SampleCommand.ReadConditioning(text, 4, 3);
            }
        },
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out Action<byte[]>? target))
        {
            Console.Error.WriteLine($"usage: Asd.Fuzz TARGET [--replay FILE...]; targets: {string.Join(", ", Targets.Keys)}");
            return 2;
        }

        if (args.Length > 1 && args[1] == "--replay")
        {
            return Replay(args[0], target, args[2..]);
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Run(target, copy.ToArray());
        });
        return 0;
    }

    /// <summary>Runs the target; the documented rejections are the only exceptions it absorbs.</summary>
    internal static bool Run(Action<byte[]> target, byte[] input)
    {
        try
        {
            target(input);
            return true;
        }
        catch (Exception e) when (IsDocumentedRejection(e))
        {
            return false;
        }
    }

    /// <summary>InvalidDataException, or exactly ArgumentException (its subclasses, such as ArgumentOutOfRangeException from an indexer, are bugs here).</summary>
    internal static bool IsDocumentedRejection(Exception e) => e is InvalidDataException || e.GetType() == typeof(ArgumentException);

    private static unsafe int Replay(string name, Action<byte[]> target, string[] files)
    {
        // Instrumented code writes its trace into afl's shared memory; outside afl-fuzz it gets a private map.
        SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
        int crashes = 0;
        foreach (string file in files)
        {
            try
            {
                bool accepted = Run(target, File.ReadAllBytes(file));
                Console.WriteLine($"{(accepted ? "ok      " : "rejected")} {name} {file}");
            }
            catch (Exception e)
            {
                crashes++;
                Console.WriteLine($"CRASH    {name} {file}: {e.GetType().FullName}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }

        Console.WriteLine($"REPLAY {name} {files.Length - crashes} {crashes}");
        return crashes == 0 ? 0 : 1;
    }
}
