using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Asd.Simd.Kernels.Gemm;

/// <summary>
/// A 1-D convolution as a GEMM: packs the im2col matrix of channels-last sequences straight into <see cref="Sgemm"/>'s
/// packed-A layout, so C = A W with W the convolution's weights as a [taps * channels, outputs] matrix, packed once.
/// </summary>
/// <remarks>
/// <para>The input is <c>samples</c> sequences of <c>inLength</c> positions, row-major, one row per position: sample s,
/// position p is row <c>s * inLength + p</c>. Its channels come from one or two sources side by side (two: a channel
/// concatenation, as a U-Net's skip connection, read in place). Output row <c>s * outLength + t</c>, tap j reads input
/// position <c>t * stride + tapOffsets[j]</c> of the same sample, or zeros when that falls outside [0, inLength): the
/// padding never crosses into a neighbouring sample, so a row's values depend on its own sample only.
/// Column k of A is <c>j * channels + c</c> (tap-major), matching weights reordered as
/// <c>W[j * channels + c, o] = weight[o, c, j]</c> (PyTorch's Conv1d layout [out, in, taps]).</para>
/// <para>A plain convolution of odd kernel size q with padding q / 2 has stride 1 and offsets -q/2 .. q/2; a stride-2
/// convolution with padding 1 and 3 taps has stride 2 and offsets -1, 0, 1; a 1x1 convolution has the one offset 0.
/// A stride-2 transposed convolution (4 taps, padding 1) is two such GEMMs, one per output parity (see the U-Net).</para>
/// </remarks>
public static class Conv1dPacking
{
    /// <summary>Rows of the packed A: one per output position.</summary>
    public static int Rows(int samples, int outLength) => checked(samples * outLength);

    /// <summary>Columns (the GEMM's K): taps times input channels.</summary>
    public static int Depth(int taps, int channels) => checked(taps * channels);

    /// <summary>
    /// Packs row tiles [<paramref name="tileStart"/>, <paramref name="tileEnd"/>) of the im2col matrix (all tiles by
    /// default) for <paramref name="path"/> into <paramref name="packed"/> (<see cref="Sgemm.PackedSize"/> of rows x depth).
    /// Tiles are independent, so threads may pack disjoint tile ranges.
    /// </summary>
    /// <param name="first">The first channel block: rows of <paramref name="firstStride"/> floats.</param>
    /// <param name="firstStride">Row stride of <paramref name="first"/>.</param>
    /// <param name="firstChannels">Channels taken from each row of <paramref name="first"/> (its leading ones).</param>
    /// <param name="second">The second channel block (empty when <paramref name="secondChannels"/> is 0).</param>
    /// <param name="secondStride">Row stride of <paramref name="second"/>.</param>
    /// <param name="secondChannels">Channels taken from each row of <paramref name="second"/>, after the first block's.</param>
    /// <param name="samples">Sequences.</param>
    /// <param name="inLength">Positions per input sequence.</param>
    /// <param name="outLength">Positions per output sequence.</param>
    /// <param name="stride">Input positions per output position.</param>
    /// <param name="tapOffsets">The input offset of each tap.</param>
    /// <param name="path">The path whose tile layout to produce (the packed weights' path).</param>
    /// <param name="packed">The destination.</param>
    /// <param name="tileStart">First row tile to pack.</param>
    /// <param name="tileEnd">End of the tile range (clamped to the tile count).</param>
    public static void Pack(
        ReadOnlySpan<float> first, int firstStride, int firstChannels,
        ReadOnlySpan<float> second, int secondStride, int secondChannels,
        int samples, int inLength, int outLength, int stride, ReadOnlySpan<int> tapOffsets,
        IsaPath path, Span<float> packed, int tileStart = 0, int tileEnd = int.MaxValue) =>
        Pack(first, firstStride, firstChannels, second, secondStride, secondChannels, samples, inLength, outLength, stride, tapOffsets, false, path, packed, tileStart, tileEnd);

    /// <summary>
    /// Packs row tiles [<paramref name="tileStart"/>, <paramref name="tileEnd"/>) of <paramref name="rows"/>' im2col
    /// matrix in its order (<see cref="Conv1dRows.ByPosition"/>; <see cref="Conv1dRows.TileCount(IsaPath)"/> tiles) for
    /// <paramref name="path"/>, for <see cref="Sgemm.MultiplyPackedConv"/>. Every tap is written, those on the padding
    /// as zeros, whatever K range the GEMM then reads. The other parameters are as in the sample-order overload.
    /// </summary>
    public static void Pack(
        ReadOnlySpan<float> first, int firstStride, int firstChannels,
        ReadOnlySpan<float> second, int secondStride, int secondChannels,
        in Conv1dRows rows, IsaPath path, Span<float> packed, int tileStart = 0, int tileEnd = int.MaxValue)
    {
        if (rows.Channels != firstChannels + secondChannels)
        {
            throw new ArgumentException($"The rows were described for {rows.Channels} channels; the sources hold {firstChannels} + {secondChannels}.", nameof(rows));
        }

        Pack(first, firstStride, firstChannels, second, secondStride, secondChannels, rows.Samples, rows.InLength, rows.OutLength, rows.Stride, rows.TapOffsets, rows.ByPosition, path, packed, tileStart, tileEnd);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pack(
        ReadOnlySpan<float> first, int firstStride, int firstChannels,
        ReadOnlySpan<float> second, int secondStride, int secondChannels,
        int samples, int inLength, int outLength, int stride, ReadOnlySpan<int> tapOffsets, bool byPosition,
        IsaPath path, Span<float> packed, int tileStart, int tileEnd)
    {
        int channels = firstChannels + secondChannels, taps = tapOffsets.Length;
        Check(first, firstStride, firstChannels, "first", samples, inLength);
        Check(second, secondStride, secondChannels, "second", samples, inLength);
        if (firstChannels < 1 || samples < 0 || outLength < 1 || stride < 1 || taps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), $"Invalid convolution: {firstChannels} + {secondChannels} channels, {samples} samples, lengths {inLength} -> {outLength}, stride {stride}, {taps} taps.");
        }

        int m = Rows(samples, outLength), k = Depth(taps, channels), k16 = Sgemm.RoundK(k);
        if (packed.Length < Sgemm.PackedSize(m, k))
        {
            throw new ArgumentException($"Packed buffer holds {packed.Length} floats; {m} x {k} needs {Sgemm.PackedSize(m, k)}.", nameof(packed));
        }

        int maxRows = Sgemm.MaxRows(path), tiles = Conv1dRows.TileCount(samples, outLength, byPosition, maxRows);
        tileEnd = Math.Min(tileEnd, tiles);
        bool whole16 = firstChannels % 16 == 0 && secondChannels % 16 == 0;
        ref float f = ref MemoryMarshal.GetReference(first);
        ref float s2 = ref MemoryMarshal.GetReference(second);
        for (int t = tileStart; t < tileEnd; t++)
        {
            (int row0, int r, int cRow0, int rowStep) = Conv1dRows.Place(samples, outLength, byPosition, t, maxRows);
            Span<float> tile = packed.Slice(row0 * k16, r * k16);
            for (int i = 0; i < r; i++)
            {
                int row = cRow0 + (i * rowStep), sample = row / outLength, pos = row - (sample * outLength);
                if (whole16)
                {
                    // Tap by tap, 16 columns at a time: each group lies in one tap and one source, so it is one vector
                    // copy or a zero fill, with no division per group (this loop ran at a few GB/s with one).
                    ref float dst = ref tile[16 * i];
                    int step = 16 * r;
                    for (int j = 0; j < taps; j++)
                    {
                        int p = (pos * stride) + tapOffsets[j];
                        if ((uint)p >= (uint)inLength)
                        {
                            for (int c = 0; c < channels; c += 16)
                            {
                                Vector512<float>.Zero.StoreUnsafe(ref dst);
                                dst = ref Unsafe.Add(ref dst, step);
                            }

                            continue;
                        }

                        int src = (sample * inLength) + p;
                        ref float from = ref Unsafe.Add(ref f, src * firstStride);
                        for (int c = 0; c < firstChannels; c += 16)
                        {
                            Vector512.LoadUnsafe(ref from, (nuint)c).StoreUnsafe(ref dst);
                            dst = ref Unsafe.Add(ref dst, step);
                        }

                        if (secondChannels > 0)
                        {
                            from = ref Unsafe.Add(ref s2, src * secondStride);
                            for (int c = 0; c < secondChannels; c += 16)
                            {
                                Vector512.LoadUnsafe(ref from, (nuint)c).StoreUnsafe(ref dst);
                                dst = ref Unsafe.Add(ref dst, step);
                            }
                        }
                    }

                    continue;
                }

                // Any channel counts: element by element (small inputs, such as a policy's action dimension).
                for (int g = 0; g < k16; g += 16)
                {
                    Span<float> chunk = tile.Slice((g * r) + (16 * i), 16);
                    for (int j = 0; j < 16; j++)
                    {
                        int col = g + j;
                        float v = 0f;
                        if (col < k)
                        {
                            int tap = col / channels, c = col - (tap * channels), p = (pos * stride) + tapOffsets[tap];
                            if ((uint)p < (uint)inLength)
                            {
                                int src = (sample * inLength) + p;
                                v = c < firstChannels ? first[(src * firstStride) + c] : second[(src * secondStride) + c - firstChannels];
                            }
                        }

                        chunk[j] = v;
                    }
                }
            }
        }
    }

    private static void Check(ReadOnlySpan<float> x, int stride, int channels, string name, int samples, int inLength)
    {
        if (channels == 0)
        {
            return;
        }

        long rows = (long)samples * inLength;
        if (channels < 0 || stride < channels || inLength < 1 || (rows > 0 && x.Length < ((rows - 1) * stride) + channels))
        {
            throw new ArgumentException($"The {name} input holds {x.Length} floats; {rows} rows of stride {stride} with {channels} channels need {Math.Max(0, ((rows - 1) * stride) + channels)}.", name);
        }
    }
}
