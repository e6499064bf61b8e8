using System.Buffers.Binary;
using System.Text;
using Asd.Native.IO;

namespace Asd.Native.Backends.Unet1d;

/// <summary>
/// Recognises an ONNX export of diffusion_policy's ConditionalUnet1D and builds the native model from its weights, so
/// a policy served through ONNX Runtime runs on the engine's own kernels without its checkpoint (the same mapping as
/// <c>tools/convert_diffusion_policy.py</c>'s ONNX reader; docs/unet1d-format.md).
/// </summary>
/// <remarks>
/// <para>torch.onnx.export keeps the parameters' state-dict names for the convolutions and linear layers. It folds each
/// group norm's scale and shift into anonymous constants (<c>onnx::Mul_*</c>, <c>onnx::Add_*</c>, after a Reshape,
/// InstanceNormalization and Reshape), or passes them to a GroupNormalization node; they are found by following the
/// graph from the convolution before the norm, which also gives the groups and the epsilon. The architecture comes from
/// the shapes, the horizon from the sample input's fixed shape. Nothing in the graph is run: a graph that holds the
/// weights of a ConditionalUnet1D but computes something else would not be noticed, which is why the CLI says when it
/// runs an ONNX file natively and how to run it through ONNX Runtime instead.</para>
/// </remarks>
public static class Unet1dOnnx
{
    /// <summary>The initializer that marks a ConditionalUnet1D (as <c>tools/convert_diffusion_policy.py</c>'s anchor).</summary>
    public const string Anchor = "diffusion_step_encoder.1.weight";

    private static readonly string[] Modules = ["diffusion_step_encoder.", "down_modules.", "mid_modules.", "up_modules.", "final_conv.", "local_cond_encoder."];

    /// <summary>
    /// The native model of the ConditionalUnet1D in <paramref name="onnxFile"/>, or null with <paramref name="why"/>:
    /// null when the file is not one (no initializer named <c>*diffusion_step_encoder.1.weight</c>: nothing to say),
    /// else why it could not be taken over (a tensor not found, a horizon the graph leaves open, external data, ...).
    /// The file is read only when its bytes hold the anchor's name.
    /// </summary>
    public static Unet1dModel? TryImport(string onnxFile, string name, SchedulerConfig scheduler, out string? why)
    {
        ArgumentNullException.ThrowIfNull(onnxFile);
        ArgumentNullException.ThrowIfNull(scheduler);
        why = null;
        try
        {
            if (!Mentions(onnxFile, Encoding.UTF8.GetBytes(Anchor)))
            {
                return null;
            }

            byte[] bytes = ModelFiles.ReadAllBytes(onnxFile, "ONNX model", Array.MaxLength);
            return Import(bytes, onnxFile, name, scheduler);
        }
        catch (InvalidDataException e)
        {
            why = e.Message;
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            why = e.Message;
            return null;
        }
    }

    /// <summary>Whether the file's bytes contain <paramref name="needle"/> (read in blocks; nothing else kept).</summary>
    private static bool Mentions(string path, byte[] needle)
    {
        using FileStream stream = ModelFiles.OpenRegular(path, "ONNX model", long.MaxValue, out long length);
        if (length > Array.MaxLength)
        {
            return false;
        }

        var buffer = new byte[(1 << 20) + needle.Length];
        int kept = 0;
        while (true)
        {
            int read = stream.Read(buffer, kept, buffer.Length - kept);
            if (read <= 0)
            {
                return false;
            }

            int filled = kept + read;
            if (buffer.AsSpan(0, filled).IndexOf(needle) >= 0)
            {
                return true;
            }

            // Keep the tail that could begin a match split across two blocks.
            kept = Math.Min(needle.Length - 1, filled);
            buffer.AsSpan(filled - kept, kept).CopyTo(buffer);
        }
    }

    /// <summary>Builds the native model from ONNX bytes (the fuzz harness's entry; <see cref="TryImport"/> for files).</summary>
    /// <exception cref="InvalidDataException">Not a ConditionalUnet1D, or one whose weights or shape cannot be taken over (the message says which).</exception>
    public static Unet1dModel Import(byte[] onnx, string source, string name, SchedulerConfig scheduler)
    {
        OnnxGraph graph = WithoutWeightCasts(OnnxProto.ReadGraph(onnx, source));
        var byName = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (OnnxTensor t in graph.Initializers)
        {
            byName[t.Name] = t;
        }

        string[] anchors = [.. byName.Keys.Where(k => k.EndsWith(Anchor, StringComparison.Ordinal))];
        if (anchors.Length != 1)
        {
            throw new InvalidDataException($"{source}: {(anchors.Length == 0 ? "no initializer named '*" + Anchor + "'" : "several U-Nets (" + string.Join(", ", anchors) + ")")}; not one ConditionalUnet1D.");
        }

        string prefix = anchors[0][..^Anchor.Length];

        // The inputs fed at run time (older exporters list the initializers among the graph's inputs too).
        OnnxValueInfo[] fed = [.. graph.Inputs.Where(i => !byName.ContainsKey(i.Name))];
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        var constants = new Dictionary<string, OnnxTensor>(byName, StringComparer.Ordinal);
        foreach (OnnxNode n in graph.Nodes)
        {
            foreach (string o in n.Outputs)
            {
                producer[o] = n;
            }

            foreach (string i in n.Inputs)
            {
                (consumers.TryGetValue(i, out List<OnnxNode>? list) ? list : consumers[i] = []).Add(n);
            }

            if (n.OpType == "Constant" && n.Outputs.Length == 1 && n.Attribute("value")?.T is { } value)
            {
                constants[n.Outputs[0]] = value;
            }
        }

        // The U-Net's parameters that kept their state-dict names, without the prefix.
        var tensors = new Dictionary<string, Weight>(StringComparer.Ordinal);
        foreach ((string key, OnnxTensor t) in byName)
        {
            // A wrapped export's prefix ("nets.noise_pred_net.") can be longer than the exporter's own names
            // ("onnx::Mul_546"): only a name that starts with it is cut.
            if (key.StartsWith(prefix, StringComparison.Ordinal) && key[prefix.Length..] is var local
                && Array.Exists(Modules, m => local.StartsWith(m, StringComparison.Ordinal))
                && (t.DataType is OnnxTensor.Float or OnnxTensor.Float16))
            {
                tensors[local] = new Weight(t, null);
            }
        }

        // Each Conv1dBlock's group norm, followed from its convolution ('P.block.0').
        int? groups = null, finalGroups = null;
        double? epsilon = null;
        foreach (OnnxNode conv in graph.Nodes)
        {
            if (conv.OpType != "Conv" || conv.Inputs.Length < 2 || conv.Outputs.Length < 1
                || !conv.Inputs[1].StartsWith(prefix, StringComparison.Ordinal) || !conv.Inputs[1].EndsWith(".block.0.weight", StringComparison.Ordinal)
                || conv.Inputs[1].Length < prefix.Length + ".block.0.weight".Length) // the prefix and the ending must not overlap
            {
                continue;
            }

            string norm = conv.Inputs[1][prefix.Length..^"0.weight".Length] + "1.";
            (int? g, double? eps) = FollowNorm(conv.Outputs[0], norm, tensors, consumers, producer, constants, source);
            if (g is { } count)
            {
                bool final = norm.StartsWith("final_conv.0.", StringComparison.Ordinal);
                int? seen = final ? finalGroups : groups;
                if (seen is { } other && other != count)
                {
                    throw new InvalidDataException($"{source}: the group norms use {other} and {count} groups; a ConditionalUnet1D uses one count.");
                }

                if (final)
                {
                    finalGroups = count;
                }
                else
                {
                    groups = count;
                }
            }

            if (eps is { } e)
            {
                epsilon = epsilon is { } before && !before.Equals(e) // Equals: NaN is a NaN, not two epsilons
                    ? throw new InvalidDataException($"{source}: the group norms use epsilons {before} and {e}; a ConditionalUnet1D uses one.")
                    : e;
            }
        }

        Unet1dConfig config = Architecture(tensors, fed, groups, finalGroups, epsilon, source); // a missing tensor first: the more specific reason
        config = config with { LocalCondFirst = CheckNothingAround(graph, fed, prefix, config.LocalCondDim > 0, producer, consumers, source) };
        config.Validate(source);
        byte[] weights = SafeTensorsBytes(tensors, source);
        if (weights.Length >= Unet1dModel.ReleaseMemoryBytes)
        {
            // The file's bytes (the graph's tensors point into them) are garbage from here: return them before the
            // model reads its tensors out of the copy, so a large import holds two copies of the weights at most.
            onnx = [];
            tensors.Clear();
            byName.Clear();
            constants.Clear();
            producer.Clear();
            consumers.Clear();
            graph = null!;
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        SafeTensorsFile file = SafeTensorsFile.Parse(weights, source + " (weights taken from the ONNX graph)");
        return Unet1dModel.FromFile(name, config, scheduler, file, source);
    }

    /// <summary>
    /// The graph with each weight's cast to float32 taken out. An export that stores its weights in float16 to halve the
    /// file, and computes in float32, casts every such initializer where it is used: tools/export_mlp_onnx.py's
    /// float16 exports store NAME.f16 and cast it to NAME; float16 converters told to keep an op in float32 keep the
    /// initializer's name and cast it to a new one. The cast is exact, so the native model takes the float16
    /// initializer itself (packed as float16, widened exactly in the kernels: the values ONNX Runtime multiplies),
    /// under whichever of the two names is a parameter's (ends in .weight or .bias; the initializer's when both or
    /// neither do), and every node that read either name reads that one.
    /// </summary>
    private static OnnxGraph WithoutWeightCasts(OnnxGraph graph)
    {
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (OnnxTensor t in graph.Initializers)
        {
            initializers[t.Name] = t;
        }

        static bool ParameterName(string name) => name.EndsWith(".weight", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal);

        // Each cast weight's name: initializer -> chosen name, and every cast output -> the same.
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        var casts = new HashSet<OnnxNode>(ReferenceEqualityComparer.Instance);
        foreach (OnnxNode n in graph.Nodes)
        {
            if (n is { OpType: "Cast", Inputs.Length: 1, Outputs.Length: 1 } && n.Attribute("to")?.I == OnnxTensor.Float
                && initializers.TryGetValue(n.Inputs[0], out OnnxTensor? t) && t.DataType is OnnxTensor.Float16 or OnnxTensor.Float
                && !initializers.ContainsKey(n.Outputs[0]) && !named.ContainsKey(n.Outputs[0]))
            {
                string weight = n.Inputs[0], output = n.Outputs[0];
                string name = named.TryGetValue(weight, out string? chosen) ? chosen
                    : !ParameterName(weight) && ParameterName(output) ? output : weight;
                named[weight] = name;
                named[output] = name;
                casts.Add(n);
            }
        }

        if (casts.Count == 0)
        {
            return graph;
        }

        string Renamed(string name) => named.TryGetValue(name, out string? to) ? to : name;
        var nodes = new List<OnnxNode>(graph.Nodes.Length - casts.Count);
        foreach (OnnxNode n in graph.Nodes)
        {
            if (!casts.Contains(n))
            {
                nodes.Add(Array.Exists(n.Inputs, named.ContainsKey) ? n with { Inputs = [.. n.Inputs.Select(Renamed)] } : n);
            }
        }

        return graph with
        {
            Nodes = [.. nodes],
            Initializers = [.. graph.Initializers.Select(t => named.TryGetValue(t.Name, out string? to) && to != t.Name ? t with { Name = to } : t)],
            Inputs = [.. graph.Inputs.Select(i => named.ContainsKey(i.Name) ? i with { Name = Renamed(i.Name) } : i)],
        };
    }

    /// <summary>Ops that only move data (the U-Net's Rearranges and the exporter's casts).</summary>
    private static bool MovesData(OnnxNode n) => n.OpType is "Transpose" or "Reshape" or "Identity" or "Cast" or "Squeeze" or "Unsqueeze";

    /// <summary>
    /// The graph must compute the U-Net and nothing else, since the native model runs only the U-Net: a policy exported
    /// whole (observation normalisation in the graph, an encoder, the action's unnormalisation) holds the same weights
    /// but is another function. So the one output must come from final_conv.1 through data moves only, the sample input
    /// must reach the first block's convolutions (and nothing else) the same way, and a conditioning input must go
    /// straight into the concatenation with the step embedding. Otherwise the file runs through ONNX Runtime.
    /// </summary>
    /// <returns>
    /// Whether the local conditioning input comes before the global one among the fed inputs (diffusion_policy's
    /// forward takes local_cond before global_cond): ONNX Runtime's conditioning row follows the input order, so the
    /// native model reads its row in the same order (<see cref="Unet1dConfig.LocalCondFirst"/>).
    /// </returns>
    private static bool CheckNothingAround(OnnxGraph graph, OnnxValueInfo[] fed, string prefix, bool hasLocal, Dictionary<string, OnnxNode> producer, Dictionary<string, List<OnnxNode>> consumers, string source)
    {
        void Fail(string what) => throw new InvalidDataException($"{source}: the graph computes more than the ConditionalUnet1D ({what}); only the U-Net runs natively.");

        if (graph.Outputs.Length != 1)
        {
            Fail($"{graph.Outputs.Length} outputs");
        }

        string value = graph.Outputs[0].Name;
        OnnxNode? last = null;
        for (int depth = 0; depth < 8 && producer.TryGetValue(value, out last) && MovesData(last) && last.Inputs.Length > 0; depth++)
        {
            value = last.Inputs[0];
        }

        if (last is not { OpType: "Conv" } || last.Inputs.Length < 2 || last.Inputs[1] != prefix + "final_conv.1.weight")
        {
            Fail($"its output '{graph.Outputs[0].Name}' does not come from final_conv.1 through transposes and reshapes alone");
        }

        // Rank-3 inputs: the sample into the first block's convolutions, and the local conditioning (if any) into the
        // local block's; each must reach one of them, and each of them exactly one input, since the native model
        // knows the two apart only by where they go.
        int samples = 0, locals = 0, globals = 0, localAt = -1, globalAt = -1;
        for (int at = 0; at < fed.Length; at++)
        {
            OnnxValueInfo input = fed[at];
            if (input.Dims is not { Length: 3 } && input.Dims is not { Length: 2 })
            {
                continue; // the timestep: a scalar or one per row, into the sinusoidal embedding
            }

            bool sample = input.Dims.Length == 3;
            bool intoSample = false, intoLocal = false;
            var frontier = new Stack<string>([input.Name]);
            for (int visited = 0; frontier.Count > 0 && visited < 64; visited++)
            {
                foreach (OnnxNode n in consumers.TryGetValue(frontier.Pop(), out List<OnnxNode>? list) ? list : [])
                {
                    if (MovesData(n) || n.OpType == "Shape")
                    {
                        // A data move's outputs (a mutated or hand-written graph may give one none).
                        foreach (string moved in n.OpType == "Shape" ? [] : n.Outputs)
                        {
                            frontier.Push(moved);
                        }

                        continue;
                    }

                    string w = n.OpType == "Conv" && n.Inputs.Length > 1 ? n.Inputs[1] : "";
                    bool toSample = w == prefix + "down_modules.0.0.blocks.0.block.0.weight" || w == prefix + "down_modules.0.0.residual_conv.weight";
                    bool toLocal = w == prefix + "local_cond_encoder.0.blocks.0.block.0.weight" || w == prefix + "local_cond_encoder.0.residual_conv.weight";
                    intoSample |= toSample;
                    intoLocal |= toLocal;
                    bool expected = sample ? toSample || toLocal : n.OpType == "Concat";
                    if (!expected)
                    {
                        Fail($"input '{input.Name}' goes into a {n.OpType} node before the U-Net's {(sample ? "first convolutions" : "conditioning")}");
                    }
                }
            }

            if (sample && intoSample == intoLocal)
            {
                Fail($"input '{input.Name}' reaches {(intoSample ? "both the first block and the local conditioning's block" : "neither the first block nor the local conditioning's block")}");
            }

            samples += intoSample ? 1 : 0;
            locals += intoLocal ? 1 : 0;
            localAt = intoLocal ? at : localAt;
            globalAt = sample ? globalAt : at;
            globals += sample ? 0 : 1;
        }

        if (globals > 1)
        {
            // ONNX Runtime would concatenate them in input order, the native model in the Concat's order: one only.
            Fail($"{globals} conditioning inputs go into the concatenation with the step embedding; the native model takes one");
        }

        if (samples != 1 || locals != (hasLocal ? 1 : 0))
        {
            Fail($"{samples} inputs reach the first block and {locals} the local conditioning's block; one sample input{(hasLocal ? " and one local conditioning input" : "")} expected");
        }

        return localAt >= 0 && globalAt > localAt;
    }

    /// <summary>A weight: an initializer kept as stored, or values found by following the graph.</summary>
    private sealed record Weight(OnnxTensor? Stored, float[]? Values)
    {
        public long[] Shape => Stored?.Dims ?? [Values!.Length];
    }

    private static OnnxTensor? Constant(string value, Dictionary<string, OnnxNode> producer, Dictionary<string, OnnxTensor> constants)
    {
        for (int depth = 0; depth < 5; depth++)
        {
            if (constants.TryGetValue(value, out OnnxTensor? t))
            {
                return t;
            }

            if (!producer.TryGetValue(value, out OnnxNode? n) || n.Inputs.Length == 0 || n.OpType is not ("Unsqueeze" or "Squeeze" or "Reshape" or "Cast" or "Identity"))
            {
                return null;
            }

            value = n.Inputs[0];
        }

        return null;
    }

    /// <summary>
    /// Walks the data path from a convolution's output through the group norm (Reshape, InstanceNormalization, Reshape,
    /// Mul, Add; or GroupNormalization), records its scale and shift under <paramref name="norm"/> + weight/bias when
    /// they did not keep their names, and returns its groups and epsilon when the path shows them.
    /// </summary>
    private static (int? Groups, double? Epsilon) FollowNorm(string output, string norm, Dictionary<string, Weight> tensors, Dictionary<string, List<OnnxNode>> consumers,
        Dictionary<string, OnnxNode> producer, Dictionary<string, OnnxTensor> constants, string source)
    {
        int? groups = null;
        double? eps = null;
        string current = output;
        for (int step = 0; step < 8; step++)
        {
            List<OnnxNode> next = consumers.TryGetValue(current, out List<OnnxNode>? all) ? [.. all.Where(n => n.OpType != "Shape")] : [];
            if (next.Count != 1 || next[0].Outputs.Length < 1)
            {
                break;
            }

            OnnxNode n = next[0];
            switch (n.OpType)
            {
                case "Reshape" when n.Inputs.Length > 1 && groups is null:
                    if (Constant(n.Inputs[1], producer, constants) is { Count: 3 } shape && shape.ToFloats(source)[1] is > 0 and var g)
                    {
                        groups = GroupCount(g, n, source);
                    }

                    break;
                case "Reshape" or "Cast" or "Identity":
                    break;
                case "InstanceNormalization":
                    groups = n.Inputs.Length > 1 && Constant(n.Inputs[1], producer, constants) is { } scale ? GroupCount(scale.Count, n, source) : groups;
                    eps = Float32Spelling(n.Attribute("epsilon")?.F ?? 1e-5f);
                    break;
                case "GroupNormalization":
                    groups = n.Attribute("num_groups") is { } a ? GroupCount(a.I, n, source) : groups;
                    eps = Float32Spelling(n.Attribute("epsilon")?.F ?? 1e-5f);
                    for (int k = 1; k <= 2 && k < n.Inputs.Length; k++)
                    {
                        if (Constant(n.Inputs[k], producer, constants) is { } v)
                        {
                            tensors.TryAdd(norm + (k == 1 ? "weight" : "bias"), new Weight(null, v.ToFloats(source)));
                        }
                    }

                    return (groups, eps);
                case "Mul" or "Add":
                    string[] others = [.. n.Inputs.Where(i => i != current)];
                    if (others.Length != 1 || Constant(others[0], producer, constants) is not { } c)
                    {
                        return (groups, eps);
                    }

                    tensors.TryAdd(norm + (n.OpType == "Mul" ? "weight" : "bias"), new Weight(null, c.ToFloats(source)));
                    if (n.OpType == "Add")
                    {
                        return (groups, eps);
                    }

                    break;
                default:
                    return (groups, eps);
            }

            current = n.Outputs[0];
        }

        return (groups, eps);
    }

    /// <summary>A group count read from the graph, as an int: a value no cast could keep (2^32 + 8 is not 8) is refused.</summary>
    private static int GroupCount(double value, OnnxNode node, string source) =>
        value is >= 1 and <= int.MaxValue && value == Math.Floor(value)
            ? (int)value
            : throw new InvalidDataException($"{source}: a group norm's {node.OpType} gives {value.ToString(CultureInfo.InvariantCulture)} groups; a group count is a whole number from 1 to 2^31 - 1.");

    /// <summary>ONNX stores epsilon as float32: 1e-5 comes back as 9.99999975e-06; its shortest float32 spelling is what the model was built with.</summary>
    private static double Float32Spelling(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>The architecture from the weights' shapes (as the converter infers it) and the graph's groups, epsilon and horizon.</summary>
    private static Unet1dConfig Architecture(Dictionary<string, Weight> t, OnnxValueInfo[] fed, int? groups, int? finalGroups, double? epsilon, string source)
    {
        // Every dimension read here becomes an int of the configuration: an empty tensor (a zero dimension, no bytes)
        // can carry any other dimension, so each is bounded here rather than overflowing a cast.
        long[] Shape(string key, int rank) =>
            !t.TryGetValue(key, out Weight? w)
                ? throw new InvalidDataException($"{source}: tensor '{key}' is missing (no initializer of that name, and following the graph did not reach it).")
                : w.Shape.Length == rank && Array.TrueForAll(w.Shape, d => d is > 0 and <= int.MaxValue)
                    ? w.Shape
                    : throw new InvalidDataException($"{source}: tensor '{key}' has the shape [{string.Join(", ", w.Shape)}]; a ConditionalUnet1D's is {rank} positive dimensions.");

        int step = checked((int)Shape("diffusion_step_encoder.1.weight", 2)[1]);
        int levels = 0;
        while (t.ContainsKey($"down_modules.{levels}.0.blocks.0.block.0.weight"))
        {
            levels++;
        }

        long[] first = Shape("down_modules.0.0.blocks.0.block.0.weight", 3);
        int[] down = [.. Enumerable.Range(0, levels).Select(i => checked((int)Shape($"down_modules.{i}.0.blocks.0.block.0.weight", 3)[0]))];
        long[] cond = Shape("down_modules.0.0.cond_encoder.1.weight", 2);
        int local = t.ContainsKey("local_cond_encoder.0.blocks.0.block.0.weight") ? checked((int)Shape("local_cond_encoder.0.blocks.0.block.0.weight", 3)[1]) : 0;
        int horizon = Horizon(fed, source);
        return new Unet1dConfig
        {
            Horizon = horizon,
            InputDim = checked((int)first[1]),
            KernelSize = checked((int)first[2]),
            DownDims = down,
            StepEmbedDim = step,
            GlobalCondDim = checked((int)cond[1] - step),
            LocalCondDim = local,
            CondPredictScale = cond[0] == 2L * down[0],
            Groups = groups ?? throw new InvalidDataException($"{source}: the group norms' group count was not found in the graph."),
            FinalGroups = finalGroups ?? 8,
            GroupNormEpsilon = epsilon ?? 1e-5,
        };
    }

    /// <summary>
    /// The horizon: the middle dimension of the sample input [batch, horizon, input_dim] (and of the local conditioning
    /// [batch, horizon, local_cond_dim], when the U-Net has one), when the export fixed it.
    /// </summary>
    private static int Horizon(OnnxValueInfo[] fed, string source)
    {
        long[] middles = [.. fed.Where(i => i.Dims is { Length: 3 }).Select(i => i.Dims![1]).Distinct()];
        return middles is [> 0 and <= int.MaxValue and long h]
            ? (int)h
            : throw new InvalidDataException($"{source}: the horizon is not fixed in the graph (the sample input's middle dimension{(middles.Length > 1 ? "s disagree: " + string.Join(", ", middles) : "")}); export with a fixed horizon, or convert with tools/convert_diffusion_policy.py --horizon.");
    }

    /// <summary>The weights as a safetensors file in memory: stored float32 and float16 bytes copied as they are, found values as float32.</summary>
    private static byte[] SafeTensorsBytes(Dictionary<string, Weight> tensors, string source)
    {
        var header = new StringBuilder("{");
        long offset = 0;
        var parts = new List<(Weight W, long Bytes)>();
        foreach ((string key, Weight w) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            string dtype = w.Stored is { DataType: OnnxTensor.Float16, External: false } s && s.Raw.Length > 0 ? "F16" : "F32";
            long count = w.Stored?.CheckedCount(source) ?? w.Values!.Length; // the stored bytes fill the shape: nothing larger is allocated

            long bytes = count * (dtype == "F16" ? 2 : 4);
            header.Append(CultureInfo.InvariantCulture, $"{(parts.Count > 0 ? "," : "")}\"{key}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', w.Shape)}],\"data_offsets\":[{offset},{offset + bytes}]}}");
            parts.Add((w, bytes));
            offset += bytes;
        }

        header.Append('}');
        byte[] head = Encoding.UTF8.GetBytes(header.ToString());
        long total = 8 + head.Length + offset;
        if (total > Array.MaxLength)
        {
            throw new InvalidDataException($"{source}: {offset} bytes of weights is more than one buffer holds.");
        }

        var file = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)head.Length);
        head.CopyTo(file, 8);
        int at = 8 + head.Length;
        foreach ((Weight w, long bytes) in parts)
        {
            Span<byte> dst = file.AsSpan(at, (int)bytes);
            if (w.Stored is { External: false } s && s.Raw.Length == bytes)
            {
                s.Raw.Span.CopyTo(dst);
            }
            else
            {
                float[] v = w.Values ?? w.Stored!.ToFloats(source);
                for (int i = 0; i < v.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(dst[(4 * i)..], v[i]);
                }
            }

            at += (int)bytes;
        }

        return file;
    }
}
