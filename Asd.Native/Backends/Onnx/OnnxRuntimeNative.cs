using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>
/// Finds ONNX Runtime's native library when the engine runs inside a Native AOT library (libasd.so) loaded by a foreign
/// host (python3, a C program): .NET's default probing looks beside the host executable, not beside libasd.so.
/// dlopen called from inside libasd.so honours its RUNPATH ($ORIGIN and $ORIGIN/..), which is where libasd ships
/// libonnxruntime.so. Under the regular .NET host the default probing (deps.json) is left alone.
/// </summary>
internal static class OnnxRuntimeNative
{
    private static int s_installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 1 || RuntimeFeature.IsDynamicCodeSupported)
        {
            return;
        }

        try
        {
            // ONNX Runtime's own resolver probes NuGet-style runtimes/ folders; ours must run instead.
            OrtEnv.DisableDllImportResolver = true;
            NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // A resolver is already set for the assembly: keep it.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != "onnxruntime")
        {
            return IntPtr.Zero;
        }

        if (NativeLibrary.TryLoad("libonnxruntime.so", out IntPtr handle))
        {
            return handle;
        }

        string beside = Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so");
        return NativeLibrary.TryLoad(beside, out handle) ? handle : IntPtr.Zero;
    }
}
