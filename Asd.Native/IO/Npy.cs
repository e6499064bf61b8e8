using System.Buffers.Binary;
using System.Globalization;
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

        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            WriteHeader(stream, shape);
            Span<byte> buffer = stackalloc byte[4];
            foreach (float v in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
                stream.Write(buffer);
            }
        }

        File.Move(temp, path, overwrite: true);
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
    /// <exception cref="InvalidDataException">Not an .npy file, unsupported dtype or order, or truncated.</exception>
    public static (float[] Data, int[] Shape) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not a .npy file (bad magic).");
        }

        int major = bytes[6];
        int headerLength, offset;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            offset = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new InvalidDataException($"'{path}' is truncated.");
            }

            headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            offset = 12;
        }
        else
        {
            throw new InvalidDataException($"'{path}': unsupported .npy version {major}.");
        }

        if (offset + headerLength > bytes.Length)
        {
            throw new InvalidDataException($"'{path}' is truncated inside its header.");
        }

        string header = Encoding.ASCII.GetString(bytes, offset, headerLength);
        string descr = HeaderValue(header, "descr", path).Trim('\'', '"');
        if (HeaderValue(header, "fortran_order", path) != "False")
        {
            throw new InvalidDataException($"'{path}': Fortran-ordered arrays are not supported.");
        }

        string shapeText = HeaderValue(header, "shape", path).Trim('(', ')');
        int[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        long count = 1;
        foreach (int s in shape)
        {
            count *= s;
        }

        int elementSize = descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new InvalidDataException($"'{path}': dtype {descr} is not supported (use float32 '<f4' or float64 '<f8')."),
        };
        int dataStart = offset + headerLength;
        if (bytes.Length - dataStart != count * elementSize)
        {
            throw new InvalidDataException($"'{path}': the header promises {count} values of {elementSize} bytes but the file holds {bytes.Length - dataStart} data bytes.");
        }

        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = elementSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(dataStart + (4 * i)))
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(dataStart + (8 * i)));
        }

        return (data, shape);
    }

    private static string HeaderValue(string header, string key, string path)
    {
        int k = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (k < 0)
        {
            throw new InvalidDataException($"'{path}': the header has no '{key}'.");
        }

        int colon = header.IndexOf(':', k);
        int start = colon + 1;
        while (start < header.Length && header[start] == ' ')
        {
            start++;
        }

        int end = header[start] == '(' ? header.IndexOf(')', start) + 1 : header.IndexOfAny([',', '}'], start);
        return header[start..end].Trim();
    }
}
