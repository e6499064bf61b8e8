namespace Asd.Simd.Kernels.Gemm;

/// <summary>
/// A weight matrix W (K x N, used as C = A W) packed for one ISA path: K is cut into blocks of
/// <see cref="Sgemm.KBlock"/> rows and N into panels of <see cref="PanelWidth"/> columns; block by block, each panel
/// stores its rows contiguously (k-major, zero-padded past N). A GEMM that walks blocks, then panels, so reads the whole
/// matrix as one sequential stream, which is what matters when the weights come from L3 or DRAM (small batches).
/// The elements are float32, or IEEE float16 (half the bytes to stream), which the microkernels widen to float32 in
/// registers, exactly: a half-weight GEMM gives the bits of the float GEMM on the widened weights. On the paths whose
/// panels are two vectors wide (AVX-512, AVX2; see <see cref="HalfPairs"/>) a float16 k-step interleaves them in 32-bit
/// pairs: column j in the low 16 bits of lane j, column j + half the panel in its high 16 bits.
/// Immutable once built; share it across threads.
/// </summary>
public sealed class PackedMatrix
{
    private readonly float[] _data;
    private readonly ushort[] _half;

    /// <summary>Columns per vector where float16 k-steps are stored in pairs (<see cref="HalfPairs"/>); 0 otherwise.</summary>
    private readonly int _pairHalf;

    private PackedMatrix(int k, int n, IsaPath path, float[] data, ushort[] half)
    {
        K = k;
        N = n;
        Path = path;
        PanelWidth = Sgemm.PanelWidth(path);
        Panels = (n + PanelWidth - 1) / PanelWidth;
        _data = data;
        _half = half;
        _pairHalf = half.Length > 0 && HalfPairs(path) ? PanelWidth / 2 : 0;
        SgemmKernels.CompileAll(path, half.Length > 0);
        if (half.Length > 0)
        {
            // A float16 GEMM with many row tiles runs the float kernels on weights it widens once (Sgemm.WidenOnceTiles).
            SgemmKernels.CompileAll(path, half: false);
        }
    }

    /// <summary>Inner dimension (inputs per row).</summary>
    public int K { get; }

    /// <summary>Output columns.</summary>
    public int N { get; }

    /// <summary>The path the layout was made for.</summary>
    public IsaPath Path { get; }

    /// <summary>Columns per panel.</summary>
    public int PanelWidth { get; }

    /// <summary>Number of panels (the last may be partly padding).</summary>
    public int Panels { get; }

    /// <summary>Offset of (K block starting at <paramref name="k0"/>, panel <paramref name="panel"/>); panels of one block are <c>kc * PanelWidth</c> apart.</summary>
    internal int Offset(int k0, int panel) => (k0 * Panels * PanelWidth) + (panel * Math.Min(Sgemm.KBlock, K - k0) * PanelWidth);

    /// <summary>The float32 elements (empty when <see cref="HalfWeights"/>).</summary>
    internal float[] Data => _data;

    /// <summary>The float16 elements as IEEE half bits (empty unless <see cref="HalfWeights"/>).</summary>
    internal ushort[] HalfData => _half;

    /// <summary>Whether the elements are stored as float16 (widened to float32 inside the kernels).</summary>
    public bool HalfWeights => _half.Length > 0;

    /// <summary>Bytes held.</summary>
    public long Bytes => ((long)_data.Length * sizeof(float)) + ((long)_half.Length * sizeof(ushort));

    /// <summary>
    /// Packs W given as <paramref name="weights"/>. With <paramref name="outputMajor"/> the layout is PyTorch's
    /// nn.Linear weight [N, K] (row n holds output n's inputs); otherwise row-major [K, N].
    /// </summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int k, int n, bool outputMajor, IsaPath? path = null)
    {
        CheckShape(weights.Length, k, n);
        IsaPath p = path ?? Isa.Active;
        var result = new PackedMatrix(k, n, p, new float[Size(k, n, p)], []);
        result.Fill(weights, result._data, outputMajor);
        return result;
    }

    /// <summary>
    /// Packs float16 weights, kept as float16 (IEEE half bit patterns, <paramref name="halfBits"/>; layouts as for
    /// <see cref="Pack(ReadOnlySpan{float}, int, int, bool, IsaPath?)"/>). The kernels widen them exactly, so the GEMM
    /// computes what the float32 GEMM computes on <c>(float)half</c> weights, from half the bytes.
    /// </summary>
    /// <exception cref="ArgumentException">A weight is infinite or NaN (the kernels' widening assumes finite values).</exception>
    public static PackedMatrix PackHalf(ReadOnlySpan<ushort> halfBits, int k, int n, bool outputMajor, IsaPath? path = null)
    {
        CheckShape(halfBits.Length, k, n);
        for (int i = 0; i < halfBits.Length; i++)
        {
            if ((halfBits[i] & 0x7C00) == 0x7C00)
            {
                throw new ArgumentException($"Weight {i} is {(float)BitConverter.UInt16BitsToHalf(halfBits[i])}: float16 weights must be finite.", nameof(halfBits));
            }
        }

        IsaPath p = path ?? Isa.Active;
        var result = new PackedMatrix(k, n, p, [], new ushort[Size(k, n, p)]);
        result.Fill(halfBits, result._half, outputMajor);
        return result;
    }

    /// <summary>
    /// Packs W[r, c] = <paramref name="source"/>[<paramref name="index"/>.Of(r, c)] (elements of a tensor, such as a
    /// convolution's [out, in, taps], or some of them: a transposed convolution's taps of one output parity) straight
    /// into the panels, without a K x N copy of the permuted matrix. The index is a struct, so each layout's loop is
    /// compiled with its arithmetic inlined (the deployment-size U-Net's 62M weights: delegates per element took a
    /// fifth of its opening). The caller has checked the values (float16: finite).
    /// </summary>
    internal static PackedMatrix PackPermuted<T, TIndex>(T[] source, int k, int n, TIndex index, IsaPath path)
        where T : unmanaged
        where TIndex : struct, IElementIndex
    {
        CheckShape((int)Math.Min((long)k * n, int.MaxValue), k, n);
        bool half = typeof(T) == typeof(ushort);
        var result = half ? new PackedMatrix(k, n, path, [], new ushort[Size(k, n, path)]) : new PackedMatrix(k, n, path, new float[Size(k, n, path)], []);
        var store = new Permuted<T, TIndex>(source, half ? (T[])(object)result._half : (T[])(object)result._data, index);
        result.Walk(ref store);
        return result;
    }

    /// <summary>
    /// The same matrix packed for <paramref name="path"/>, read from this one (same precision, same values): a model can
    /// keep one packed copy of its weights and derive another path's from it instead of keeping the tensors too.
    /// </summary>
    public PackedMatrix Repack(IsaPath path)
    {
        if (path == Path)
        {
            return this;
        }

        if (HalfWeights)
        {
            var half = new PackedMatrix(K, N, path, [], new ushort[Size(K, N, path)]);
            var copy = new Permuted<ushort, PackedIndex>(_half, half._half, new PackedIndex(this));
            half.Walk(ref copy);
            return half;
        }

        var full = new PackedMatrix(K, N, path, new float[Size(K, N, path)], []);
        var copyFull = new Permuted<float, PackedIndex>(_data, full._data, new PackedIndex(this));
        full.Walk(ref copyFull);
        return full;
    }

    /// <summary>
    /// Whether float16 weights packed for <paramref name="path"/> store each k-step of a panel as 32-bit pairs of its two
    /// vectors (the kernels then widen both from one load with shifts and a mask, no lane-crossing sign extension;
    /// tools/gen_gemm_kernels.py).
    /// </summary>
    internal static bool HalfPairs(IsaPath path) => SgemmKernels.HalfPairs(path);

    /// <summary>Where column <paramref name="j"/> of a panel sits within one of its k-steps.</summary>
    private int Slot(int j) => _pairHalf == 0 ? j : j < _pairHalf ? 2 * j : (2 * (j - _pairHalf)) + 1;

    /// <summary>Where W[row, col] sits in this matrix's storage.</summary>
    private int IndexOf(int row, int col)
    {
        int k0 = row / Sgemm.KBlock * Sgemm.KBlock;
        return Offset(k0, col / PanelWidth) + ((row - k0) * PanelWidth) + Slot(col % PanelWidth);
    }

    /// <summary>Calls <paramref name="store"/> for every element of W with its storage index here (the padding is left zero).</summary>
    private void Walk<TStore>(ref TStore store)
        where TStore : struct, IElementStore
    {
        int k = K, n = N, nr = PanelWidth, panels = Panels;
        for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
        {
            int kc = Math.Min(Sgemm.KBlock, k - k0);
            for (int panel = 0; panel < panels; panel++)
            {
                int colStart = panel * nr, cols = Math.Min(nr, n - colStart), offset = Offset(k0, panel);
                for (int kk = 0; kk < kc; kk++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        store.Store(k0 + kk, colStart + j, offset + (kk * nr) + Slot(j));
                    }
                }
            }
        }
    }

    /// <summary>One element of a packing walk: W[row, col] goes to storage index <c>at</c>.</summary>
    private interface IElementStore
    {
        void Store(int row, int col, int at);
    }

    private readonly struct Permuted<T, TIndex>(T[] source, T[] destination, TIndex index) : IElementStore
        where TIndex : struct, IElementIndex
    {
        public void Store(int row, int col, int at) => destination[at] = source[index.Of(row, col)];
    }

    /// <summary>Another packed matrix's storage as the source tensor.</summary>
    private readonly struct PackedIndex(PackedMatrix from) : IElementIndex
    {
        public int Of(int row, int col) => from.IndexOf(row, col);
    }

    private static void CheckShape(int length, int k, int n)
    {
        if (k < 1 || n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"Matrix dimensions must be >= 1 (got K={k}, N={n}).");
        }

        if (length != (long)k * n)
        {
            throw new ArgumentException($"Weights hold {length} values; K={k} x N={n} needs {(long)k * n}.", "weights");
        }
    }

    private static long Size(int k, int n, IsaPath path)
    {
        int nr = Sgemm.PanelWidth(path);
        return checked((long)((n + nr - 1) / nr) * k * nr);
    }

    private void Fill<T>(ReadOnlySpan<T> weights, T[] data, bool outputMajor)
    {
        int k = K, n = N, nr = PanelWidth, panels = Panels;
        for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
        {
            int kc = Math.Min(Sgemm.KBlock, k - k0);
            for (int panel = 0; panel < panels; panel++)
            {
                int colStart = panel * nr;
                int cols = Math.Min(nr, n - colStart);
                Span<T> dst = data.AsSpan(Offset(k0, panel), kc * nr);
                for (int kk = 0; kk < kc; kk++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        int col = colStart + j, row = k0 + kk;
                        dst[(kk * nr) + Slot(j)] = outputMajor ? weights[(col * k) + row] : weights[(row * n) + col];
                    }
                }
            }
        }
    }

    /// <summary>W[k, n] (for tests and diagnostics).</summary>
    public float this[int k, int n]
    {
        get
        {
            int i = IndexOf(k, n);
            return HalfWeights ? (float)BitConverter.UInt16BitsToHalf(_half[i]) : _data[i];
        }
    }
}

/// <summary>Where element (row, col) of a K x N weight matrix sits in a tensor (a layer's weight layout; <see cref="PackedMatrix.PackPermuted"/>).</summary>
internal interface IElementIndex
{
    int Of(int row, int col);
}
