using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>What ONNX Runtime this build carries, for <c>asd info</c> and <c>asd_cpu_features</c>-style reports.</summary>
public static class OnnxRuntimeInfo
{
    /// <summary>"cpu" (Microsoft.ML.OnnxRuntime) or "cuda" (Microsoft.ML.OnnxRuntime.Gpu.Linux, built with -p:AsdOnnxRuntimeGpu=true).</summary>
    public const string Package =
#if ASD_ORT_GPU
        "cuda";
#else
        "cpu";
#endif

    /// <summary>The native library's version and execution providers, or the reason it cannot be loaded.</summary>
    public static (string? Version, IReadOnlyList<string> Providers, string? Error) Probe()
    {
        try
        {
            OnnxRuntimeNative.Install();
            OrtEnv env = OrtEnv.Instance();
            return (env.GetVersionString(), env.GetAvailableProviders(), null);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or OnnxRuntimeException)
        {
            Exception root = e is TypeInitializationException { InnerException: { } inner } ? inner : e;
            return (null, [], $"libonnxruntime.so cannot be loaded ({root.GetType().Name}: {root.Message}); built-in and asd-mlp models do not need it");
        }
    }
}
