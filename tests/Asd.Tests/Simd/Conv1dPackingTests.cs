using Asd.Simd.Kernels.Gemm;

namespace Asd.Tests.Simd;

/// <summary>
/// <see cref="Conv1dPacking.Pack"/> against an im2col matrix built element by element from its definition and packed
/// by <see cref="Sgemm.PackA"/>: the two must be equal float for float (a packing only moves values), for every path's
/// tile layout, one or two channel sources, strides 1 and 2, zero padding at both ends of every sample, whole and
/// partial 16-channel groups, and tile ranges packed separately (as the pool's threads do).
/// </summary>
public sealed class Conv1dPackingTests
{
    /// <summary>Row (s, t), column j * channels + c: input position t * stride + offsets[j] of sample s, or 0 outside.</summary>
    private static float[] Im2col(float[] first, int firstStride, int firstChannels, float[] second, int secondStride, int secondChannels, int samples, int inLength, int outLength, int stride, int[] offsets)
    {
        int channels = firstChannels + secondChannels, k = offsets.Length * channels;
        var a = new float[samples * outLength * k];
        for (int s = 0; s < samples; s++)
        {
            for (int t = 0; t < outLength; t++)
            {
                for (int j = 0; j < offsets.Length; j++)
                {
                    int p = (t * stride) + offsets[j];
                    for (int c = 0; c < channels && p >= 0 && p < inLength; c++)
                    {
                        int row = (s * inLength) + p;
                        a[(((s * outLength) + t) * k) + (j * channels) + c] = c < firstChannels
                            ? first[(row * firstStride) + c]
                            : second[(row * secondStride) + c - firstChannels];
                    }
                }
            }
        }

        return a;
    }

    public static TheoryData<IsaPath> Paths => GemmTests.Paths;

    [Theory]
    [MemberData(nameof(Paths))]
    public void PackEqualsIm2colPackedByRows(IsaPath path)
    {
        var rng = new Random(20261204);
        int[][] offsetSets = [[0], [-1, 0, 1], [-2, -1, 0, 1, 2], [0, 1], [-1, 0]];
        for (int trial = 0; trial < 300; trial++)
        {
            bool whole = trial % 2 == 0;
            int Channels(int most) => whole ? 16 * rng.Next(1, most + 1) : rng.Next(1, (16 * most) + 1);
            int firstChannels = Channels(4), secondChannels = rng.Next(3) == 0 ? 0 : Channels(3);
            int firstStride = firstChannels + (rng.Next(2) * 16), secondStride = secondChannels + (rng.Next(2) * 16);
            int samples = rng.Next(1, 5), stride = rng.Next(1, 3), inLength = rng.Next(1, 20);
            int outLength = stride == 1 ? inLength : Math.Max(1, inLength / 2);
            int[] offsets = offsetSets[rng.Next(offsetSets.Length)];
            float[] first = [.. Enumerable.Range(0, samples * inLength * firstStride).Select(_ => (float)rng.NextDouble() - 0.5f)];
            float[] second = [.. Enumerable.Range(0, samples * inLength * secondStride).Select(_ => (float)rng.NextDouble() - 0.5f)];
            int m = samples * outLength, k = offsets.Length * (firstChannels + secondChannels);

            var expected = new float[Sgemm.PackedSize(m, k)];
            Sgemm.PackA(Im2col(first, firstStride, firstChannels, second, secondStride, secondChannels, samples, inLength, outLength, stride, offsets), m, k, k, path, expected);

            // Stale values in the destination must be overwritten, padding included.
            float[] packed = [.. Enumerable.Repeat(float.NaN, expected.Length)];
            int tiles = Sgemm.TileCount(m, path), cut = rng.Next(tiles + 1);
            Conv1dPacking.Pack(first, firstStride, firstChannels, second, secondStride, secondChannels, samples, inLength, outLength, stride, offsets, path, packed, 0, cut);
            Conv1dPacking.Pack(first, firstStride, firstChannels, second, secondStride, secondChannels, samples, inLength, outLength, stride, offsets, path, packed, cut);

            Assert.True(
                expected.AsSpan().SequenceEqual(packed),
                $"trial {trial}: channels {firstChannels} + {secondChannels}, strides {firstStride}/{secondStride}, {samples} samples, {inLength} -> {outLength}, stride {stride}, offsets [{string.Join(",", offsets)}]");
        }
    }

    [Fact]
    public void ControlAMovedValueIsDetected()
    {
        // The comparison above must see a single moved value: swap two distinct entries of a correct packing.
        float[] first = [.. Enumerable.Range(0, 2 * 4 * 16).Select(i => (float)i)];
        int m = 2 * 4, k = 3 * 16;
        var packed = new float[Sgemm.PackedSize(m, k)];
        Conv1dPacking.Pack(first, 16, 16, [], 0, 0, 2, 4, 4, 1, [-1, 0, 1], IsaPath.Scalar, packed);
        var expected = new float[packed.Length];
        Sgemm.PackA(Im2col(first, 16, 16, [], 0, 0, 2, 4, 4, 1, [-1, 0, 1]), m, k, k, IsaPath.Scalar, expected);
        Assert.True(expected.AsSpan().SequenceEqual(packed));
        int i = Array.FindIndex(packed, v => v != 0f), j = Array.FindLastIndex(packed, v => v != 0f && v != packed[i]);
        (packed[i], packed[j]) = (packed[j], packed[i]);
        Assert.False(expected.AsSpan().SequenceEqual(packed));
    }
}
