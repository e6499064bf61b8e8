using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Native.Backends.Onnx;

/// <summary>One model input or output as the denoiser binds it.</summary>
/// <param name="Name">The ONNX name.</param>
/// <param name="Type">Its element type.</param>
/// <param name="Dims">Its dimensions (-1 where dynamic).</param>
public sealed record OnnxPort(string Name, TensorElementType Type, int[] Dims)
{
    /// <summary>
    /// Elements per batch row (product of the dimensions after the batch axis); -1 when one is dynamic or the product
    /// passes int.MaxValue (an int product could wrap: [B, 641, 6700417] to 1), which the role checks refuse.
    /// </summary>
    public int RowSize { get; } = Dims.Length <= 1 ? 1 : (int)Validation.Shapes.ProductOrMinusOne([.. Dims.Skip(1).Select(d => (long)d)], int.MaxValue);

    /// <summary>"[B, 1, 16, 16] float".</summary>
    public string Describe() => $"'{Name}' {Type} [{string.Join(", ", Dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}

/// <summary>Port binding: which ONNX input or output plays which role, checked against the graph.</summary>
public sealed partial class OnnxModel
{
    private static OnnxModel Bind(string name, string file, InferenceSession session, string device, string? fallback, OnnxIoConfig io, SchedulerConfig scheduler)
    {
        var inputs = session.InputMetadata.Select(kv => Port(kv.Key, kv.Value, file)).ToList();
        var outputs = session.OutputMetadata.Select(kv => Port(kv.Key, kv.Value, file)).ToList();
        string List(IEnumerable<OnnxPort> ports) => string.Join(", ", ports.Select(p => p.Describe()));

        OnnxPort output = io.Output is { } on
            ? outputs.FirstOrDefault(o => o.Name == on) ?? throw new InvalidDataException($"{file}: output '{on}' not found; outputs are {List(outputs)}.")
            : outputs.Count == 1 ? outputs[0] : throw new InvalidDataException($"{file}: the model has {outputs.Count} outputs ({List(outputs)}); name the one to use (asd.json \"output\").");
        RequireFloat(output, file, "output");

        OnnxPort Named(string n, string role) =>
            inputs.FirstOrDefault(i => i.Name == n) ?? throw new InvalidDataException($"{file}: {role} input '{n}' not found; inputs are {List(inputs)}.");

        string? flagName = io.Guidance?.Null is NullCondition.FlagInput f ? f.InputName : null;
        OnnxPort? flag = flagName is null ? null : Named(flagName, "guidance flag");

        OnnxPort sample;
        if (io.Sample is { } sn)
        {
            sample = Named(sn, "sample");
        }
        else
        {
            var candidates = inputs.Where(i => i != flag && IsFloat(i.Type) && i.Dims.Length >= 2 && i.Dims[1..].SequenceEqual(output.Dims[1..])).ToList();
            sample = candidates.Count == 1
                ? candidates[0]
                : throw new InvalidDataException(candidates.Count == 0
                    ? $"{file}: no input looks like the noisy sample (a float tensor shaped like the output {output.Describe()}); inputs are {List(inputs)}. Name it in asd.json \"inputs.sample\"."
                    : $"{file}: cannot tell which input is the noisy sample; candidates: {List(candidates)}. Name it in asd.json \"inputs.sample\".");
        }

        RequireFloat(sample, file, "sample");
        if (sample.Dims.Length < 2 || sample.Dims[1..].Any(d => d < 1))
        {
            throw new InvalidDataException($"{file}: the sample input {sample.Describe()} needs rank >= 2 and fixed sizes after the batch axis.");
        }

        Validation.Shapes.SampleSize([.. sample.Dims[1..].Select(d => (long)d)], $"{file}: the sample input {sample.Describe()}");
        if (!sample.Dims[1..].SequenceEqual(output.Dims[1..]))
        {
            throw new InvalidDataException($"{file}: the output {output.Describe()} does not have the sample's shape {sample.Describe()}.");
        }

        OnnxPort timestep;
        if (io.Timestep is { } tn)
        {
            timestep = Named(tn, "timestep");
        }
        else
        {
            var candidates = inputs.Where(i => i != sample && i != flag && TimestepTypes.Contains(i.Type) && IsTimestepShape(i.Dims)).ToList();
            if (candidates.Count > 1)
            {
                // Shapes and types cannot decide; a name can, when exactly one says so.
                var named = candidates.Where(i => i.Name.Contains("time", StringComparison.OrdinalIgnoreCase) || i.Name == "t").ToList();
                candidates = named.Count == 1 ? named : candidates;
            }

            timestep = candidates.Count == 1
                ? candidates[0]
                : throw new InvalidDataException(candidates.Count == 0
                    ? $"{file}: no input looks like the timestep (int64, int32 or float, shaped [B], [B, 1] or scalar); inputs are {List(inputs)}. Name it in asd.json \"inputs.timestep\"."
                    : $"{file}: cannot tell which input is the timestep; candidates: {List(candidates)}. Name it in asd.json \"inputs.timestep\".");
        }

        if (!TimestepTypes.Contains(timestep.Type) || !IsTimestepShape(timestep.Dims))
        {
            throw new InvalidDataException($"{file}: timestep input {timestep.Describe()} must be int64, int32 or float, shaped [B], [B, 1] or scalar.");
        }

        List<OnnxPort> cond = io.Cond is { } names
            ? [.. names.Select(n => Named(n, "conditioning"))]
            : [.. inputs.Where(i => i != sample && i != timestep && i != flag)];

        // Each input plays one role, once: a name given twice (--onnx-cond obs --onnx-cond obs) or for two roles (the
        // sample also listed as conditioning) bound one tensor twice, fed from two places, and sampled without a word.
        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((OnnxPort port, string role) in cond.Select(c => (c, "conditioning")).Prepend((timestep, "the timestep")).Prepend((sample, "the sample")).Concat(flag is null ? [] : [(flag, "the guidance flag")]))
        {
            if (!roles.TryAdd(port.Name, role))
            {
                string named = roles[port.Name] == role ? $"twice as {role}" : $"as {roles[port.Name]} and again as {role}";
                throw new InvalidDataException($"{file}: input '{port.Name}' is named {named}; each input plays one role, once.");
            }
        }
        foreach (OnnxPort c in cond)
        {
            if (!(IsFloat(c.Type) || c.Type is TensorElementType.Int64 or TensorElementType.Int32) || c.Dims.Length == 0 || c.Dims.Skip(1).Any(d => d < 1))
            {
                throw new InvalidDataException($"{file}: conditioning input {c.Describe()} must be float or integer with a batch axis and fixed sizes after it.");
            }
        }

        long condSize = 0;
        foreach (OnnxPort c in cond)
        {
            long row = Validation.Shapes.ProductOrMinusOne([.. c.Dims.Skip(1).Select(d => (long)d)], Validation.ResourceLimits.MaxConditionSize);
            condSize = row < 0 ? -1 : condSize + row;
            if (condSize < 0 || condSize > Validation.ResourceLimits.MaxConditionSize)
            {
                throw new InvalidDataException($"{file}: the conditioning inputs hold more than {Validation.ResourceLimits.MaxConditionSize} values per row (the limit); {c.Describe()}.");
            }
        }

        var unused = inputs.Except(cond).Except([sample, timestep]).Where(i => i != flag).ToList();
        if (unused.Count > 0)
        {
            throw new InvalidDataException($"{file}: inputs {List(unused)} have no role; list them in asd.json \"inputs.cond\".");
        }

        int batch = sample.Dims[0];
        foreach (OnnxPort p in cond.Append(timestep).Append(output).Concat(flag is null ? [] : [flag]))
        {
            int pb = p.Dims.Length == 0 ? batch : p.Dims[0];
            if (pb != batch && !(pb < 0 && batch < 0))
            {
                throw new InvalidDataException($"{file}: {p.Describe()} has batch dimension {pb} but the sample has {batch}.");
            }
        }

        if (io.Guidance is { } g && batch > 0 && batch < 2)
        {
            throw new InvalidDataException($"{file}: guidance evaluates both halves in one call, which a static batch of {batch} cannot hold.");
        }

        if (flag is not null && flag.RowSize != 1)
        {
            throw new InvalidDataException($"{file}: the guidance flag input {flag.Describe()} must hold one value per row.");
        }

        return new OnnxModel(name, session, device, fallback, sample, timestep, cond, output, scheduler, io.Guidance, flag);
    }

    /// <summary>
    /// A guidance null condition given as values (asd.json "class_id" or "value", or --guidance-null) must fit a
    /// conditioning row and, for integer inputs such as class labels, be whole numbers; then one row is run with it, so
    /// a value the network rejects (a class id past its embedding table) fails at open, naming the setting, rather
    /// than at the first sample as an ONNX Runtime error.
    /// </summary>
    private void CheckNullCondition(string source)
    {
        if (Guidance?.Null is not NullCondition.Value nul)
        {
            return;
        }

        string what = $"{source}: guidance.null_cond [{string.Join(", ", nul.Values.Take(8).Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)))}{(nul.Values.Length > 8 ? ", ..." : "")}]";
        if (nul.Values.Length != ConditionSize)
        {
            throw new InvalidDataException($"{what} has {nul.Values.Length} values, but a conditioning row of this model has {ConditionSize}.");
        }

        int offset = 0;
        foreach (OnnxPort c in CondInputs)
        {
            if (c.Type is TensorElementType.Int64 or TensorElementType.Int32)
            {
                foreach (float v in nul.Values.AsSpan(offset, c.RowSize))
                {
                    if (v != MathF.Round(v) || v < 0 || v >= 2147483648f)
                    {
                        throw new InvalidDataException($"{what}: the input {c.Describe()} takes integers from 0, not {v}.");
                    }
                }
            }

            offset += c.RowSize;
        }

        try
        {
            using var probe = new OnnxDenoiser(this, 1, flagged: false);
            var x = new float[probe.SampleSize];
            probe.Denoise(x, [0], nul.Values, new float[probe.SampleSize]);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{what} is not accepted by the model ({FirstLine(e.Message)}).", e);
        }
    }

    private static string FirstLine(string s)
    {
        int n = s.IndexOf('\n', StringComparison.Ordinal);
        return n < 0 ? s : s[..n];
    }

    private static bool IsTimestepShape(int[] dims) => dims.Length == 0 || dims.Length == 1 || (dims.Length == 2 && dims[1] == 1);

    private static bool IsFloat(TensorElementType t) => t is TensorElementType.Float or TensorElementType.Float16;

    private static void RequireFloat(OnnxPort p, string file, string role)
    {
        if (!IsFloat(p.Type))
        {
            throw new InvalidDataException($"{file}: the {role} {p.Describe()} has dtype {p.Type}; expected float32 (or float16, converted at the boundary).");
        }
    }

    private static OnnxPort Port(string name, NodeMetadata meta, string file)
    {
        if (!meta.IsTensor)
        {
            throw new InvalidDataException($"{file}: '{name}' is not a tensor (sequences and maps are not supported).");
        }

        return new OnnxPort(name, meta.ElementDataType, [.. meta.Dimensions]);
    }
}
