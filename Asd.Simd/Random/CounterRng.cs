using System.Buffers;
using System.Runtime.CompilerServices;

namespace Asd.Simd.Random;

/// <summary>
/// The engine's random numbers, version <see cref="SchemeVersion"/>: pure functions of
/// (seed, stream, index, purpose), so results do not depend on call order, threads or batching.
/// </summary>
/// <remarks>
/// <para>Scheme "asd-rng-1" (changing any line below is a new version):</para>
/// <list type="bullet">
/// <item>Generator: Philox4x32-10. Key = (seed low 32 bits, seed high 32 bits).
/// Counter = (block, index, purpose, stream low 32 bits) for 32-bit streams; the high 32 bits of the stream are
/// folded into the key's high word by XOR with 0x5851F42D, so streams up to 2^64 stay distinct.</item>
/// <item>Gaussians (n values): let h = ceil(n / 2). Words W[0..2h) of the (index, purpose, stream) counter sequence.
/// For p &lt; h: u1 = ((float)(W[p] &gt;&gt; 1) + 0.5) * 2^-31 in (0, 1]; r = sqrt(-2 ln u1);
/// the angle is 2 pi u2 with u2 = W[h + p] / 2^32 taken as quadrant q = top 2 bits and fraction f = next 24 bits;
/// out[p] = r cos(angle), out[h + p] = r sin(angle) (Box-Muller, structure-of-arrays so it vectorizes).
/// ln, sin and cos are the fixed FMA polynomials of <see cref="VecMath"/>, identical on every vector width,
/// so every ISA path and every architecture produces the same bits.</item>
/// <item>Uniform: word 0 of block 0 of the (index, purpose, stream) sequence, u = (W + 0.5) / 2^32 in double:
/// strictly inside (0, 1).</item>
/// </list>
/// </remarks>
public static class CounterRng
{
    /// <summary>The version of the scheme above. Outputs for a given key never change within a version.</summary>
    public const int SchemeVersion = 1;

    /// <summary>A human-readable name of the scheme, recorded in run statistics.</summary>
    public const string SchemeName = "asd-rng-1 (Philox4x32-10, SoA Box-Muller)";

    private const uint StreamFold = 0x5851F42D;

    private const int StackWords = 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Key(ulong seed, ulong stream, out uint k0, out uint k1, out uint c3)
    {
        k0 = (uint)seed;
        k1 = (uint)(seed >> 32) ^ ((uint)(stream >> 32) * StreamFold);
        c3 = (uint)stream;
    }

    /// <summary>Fills <paramref name="destination"/> with standard normal values for (seed, stream, index, purpose).</summary>
    public static void Gaussian(ulong seed, ulong stream, uint index, uint purpose, Span<float> destination)
    {
        int n = destination.Length;
        if (n == 0)
        {
            return;
        }

        int h = (n + 1) / 2;
        Key(seed, stream, out uint k0, out uint k1, out uint c3);

        uint[]? rented = null;
        // Sized to the call (the runtime zeroes a stackalloc's whole length): a fixed 4 KB here was cleared on every
        // call, for the 2 floats of a 2-D sample too (8% of all the samples of an asd bench of the 2-D mixture).
        Span<uint> words = 2 * h <= StackWords
            ? stackalloc uint[2 * h]
            : (rented = ArrayPool<uint>.Shared.Rent(2 * h));
        words = words[..(2 * h)];
        try
        {
            Philox4x32.Fill(words, index, purpose, c3, k0, k1);
            VecMath.BoxMuller(words[..h], words[h..], destination[..h], destination[h..]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<uint>.Shared.Return(rented);
            }
        }
    }

    /// <summary>A uniform value strictly inside (0, 1) for (seed, stream, index, purpose).</summary>
    public static double Uniform(ulong seed, ulong stream, uint index, uint purpose)
    {
        Key(seed, stream, out uint k0, out uint k1, out uint c3);
        var (w, _, _, _) = Philox4x32.Block(0, index, purpose, c3, k0, k1);
        return (w + 0.5) * (1.0 / 4294967296.0);
    }
}
