using System.Diagnostics.CodeAnalysis;
using Asd.Simd;

namespace Asd.Interop.Abi;

/// <summary>
/// Every function of asd.h. Each export takes only blittable arguments, and each body is wrapped in
/// try/catch: an exception never crosses the boundary, it becomes a status code and this thread's last error.
/// Handles are validated on every call (see <see cref="Handles"/>).
/// </summary>
[SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "The C boundary: every exception becomes a status code.")]
internal static unsafe class Exports
{
    /// <summary>ASD_ABI_VERSION in asd.h: bumped on any incompatible change of a signature, struct or constant.</summary>
    public const uint AbiVersionValue = 1;

    private static readonly byte[] s_version = LastError.Pinned(BuildInfo.Version);
    private static readonly Dictionary<int, byte[]> s_statusNames = BuildStatusNames();
    private static byte[]? s_cpuFeatures;

    // ---------------------------------------------------------------- library

    [UnmanagedCallersOnly(EntryPoint = "asd_abi_version")]
    private static uint AbiVersion() => AbiVersionValue;

    [UnmanagedCallersOnly(EntryPoint = "asd_version")]
    private static byte* Version() => Pin(s_version);

    [UnmanagedCallersOnly(EntryPoint = "asd_cpu_features")]
    private static byte* CpuFeatures()
    {
        try
        {
            s_cpuFeatures ??= LastError.Pinned(DescribeCpu());
            return Pin(s_cpuFeatures);
        }
        catch (Exception e)
        {
            Status.Fail(e);
            return null;
        }
    }

    /// <summary>The build's x86-64 level and the kernel paths it will run, as space-separated key=value pairs.</summary>
    internal static string DescribeCpu() =>
        $"build={BuildInfo.IsaLevel} active={Isa.Name(Isa.Active)} supported={string.Join(',', Array.ConvertAll(Isa.Supported(), Isa.Name))} arch={RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";

    [UnmanagedCallersOnly(EntryPoint = "asd_last_error")]
    private static byte* LastErrorMessage() => LastError.Pointer;

    [UnmanagedCallersOnly(EntryPoint = "asd_status_name")]
    private static byte* StatusName(int status) =>
        Pin(s_statusNames.TryGetValue(status, out byte[]? name) ? name : s_statusNames[-1]);

    // ---------------------------------------------------------------- model

    [UnmanagedCallersOnly(EntryPoint = "asd_model_default_params")]
    private static Status ModelDefaultParams(ModelParams* p, nuint size) => WriteDefaults(p, size);

    [UnmanagedCallersOnly(EntryPoint = "asd_model_open")]
    private static Status ModelOpen(byte* spec, ModelParams* p, nint* outModel)
    {
        nint specAt = (nint)spec, paramsAt = (nint)p;
        return Create(outModel, "out_model", () =>
        {
            string specText = Text.Read((byte*)specAt) ?? throw AsdException.Null("spec");
            if (string.IsNullOrWhiteSpace(specText))
            {
                throw new AsdException(Status.InvalidArgument, "spec is empty: give builtin:mixture, builtin:mixture?dim=d or a model file.");
            }

            ModelParams prm = StructIo.Read((ModelParams*)paramsAt, "asd_model_params", "asd_model_default_params", ModelParams.Default, ModelParams.AbiOneSize);
            return ModelHandle.Open(specText, Text.Read(prm.Device) ?? "cpu", prm.Threads, Text.Read(prm.OnnxNative));
        });
    }

    [UnmanagedCallersOnly(EntryPoint = "asd_model_free")]
    private static void ModelFree(nint model) => Free<ModelHandle>(model);

    [UnmanagedCallersOnly(EntryPoint = "asd_model_name")]
    private static Status ModelName(nint model, byte* buf, nuint bufLen, nuint* needed) =>
        ModelText(model, &NameOf, buf, bufLen, needed, "asd_model_name");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_runtime")]
    private static Status ModelRuntime(nint model, byte* buf, nuint bufLen, nuint* needed) =>
        ModelText(model, &RuntimeOf, buf, bufLen, needed, "asd_model_runtime");

    private static string NameOf(ModelHandle m) => m.Model.Name;

    private static string RuntimeOf(ModelHandle m) => m.Runtime;

    [UnmanagedCallersOnly(EntryPoint = "asd_model_sample_shape")]
    private static Status ModelSampleShape(nint model, long* dims, nuint dimsLen, nuint* ndim) =>
        ModelShape(model, &SampleShapeOf, dims, dimsLen, ndim, "asd_model_sample_shape");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_sample_size")]
    private static Status ModelSampleSize(nint model, long* size) => ModelValue(model, &SampleSizeOf, size, "size");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_cond_shape")]
    private static Status ModelCondShape(nint model, long* dims, nuint dimsLen, nuint* ndim) =>
        ModelShape(model, &CondShapeOf, dims, dimsLen, ndim, "asd_model_cond_shape");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_cond_size")]
    private static Status ModelCondSize(nint model, long* size) => ModelValue(model, &CondSizeOf, size, "size");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_train_steps")]
    private static Status ModelTrainSteps(nint model, int* steps) => ModelValue(model, &TrainStepsOf, steps, "steps");

    [UnmanagedCallersOnly(EntryPoint = "asd_model_has_guidance")]
    private static Status ModelHasGuidance(nint model, int* hasGuidance) => ModelValue(model, &HasGuidanceOf, hasGuidance, "has_guidance");

    // What the model queries above read.
    private static long[] SampleShapeOf(ModelHandle m) => [.. m.Model.SampleShape];

    private static long[] CondShapeOf(ModelHandle m) => [m.Model.ConditionSize];

    private static long SampleSizeOf(ModelHandle m) => m.SampleSize;

    private static long CondSizeOf(ModelHandle m) => m.Model.ConditionSize;

    private static int TrainStepsOf(ModelHandle m) => m.Model.DefaultScheduler.NumTrainTimesteps;

    private static int HasGuidanceOf(ModelHandle m) => m.HasGuidance ? 1 : 0;

    // ---------------------------------------------------------------- sampler

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_default_params")]
    private static Status SamplerDefaultParams(SamplerParams* p, nuint size) => WriteDefaults(p, size);

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_create")]
    private static Status SamplerCreate(nint model, SamplerParams* p, nint* outSampler)
    {
        nint paramsAt = (nint)p;
        return Create(outSampler, "out_sampler", () =>
        {
            ModelHandle m = Handles.Get<ModelHandle>(model, "model");
            SamplerParams prm = StructIo.Read((SamplerParams*)paramsAt, "asd_sampler_params", "asd_sampler_default_params", SamplerParams.Default, SamplerParams.AbiOneSize);
            return SamplerHandle.Create(m, prm);
        });
    }

    /// <summary>
    /// The one way a handle comes into being: clear <paramref name="outHandle"/> (an error leaves 0 there), build the
    /// object, register it. Checks run in that order, so the out pointer is named before any other argument.
    /// </summary>
    private static Status Create(nint* outHandle, string outName, Func<object> build)
    {
        try
        {
            Out(outHandle, outName) = 0;
            Handles.CheckProcess(); // before the model or sampler is built: building allocates
            *outHandle = Handles.Add(build());
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_free")]
    private static void SamplerFree(nint sampler) => Free<SamplerHandle>(sampler);

    [UnmanagedCallersOnly(EntryPoint = "asd_sample_default_params")]
    private static Status SampleDefaultParams(SampleParams* p, nuint size) => WriteDefaults(p, size);

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_sample")]
    private static Status SamplerSample(nint sampler, int n, SampleParams* p, float* output, nuint outputLen)
    {
        try
        {
            SamplerHandle s = Handles.Get<SamplerHandle>(sampler, "sampler");
            SampleParams prm = StructIo.Read(p, "asd_sample_params", "asd_sample_default_params", SampleParams.Default);
            Span<float> outSpan = CheckSampleRequest(s, n, prm, output, outputLen);
            using (s.Enter())
            {
                s.Sample(n, prm, outSpan);
            }

            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    /// <summary>Buffer checks in C terms (NULL with a length, lengths in floats) before the engine's own checks.</summary>
    private static Span<float> CheckSampleRequest(SamplerHandle s, int n, in SampleParams p, float* output, nuint outputLen)
    {
        if (n < 1)
        {
            throw new AsdException(Status.InvalidArgument, $"n = {n}: the number of samples must be >= 1.");
        }

        long d = s.Model.SampleSize;
        long need = n * d;
        string shape = string.Join(", ", s.Model.Model.SampleShape);
        if (output == null)
        {
            throw AsdException.Null("out");
        }

        if (outputLen != (nuint)need)
        {
            throw new AsdException(Status.BufferSize, $"out_len is {outputLen} floats, but {n} samples of shape [{shape}] need {need}.");
        }

        if (need > Array.MaxLength)
        {
            throw new AsdException(Status.InvalidArgument, $"{n} samples of shape [{shape}] ({need} floats) exceed what one call can produce; sample in several calls with chain_offset.");
        }

        int c = s.Model.Model.ConditionSize;
        string Layout() => s.Model.Model.ConditionLayout is { } l ? $": {l}" : ""; // only for the messages below
        if (p.Cond == null && p.CondLen != 0)
        {
            throw AsdException.Null($"cond (with cond_len {p.CondLen})");
        }

        if (p.CondLen != 0)
        {
            if (c == 0)
            {
                throw new AsdException(Status.InvalidArgument, $"Model '{s.Model.Model.Name}' is unconditional, but cond_len is {p.CondLen}; pass cond = NULL.");
            }

            if (p.CondLen != (nuint)c && p.CondLen != (nuint)(n * (long)c))
            {
                throw new AsdException(Status.BufferSize, $"cond_len is {p.CondLen} floats; expected {c} (shared by all samples) or {n} x {c} = {n * (long)c}{Layout()}.");
            }
        }
        else if (c > 0)
        {
            throw new AsdException(Status.InvalidArgument, $"Model '{s.Model.Model.Name}' is conditional: give cond with {c} floats (shared) or {n} x {c}{Layout()}.");
        }

        if (p.InitNoise == null && p.InitNoiseLen != 0)
        {
            throw AsdException.Null($"init_noise (with init_noise_len {p.InitNoiseLen})");
        }

        if (p.InitNoiseLen != 0 && p.InitNoiseLen != (nuint)need)
        {
            throw new AsdException(Status.BufferSize, $"init_noise_len is {p.InitNoiseLen} floats, but {n} samples of shape [{shape}] need {need}.");
        }

        return new Span<float>(output, (int)need);
    }

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_stats")]
    private static Status SamplerStats(nint sampler, Stats* stats, nuint size)
    {
        try
        {
            SamplerHandle s = Handles.Get<SamplerHandle>(sampler, "sampler");
            using (s.Enter())
            {
                SamplingStats st = s.RequireStats();
                StructIo.Write(stats, size, "stats", new Stats
                {
                    Sampler = s.Kind == SamplerKind.Asd ? 0 : 1,
                    Steps = st.Steps,
                    Samples = st.Samples,
                    SequentialModelCallsMax = st.SequentialModelCallsMax,
                    SequentialModelCalls = st.SequentialModelCalls,
                    AlgorithmicSpeedup = st.AlgorithmicSpeedup,
                    DenoiserInvocations = st.DenoiserInvocations,
                    RowsEvaluated = st.RowsEvaluated,
                    Rounds = st.Rounds,
                    WallSeconds = st.WallSeconds,
                });
            }

            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "asd_sampler_stats_json")]
    private static Status SamplerStatsJson(nint sampler, byte* buf, nuint bufLen, nuint* needed)
    {
        try
        {
            SamplerHandle s = Handles.Get<SamplerHandle>(sampler, "sampler");
            using (s.Enter())
            {
                return Text.Write(s.StatsJson(), buf, bufLen, needed, "asd_sampler_stats_json");
            }
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    // ---------------------------------------------------------------- helpers

    // The common exports: each catches every exception of its body, which becomes the status and this thread's
    // last error (Status.Fail).

    /// <summary>asd_*_default_params: the struct's defaults, as much of them as the caller's struct holds.</summary>
    private static Status WriteDefaults<T>(T* p, nuint size)
        where T : unmanaged, IParams<T>
    {
        try
        {
            StructIo.Write(p, size, "params", T.Default, T.AbiOneSize);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    /// <summary>asd_*_free: unregisters the handle (a freed, foreign or NULL one is ignored) and frees its target.</summary>
    private static void Free<T>(nint handle)
        where T : class, IHandleTarget
    {
        try
        {
            Handles.Remove<T>(handle)?.Free();
        }
        catch (Exception e)
        {
            Status.Fail(e);
        }
    }

    /// <summary>A model query that answers one number: <paramref name="read"/> of the model into <paramref name="result"/>.</summary>
    private static Status ModelValue<T>(nint model, delegate*<ModelHandle, T> read, T* result, string name)
        where T : unmanaged
    {
        try
        {
            ModelHandle m = Handles.Get<ModelHandle>(model, "model");
            Out(result, name) = read(m);
            return Status.Ok;
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    /// <summary>A model query that answers a string, copied into the caller's buffer by the string convention (<see cref="Text.Write"/>).</summary>
    private static Status ModelText(nint model, delegate*<ModelHandle, string> read, byte* buf, nuint bufLen, nuint* needed, string function)
    {
        try
        {
            ModelHandle m = Handles.Get<ModelHandle>(model, "model");
            return Text.Write(System.Text.Encoding.UTF8.GetBytes(read(m)), buf, bufLen, needed, function);
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    /// <summary>A model query that answers a shape (<see cref="WriteShape"/>).</summary>
    private static Status ModelShape(nint model, delegate*<ModelHandle, long[]> shapeOf, long* dims, nuint dimsLen, nuint* ndim, string what)
    {
        try
        {
            ModelHandle m = Handles.Get<ModelHandle>(model, "model");
            return WriteShape(shapeOf(m), dims, dimsLen, ndim, what);
        }
        catch (Exception e)
        {
            return Status.Fail(e);
        }
    }

    private static byte* Pin(byte[] pinned) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    private static ref T Out<T>(T* p, string name)
        where T : unmanaged
    {
        if (p == null)
        {
            throw AsdException.Null(name);
        }

        return ref *p;
    }

    private static Status WriteShape(long[] shape, long* dims, nuint dimsLen, nuint* ndim, string what)
    {
        if (ndim == null)
        {
            throw AsdException.Null($"{what}: ndim");
        }

        *ndim = (nuint)shape.Length;
        if (dims == null)
        {
            return dimsLen == 0 ? Status.Ok : throw AsdException.Null($"{what}: dims (with dims_len {dimsLen})");
        }

        if (dimsLen < (nuint)shape.Length)
        {
            throw new AsdException(Status.BufferSize, $"{what}: dims holds {dimsLen} values; the shape has {shape.Length}.");
        }

        shape.CopyTo(new Span<long>(dims, shape.Length));
        return Status.Ok;
    }

    private static Dictionary<int, byte[]> BuildStatusNames()
    {
        var names = new Dictionary<int, byte[]>();
        foreach (Status s in Enum.GetValues<Status>())
        {
            names[(int)s] = LastError.Pinned(Status.Name((int)s));
        }

        names[-1] = LastError.Pinned(Status.Name(-1));
        return names;
    }
}
