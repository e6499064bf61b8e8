using System.Buffers.Binary;

namespace Asd.Native.IO;

/// <summary>One tensor named in a safetensors header.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">"F32", "F16" or "BF16" (others are reported as unsupported when read).</param>
/// <param name="Shape">The shape.</param>
/// <param name="Begin">Start of its bytes, relative to the data section.</param>
/// <param name="End">End of its bytes (exclusive).</param>
public sealed record TensorInfo(string Name, string DType, int[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (checked against the data's length when the header is read).</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as "[a, b]".</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}

/// <summary>
/// Reads the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
/// a JSON header mapping names to dtype, shape and byte range, then the raw little-endian data. F32, F16 and BF16 are
/// converted to float32. Written here because no maintained safetensors package is served on our NuGet feed
/// (checked: no "safetensors" package in the served list); the format is small and fully specified.
/// </summary>
public sealed class SafeTensorsFile
{
    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, TensorInfo> _tensors;

    private SafeTensorsFile(string source, byte[] bytes, long dataStart, Dictionary<string, TensorInfo> tensors)
    {
        Source = source;
        _bytes = bytes;
        _dataStart = dataStart;
        _tensors = tensors;
    }

    /// <summary>Where the bytes came from (for messages).</summary>
    public string Source { get; }

    /// <summary>The tensors, by name.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    /// <summary>
    /// Reads and validates a file: a regular file of at most <see cref="Validation.ResourceLimits.MaxWeightsBytes"/>
    /// bytes; the header is read and checked against the file's size before the data section is read.
    /// </summary>
    /// <exception cref="InvalidDataException">A malformed, truncated or inconsistent file.</exception>
    public static SafeTensorsFile Open(string path, string what = "safetensors file")
    {
        using FileStream stream = ModelFiles.OpenRegular(path, what, Validation.ResourceLimits.MaxWeightsBytes, out long length);
        Span<byte> prefix = stackalloc byte[8];
        if (length < 8 || stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) != 8)
        {
            throw new InvalidDataException($"{path}: {length} bytes is too short for a safetensors file (an 8-byte header length comes first).");
        }

        long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(prefix), length, path);
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = length - 8 - headerLength;
        Dictionary<string, TensorInfo> tensors = ParseHeader(header, dataLength, path);
        var data = new byte[dataLength];
        if (stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false) != data.Length)
        {
            throw new InvalidDataException($"{path}: the file shrank while it was read.");
        }

        return new SafeTensorsFile(path, data, 0, tensors);
    }

    /// <summary>Validates bytes already in memory (for example an embedded model).</summary>
    /// <exception cref="InvalidDataException">A malformed, truncated or inconsistent file.</exception>
    public static SafeTensorsFile Parse(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 8)
        {
            throw new InvalidDataException($"{source}: {bytes.Length} bytes is too short for a safetensors file (an 8-byte header length comes first).");
        }

        long headerLength = CheckHeaderLength(BinaryPrimitives.ReadUInt64LittleEndian(bytes), bytes.Length, source);
        long dataStart = 8 + headerLength;
        Dictionary<string, TensorInfo> tensors = ParseHeader(bytes.AsMemory(8, (int)headerLength), bytes.Length - dataStart, source);
        return new SafeTensorsFile(source, bytes, dataStart, tensors);
    }

    private static long CheckHeaderLength(ulong headerLength, long fileLength, string source)
    {
        if (headerLength > (ulong)(fileLength - 8))
        {
            throw new InvalidDataException($"{source}: the header claims {headerLength} bytes but the file has only {fileLength - 8} after the length field (truncated or not a safetensors file).");
        }

        if (headerLength > (ulong)Validation.ResourceLimits.MaxSafetensorsHeaderBytes)
        {
            throw new InvalidDataException($"{source}: the header claims {headerLength} bytes; the format's limit is {Validation.ResourceLimits.MaxSafetensorsHeaderBytes}.");
        }

        return (long)headerLength;
    }

    /// <summary>The tensors of a header, each checked against the data section's length before any data is read.</summary>
    private static Dictionary<string, TensorInfo> ParseHeader(ReadOnlyMemory<byte> header, long dataLength, string source)
    {
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{source}: the safetensors header must be a JSON object.");
            }

            bool metadata = false;
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    metadata = metadata ? throw new InvalidDataException($"{source}: '__metadata__' appears twice.") : true;
                    continue;
                }

                if (tensors.ContainsKey(p.Name))
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' appears twice in the header.");
                }

                if (p.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' must be an object with dtype, shape and data_offsets.");
                }

                string dtype = p.Value.GetProperty("dtype").GetString() ?? "";
                JsonElement shapeList = p.Value.GetProperty("shape");
                if (shapeList.GetArrayLength() > Validation.ResourceLimits.MaxRank)
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' has {shapeList.GetArrayLength()} dimensions; at most {Validation.ResourceLimits.MaxRank} are supported.");
                }

                int[] shape = [.. shapeList.EnumerateArray().Select(e => e.GetInt32())];
                long[] offsets = [.. p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64())];
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || shape.Any(d => d < 0))
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' has invalid data_offsets or a negative size.");
                }

                var info = new TensorInfo(p.Name, dtype, shape, offsets[0], offsets[1]);
                if (offsets[1] > dataLength)
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' ends at data byte {offsets[1]} but the data section holds {dataLength} bytes (the file is truncated).");
                }

                int size = ElementSize(dtype);
                long bytes = Validation.Shapes.ProductOrMinusOne([.. shape.Select(d => (long)d)], dataLength);
                if (size > 0 && (bytes < 0 || bytes * size != offsets[1] - offsets[0]))
                {
                    throw new InvalidDataException($"{source}: tensor '{p.Name}' is {dtype} {info.ShapeText} but spans {offsets[1] - offsets[0]} bytes.");
                }

                tensors[p.Name] = info;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: the safetensors header is not valid JSON of the expected form ({e.Message}).", e);
        }

        return tensors;
    }

    /// <summary>Reads a tensor as float32 and checks its shape.</summary>
    /// <exception cref="InvalidDataException">Missing tensor, unexpected shape or unsupported dtype; the message names all three.</exception>
    public float[] ReadFloat32(string name, params int[] expectedShape)
    {
        TensorInfo info = Expect(name, expectedShape);
        int size = ElementSize(info.DType);
        if (size == 0)
        {
            throw new InvalidDataException($"{Source}: tensor '{name}' has dtype {info.DType}; only F32, F16 and BF16 are supported.");
        }

        var result = new float[info.Count];
        ReadOnlySpan<byte> src = _bytes.AsSpan((int)(_dataStart + info.Begin), (int)(info.End - info.Begin));
        if (BitConverter.IsLittleEndian && info.DType is "F32" or "F16")
        {
            // The file's little-endian elements are this machine's: a block copy or a vectorised conversion (the
            // element loop below took a tenth of opening a 249 MB model).
            if (info.DType == "F32")
            {
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(src).CopyTo(result);
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(src), result);
            }

            return result;
        }

        for (int i = 0; i < result.Length; i++)
        {
            result[i] = info.DType switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(src[(2 * i)..]),
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]) << 16),
            };
        }

        return result;
    }

    /// <summary>Reads an F16 tensor as its raw IEEE half bit patterns (for kernels that keep float16 weights) and checks its shape.</summary>
    /// <exception cref="InvalidDataException">Missing tensor, unexpected shape, or a dtype other than F16.</exception>
    public ushort[] ReadFloat16Bits(string name, params int[] expectedShape)
    {
        TensorInfo info = Expect(name, expectedShape);
        if (info.DType != "F16")
        {
            throw new InvalidDataException($"{Source}: tensor '{name}' has dtype {info.DType}; F16 was expected here.");
        }

        var result = new ushort[info.Count];
        ReadOnlySpan<byte> src = _bytes.AsSpan((int)(_dataStart + info.Begin), (int)(info.End - info.Begin));
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]);
        }

        return result;
    }

    private TensorInfo Expect(string name, int[] expectedShape)
    {
        if (!_tensors.TryGetValue(name, out TensorInfo? info))
        {
            throw new InvalidDataException($"{Source}: tensor '{name}' is missing (the file has {_tensors.Count} tensors{(_tensors.Count > 0 ? $", e.g. '{_tensors.Keys.First()}'" : "")}).");
        }

        if (!info.Shape.AsSpan().SequenceEqual(expectedShape))
        {
            throw new InvalidDataException($"{Source}: tensor '{name}' has shape {info.ShapeText}, expected [{string.Join(", ", expectedShape)}].");
        }

        return info;
    }

    private static int ElementSize(string dtype) => dtype switch
    {
        "F32" => 4,
        "F16" or "BF16" => 2,
        _ => 0,
    };
}
