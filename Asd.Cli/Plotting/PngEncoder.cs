using System.Buffers.Binary;
using System.IO.Compression;

namespace Asd.Cli.Plotting;

/// <summary>
/// Writes 8-bit RGB PNG files: signature, IHDR, one IDAT compressed by <see cref="ZLibStream"/> (the runtime's
/// zlib), IEND. Rows are stored unfiltered: on plots (flat fills, thin anti-aliased lines) that gave smaller files
/// than Sub, Up or the per-row minimum-sum heuristic, at no filtering cost. Managed code plus the runtime's own zlib,
/// so nothing extra ships under Native AOT on any RID.
/// </summary>
internal static class PngEncoder
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    private static readonly uint[] CrcTable = MakeCrcTable();

    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height, CompressionLevel level = CompressionLevel.Optimal)
    {
        if (width < 1 || height < 1 || (long)width * height * 3 != rgb.Length)
        {
            throw new ArgumentException($"RGB data of {rgb.Length} bytes does not match {width}x{height} pixels.", nameof(rgb));
        }

        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;  // bits per channel
        header[9] = 2;  // colour type: RGB
        header[10] = 0; // deflate
        header[11] = 0; // adaptive filtering
        header[12] = 0; // not interlaced
        WriteChunk(output, "IHDR"u8, header);

        WriteChunk(output, "IDAT"u8, Compress(rgb, width, height, level));
        WriteChunk(output, "IEND"u8, []);
        return output.ToArray();
    }

    private static byte[] Compress(ReadOnlySpan<byte> rgb, int width, int height, CompressionLevel level)
    {
        int stride = width * 3;
        ReadOnlySpan<byte> noFilter = [0];
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, level, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                zlib.Write(noFilter);
                zlib.Write(rgb.Slice(y * stride, stride));
            }
        }

        return compressed.ToArray();
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        uint crc = Crc32Update(0xFFFFFFFFu, type);
        crc = Crc32Update(crc, data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    private static uint Crc32Update(uint crc, ReadOnlySpan<byte> bytes)
    {
        foreach (byte v in bytes)
        {
            crc = CrcTable[(crc ^ v) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    // The CRC-32 of ISO 3309 / PNG (reflected polynomial 0xEDB88320).
    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
