using Org.BouncyCastle.Crypto.Digests;

namespace Asd.Native.IO;

/// <summary>
/// SHA-256 (hex) in managed code, from BouncyCastle: .NET's own SHA256 calls OpenSSL on Linux, which an edge board or a
/// minimal container may not have (the arm64 <c>asd</c> aborted with "No usable version of libssl" in
/// <c>asd sample --out</c>); shard manifests must not add that dependency.
/// </summary>
internal sealed class Sha256
{
    private readonly Sha256Digest _digest = new();

    /// <summary>Adds bytes.</summary>
    public void Append(ReadOnlySpan<byte> data) => _digest.BlockUpdate(data);

    /// <summary>The digest of everything added, as lowercase hex; starts over.</summary>
    public string HexAndReset()
    {
        Span<byte> hash = stackalloc byte[32];
        _digest.DoFinal(hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>sha256 of <paramref name="data"/>.</summary>
    public static string Hex(ReadOnlySpan<byte> data)
    {
        var h = new Sha256();
        h.Append(data);
        return h.HexAndReset();
    }

    /// <summary>sha256 of a regular file's bytes, read in 1 MiB blocks (a FIFO or a device is refused, not read).</summary>
    public static string HexOfFile(string path)
    {
        using FileStream stream = ModelFiles.OpenRegular(path, "file", long.MaxValue, out _);
        var h = new Sha256();
        byte[] buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            h.Append(buffer.AsSpan(0, read));
        }

        return h.HexAndReset();
    }
}
