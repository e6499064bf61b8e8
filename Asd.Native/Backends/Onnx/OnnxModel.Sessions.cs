using System.Runtime.InteropServices;
using Asd.Native.Models;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>Sessions and devices: creating ONNX Runtime sessions on the CPU or CUDA, and the batch-bucket sessions.</summary>
public sealed partial class OnnxModel
{
    private static (InferenceSession, string, string?) CreateSessionOrExplain(string file, byte[]? bytes, ModelOpenOptions options)
    {
        try
        {
            return CreateSession(file, bytes, options);
        }
        catch (Exception e) when (e is DllNotFoundException || e.InnerException is DllNotFoundException)
        {
            throw new FileNotFoundException(
                "ONNX Runtime's native library (libonnxruntime.so) was not found: it must sit beside libasd.so or the asd executable, or on the loader path (LD_LIBRARY_PATH). ONNX models need it; built-in and asd-mlp models do not.",
                "libonnxruntime.so",
                e);
        }
    }

    private static (InferenceSession, string, string?) CreateSession(string file, byte[]? bytes, ModelOpenOptions options)
    {
        string device = options.Device.Trim().ToLowerInvariant();
        if (device is not ("cpu" or "cuda" or "auto"))
        {
            throw new ArgumentException($"Unknown device '{options.Device}'. Expected cpu, cuda or auto.");
        }

        string? fallback = null;
        if (device is "cuda" or "auto")
        {
            try
            {
                return (NewSession(file, bytes, options, cuda: true), "cuda", null);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
            {
                string why = CudaUnavailableReason(e);
                if (device == "cuda")
                {
                    // Valid, but not available here: ASD_ERR_UNSUPPORTED through libasd (an InvalidOperationException
                    // was reported as an internal error; found by tests/interop/fuzz_abi.c).
                    throw new PlatformNotSupportedException($"--device cuda: {why}", e);
                }

                fallback = why;
            }
        }

        return (NewSession(file, bytes, options, cuda: false), "cpu", fallback);
    }

    private static InferenceSession NewSession(string file, byte[]? bytes, ModelOpenOptions options, bool cuda)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = options.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (cuda)
        {
            string? missing = MissingCudaLibrary();
            if (missing is not null)
            {
                throw new InvalidOperationException($"the CUDA runtime library {missing} cannot be loaded");
            }

            // ASD_ORT_CUDA_OPTIONS="key=value;key=value" passes CUDA provider options through (for example
            // use_tf32=0, cudnn_conv_algo_search=HEURISTIC), for diagnosing the CUDA path on a GPU machine.
            string? extra = Environment.GetEnvironmentVariable("ASD_ORT_CUDA_OPTIONS");
            if (string.IsNullOrWhiteSpace(extra))
            {
                so.AppendExecutionProvider_CUDA(0);
            }
            else
            {
                using var cudaOptions = new OrtCUDAProviderOptions();
                var settings = new Dictionary<string, string> { ["device_id"] = "0" };
                foreach (string pair in extra.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    string[] kv = pair.Split('=', 2, StringSplitOptions.TrimEntries);
                    if (kv.Length != 2)
                    {
                        throw new ArgumentException($"ASD_ORT_CUDA_OPTIONS: '{pair}' is not key=value.");
                    }

                    settings[kv[0]] = kv[1];
                }

                cudaOptions.UpdateOptions(settings);
                so.AppendExecutionProvider_CUDA(cudaOptions);
            }
        }

        try
        {
            return bytes is null ? new InferenceSession(file, so) : new InferenceSession(bytes, so);
        }
        catch (OnnxRuntimeException e) when (!cuda)
        {
            throw new InvalidDataException($"'{file}' is not a model ONNX Runtime can load: {e.Message}", e);
        }
    }

    /// <summary>The first CUDA 13 library that cannot be loaded, or null when they all load.</summary>
    internal static string? MissingCudaLibrary()
    {
#if ASD_ORT_GPU
        foreach (string lib in (string[])["libcudart.so.13", "libcublas.so.13", "libcudnn.so.9"])
        {
            if (!NativeLibrary.TryLoad(lib, out IntPtr handle))
            {
                return lib;
            }

            NativeLibrary.Free(handle);
        }

        return null;
#else
        _ = typeof(NativeLibrary);
        throw new InvalidOperationException("this build uses the CPU-only ONNX Runtime package; build with -p:AsdOnnxRuntimeGpu=true (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0, CUDA 13) for CUDA");
#endif
    }

    private static string CudaUnavailableReason(Exception e) =>
        e is InvalidOperationException ? e.Message : $"the CUDA execution provider could not be created ({e.Message})";

    /// <summary>Sessions created so far for batch buckets (the first bucket used takes <see cref="Session"/>).</summary>
    public int BucketSessionCount
    {
        get
        {
            lock (_buckets)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>The session that runs calls of exactly <paramref name="rows"/> rows (a bucket size) when buckets are on.</summary>
    internal InferenceSession SessionFor(int rows)
    {
        if (!BatchBuckets)
        {
            return Session;
        }

        lock (_buckets)
        {
            if (_buckets.TryGetValue(rows, out InferenceSession? session))
            {
                return session;
            }

            // The session made at open time (needed to read the ports) serves the first bucket, so a run that only
            // ever uses one size costs no second copy of the weights.
            try
            {
                session = _buckets.Count == 0 ? Session : NewSession(_source.File, _source.Bytes, _source.Options, cuda: Device == "cuda");
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException(
                    $"Model '{Name}': the ONNX Runtime session for batches of {rows} rows on {Device} could not be created ({e.Message}). Each batch size used gets its own session (batch buckets); turn them off to run every size in one session.",
                    e);
            }

            _buckets[rows] = session;
            return session;
        }
    }

    private void SetSessionSource(string file, byte[]? bytes, ModelOpenOptions options)
    {
        _source = (file, bytes, options);
        BatchBuckets = StaticBatch == 0 && (options.BatchBuckets ?? Device != "cpu");
    }
}
