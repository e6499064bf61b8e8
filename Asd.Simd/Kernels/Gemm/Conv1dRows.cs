namespace Asd.Simd.Kernels.Gemm;

/// <summary>
/// The rows of a 1-D convolution's im2col GEMM (<see cref="Conv1dPacking"/>): their order in the packed A, how they
/// form row tiles, and which taps each tile needs.
/// </summary>
/// <remarks>
/// <para>Output row (sample s, position t) is row <c>s * OutLength + t</c> of C in either order. In sample order the
/// packed A holds the rows the same way and the tiles are <see cref="Sgemm"/>'s balanced tiles of all of them. In
/// position order (<see cref="ByPosition"/>) the packed A holds them position by position (row
/// <c>t * Samples + s</c>), each position's samples in balanced tiles of their own; a tile then writes C rows
/// <c>OutLength</c> apart.</para>
/// <para>Why: the taps that fall on the zero padding at a sequence's ends are multiplications by zero, a quarter of a
/// ConditionalUnet1D's arithmetic (kernel 5 over horizons of 16, 8 and 4: at 4 positions 6 of 20 taps are padding). All
/// rows of a position-order tile share one position, so one K range (the taps inside the sequence) serves all of them
/// and the GEMM skips the rest. The skipped products are exactly zero and the accumulators start at +0 and never
/// become -0, so every output has the same bits in either order (with finite weights, as models are validated).
/// Position order costs smaller tiles when there are few samples, so callers take it from a few samples up.</para>
/// </remarks>
public readonly struct Conv1dRows
{
    private readonly int[] _tapOffsets;

    /// <summary>The rows of a convolution of <paramref name="samples"/> sequences (see <see cref="Conv1dPacking.Pack(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, in Conv1dRows, IsaPath, Span{float}, int, int)"/>).</summary>
    /// <param name="samples">Sequences.</param>
    /// <param name="inLength">Positions per input sequence.</param>
    /// <param name="outLength">Positions per output sequence.</param>
    /// <param name="stride">Input positions per output position.</param>
    /// <param name="tapOffsets">The input offset of each tap (kept, not copied).</param>
    /// <param name="channels">Input channels (both sources together).</param>
    /// <param name="byPosition">Position order, with each tile's K trimmed to its taps inside the sequence.</param>
    public Conv1dRows(int samples, int inLength, int outLength, int stride, int[] tapOffsets, int channels, bool byPosition)
    {
        ArgumentNullException.ThrowIfNull(tapOffsets);
        if (samples < 0 || inLength < 1 || outLength < 1 || stride < 1 || tapOffsets.Length < 1 || channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), $"Invalid convolution: {channels} channels, {samples} samples, lengths {inLength} -> {outLength}, stride {stride}, {tapOffsets.Length} taps.");
        }

        if ((long)samples * outLength > int.MaxValue || (long)tapOffsets.Length * channels > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(samples), $"A convolution of {samples} samples x {outLength} positions over {tapOffsets.Length} taps x {channels} channels does not fit a GEMM's int dimensions.");
        }

        (Samples, InLength, OutLength, Stride, Channels, _tapOffsets, ByPosition) = (samples, inLength, outLength, stride, channels, tapOffsets, byPosition);
        Rows = Conv1dPacking.Rows(samples, outLength);
        Depth = Conv1dPacking.Depth(tapOffsets.Length, channels);

        // A tap window is a K range only when each tap's columns are whole groups of 16 (the packed A's unit) and the
        // taps run in input order, so the taps inside the sequence are consecutive.
        bool ascending = true;
        for (int j = 1; j < tapOffsets.Length; j++)
        {
            ascending &= tapOffsets[j] > tapOffsets[j - 1];
        }

        Trims = byPosition && channels % 16 == 0 && ascending;
    }

    /// <summary>Sequences.</summary>
    public int Samples { get; }

    /// <summary>Positions per input sequence.</summary>
    public int InLength { get; }

    /// <summary>Positions per output sequence.</summary>
    public int OutLength { get; }

    /// <summary>Input positions per output position.</summary>
    public int Stride { get; }

    /// <summary>Input channels.</summary>
    public int Channels { get; }

    /// <summary>Whether the packed A holds the rows position by position.</summary>
    public bool ByPosition { get; }

    /// <summary>Whether position-order tiles skip the taps on the padding (channels in groups of 16, taps ascending).</summary>
    public bool Trims { get; }

    /// <summary>Rows of the GEMM: samples x output positions.</summary>
    public int Rows { get; }

    /// <summary>The GEMM's K: taps x channels.</summary>
    public int Depth { get; }

    /// <summary>The input offsets of the taps.</summary>
    public ReadOnlySpan<int> TapOffsets => _tapOffsets;

    /// <summary>Row tiles on <paramref name="path"/> (the unit threads split packing and row-split GEMMs by).</summary>
    public int TileCount(IsaPath path) => TileCount(Sgemm.MaxRows(path));

    internal int TileCount(int maxRows) => TileCount(Samples, OutLength, ByPosition, maxRows);

    /// <summary>Tile <paramref name="t"/> for tiles of at most <paramref name="maxRows"/> rows.</summary>
    internal RowTile Tile(int t, int maxRows)
    {
        (int packedRow0, int rows, int cRow0, int rowStep) = Place(Samples, OutLength, ByPosition, t, maxRows);
        (int kLo, int kHi) = Trims ? Window(cRow0 % OutLength) : (0, Depth);
        return new RowTile(packedRow0, rows, cRow0, rowStep, kLo, kHi);
    }

    /// <summary>Row tiles of <paramref name="samples"/> x <paramref name="outLength"/> rows in either order.</summary>
    internal static int TileCount(int samples, int outLength, bool byPosition, int maxRows) =>
        samples == 0 ? 0
        : byPosition ? checked(outLength * PerPosition(samples, maxRows))
        : (Conv1dPacking.Rows(samples, outLength) + maxRows - 1) / maxRows;

    /// <summary>Where tile <paramref name="t"/>'s rows sit in the packed A and in C (see <see cref="RowTile"/>).</summary>
    internal static (int PackedRow0, int Rows, int CRow0, int RowStep) Place(int samples, int outLength, bool byPosition, int t, int maxRows)
    {
        if (!byPosition)
        {
            int m = Conv1dPacking.Rows(samples, outLength);
            (int row0, int rows) = Sgemm.Tile(m, (m + maxRows - 1) / maxRows, t);
            return (row0, rows, row0, 1);
        }

        int per = PerPosition(samples, maxRows), position = t / per;
        (int s0, int r) = Sgemm.Tile(samples, per, t - (position * per));
        return ((position * samples) + s0, r, (s0 * outLength) + position, outLength);
    }

    /// <summary>
    /// The K range of output position <paramref name="position"/>'s taps inside the sequence; all of K when none is (the
    /// row is then all zeros, and its full chain gives the bias, as the sample order does).
    /// </summary>
    internal (int KLo, int KHi) Window(int position)
    {
        int first = -1, end = 0;
        for (int j = 0; j < _tapOffsets.Length; j++)
        {
            if ((uint)((position * Stride) + _tapOffsets[j]) < (uint)InLength)
            {
                first = first < 0 ? j : first;
                end = j + 1;
            }
        }

        return first < 0 ? (0, Depth) : (first * Channels, end * Channels);
    }

    private static int PerPosition(int samples, int maxRows) => (samples + maxRows - 1) / maxRows;
}

/// <summary>
/// One row tile of a GEMM: <paramref name="Rows"/> rows packed from A row <paramref name="PackedRow0"/>, written to C rows
/// <paramref name="CRow0"/> + i <paramref name="RowStep"/>, over K range [<paramref name="KLo"/>, <paramref name="KHi"/>)
/// (multiples of 16; the rest of the tile's A is zero).
/// </summary>
internal readonly record struct RowTile(int PackedRow0, int Rows, int CRow0, int RowStep, int KLo, int KHi);
