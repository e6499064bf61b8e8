using Asd.Native.Backends.Onnx;
using Asd.Native.Backends.Unet1d;
using Asd.Native.Denoising;
using Asd.Native.Schedules;

namespace Asd.Native.Models;

/// <summary>
/// Checks that an ONNX ConditionalUnet1D taken over by the native engine computes what ONNX Runtime computes from the
/// same file, by running both on one probe call. <see cref="Unet1dOnnx"/> recognises the export by its weights' names
/// and the data path around the U-Net, and never runs the graph: a fork that keeps diffusion_policy's parameter names
/// but changes what is between them (another activation, the embedding's sine and cosine swapped, a block added or
/// skipped) would otherwise sample from another function without any error. The probe sees any such change that
/// reaches the output; the two engines' rounding differences stay orders of magnitude below the bar.
/// </summary>
internal static partial class NativeOnnxCheck
{
    /// <summary>
    /// The environment variable that turns the check off ("off" or "0"; "on", "1", "auto" or unset: on). Off saves
    /// opening the file a second time with ONNX Runtime (0.7-1.2 s for the 249 MB deployment size, whose memory goes
    /// back after the probe; tools/unet1d_memory.sh), for a file already checked.
    /// </summary>
    public const string Variable = "ASD_ONNX_NATIVE_CHECK";

    /// <summary>
    /// The largest accepted difference, relative: max |native - ONNX Runtime| over max |ONNX Runtime| across the
    /// probe's outputs. The two engines round differently: 1.6e-7 to 8e-7 on the committed exports (float32 and
    /// float16 weights), 3.6e-6 on the 62M-parameter deployment size. One edit of a committed export's graph that
    /// keeps every weight moves the outputs by 0.026 (one Mish made x sigmoid(softplus(x))) and 0.053 (the step
    /// embedding's cosines first): 26-53 times the bar, which is 280 times the largest rounding difference. A
    /// difference below the bar would change a sample by less than a thousandth of its scale.
    /// </summary>
    public const double Bar = 1e-3;

    /// <summary>Rows of the probe: two, at different timesteps and conditioning, so a per-timestep difference shows.</summary>
    private const int ProbeRows = 2;

    /// <summary>Whether the check runs: <paramref name="setting"/> when given, else <see cref="Variable"/> (default on).</summary>
    /// <exception cref="ArgumentException">The variable holds something other than on, off, 1, 0 or auto.</exception>
    public static bool Enabled(bool? setting) => setting ?? Setting(Environment.GetEnvironmentVariable(Variable));

    /// <summary>A value of <see cref="Variable"/>: off or 0 false; on, 1, auto or unset true.</summary>
    /// <exception cref="ArgumentException">Anything else.</exception>
    internal static bool Setting(string? value) => ModelCatalog.AutoOnOff(Variable, value) ?? true;

    /// <summary>
    /// Runs the native model and ONNX Runtime on the same probe (fixed seed) and returns the relative difference, or
    /// null with <paramref name="unchecked"/> saying why ONNX Runtime could not run the file (then only the import's
    /// structural checks stand).
    /// </summary>
    public static double? RelativeDifference(Unet1dModel native, string spec, (string File, string Folder, bool IsFolder, SchedulerConfig Scheduler) located, out string? @unchecked)
    {
        @unchecked = null;
        // The native denoiser first: it packs the weights and drops the tensors (Unet1dModel.PackedFor), so ONNX
        // Runtime's copy of a large model joins one copy of ours, not two.
        var schedule = new DiffusionSchedule(located.Scheduler);
        // One row per call: an export may take one scalar timestep per call or have a fixed batch of one.
        var options = new DenoiserOptions { MaxBatchRows = 1 };
        IDenoiser mine = native.CreateDenoiser(schedule, options);
        using var disposeMine = mine as IDisposable;
        OnnxModel runtime;
        try
        {
            // The file as ONNX Runtime opens it on its own (no asd.json or port overrides reach here: those keep the file
            // on ONNX Runtime in the first place), one intra-op thread: the probe is one small call.
            runtime = OnnxModel.Open(spec, located, new ModelOpenOptions { Threads = 1 }, null);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or InvalidOperationException or ArgumentException)
        {
            @unchecked = e.Message;
            return null;
        }

        try
        {
            return Compare(native, runtime, mine, schedule, options, located.Scheduler, out @unchecked);
        }
        finally
        {
            runtime.Dispose();
            // ONNX Runtime's copy of the weights goes back to the C heap, which glibc keeps unless asked: without this
            // the deployment-size process sampled at 530 MB resident instead of 285 (tools/unet1d_memory.sh).
            TrimNativeHeap();
        }
    }

    private static double? Compare(Unet1dModel native, OnnxModel runtime, IDenoiser mine, DiffusionSchedule schedule, DenoiserOptions options, SchedulerConfig scheduler, out string? @unchecked)
    {
        @unchecked = null;
        if (runtime.ConditionSize != native.ConditionSize || !runtime.SampleShape.SequenceEqual(native.SampleShape))
        {
            // Not a rounding difference: the engines disagree on what a call is. Reported as a total mismatch.
            return double.PositiveInfinity;
        }

        int sampleSize = native.SampleShape.Aggregate(1, (a, b) => a * b), cond = native.ConditionSize;
        var rng = new Random(20261206);
        float[] samples = Gaussians(rng, ProbeRows * sampleSize), conditioning = Gaussians(rng, ProbeRows * cond);
        int train = scheduler.NumTrainTimesteps;
        int[] timesteps = [train - 1, train / 3];
        float[] ours = new float[ProbeRows * sampleSize], theirs = new float[ProbeRows * sampleSize];
        IDenoiser other = runtime.CreateDenoiser(schedule, options);
        using var disposeOther = other as IDisposable;
        for (int r = 0; r < ProbeRows; r++)
        {
            ReadOnlySpan<float> x = samples.AsSpan(r * sampleSize, sampleSize), c = conditioning.AsSpan(r * cond, cond);
            mine.Denoise(x, timesteps.AsSpan(r, 1), c, ours.AsSpan(r * sampleSize, sampleSize));
            try
            {
                other.Denoise(x, timesteps.AsSpan(r, 1), c, theirs.AsSpan(r * sampleSize, sampleSize));
            }
            catch (ModelRunException e)
            {
                @unchecked = e.Message;
                return null;
            }
        }

        double largest = 0, apart = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            largest = Math.Max(largest, Math.Abs((double)theirs[i]));
            double d = Math.Abs((double)ours[i] - theirs[i]);
            // A NaN on either side is a total mismatch, not a difference that compares false.
            apart = double.IsNaN(d) ? double.PositiveInfinity : Math.Max(apart, d);
        }

        return apart == 0 ? 0 : apart / Math.Max(largest, float.Epsilon);
    }

    /// <summary>glibc's malloc_trim(0): returns the C heap's free memory to the system. Elsewhere (musl, macOS) nothing.</summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: its allocator returns memory on its own terms.
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    private static float[] Gaussians(Random rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            // Box-Muller: a probe, not a sampler's noise (which has its own counter-based streams).
            double u = 1.0 - rng.NextDouble(), w = rng.NextDouble();
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * w));
        }

        return v;
    }
}
