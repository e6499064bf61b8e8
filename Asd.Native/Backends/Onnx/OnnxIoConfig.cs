namespace Asd.Native.Backends.Onnx;

/// <summary>
/// Role overrides and extras for an ONNX model (the optional <c>asd.json</c> beside <c>model.onnx</c>, or CLI flags).
/// </summary>
public sealed record OnnxIoConfig
{
    /// <summary>Name of the noisy-sample input.</summary>
    public string? Sample { get; init; }

    /// <summary>Name of the timestep input.</summary>
    public string? Timestep { get; init; }

    /// <summary>Names of the conditioning inputs, in the order their values appear in a conditioning row.</summary>
    public IReadOnlyList<string>? Cond { get; init; }

    /// <summary>Name of the output.</summary>
    public string? Output { get; init; }

    /// <summary>Guidance, when the model has a null condition.</summary>
    public GuidanceConfig? Guidance { get; init; }

    /// <summary>Reads <c>asd.json</c>: {"inputs": {"sample", "timestep", "cond": [...]}, "output", "guidance": {"null_cond": {...}, "scale"}}.</summary>
    /// <exception cref="InvalidDataException">Malformed JSON, an unknown key or a value of the wrong kind; the message names the key.</exception>
    public static OnnxIoConfig Parse(string path) => Parse(IO.ModelFiles.ReadAllBytes(path, "asd.json", Validation.ResourceLimits.MaxJsonBytes), path);

    /// <summary>Parses the bytes of an <c>asd.json</c> (see <see cref="Parse(string)"/>).</summary>
    public static OnnxIoConfig Parse(ReadOnlyMemory<byte> utf8, string path)
    {
        using JsonDocument doc = IO.StrictJson.Parse(utf8, path);
        JsonElement root = IO.StrictJson.Object(doc, path);
        var c = new OnnxIoConfig();
        foreach (JsonProperty p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "inputs":
                    foreach (JsonProperty q in IO.StrictJson.Properties(p.Value, "inputs", path))
                    {
                        string field = "inputs." + q.Name;
                        c = q.Name switch
                        {
                            "sample" => c with { Sample = Name(q.Value, field, path) },
                            "timestep" => c with { Timestep = Name(q.Value, field, path) },
                            "cond" => c with { Cond = [.. IO.StrictJson.Array(q.Value, field, path).Select(e => Name(e, field, path))] },
                            _ => throw new InvalidDataException($"{path}: unknown key 'inputs.{q.Name}' (expected sample, timestep, cond)."),
                        };
                    }

                    break;
                case "output":
                    c = c with { Output = Name(p.Value, "output", path) };
                    break;
                case "guidance":
                    c = c with { Guidance = ParseGuidance(p.Value, path) };
                    break;
                default:
                    throw new InvalidDataException($"{path}: unknown key '{p.Name}' (expected inputs, output, guidance).");
            }
        }

        return c;
    }

    /// <summary>An input or output name: a non-empty string.</summary>
    private static string Name(JsonElement e, string field, string path)
    {
        string name = IO.StrictJson.String(e, field, path);
        return name.Length > 0 ? name : throw new InvalidDataException($"{path}: \"{field}\" is an empty name.");
    }

    private static GuidanceConfig ParseGuidance(JsonElement g, string path)
    {
        double scale = 1.0;
        NullCondition nul = new NullCondition.Zeros();
        foreach (JsonProperty p in IO.StrictJson.Properties(g, "guidance", path))
        {
            switch (p.Name)
            {
                case "scale":
                    scale = IO.StrictJson.Number(p.Value, "guidance.scale", path);
                    break;
                case "null_cond":
                    JsonProperty[] only = [.. IO.StrictJson.Properties(p.Value, "guidance.null_cond", path)];
                    if (only.Length != 1)
                    {
                        throw new InvalidDataException($"{path}: \"guidance.null_cond\" must hold exactly one of zeros, class_id, value, input (got {only.Length} keys).");
                    }

                    string field = "guidance.null_cond." + only[0].Name;
                    JsonElement v = only[0].Value;
                    nul = only[0].Name switch
                    {
                        "zeros" => new NullCondition.Zeros(),
                        "class_id" => new NullCondition.Value([IO.StrictJson.Int(v, field, path, 0, 1 << 24)]),
                        "value" => new NullCondition.Value([.. IO.StrictJson.Array(v, field, path).Take(Validation.ResourceLimits.MaxConditionSize + 1).Select(e => (float)IO.StrictJson.Number(e, field, path))]),
                        "input" => new NullCondition.FlagInput(Name(v, field, path)),
                        _ => throw new InvalidDataException($"{path}: unknown guidance.null_cond '{only[0].Name}' (expected zeros, class_id, value, input)."),
                    };
                    if (nul is NullCondition.Value { Values: var values } && values.Any(x => !float.IsFinite(x)))
                    {
                        throw new InvalidDataException($"{path}: \"{field}\" must hold float32-representable finite numbers.");
                    }

                    break;
                default:
                    throw new InvalidDataException($"{path}: unknown key 'guidance.{p.Name}' (expected null_cond, scale).");
            }
        }

        return new GuidanceConfig(nul, scale);
    }
}
