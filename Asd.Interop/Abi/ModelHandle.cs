using System.Text.Json;
using Asd.Native.Backends.Analytic;
using Asd.Native.Backends.Mlp;

namespace Asd.Interop.Abi;

/// <summary>
/// An open model (asd_model). The model is immutable and shared by every sampler created from it, on any thread.
/// Samplers hold a reference: asd_model_free drops the caller's reference, and the model is disposed when its last
/// sampler is freed, so freeing the model first is safe.
/// </summary>
internal sealed class ModelHandle : IHandleTarget
{
    private readonly object _gate = new();
    private int _refs = 1;

    private ModelHandle(IDiffusionModel model, string device, int threads)
    {
        Model = model;
        Device = device;
        Threads = threads;
        SampleSize = 1;
        foreach (int d in model.SampleShape)
        {
            SampleSize = checked(SampleSize * d);
        }
    }

    public IDiffusionModel Model { get; }

    public string Device { get; }

    /// <summary>Threads for each sampler's core pool (0 = one per core).</summary>
    public int Threads { get; }

    public long SampleSize { get; }

    /// <summary>asd_model_runtime: the model's runtime line, or the engine's own kernels.</summary>
    public string Runtime => Model.RuntimeSummary ?? $"{Model.Device} (asd's kernels)";

    /// <summary>Whether the model defines a null condition for classifier-free guidance (ONNX models with asd.json guidance).</summary>
    public bool HasGuidance => Model.SupportsGuidance;

    public static ModelHandle Open(string spec, string device, int threads, string? onnxNative = null)
    {
        if (device is not ("cpu" or "cuda" or "auto"))
        {
            throw new AsdException(Status.InvalidArgument, $"Unknown device '{device}'. Expected cpu, cuda or auto.");
        }

        if (threads < 0 || threads > Asd.Native.Validation.ResourceLimits.MaxThreads)
        {
            throw new AsdException(Status.InvalidArgument, $"asd_model_params.threads = {threads} is out of range: use 0 (one per core) to {Asd.Native.Validation.ResourceLimits.MaxThreads}.");
        }

        bool? native = onnxNative switch
        {
            null or "auto" => null, // then ASD_ONNX_NATIVE, as the CLI's --onnx-native auto
            "on" => true,
            "off" => false,
            _ => throw new AsdException(Status.InvalidArgument, $"asd_model_params.onnx_native = \"{onnxNative}\": expected \"auto\", \"on\", \"off\" or NULL."),
        };
        var options = new ModelOpenOptions { Device = device, Threads = threads, NativeOnnx = native };
        IDiffusionModel model = OpenThroughCatalog(spec, options);
        if (device == "cuda" && model.Device != "cuda")
        {
            model.Dispose();
            throw new AsdException(Status.Unsupported, $"Model '{spec}' runs on the CPU only; device \"cuda\" is for ONNX models. Use \"cpu\" or \"auto\".");
        }

        return new ModelHandle(model, device, threads);
    }

    /// <summary>Every spec goes to the engine's catalog: built-ins, asd-mlp .json files, .onnx files and model folders.</summary>
    private static IDiffusionModel OpenThroughCatalog(string spec, ModelOpenOptions options)
    {
        try
        {
            return ModelCatalog.Open(spec, options);
        }
        catch (ArgumentException catalogError)
        {
            throw new AsdException(Status.Model, catalogError.Message);
        }
    }


    /// <summary>Takes a reference for a new sampler; false once the model is gone.</summary>
    public bool TryAddRef()
    {
        lock (_gate)
        {
            if (_refs == 0)
            {
                return false;
            }

            _refs++;
            return true;
        }
    }

    /// <summary>asd_model_free: drops the caller's reference; a sampler created from the model keeps its own.</summary>
    public void Free() => Release();

    public void Release()
    {
        lock (_gate)
        {
            if (--_refs != 0)
            {
                return;
            }
        }

        Model.Dispose();
    }
}
