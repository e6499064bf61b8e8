using System.Text.Json;
using Asd.Native.Denoising;
using Asd.Native.Models;

namespace Asd.Interop.Abi;

/// <summary>
/// An open model (asd_model). The model is immutable and shared by every sampler created from it, on any thread.
/// Samplers hold a reference: asd_model_free drops the caller's reference, and the model is disposed when its last
/// sampler is freed, so freeing the model first is safe.
/// </summary>
internal sealed class ModelHandle
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

    /// <summary>No model in this engine has classifier-free guidance yet.</summary>
    public static bool HasGuidance => false;

    public static ModelHandle Open(string spec, string device, int threads)
    {
        if (device is not ("cpu" or "cuda" or "auto"))
        {
            throw new AsdException(Status.InvalidArgument, $"Unknown device '{device}'. Expected cpu, cuda or auto.");
        }

        if (threads < 0)
        {
            throw new AsdException(Status.InvalidArgument, $"threads must be >= 0 (0 = one per core); got {threads}.");
        }

        var options = new ModelOpenOptions { Device = device, Threads = threads };
        IDiffusionModel model = OpenThroughCatalog(spec, options);
        if (device == "cuda" && model is MixtureModel or MlpModel)
        {
            model.Dispose();
            throw new AsdException(Status.Unsupported, $"Model '{spec}' runs on the CPU only; device \"cuda\" is for ONNX models. Use \"cpu\" or \"auto\".");
        }

        return new ModelHandle(model, device, threads);
    }

    /// <summary>
    /// Every spec goes to the engine's catalog first, so ONNX files and model folders work here as soon as the
    /// engine supports them. Until then this adds two things the catalog lacks: asd-mlp JSON files (the engine can
    /// load them, but its catalog does not route paths yet) and an error that says why a path was refused.
    /// </summary>
    private static IDiffusionModel OpenThroughCatalog(string spec, ModelOpenOptions options)
    {
        try
        {
            return ModelCatalog.Open(spec, options);
        }
        catch (ArgumentException catalogError) when (!spec.StartsWith("builtin:", StringComparison.Ordinal))
        {
            if (spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                if (!File.Exists(spec))
                {
                    throw new AsdException(Status.Io, $"Cannot open model '{spec}': no such file.");
                }

                if (IsAsdMlp(spec))
                {
                    return MlpModel.Load(spec);
                }
            }

            if (spec.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || Directory.Exists(spec))
            {
                string kind = Directory.Exists(spec) ? "model folders" : "ONNX models";
                if (!Directory.Exists(spec) && !File.Exists(spec))
                {
                    throw new AsdException(Status.Io, $"Cannot open model '{spec}': no such file.");
                }

                throw new AsdException(Status.Unsupported, $"Cannot open model '{spec}': this engine version does not open {kind} yet (the engine said: {catalogError.Message}). Supported today: builtin:mixture, builtin:mixture?dim=d, and asd-mlp .json files.");
            }

            throw new AsdException(Status.Model, $"{catalogError.Message} Other specs: an asd-mlp .json file (ONNX files and model folders: not yet).");
        }
        catch (ArgumentException catalogError)
        {
            throw new AsdException(Status.Model, catalogError.Message);
        }
    }

    private static bool IsAsdMlp(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("format", out JsonElement f)
                && f.ValueKind == JsonValueKind.String
                && f.GetString() == "asd-mlp";
        }
        catch (JsonException e)
        {
            throw new AsdException(Status.Model, $"Cannot open model '{path}': not valid JSON ({e.Message}).");
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
