using System.Runtime.InteropServices;
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

        if (options.CudaGraphs && device == "cpu")
        {
            throw new ArgumentException("--cuda-graphs on (ModelOpenOptions.CudaGraphs) needs --device cuda: a CUDA graph replays work captured on the GPU, and this model is asked to run on the CPU.");
        }

        if (options.CudaGraphs && options.BatchBuckets == false)
        {
            throw new ArgumentException("--cuda-graphs on (ModelOpenOptions.CudaGraphs) needs batch buckets: a captured graph replays one input shape, and --batch-buckets off sends every batch size to one session.");
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

                fallback = options.CudaGraphs ? $"{why}; --cuda-graphs is ignored on the CPU" : why;
            }
        }

        return (NewSession(file, bytes, options, cuda: false), "cpu", fallback);
    }

    private static InferenceSession NewSession(string file, byte[]? bytes, ModelOpenOptions options, bool cuda, int? threads = null, PrePackedWeightsContainer? prepacked = null, bool spinBetweenRuns = true)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = threads ?? options.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!spinBetweenRuns)
        {
            // Intra-op threads that spin after a run would hold the cores the next call's lanes need; inside a run
            // they still spin, since parking them between the graph's many short operators costs far more (the
            // 28x28 UNet fixture on 16 Xeon cores: 1.67 ms a row with spinning off, 1.10 ms with it on).
            so.AddSessionConfigEntry("session.force_spinning_stop", "1");
        }
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
            if (string.IsNullOrWhiteSpace(extra) && !options.CudaGraphs)
            {
                so.AppendExecutionProvider_CUDA(0);
            }
            else
            {
                using var cudaOptions = new OrtCUDAProviderOptions();
                var settings = new Dictionary<string, string> { ["device_id"] = "0" };
                if (options.CudaGraphs)
                {
                    // One graph per session: each batch bucket's session sees one shape, so its one graph fits.
                    settings["enable_cuda_graph"] = "1";
                }

                foreach (string pair in (extra ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
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
            return (bytes, prepacked) switch
            {
                (null, null) => new InferenceSession(file, so),
                (null, _) => new InferenceSession(file, so, prepacked),
                (_, null) => new InferenceSession(bytes, so),
                _ => new InferenceSession(bytes, so, prepacked),
            };
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
        if (IoPath == OnnxIoPath.Staged && (StaticBatch > 0 ? rows != StaticBatch : !BatchBuckets || rows < 1 || !System.Numerics.BitOperations.IsPow2(rows)))
        {
            throw new InvalidOperationException(
                $"Model '{Name}': --cuda-graphs: a call of {rows} rows is not a batch bucket ({(StaticBatch > 0 ? $"the export's static batch {StaticBatch}" : "a power of two with batch buckets on")}); a captured graph replays one shape per session.");
        }

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

    /// <summary>
    /// The one-thread session of row-parallel lane <paramref name="lane"/>, created when first needed; the lanes share
    /// ONNX Runtime's prepacked weights (its CPU kernels repack weights per session otherwise).
    /// </summary>
    internal InferenceSession LaneSession(int lane)
    {
        lock (_lanes)
        {
            _prepacked ??= new PrePackedWeightsContainer();
            while (_lanes.Count <= lane)
            {
                try
                {
                    _lanes.Add(NewSession(_source.File, _source.Bytes, _source.Options, cuda: false, threads: 1, prepacked: _prepacked));
                }
                catch (OnnxRuntimeException e)
                {
                    throw new InvalidOperationException($"Model '{Name}': the one-thread session of row-parallel lane {_lanes.Count} could not be created ({e.Message}).", e);
                }
            }

            return _lanes[lane];
        }
    }

    /// <summary>
    /// The session that a row-parallel call of one row may take instead of a lane: <paramref name="threads"/> intra-op
    /// threads that stop spinning when a run returns, sharing the lanes' prepacked weights; created when first needed.
    /// </summary>
    internal InferenceSession SingleRowSession(int threads)
    {
        lock (_lanes)
        {
            _prepacked ??= new PrePackedWeightsContainer();
            try
            {
                return _singleRow ??= NewSession(_source.File, _source.Bytes, _source.Options, cuda: false, threads: threads, prepacked: _prepacked, spinBetweenRuns: false);
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException($"Model '{Name}': the {threads}-thread session for one-row calls could not be created ({e.Message}).", e);
            }
        }
    }

    /// <summary>
    /// How row-parallel calls of one row run, per lane count: a running choice between a lane and the intra-op session,
    /// started from a probe by the model's first row-parallel denoiser on that many lanes and shared by every later one
    /// (as the ConditionalUnet1D's one-sample mode, <see cref="Asd.Native.Backends.Unet1d.Unet1dModel.OneSampleChoice"/>).
    /// </summary>
    internal Asd.Native.Denoising.ProbedOnce<int, (Asd.Native.Denoising.TwoWayChoice? Choice, bool Faster, string Mode)> SingleRowChoice { get; } = new();

    private void SetSessionSource(string file, byte[]? bytes, ModelOpenOptions options)
    {
        RowParallel = options.RowParallel && Device == "cpu" && StaticBatch == 0;
        _source = (file, bytes, options);
        BatchBuckets = StaticBatch == 0 && (options.BatchBuckets ?? Device != "cpu");
        CudaGraphs = Device == "cuda" && options.CudaGraphs;
        IoPath = options.ForceIoPath ?? (Device == "cpu" ? OnnxIoPath.Host : CudaGraphs ? OnnxIoPath.Staged : OnnxIoPath.Rebind);
        DeviceMemory = IoPath == OnnxIoPath.Host ? null
            : Device == "cpu" ? OnnxDeviceMemory.Cpu.Instance
            : IoPath == OnnxIoPath.Staged ? OnnxDeviceMemory.Cuda.Instance
            : null;
    }
}
