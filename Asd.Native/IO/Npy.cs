using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Asd.Native.IO;

/// <summary>Reads and writes NumPy <c>.npy</c> files of little-endian float32 (format version 1.0).</summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="data"/> with <paramref name="shape"/> to <paramref name="path"/> (atomically: a temp file is renamed).</summary>
    public static void Write(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        if (Count(shape) != data.Length)
        {
            throw new ArgumentException($"Shape holds {Count(shape)} elements but the data has {data.Length}.");
        }

        using AtomicFile.Pending file = Begin(path, data, shape);
        file.Commit();
    }

    /// <summary>
    /// Writes <paramref name="data"/> to a temporary file for <paramref name="path"/> and returns it uncommitted, for a
    /// caller that moves it into place together with another file (<see cref="AtomicFile.CommitTogether"/>).
    /// </summary>
    internal static AtomicFile.Pending Begin(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        if (Count(shape) != data.Length)
        {
            throw new ArgumentException($"Shape holds {Count(shape)} elements but the data has {data.Length}.");
        }

        int[] dims = shape.ToArray();
        return AtomicFile.Begin(path, data, (stream, values) =>
        {
            WriteHeader(stream, dims);
            WriteValues(stream, values);
        });
    }

    /// <summary>
    /// Appends <paramref name="data"/> as little-endian float32 (the body after <see cref="WriteHeader"/>), a MiB per
    /// write: a signal reaches .NET's handler only when the thread it interrupted returns from its system call, and one
    /// write of a whole large array held Ctrl-C's handler (which removes the unfinished file) until the write was done.
    /// </summary>
    internal static void WriteValues(Stream stream, ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(data);
            for (int at = 0; at < bytes.Length; at += 1 << 20)
            {
                stream.Write(bytes.Slice(at, Math.Min(1 << 20, bytes.Length - at)));
            }

            return;
        }

        Span<byte> b = stackalloc byte[4];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(b, v);
            stream.Write(b);
        }
    }

    /// <summary>
    /// Writes the header of a little-endian float32 array of <paramref name="shape"/> (format 1.0, padded to 64
    /// bytes); the caller appends the <c>prod(shape)</c> values, little-endian, in C order (streaming writers).
    /// </summary>
    public static void WriteHeader(Stream stream, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var dims = new StringBuilder();
        foreach (int s in shape)
        {
            dims.Append(s.ToString(CultureInfo.InvariantCulture)).Append(", ");
        }

        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({dims.ToString().TrimEnd(' ', ',')})";
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = Magic.Length + 2 + 2 + header.Length + 1;
        int pad = (64 - (total % 64)) % 64;
        header = header + new string(' ', pad) + "\n";
        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
    }

    private static long Count(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int s in shape)
        {
            count *= s;
        }

        return count;
    }

    /// <summary>Reads a float32 (or float64, converted) array; returns the data and its shape.</summary>
    /// <param name="path">A regular file of at most <see cref="Validation.ResourceLimits.MaxNpyBytes"/> bytes.</param>
    /// <param name="what">Names the file in messages (for example "--cond").</param>
    /// <exception cref="InvalidDataException">Not an .npy file, unsupported dtype or order, or truncated.</exception>
    public static (float[] Data, int[] Shape) Read(string path, string what = ".npy file") =>
        Parse(ModelFiles.ReadAllBytes(path, what, Validation.ResourceLimits.MaxNpyBytes), $"'{path}'");

    /// <summary>Parses the bytes of an .npy file (format 1.0, 2.0 or 3.0; little-endian float32 or float64, C order).</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="source">Names it in messages.</param>
    /// <exception cref="InvalidDataException">Anything but a well-formed file of that kind; the message says what.</exception>
    public static (float[] Data, int[] Shape) Parse(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{source} is not a .npy file (bad magic).");
        }

        int major = bytes[6];
        long headerLength;
        int offset;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            offset = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new InvalidDataException($"{source} is truncated.");
            }

            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            offset = 12;
        }
        else
        {
            throw new InvalidDataException($"{source}: unsupported .npy version {major}.");
        }

        if (headerLength > bytes.Length - offset)
        {
            throw new InvalidDataException($"{source} is truncated inside its header ({headerLength} header bytes promised, {bytes.Length - offset} present).");
        }

        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, offset, (int)headerLength);
        Dictionary<string, string> fields = ParseHeader(header, source);
        string descr = fields["descr"];
        if (fields["fortran_order"] != "False")
        {
            throw new InvalidDataException($"{source}: 'fortran_order' is {fields["fortran_order"]}; only C-ordered arrays (False) are supported.");
        }

        int[] shape = ParseShape(fields["shape"], source);
        int elementSize = descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new InvalidDataException($"{source}: dtype '{descr}' is not supported (use float32 '<f4' or float64 '<f8')."),
        };
        long dataStart = offset + headerLength;
        long dataBytes = bytes.Length - dataStart;
        long count = Validation.Shapes.ProductOrMinusOne([.. shape.Select(d => (long)d)], dataBytes);
        if (count < 0 || count * elementSize != dataBytes)
        {
            throw new InvalidDataException($"{source}: the header's shape ({string.Join(", ", shape)}) of {elementSize}-byte values does not match the {dataBytes} data bytes the file holds.");
        }

        var data = new float[count];
        ReadOnlySpan<byte> raw = bytes.AsSpan((int)dataStart);
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = elementSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..])
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]);
        }

        return (data, shape);
    }

    /// <summary>
    /// The header: a Python dict literal with exactly the keys 'descr' (a string), 'fortran_order' (True or False) and
    /// 'shape' (a tuple), in any order, padded with spaces and ending in a newline.
    /// </summary>
    private static Dictionary<string, string> ParseHeader(string header, string source)
    {
        string h = header.TrimEnd(' ', '\n', '\0');
        if (!h.StartsWith('{') || !h.EndsWith('}'))
        {
            throw new InvalidDataException($"{source}: the header is not a Python dict ({Quote(h)}).");
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 1;
        while (true)
        {
            SkipSpaces(h, ref i);
            if (i >= h.Length - 1)
            {
                break;
            }

            string key = ReadQuoted(h, ref i, source);
            SkipSpaces(h, ref i);
            Expect(h, ref i, ':', source);
            SkipSpaces(h, ref i);
            string value;
            if (i < h.Length && h[i] is '\'' or '"')
            {
                value = ReadQuoted(h, ref i, source);
            }
            else
            {
                int start = i;
                if (i < h.Length && h[i] == '(')
                {
                    int close = h.IndexOf(')', i);
                    i = close >= 0 ? close + 1 : throw new InvalidDataException($"{source}: malformed header: an unclosed '(' in {Quote(h)}.");
                }
                else
                {
                    while (i < h.Length - 1 && h[i] is not (',' or '}'))
                    {
                        i++;
                    }
                }

                value = h[start..i].Trim();
            }

            if (key is not ("descr" or "fortran_order" or "shape"))
            {
                throw new InvalidDataException($"{source}: unknown header key '{key}' (expected descr, fortran_order, shape).");
            }

            if (!fields.TryAdd(key, value))
            {
                throw new InvalidDataException($"{source}: header key '{key}' appears twice.");
            }

            SkipSpaces(h, ref i);
            if (i < h.Length - 1)
            {
                Expect(h, ref i, ',', source);
            }
        }

        foreach (string key in (string[])["descr", "fortran_order", "shape"])
        {
            if (!fields.ContainsKey(key))
            {
                throw new InvalidDataException($"{source}: the header has no '{key}'.");
            }
        }

        return fields;
    }

    /// <summary>"(a, b,)" -> [a, b]: non-negative integers, at most <see cref="Validation.ResourceLimits.MaxRank"/> of them.</summary>
    private static int[] ParseShape(string text, string source)
    {
        if (!text.StartsWith('(') || !text.EndsWith(')'))
        {
            throw new InvalidDataException($"{source}: 'shape' {Quote(text)} is not a tuple.");
        }

        string[] parts = text[1..^1].Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 0 && parts[^1].Length == 0)
        {
            parts = parts[..^1]; // the trailing comma of "(3,)"
        }

        if (parts.Length > Validation.ResourceLimits.MaxRank)
        {
            throw new InvalidDataException($"{source}: 'shape' has {parts.Length} dimensions; at most {Validation.ResourceLimits.MaxRank} are supported.");
        }

        var shape = new int[parts.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            if (!int.TryParse(parts[k], NumberStyles.None, CultureInfo.InvariantCulture, out shape[k]))
            {
                throw new InvalidDataException($"{source}: 'shape' {Quote(text)}: '{parts[k]}' is not a size (a non-negative integer below 2^31).");
            }
        }

        return shape;
    }

    private static void SkipSpaces(string h, ref int i)
    {
        while (i < h.Length && h[i] == ' ')
        {
            i++;
        }
    }

    private static void Expect(string h, ref int i, char c, string source)
    {
        if (i >= h.Length || h[i] != c)
        {
            throw new InvalidDataException($"{source}: malformed header: expected '{c}' at character {i} of {Quote(h)}.");
        }

        i++;
    }

    private static string ReadQuoted(string h, ref int i, string source)
    {
        if (i >= h.Length || h[i] is not ('\'' or '"'))
        {
            throw new InvalidDataException($"{source}: malformed header: expected a quoted name at character {i} of {Quote(h)}.");
        }

        char q = h[i];
        int end = h.IndexOf(q, i + 1);
        if (end < 0)
        {
            throw new InvalidDataException($"{source}: malformed header: an unterminated string in {Quote(h)}.");
        }

        string s = h[(i + 1)..end];
        i = end + 1;
        return s;
    }

    private static string Quote(string s) => s.Length <= 120 ? $"\"{s}\"" : $"\"{s[..120]}...\"";
}
