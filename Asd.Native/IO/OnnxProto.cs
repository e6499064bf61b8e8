using System.Buffers.Binary;
using System.Text;

namespace Asd.Native.IO;

/// <summary>An ONNX tensor as stored (TensorProto): its bytes stay in the file's buffer until read.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DataType">TensorProto.DataType: 1 float, 7 int64, 10 float16, ...</param>
/// <param name="Dims">The shape.</param>
/// <param name="Raw">raw_data (little-endian), or empty.</param>
/// <param name="Floats">float_data, when the values are stored there instead.</param>
/// <param name="Int64s">int64_data, when the values are stored there instead.</param>
/// <param name="External">Whether the values live in an external file (not read here).</param>
internal sealed record OnnxTensor(string Name, int DataType, long[] Dims, ReadOnlyMemory<byte> Raw, float[] Floats, long[] Int64s, bool External)
{
    /// <summary>TensorProto.DataType values read here.</summary>
    public const int Float = 1, Int64 = 7, Float16 = 10;

    /// <summary>The number of elements, or -1 when the shape is negative or overflows.</summary>
    public long Count => Validation.Shapes.ProductOrMinusOne(Dims, long.MaxValue);

    /// <summary>
    /// Checks that the stored values fill the shape exactly (float32 or float16 raw bytes, float_data, or for int64
    /// raw bytes or int64_data), before anything of the shape's size is allocated.
    /// </summary>
    /// <exception cref="InvalidDataException">Another type, external data, or a count that does not match the shape.</exception>
    public long CheckedCount(string source)
    {
        long n = Count;
        int size = DataType switch { Float => 4, Float16 => 2, Int64 => 8, _ => 0 };
        bool fits = n >= 0 && n <= Array.MaxLength && size > 0 && !External
            && (Raw.Length == size * n || (Raw.Length == 0 && (DataType == Float ? Floats.Length : DataType == Int64 ? Int64s.Length : -1) == n));
        return fits
            ? n
            : throw new InvalidDataException($"{source}: tensor '{Name}' (data type {DataType}, shape [{string.Join(", ", Dims)}]) "
                + (External ? "is stored in an external file, which is not read here." : $"does not hold float32, float16 or int64 values that fill its shape ({Raw.Length} raw bytes)."));
    }

    /// <summary>The values as float32 (from float32 or float16 storage; int64 converted).</summary>
    /// <exception cref="InvalidDataException">See <see cref="CheckedCount"/>.</exception>
    public float[] ToFloats(string source)
    {
        long n = CheckedCount(source);
        ReadOnlySpan<byte> raw = Raw.Span;
        if (raw.Length == 0)
        {
            return DataType == Float ? Floats : [.. Int64s.Select(v => (float)v)];
        }

        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = DataType switch
            {
                Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]),
                Float16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..])),
                _ => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
            };
        }

        return v;
    }
}

/// <summary>One attribute of a node (only the scalar and tensor kinds are kept).</summary>
internal sealed record OnnxAttribute(string Name, float F, long I, OnnxTensor? T);

/// <summary>One node of the graph.</summary>
internal sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, OnnxAttribute[] Attributes)
{
    /// <summary>The attribute named <paramref name="name"/>, or null.</summary>
    public OnnxAttribute? Attribute(string name) => Array.Find(Attributes, a => a.Name == name);
}

/// <summary>A graph input: its name and shape (-1 for a symbolic or missing dimension; null when no shape is given).</summary>
internal sealed record OnnxValueInfo(string Name, long[]? Dims);

/// <summary>The parts of an ONNX graph the engine reads: nodes, initializers, inputs and outputs (subgraphs are not read).</summary>
internal sealed record OnnxGraph(OnnxNode[] Nodes, OnnxTensor[] Initializers, OnnxValueInfo[] Inputs, OnnxValueInfo[] Outputs);

/// <summary>
/// Reads the ONNX protobuf (onnx.proto3: ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) far enough to
/// recognise a network and take its weights (<c>Unet1dOnnx</c>). Written here because the engine needs a dozen fields of
/// five messages, and ONNX Runtime's API does not expose initializers by name. Every length is checked against what is
/// left of its enclosing message, and unknown fields are skipped, so a truncated or hostile file fails with an
/// <see cref="InvalidDataException"/>, never an out-of-range read, a huge allocation or a hang.
/// </summary>
internal static class OnnxProto
{
    /// <summary>Parses a ModelProto's graph.</summary>
    /// <exception cref="InvalidDataException">Malformed protobuf, or no graph.</exception>
    public static OnnxGraph ReadGraph(byte[] model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        var r = new Reader(model, 0, model.Length, source);
        Reader? graph = null;
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            if (field == 7 && wire == 2)
            {
                graph = r.Message();
            }
            else
            {
                r.Skip(wire);
            }
        }

        return graph is { } g ? Graph(g) : throw new InvalidDataException($"{source}: no graph in the ONNX model (not an ONNX file?).");
    }

    private static OnnxGraph Graph(Reader r)
    {
        var nodes = new List<OnnxNode>();
        var inits = new List<OnnxTensor>();
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            switch (field, wire)
            {
                case (1, 2): nodes.Add(Node(r.Message())); break;
                case (5, 2): inits.Add(Tensor(r.Message())); break;
                case (11, 2): inputs.Add(ValueInfo(r.Message())); break;
                case (12, 2): outputs.Add(ValueInfo(r.Message())); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxGraph([.. nodes], [.. inits], [.. inputs], [.. outputs]);
    }

    private static OnnxNode Node(Reader r)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attrs = new List<OnnxAttribute>();
        string op = "";
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            switch (field, wire)
            {
                case (1, 2): inputs.Add(r.String()); break;
                case (2, 2): outputs.Add(r.String()); break;
                case (4, 2): op = r.String(); break;
                case (5, 2): attrs.Add(Attribute(r.Message())); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxNode(op, [.. inputs], [.. outputs], [.. attrs]);
    }

    private static OnnxAttribute Attribute(Reader r)
    {
        string name = "";
        float f = 0;
        long i = 0;
        OnnxTensor? t = null;
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            switch (field, wire)
            {
                case (1, 2): name = r.String(); break;
                case (2, 5): f = BitConverter.Int32BitsToSingle((int)r.Fixed32()); break;
                case (3, 0): i = (long)r.Varint(); break;
                case (5, 2): t = Tensor(r.Message()); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxAttribute(name, f, i, t);
    }

    private static OnnxTensor Tensor(Reader r)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        var ints = new List<long>();
        string name = "";
        int type = 0;
        bool external = false;
        ReadOnlyMemory<byte> raw = ReadOnlyMemory<byte>.Empty;
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            switch (field, wire)
            {
                case (1, 0): dims.Add((long)r.Varint()); break;
                case (1, 2):
                    for (Reader p = r.Message(); !p.End;)
                    {
                        dims.Add((long)p.Varint());
                    }

                    break;
                case (2, 0): type = (int)r.Varint(); break;
                case (4, 5): floats.Add(BitConverter.Int32BitsToSingle((int)r.Fixed32())); break;
                case (4, 2):
                    for (Reader p = r.Message(); !p.End;)
                    {
                        floats.Add(BitConverter.Int32BitsToSingle((int)p.Fixed32()));
                    }

                    break;
                case (7, 0): ints.Add((long)r.Varint()); break;
                case (7, 2):
                    for (Reader p = r.Message(); !p.End;)
                    {
                        ints.Add((long)p.Varint());
                    }

                    break;
                case (8, 2): name = r.String(); break;
                case (9, 2): raw = r.Bytes(); break;
                case (13, 2): external = true; r.Skip(wire); break;
                case (14, 0): external |= r.Varint() == 1; break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxTensor(name, type, [.. dims], raw, [.. floats], [.. ints], external);
    }

    private static OnnxValueInfo ValueInfo(Reader r)
    {
        string name = "";
        long[]? dims = null;
        while (!r.End)
        {
            (int field, int wire) = r.Tag();
            if (field == 1 && wire == 2)
            {
                name = r.String();
            }
            else if (field == 2 && wire == 2)
            {
                // TypeProto.tensor_type (1) -> Tensor.shape (2) -> TensorShapeProto.dim (1, repeated) -> dim_value (1).
                for (Reader type = r.Message(); !type.End;)
                {
                    (int tf, int tw) = type.Tag();
                    if (tf != 1 || tw != 2)
                    {
                        type.Skip(tw);
                        continue;
                    }

                    for (Reader tensor = type.Message(); !tensor.End;)
                    {
                        (int sf, int sw) = tensor.Tag();
                        if (sf != 2 || sw != 2)
                        {
                            tensor.Skip(sw);
                            continue;
                        }

                        var shape = new List<long>();
                        for (Reader s = tensor.Message(); !s.End;)
                        {
                            (int df, int dw) = s.Tag();
                            if (df != 1 || dw != 2)
                            {
                                s.Skip(dw);
                                continue;
                            }

                            long value = -1;
                            for (Reader dim = s.Message(); !dim.End;)
                            {
                                (int vf, int vw) = dim.Tag();
                                if (vf == 1 && vw == 0)
                                {
                                    value = (long)dim.Varint();
                                }
                                else
                                {
                                    dim.Skip(vw);
                                }
                            }

                            shape.Add(value > 0 ? value : -1);
                        }

                        dims = [.. shape];
                    }
                }
            }
            else
            {
                r.Skip(wire);
            }
        }

        return new OnnxValueInfo(name, dims);
    }

    /// <summary>A cursor over one message's bytes [position, end) of the file's buffer.</summary>
    private sealed class Reader(byte[] buffer, int start, int end, string source)
    {
        private int _pos = start;

        public bool End => _pos >= end;

        public ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= end)
                {
                    throw Truncated();
                }

                byte b = buffer[_pos++];
                v |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return v;
                }
            }

            throw new InvalidDataException($"{source}: malformed ONNX protobuf (a varint longer than 10 bytes at byte {_pos}).");
        }

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            if (tag >> 3 is 0 or > int.MaxValue)
            {
                throw new InvalidDataException($"{source}: malformed ONNX protobuf (field number {tag >> 3} at byte {_pos}).");
            }

            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public uint Fixed32()
        {
            Need(4);
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(_pos, 4));
            _pos += 4;
            return v;
        }

        public ReadOnlyMemory<byte> Bytes()
        {
            int n = Length();
            var bytes = new ReadOnlyMemory<byte>(buffer, _pos, n);
            _pos += n;
            return bytes;
        }

        public Reader Message()
        {
            int n = Length();
            var inner = new Reader(buffer, _pos, _pos + n, source);
            _pos += n;
            return inner;
        }

        public string String()
        {
            ReadOnlyMemory<byte> bytes = Bytes();
            return Encoding.UTF8.GetString(bytes.Span);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Need(8); _pos += 8; break;
                case 2:
                    int n = Length(); // not '_pos += Length()': that reads _pos before Length moves it past the length
                    _pos += n;
                    break;
                case 5: Need(4); _pos += 4; break;
                default: throw new InvalidDataException($"{source}: malformed ONNX protobuf (wire type {wire} at byte {_pos}).");
            }
        }

        private int Length()
        {
            ulong n = Varint();
            if (n > (ulong)(end - _pos))
            {
                throw Truncated();
            }

            return (int)n;
        }

        private void Need(int n)
        {
            if (end - _pos < n)
            {
                throw Truncated();
            }
        }

        private InvalidDataException Truncated() =>
            new($"{source}: malformed or truncated ONNX protobuf (a field runs past the end of its message at byte {_pos}).");
    }
}
