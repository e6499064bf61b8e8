using System.Runtime.CompilerServices;

namespace Asd.Simd.Random;

/// <summary>
/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
/// a counter-based generator. Each 128-bit counter under a 64-bit key maps to four independent 32-bit words,
/// so any word of any stream can be computed directly, with no state to carry between calls.
/// </summary>
public static class Philox4x32
{
    // The round multipliers, and the Weyl increments that bump the key between rounds (the paper's constants).
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Computes one block of four words for <paramref name="counter"/> under key (<paramref name="k0"/>, <paramref name="k1"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }

            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }

        return (c0, c1, c2, c3);
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with consecutive words of one stream: word w comes from block w / 4
    /// (counter word 0 = block index), lane w % 4. Counter words 1..3 and the key select the stream.
    /// </summary>
    public static void Fill(Span<uint> destination, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        int w = 0;
        uint block = 0;
        for (; w + 4 <= destination.Length; w += 4, block++)
        {
            var (x0, x1, x2, x3) = Block(block, c1, c2, c3, k0, k1);
            destination[w] = x0;
            destination[w + 1] = x1;
            destination[w + 2] = x2;
            destination[w + 3] = x3;
        }

        if (w < destination.Length)
        {
            var (x0, x1, x2, x3) = Block(block, c1, c2, c3, k0, k1);
            ReadOnlySpan<uint> tail = [x0, x1, x2, x3];
            tail[..(destination.Length - w)].CopyTo(destination[w..]);
        }
    }
}
