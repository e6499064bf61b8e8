using Asd.Simd.Kernels.Gemm;

namespace Asd.Tests.Simd;

/// <summary>
/// <see cref="Conv1dRows"/>' position order: its tiles cover every output row once, each tile holds one position and
/// its K range holds exactly that position's taps inside the sequence; and a convolution computed in position order,
/// skipping the taps on the padding, has the sample order's bits on every path, with float32 and float16 weights,
/// across K blocks, and split by tiles and panels as the pool's threads split it.
/// </summary>
public sealed class Conv1dRowsTests
{
    public static TheoryData<IsaPath> Paths => GemmTests.Paths;

    private static readonly int[][] OffsetSets = [[0], [-1, 0, 1], [-2, -1, 0, 1, 2], [0, 1], [-1, 0], [-3, -2, -1, 0, 1, 2, 3]];

    [Theory]
    [MemberData(nameof(Paths))]
    public void PositionTilesCoverEveryRowOnceWithTheirOwnTaps(IsaPath path)
    {
        var rng = new Random(20261207);
        int maxRows = Sgemm.MaxRows(path);
        for (int trial = 0; trial < 400; trial++)
        {
            int samples = rng.Next(0, 30), stride = rng.Next(1, 3), inLength = rng.Next(1, 20), channels = 16 * rng.Next(1, 4);
            int outLength = stride == 1 ? inLength : Math.Max(1, inLength / 2);
            int[] offsets = OffsetSets[rng.Next(OffsetSets.Length)];
            var rows = new Conv1dRows(samples, inLength, outLength, stride, offsets, channels, byPosition: true);
            Assert.True(rows.Trims);
            var seen = new int[rows.Rows];
            int nextPacked = 0;
            for (int t = 0; t < rows.TileCount(path); t++)
            {
                RowTile tile = rows.Tile(t, maxRows);
                string where = $"trial {trial}, tile {t}: {samples} samples, {inLength} -> {outLength}, stride {stride}, offsets [{string.Join(",", offsets)}]";
                Assert.True(tile.PackedRow0 == nextPacked && tile.Rows >= 1 && tile.Rows <= maxRows && tile.RowStep == outLength, where);
                nextPacked += tile.Rows;
                int position = tile.CRow0 % outLength;
                for (int i = 0; i < tile.Rows; i++)
                {
                    int row = tile.CRow0 + (i * tile.RowStep);
                    Assert.True(row % outLength == position, where);
                    seen[row]++;
                }

                // The range holds exactly the taps inside the sequence, or all of K when none is.
                bool any = offsets.Any(o => (uint)((position * stride) + o) < (uint)inLength);
                Assert.True(any || (tile.KLo == 0 && tile.KHi == rows.Depth), where);
                for (int j = 0; j < offsets.Length && any; j++)
                {
                    bool inside = (uint)((position * stride) + offsets[j]) < (uint)inLength;
                    bool inRange = j * channels >= tile.KLo && (j + 1) * channels <= tile.KHi;
                    Assert.True(inside == inRange, $"{where}: tap {j} (inside the sequence: {inside}) against [{tile.KLo}, {tile.KHi})");
                }
            }

            Assert.Equal(rows.Rows, nextPacked);
            Assert.All(seen, count => Assert.Equal(1, count));
        }
    }

    [Fact]
    public void PositionOrderSkipsTheTapsOnThePadding()
    {
        // The bit-equality test below cannot see trimming switched off; this does. Kernel 5 at 4 positions: 14 of 20
        // taps lie inside the sequence (3, 4, 4, 3), and the sample order, or channels off the 16 grid, reads all 20.
        int[] taps = [-2, -1, 0, 1, 2];
        static long Read(Conv1dRows rows)
        {
            long total = 0;
            for (int t = 0; t < rows.TileCount(IsaPath.Avx512); t++)
            {
                RowTile tile = rows.Tile(t, Sgemm.MaxRows(IsaPath.Avx512));
                total += (long)tile.Rows * (tile.KHi - tile.KLo);
            }

            return total;
        }

        long full = 8L * 4 * 5 * 64;
        Assert.Equal(full * 14 / 20, Read(new Conv1dRows(8, 4, 4, 1, taps, 64, byPosition: true)));
        Assert.Equal(full, Read(new Conv1dRows(8, 4, 4, 1, taps, 64, byPosition: false)));
        Assert.False(new Conv1dRows(8, 4, 4, 1, taps, 40, byPosition: true).Trims);
        Assert.False(new Conv1dRows(8, 4, 4, 1, [1, 0], 64, byPosition: true).Trims);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PositionOrderGivesTheSampleOrdersBits(IsaPath path)
    {
        var rng = new Random(7122026 + (int)path);
        for (int trial = 0; trial < 60; trial++)
        {
            bool half = trial % 2 == 1, whole = trial % 5 != 4;
            int firstChannels = whole ? 16 * rng.Next(1, 5) : rng.Next(1, 40), secondChannels = rng.Next(2) == 0 ? 0 : whole ? 16 * rng.Next(1, 3) : rng.Next(1, 20);
            if (trial % 10 == 0)
            {
                // K = 5 taps x 256 channels = 1280 crosses a K block: some tiles' taps start or end inside one.
                (firstChannels, secondChannels) = (192, 64);
            }

            int channels = firstChannels + secondChannels;
            int samples = rng.Next(1, 15), stride = rng.Next(1, 3), inLength = rng.Next(1, 18), n = rng.Next(1, 80);
            int outLength = stride == 1 ? inLength : Math.Max(1, inLength / 2);
            int[] offsets = trial % 10 == 0 ? [-2, -1, 0, 1, 2] : OffsetSets[rng.Next(OffsetSets.Length)];
            int k = offsets.Length * channels;
            float[] first = Values(rng, samples * inLength * firstChannels), second = Values(rng, samples * inLength * Math.Max(secondChannels, 1));
            float[] bias = Values(rng, n);
            PackedMatrix w = half
                ? PackedMatrix.PackHalf([.. Values(rng, k * n).Select(v => BitConverter.HalfToUInt16Bits((Half)v))], k, n, outputMajor: false, path)
                : PackedMatrix.Pack(Values(rng, k * n), k, n, outputMajor: false, path);

            float[] Run(bool byPosition, bool split)
            {
                var rows = new Conv1dRows(samples, inLength, outLength, stride, offsets, channels, byPosition);
                var packed = new float[Sgemm.PackedSize(rows.Rows, k)];
                int tiles = rows.TileCount(path), cut = split ? tiles / 2 : tiles;
                Conv1dPacking.Pack(first, firstChannels, firstChannels, second, Math.Max(secondChannels, 1), secondChannels, rows, path, packed, 0, cut);
                Conv1dPacking.Pack(first, firstChannels, firstChannels, second, Math.Max(secondChannels, 1), secondChannels, rows, path, packed, cut);
                float[] c = [.. Enumerable.Repeat(float.NaN, rows.Rows * (n + 3))];
                if (split)
                {
                    // As the pool splits a GEMM: by row tiles, then (on the same output) by panels.
                    Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels, bias, Activation.Silu, c, n + 3, 0, cut);
                    Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels / 2, bias, Activation.Silu, c, n + 3, cut);
                    Sgemm.MultiplyPackedConv(packed, rows, w, w.Panels / 2, w.Panels, bias, Activation.Silu, c, n + 3, cut);
                }
                else
                {
                    Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels, bias, Activation.Silu, c, n + 3);
                }

                return c;
            }

            float[] expected = Run(byPosition: false, split: false);
            string where = $"trial {trial} ({(half ? "float16" : "float32")}): channels {firstChannels}+{secondChannels} -> {n}, {samples} samples, {inLength} -> {outLength}, stride {stride}, offsets [{string.Join(",", offsets)}]";
            for (int row = 0; row < samples * outLength; row++)
            {
                Assert.True(expected.AsSpan(row * (n + 3), n).ToArray().All(float.IsFinite), where);
            }

            foreach (bool split in new[] { false, true })
            {
                float[] got = Run(byPosition: true, split);
                for (int i = 0; i < got.Length; i++)
                {
                    Assert.True(
                        BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(got[i]),
                        $"{where}, split {split}: element {i} (row {i / (n + 3)}) {got[i]:R} against {expected[i]:R}");
                }
            }
        }
    }

    [Fact]
    public void MismatchedDescriptionsAreRefusedByName()
    {
        var rows = new Conv1dRows(2, 4, 4, 1, [-1, 0, 1], 16, byPosition: true);
        PackedMatrix w = PackedMatrix.Pack(new float[48 * 8], 48, 8, outputMajor: false);
        var packed = new float[Sgemm.PackedSize(rows.Rows, 48)];
        var c = new float[rows.Rows * 8];

        // Sources holding other channels than the rows were described with, and weights of another depth.
        Assert.Equal("rows", Assert.Throws<ArgumentException>(() => Conv1dPacking.Pack(new float[128], 16, 16, new float[128], 16, 16, rows, w.Path, packed)).ParamName);
        PackedMatrix deeper = PackedMatrix.Pack(new float[64 * 8], 64, 8, outputMajor: false);
        Assert.Equal("rows", Assert.Throws<ArgumentException>(() => Sgemm.MultiplyPackedConv(packed, rows, deeper, 0, deeper.Panels, default, Activation.Identity, c, 8)).ParamName);
        Assert.Equal("c", Assert.Throws<ArgumentException>(() => Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels, default, Activation.Identity, c.AsSpan(1), 8)).ParamName);
        Assert.Throws<ArgumentNullException>(() => new Conv1dRows(2, 4, 4, 1, null!, 16, byPosition: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1dRows(-1, 4, 4, 1, [0], 16, byPosition: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1dRows(2, 4, 4, 0, [0], 16, byPosition: true));
        Assert.Equal("samples", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1dRows(1 << 20, 4096, 4096, 1, [0], 16, byPosition: true)).ParamName);
        Assert.Equal("samples", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1dRows(2, 4, 4, 1, [-1, 0, 1], int.MaxValue / 2, byPosition: true)).ParamName);

        // Control: the same calls with matching shapes run.
        Conv1dPacking.Pack(new float[128], 16, 16, default, 0, 0, rows, w.Path, packed);
        Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels, default, Activation.Identity, c, 8);
    }

    private static float[] Values(Random rng, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() - 0.5))];
}
