using SharpFuzz;

namespace Asd.Fuzz;

/// <summary>
/// The afl-fuzz entry point for the targets of <see cref="FuzzTargets"/>: an exception other than a documented
/// rejection reaches SharpFuzz and afl-fuzz records a crash, and a run past afl's timeout a hang.
/// <code>
/// dotnet Asd.Fuzz.dll TARGET                 run under afl-fuzz (tools/fuzz/run.sh)
/// dotnet Asd.Fuzz.dll TARGET --replay FILE... run each file once; print ok / rejected / CRASH with the exception
/// </code>
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        FuzzTargets.MlpWeights = () => Resource("mlp_small.safetensors");
        FuzzTargets.Unet1dWeights = () => Resource("small_local.safetensors");
        if (args.Length == 0 || !FuzzTargets.Targets.TryGetValue(args[0], out Action<byte[]>? target))
        {
            Console.Error.WriteLine($"usage: Asd.Fuzz TARGET [--replay FILE...]; targets: {string.Join(", ", FuzzTargets.Targets.Keys)}");
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

    private static byte[] Resource(string name)
    {
        using Stream s = typeof(Program).Assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
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

    internal static bool IsDocumentedRejection(Exception e) => FuzzTargets.IsDocumentedRejection(e);

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
