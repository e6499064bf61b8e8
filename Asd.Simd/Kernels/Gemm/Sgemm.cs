using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Asd.Simd.Vectors;

namespace Asd.Simd.Kernels.Gemm;

/// <summary>
/// Single-precision GEMM for row-major activations times packed weights, with a fused epilogue:
/// C[M x N] = act(A[M x K] W[K x N] + bias) + residual.
/// </summary>
/// <remarks>
/// <para>Every output element is one fused-multiply-add chain over k in ascending order, started from 0, whatever the
/// path, the tile or the row's position; the bias, activation and residual follow in that order, applied to each tile
/// right after its last K block while it is in L1 (<see cref="ActivationMath.ApplyRow"/>: the same bits on every width). So each element has
/// one bit pattern for any batch size, row position, thread split (threads split panels, never K) and vector width:
/// the AVX-512, AVX2, NEON and Vector128 kernels all agree with the scalar reference bit for bit.</para>
/// <para>Blocking: A is packed into tiles of up to <see cref="MaxRows"/> rows, interleaved by k, so a microkernel reads
/// one stream of broadcasts; K is cut into blocks of <see cref="KBlock"/> (the partial sums wait in C between blocks,
/// which continues the same chain); each block of a W panel is read once and reused from L2 by every row tile, so
/// the weights stream from memory once per call whatever the batch. Tiles of at most a few rows walk several panels
/// at once, so even one row keeps enough independent accumulators in flight.</para>
/// </remarks>
public static class Sgemm
{
    /// <summary>
    /// Inner-dimension block. A 16-column panel block of 1024 rows is 64 KB (the 4-panel span of the few-row kernels,
    /// 256 KB), so the later row tiles reuse it from L2, whose bandwidth the one-panel kernels' 64 bytes per 11-12 FMAs
    /// do not strain, while every block ends a C round trip and a kernel call. Measured against 256 rows (a 16 KB panel
    /// block, L1-sized) on the 2-vCPU Zen 5 VM, 2 threads, alternated runs of `Asd.Bench quick-unet`: the
    /// deployment-size ConditionalUnet1D (K up to 5120; five pairs) took a median 14% less at one row and 12% less at
    /// six (README, "Bringing your diffusion policy"), the trained one 6-16% less at 1-8 rows (two pairs),
    /// builtin:policy (K = 768, `loop-policy`, three pairs) 5-8% at 1 and 8 rows and 12-15% at 4, and the pinned MLP
    /// (`quick-mlp`, K at most 512) did not change. Blocking changes no bits: each output element's chain over k runs
    /// in the same order.
    /// </summary>
    public const int KBlock = 1024;

    /// <summary>
    /// With weights that stream from memory, up to this many row tiles per thread walk one panel at a time and
    /// prefetch the next panel while they reuse the current one (see <see cref="MultiplyPacked"/>): the few-sample
    /// calls. More tiles keep the multi-panel span, over which each tile of A is re-read from cache fewer times; and
    /// weights that a last-level cache holds gain nothing (the trained 4.1M-parameter ConditionalUnet1D, 16 MB, ran
    /// 4 and 8 samples 3-10% slower with it in four alternated `quick-unet` pairs).
    /// </summary>
    private const int PrefetchNextMaxTiles = 8;

    [ThreadStatic]
    private static float[]? t_packedA;

    /// <summary>A thread's packed A times 2^112, for the float16 kernels that widen without the multiply (see <see cref="ScaleForHalf"/>).</summary>
    [ThreadStatic]
    private static float[]? t_scaledA;

    /// <summary>A thread's block of float16 weights widened once for all its row tiles (see <see cref="WidenOnceTiles"/>).</summary>
    [ThreadStatic]
    private static float[]? t_widened;

    /// <summary>
    /// A thread with float16 weights and at least this many row tiles widens each block of panels once into a float
    /// buffer and runs the float kernels on it for every tile, instead of widening the same weights in every tile's
    /// kernel (the same values, so the same bits). Not with the prefetch of the next panel (weights that stream from
    /// memory, few tiles), whose tiles read the halves while memory brings the next ones. The widening pass does not
    /// overlap the arithmetic as the kernels' widening does, so it pays from about 5 tiles: AVX2 on a Zen 3
    /// (<c>Asd.Bench quick-gemm</c>, 256 and 768 square, % of the FMA peak, in the kernels / widened once): 3 tiles
    /// 73-76 / 67-74, 4 tiles 76-80 / 76-79, 6 tiles 73-77 / 78-83, 8 tiles 76-80 / 83-86, 22 tiles 74-80 / 88-91
    /// (float32 weights 85-95). After the kernels' widening became cheaper (pairs, 9d80ba5) the threshold was timed again
    /// on a Zen 4 (AVX-512): 8 or 12 tiles read 0.98-1.02 of 5's time on the trained ConditionalUnet1D at 2-16 samples
    /// (<c>ASD_AB_PACK</c> of <c>quick-unet</c>, one run), so it stays. Settable for that probe's side-by-side timing.
    /// </summary>
    internal static int WidenOnceTiles { get; set; } = 5;

    /// <summary>
    /// The largest |x| the float16 kernels take scaled: x 2^112 is finite (and exact) below 2^16. A GEMM whose A holds
    /// a larger value (or a NaN) runs the kernels that multiply each widened weight instead, with the same bits.
    /// </summary>
    internal const float ScaledHalfLimit = 65536f;

    /// <summary>
    /// A GEMM with float16 weights scales A when panels x row tiles reach rows / this (about a quarter of the multiplies
    /// it saves pay for the scaling's vector operations; see MultiplyPacked).
    /// </summary>
    private const int ScaledHalfPanelsPerRow = 2;

    /// <summary>Columns per packed panel on <paramref name="path"/>.</summary>
    public static int PanelWidth(IsaPath path) => SgemmKernels.PanelWidth(path);

    /// <summary>Rows per A tile on <paramref name="path"/>.</summary>
    public static int MaxRows(IsaPath path) => SgemmKernels.MaxRows(path);

    private static ReadOnlySpan<(int Panels, int Rows)> Multi(IsaPath path, bool half) => SgemmKernels.Multi(path, half);

    /// <summary>Panels a tile of <paramref name="rows"/> rows takes at once: the widest multi-panel kernel that fits.</summary>
    private static int PanelsFor(ReadOnlySpan<(int Panels, int Rows)> multi, int rows, int available)
    {
        foreach ((int panels, int maxRows) in multi)
        {
            if (rows <= maxRows && panels <= available)
            {
                return panels;
            }
        }

        return 1;
    }

    /// <summary>Row tiles for M rows with at most <paramref name="maxRows"/> each.</summary>
    private static int TileCount(int m, int maxRows) => (m + maxRows - 1) / maxRows;

    /// <summary>Row tiles of an M-row GEMM on <paramref name="path"/> (the unit of a row split across threads).</summary>
    public static int TileCount(int m, IsaPath path) => TileCount(m, MaxRows(path));

    /// <summary>
    /// Tile <paramref name="t"/> of <paramref name="tiles"/> balanced tiles (heights differ by at most one, so 16 rows are
    /// 8 + 8 rather than 12 + 4 and every tile keeps many accumulators). A tile's rows are packed at row0 * K.
    /// </summary>
    internal static (int Row0, int Rows) Tile(int m, int tiles, int t)
    {
        int baseRows = m / tiles, extra = m % tiles;
        return ((t * baseRows) + Math.Min(t, extra), baseRows + (t < extra ? 1 : 0));
    }

    /// <summary>K rounded up to whole groups of 16 (the packed A layout).</summary>
    internal static int RoundK(int k) => (k + 15) & ~15;

    /// <summary>Floats needed to pack an M x K activation block.</summary>
    public static int PackedSize(int m, int k) => checked(m * RoundK(k));

    /// <summary>
    /// Packs rows of A (row stride <paramref name="lda"/>) into balanced tiles of at most <see cref="MaxRows"/> rows for
    /// <paramref name="path"/>. A tile starting at row0 with r rows holds groups of 16 k: A[row0 + i, 16 g + j] sits at
    /// row0 * K16 + g * 16 r + 16 i + j (K16 = K rounded up to 16, the padding zero). Packing is a row copy of 16-float
    /// chunks, and a microkernel finds every broadcast of a group at a constant offset.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(ReadOnlySpan<float> a, int m, int k, int lda, IsaPath path, Span<float> packed)
    {
        CheckA(a, m, k, lda);
        int k16 = RoundK(k);
        if (packed.Length < (long)m * k16)
        {
            throw new ArgumentException($"Packed buffer holds {packed.Length} floats; {m} x {k} needs {(long)m * k16}.", nameof(packed));
        }

        int tiles = TileCount(m, MaxRows(path));
        for (int t = 0; t < tiles; t++)
        {
            (int row0, int r) = Tile(m, tiles, t);
            Span<float> tile = packed.Slice(row0 * k16, r * k16);
            for (int g = 0; g < k16; g += 16)
            {
                int width = Math.Min(16, k - g);
                for (int i = 0; i < r; i++)
                {
                    Span<float> chunk = tile.Slice((g * r) + (16 * i), 16);
                    ReadOnlySpan<float> src = a.Slice(((row0 + i) * lda) + g, width);
                    if (width == 16)
                    {
                        // One vector move: a Span copy per 16 floats costs a call.
                        Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(src)).StoreUnsafe(ref MemoryMarshal.GetReference(chunk));
                    }
                    else
                    {
                        src.CopyTo(chunk);
                        chunk[width..].Clear();
                    }
                }
            }
        }
    }

    /// <summary>
    /// C = act(A W + bias) + residual on the calling thread. <paramref name="bias"/> (N values) and
    /// <paramref name="residual"/> (M x N, row stride <paramref name="residualStride"/>) may be empty; the residual must
    /// not overlap C.
    /// </summary>
    public static void Multiply(
        ReadOnlySpan<float> a, int m, int lda, PackedMatrix w,
        ReadOnlySpan<float> bias, Activation activation, ReadOnlySpan<float> residual, int residualStride,
        Span<float> c, int ldc)
    {
        ArgumentNullException.ThrowIfNull(w);
        int need = PackedSize(m, w.K);
        float[] scratch = t_packedA is { } s && s.Length >= need ? s : (t_packedA = new float[Math.Max(need, 1024)]);
        PackA(a, m, w.K, lda, w.Path, scratch);
        MultiplyPacked(scratch.AsSpan(0, need), m, w, 0, w.Panels, bias, activation, residual, residualStride, c, ldc);
    }

    /// <summary>
    /// Computes the columns of panels [<paramref name="panelStart"/>, <paramref name="panelEnd"/>) of C from A packed by
    /// <see cref="PackA"/> for <c>w.Path</c>. Threads share a GEMM by taking disjoint panel ranges (or row-tile ranges).
    /// </summary>
    /// <param name="packedA">A, packed by <see cref="PackA"/> for <c>w.Path</c>.</param>
    /// <param name="m">Rows of A.</param>
    /// <param name="w">The packed weights.</param>
    /// <param name="panelStart">First panel to compute.</param>
    /// <param name="panelEnd">End of the panel range.</param>
    /// <param name="bias">N values, or empty.</param>
    /// <param name="activation">The activation.</param>
    /// <param name="residual">M x N values added after the activation, or empty.</param>
    /// <param name="residualStride">Row stride of the residual.</param>
    /// <param name="c">The output.</param>
    /// <param name="ldc">Row stride of the output.</param>
    /// <param name="packedNext">
    /// When not empty, the finished output is also written here packed as the A of a next GEMM with K = N (same M and
    /// path), so a chain of layers packs its activations once, in parallel, inside the epilogue.
    /// </param>
    /// <param name="tileStart">First row tile to compute (threads may split rows instead of panels).</param>
    /// <param name="tileEnd">End of the row-tile range (clamped to the tile count).</param>
    /// <param name="weightsFromMemory">
    /// The caller's hint that these weights stream from memory (a model larger than the last-level cache): a thread with
    /// 2 to <see cref="PrefetchNextMaxTiles"/> row tiles then prefetches the next panel while its tiles reuse the
    /// current one. Changes no result.
    /// </param>
    public static void MultiplyPacked(
        ReadOnlySpan<float> packedA, int m, PackedMatrix w, int panelStart, int panelEnd,
        ReadOnlySpan<float> bias, Activation activation, ReadOnlySpan<float> residual, int residualStride,
        Span<float> c, int ldc, Span<float> packedNext = default, int tileStart = 0, int tileEnd = int.MaxValue,
        bool weightsFromMemory = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        CheckOutput(packedA, m, w, panelStart, panelEnd, bias, residual, residualStride, c, ldc);
        if (m == 0 || panelStart == panelEnd)
        {
            return;
        }

        var tiles = new PlainTiles(m, MaxRows(w.Path), w.K);
        MultiplyTiles(packedA, m, tiles, w, panelStart, panelEnd, bias, activation, residual, residualStride, c, ldc, packedNext, tileStart, tileEnd, weightsFromMemory);
    }

    /// <summary>
    /// <see cref="MultiplyPacked"/> for a convolution's A packed by <see cref="Conv1dPacking"/> in <paramref name="rows"/>'
    /// order: tile ranges are <see cref="Conv1dRows.TileCount(IsaPath)"/>'s, and a position-order tile computes only its K range
    /// (see <see cref="Conv1dRows"/>). The same bits as the sample order.
    /// </summary>
    /// <param name="packedA">A, packed by <see cref="Conv1dPacking.Pack(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, int, in Conv1dRows, IsaPath, Span{float}, int, int)"/> for <c>w.Path</c>.</param>
    /// <param name="rows">The convolution's rows.</param>
    /// <param name="w">The packed weights (K = <see cref="Conv1dRows.Depth"/>).</param>
    /// <param name="panelStart">First panel to compute.</param>
    /// <param name="panelEnd">End of the panel range.</param>
    /// <param name="bias">N values, or empty.</param>
    /// <param name="activation">The activation.</param>
    /// <param name="c">The output: row sample x OutLength + position.</param>
    /// <param name="ldc">Row stride of the output.</param>
    /// <param name="tileStart">First row tile to compute.</param>
    /// <param name="tileEnd">End of the row-tile range (clamped to the tile count).</param>
    /// <param name="weightsFromMemory">As in <see cref="MultiplyPacked"/>.</param>
    public static void MultiplyPackedConv(
        ReadOnlySpan<float> packedA, in Conv1dRows rows, PackedMatrix w, int panelStart, int panelEnd,
        ReadOnlySpan<float> bias, Activation activation, Span<float> c, int ldc,
        int tileStart = 0, int tileEnd = int.MaxValue, bool weightsFromMemory = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (rows.Depth != w.K)
        {
            throw new ArgumentException($"The convolution's depth {rows.Depth} does not match the packed weights' K = {w.K}.", nameof(rows));
        }

        int m = rows.Rows;
        CheckOutput(packedA, m, w, panelStart, panelEnd, bias, default, 0, c, ldc);
        if (m == 0 || panelStart == panelEnd)
        {
            return;
        }

        var tiles = new ConvTiles(rows, MaxRows(w.Path));
        MultiplyTiles(packedA, m, tiles, w, panelStart, panelEnd, bias, activation, default, 0, c, ldc, default, tileStart, tileEnd, weightsFromMemory);
    }

    /// <summary>The row tiles of a GEMM (a struct per kind, so the JIT specialises the loop for each).</summary>
    private interface IRowTiles
    {
        int Count { get; }

        RowTile Tile(int t);
    }

    /// <summary>Balanced tiles of M rows in order, each over all of K.</summary>
    private readonly struct PlainTiles(int m, int maxRows, int k) : IRowTiles
    {
        public int Count { get; } = TileCount(m, maxRows);

        public RowTile Tile(int t)
        {
            (int row0, int rows) = Sgemm.Tile(m, Count, t);
            return new RowTile(row0, rows, row0, 1, 0, k);
        }
    }

    /// <summary>A convolution's tiles (<see cref="Conv1dRows"/>).</summary>
    private readonly struct ConvTiles(Conv1dRows rows, int maxRows) : IRowTiles
    {
        public int Count { get; } = rows.TileCount(maxRows);

        public RowTile Tile(int t) => rows.Tile(t, maxRows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyTiles<TTiles>(
        ReadOnlySpan<float> packedA, int m, TTiles rowTiles, PackedMatrix w, int panelStart, int panelEnd,
        ReadOnlySpan<float> bias, Activation activation, ReadOnlySpan<float> residual, int residualStride,
        Span<float> c, int ldc, Span<float> packedNext, int tileStart, int tileEnd, bool weightsFromMemory)
        where TTiles : struct, IRowTiles
    {
        int k = w.K, n = w.N;

        IsaPath path = w.Path;
        if (path != IsaPath.Scalar && path != Isa.Active && !Isa.IsSupported(path))
        {
            throw new PlatformNotSupportedException($"The matrix was packed for {Isa.Name(path)}, which this machine cannot run.");
        }

        int mr = MaxRows(path), nr = w.PanelWidth;
        bool needsEpilogue = !bias.IsEmpty || activation != Activation.Identity || !residual.IsEmpty;
        int tiles = rowTiles.Count;
        tileEnd = Math.Min(tileEnd, tiles);
        int rangeTiles = tileEnd - tileStart;
        bool prefetchNext = weightsFromMemory && rangeTiles >= 2 && rangeTiles <= PrefetchNextMaxTiles;
        int k16Next = RoundK(n);
        if (!packedNext.IsEmpty && packedNext.Length < PackedSize(m, n))
        {
            throw new ArgumentException($"packedNext holds {packedNext.Length} floats; {m} x {n} packed needs {PackedSize(m, n)}.", nameof(packedNext));
        }

        ReadOnlySpan<(int Panels, int Rows)> multi = Multi(path, w.HalfWeights);
        int group = 1;
        foreach ((int panels, _) in multi)
        {
            group = Math.Max(group, panels);
        }
        Span<float> edge = stackalloc float[mr * nr];
        ref float aRef = ref MemoryMarshal.GetReference(packedA);

        // Float16 weights: the kernels widen each weight vector with integer operations and a multiply by 2^112, which
        // runs on the FMA pipes (one per 2-8 FMAs at 1-8 rows). Scaling this thread's rows of A by 2^112 once instead
        // lets them skip it (see ScaleForHalf: exact, the same bits). It saves a multiply per weight vector, panel and
        // row tile, and costs about one vector operation per A value: worth it where the thread walks many panels per
        // row (few-row calls of wide layers: the MLPs), not on the convolutions' many rows and narrow layers (the
        // trained ConditionalUnet1D ran 5-15% slower at 2-12 samples with every GEMM scaled, four alternated pairs).
        bool scaledA = false, widenOnce = w.HalfWeights && path != IsaPath.Scalar && !prefetchNext && rangeTiles >= WidenOnceTiles;
        if (tileStart >= tileEnd)
        {
            return;
        }

        // Tiles are consecutive in the packed A whatever their order in C.
        int k16 = RoundK(k);
        int rowFrom = rowTiles.Tile(tileStart).PackedRow0, rowTo = tileEnd < tiles ? rowTiles.Tile(tileEnd).PackedRow0 : m;
        if (w.HalfWeights && !widenOnce && path != IsaPath.Scalar && (long)(panelEnd - panelStart) * rangeTiles * ScaledHalfPanelsPerRow >= rowTo - rowFrom)
        {
            int need = rowTo * k16;
            // Grown geometrically: auto's calls grow as a run climbs to longer drafts, and each growth is an allocation.
            float[] scaled = t_scaledA is { } sa && sa.Length >= need ? sa : (t_scaledA = new float[Math.Max(need, Math.Max(4096, 2 * (t_scaledA?.Length ?? 0)))]);
            if (ScaleForHalf(packedA[(rowFrom * k16)..need], scaled.AsSpan(rowFrom * k16, need - (rowFrom * k16))))
            {
                aRef = ref MemoryMarshal.GetArrayDataReference(scaled);
                scaledA = true;
            }
        }
        ref float cRef = ref MemoryMarshal.GetReference(c);

        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            nint panelStride = kc * nr;

            // Panels outer, row tiles inner: a block of W is read from memory once and reused from L2 by every tile.
            int p = panelStart;
            while (p < panelEnd)
            {
                // Whole groups of full panels (the widest multi-panel kernel's span); the rest one by one. Tiles that
                // prefetch the next panel walk one at a time, so the block in use and the next one fit in L2 together
                // (two or more balanced tiles have 6 rows or more, where the multi-panel kernels hardly apply).
                int span = !prefetchNext && p + group <= panelEnd && (p + group) * nr <= n ? group : 1;
                int col0 = p * nr;

                // Where the tiles prefetch, relative to each panel's current k-step. A lone tile streams its own
                // weights: PrefetchSteps k-steps ahead. With several, the first tile's pass would stream at memory
                // speed and the others compute from L2 while memory idles (measured on the deployment-size UNet's
                // coarse GEMMs: time = stream + compute, not the larger of the two), so they ask for the next span this
                // thread will walk, at the same k: every tile after the call's very first, which streams its own.
                nint own = (nint)SgemmKernels.PrefetchSteps * nr, ahead = own;
                if (prefetchNext)
                {
                    int next = p + span < panelEnd ? w.Offset(k0, p + span) : k0 + KBlock < k ? w.Offset(k0 + KBlock, panelStart) : -1;
                    ahead = next < 0 ? own : next - w.Offset(k0, p);
                }

                // Float16 weights, many tiles: this span's full panels widened once, for every tile's float kernel.
                float[]? widened = null;
                if (widenOnce && (p + span) * nr <= n)
                {
                    int count = span * kc * nr;
                    // Sized for the widest span of a full K block at once, so a thread allocates it once.
                    widened = t_widened is { } tw && tw.Length >= count ? tw : (t_widened = new float[Math.Max(count, group * KBlock * nr)]);
                    SgemmKernels.Widen(path, w.HalfData.AsSpan(w.Offset(k0, p), count), widened);
                }

                for (int t = tileStart; t < tileEnd; t++)
                {
                    // The tile's part of this K block: a convolution's position-order tile skips the taps on the
                    // padding (exact zeros in A), so its chain may start after k0 or end before the block does.
                    RowTile tile = rowTiles.Tile(t);
                    int lo = Math.Max(k0, tile.KLo), hi = Math.Min(k0 + kc, tile.KHi);
                    if (lo >= hi)
                    {
                        continue;
                    }

                    bool tileFirst = lo == tile.KLo, tileLast = hi == tile.KHi;
                    int r = tile.Rows, skip = (lo - k0) * nr, cBase = tile.CRow0 * ldc;
                    nint rowLdc = (nint)tile.RowStep * ldc;
                    nint prefetch = t == tileStart && k0 == 0 && p == panelStart ? own : ahead == own ? own : ahead - skip;
                    ref float aTile = ref Unsafe.Add(ref aRef, (tile.PackedRow0 * k16) + (lo * r));
                    if (col0 + nr > n)
                    {
                        EdgePanel(w, scaledA, r, n - col0, ref aTile, w.Offset(k0, p) + skip, hi - lo, c.Slice(cBase + col0), rowLdc, tileFirst, tileLast, bias, activation, residual, residualStride, tile.CRow0, tile.RowStep, col0, edge);
                        if (tileLast && !packedNext.IsEmpty)
                        {
                            StorePacked(c, ldc, tile.PackedRow0, r, col0, n - col0, k16Next, packedNext);
                        }

                        continue;
                    }

                    int step = PanelsFor(multi, r, span);
                    for (int q = p; q < p + span; q += step)
                    {
                        if (widened is not null)
                        {
                            // The widened block is in cache: prefetch within it, one tile's own distance ahead.
                            SgemmKernels.Run(path, r, step, ref aTile, ref widened[((q - p) * kc * nr) + skip], panelStride, hi - lo, ref Unsafe.Add(ref cRef, cBase + (q * nr)), rowLdc, tileFirst, own);
                        }
                        else
                        {
                            Run(w, scaledA, r, step, ref aTile, w.Offset(k0, q) + skip, panelStride, hi - lo, ref Unsafe.Add(ref cRef, cBase + (q * nr)), rowLdc, tileFirst, prefetch);
                        }
                    }

                    if (tileLast && needsEpilogue)
                    {
                        // The fused epilogue, on the tile just stored and still in L1.
                        int width = span * nr;
                        for (int i = 0; i < r; i++)
                        {
                            int row = tile.CRow0 + (i * tile.RowStep);
                            Span<float> cRow = c.Slice((row * ldc) + col0, width);
                            ActivationMath.ApplyRow(
                                cRow,
                                bias.IsEmpty ? default : bias.Slice(col0, width),
                                activation,
                                residual.IsEmpty ? default : residual.Slice((row * residualStride) + col0, width),
                                cRow);
                        }
                    }

                    if (tileLast && !packedNext.IsEmpty)
                    {
                        StorePacked(c, ldc, tile.PackedRow0, r, col0, span * nr, k16Next, packedNext);
                    }
                }

                p += span;
            }
        }
    }

    /// <summary>
    /// Copies the finished columns [col0, col0 + width) of a row tile into the next GEMM's packed A (col0 is a multiple
    /// of 16; a final partial group is zero-padded).
    /// </summary>
    private static void StorePacked(ReadOnlySpan<float> c, int ldc, int row0, int r, int col0, int width, int k16, Span<float> packed)
    {
        ref float cRef = ref MemoryMarshal.GetReference(c);
        ref float pRef = ref MemoryMarshal.GetReference(packed);
        int full = col0 + (width & ~15);
        for (int i = 0; i < r; i++)
        {
            ref float src = ref Unsafe.Add(ref cRef, (row0 + i) * ldc);
            ref float dst = ref Unsafe.Add(ref pRef, (row0 * k16) + (16 * i));
            for (int g = col0; g < full; g += 16)
            {
                Vector512.LoadUnsafe(ref src, (nuint)g).StoreUnsafe(ref dst, (nuint)(g * r));
            }
        }

        if (full < col0 + width)
        {
            // A final partial group: copy what exists and zero the rest (the padding must not feed the next GEMM).
            int count = col0 + width - full;
            for (int i = 0; i < r; i++)
            {
                Span<float> chunk = packed.Slice((row0 * k16) + (full * r) + (16 * i), 16);
                c.Slice(((row0 + i) * ldc) + full, count).CopyTo(chunk);
                chunk[count..].Clear();
            }
        }
    }

    /// <summary>The last, partly padded panel: the kernel writes a full-width scratch tile; only real columns reach C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EdgePanel(
        PackedMatrix w, bool scaledA, int r, int cols, ref float aTile, int panelOffset, int kc, Span<float> c, nint ldc, bool first, bool last,
        ReadOnlySpan<float> bias, Activation activation, ReadOnlySpan<float> residual, int residualStride, int row0, int rowStep, int col0, Span<float> edge)
    {
        int nr = w.PanelWidth;
        Span<float> tile = edge[..(r * nr)];
        if (!first)
        {
            tile.Clear();
            for (int i = 0; i < r; i++)
            {
                c.Slice((int)(i * ldc), cols).CopyTo(tile.Slice(i * nr, cols));
            }
        }

        Run(w, scaledA, r, 1, ref aTile, panelOffset, 0, kc, ref MemoryMarshal.GetReference(tile), nr, first, (nint)SgemmKernels.PrefetchSteps * nr);
        for (int i = 0; i < r; i++)
        {
            Span<float> dst = c.Slice((int)(i * ldc), cols);
            if (last)
            {
                ActivationMath.ApplyRow(
                    tile.Slice(i * nr, cols),
                    bias.IsEmpty ? default : bias.Slice(col0, cols),
                    activation,
                    residual.IsEmpty ? default : residual.Slice(((row0 + (i * rowStep)) * residualStride) + col0, cols),
                    dst);
            }
            else
            {
                tile.Slice(i * nr, cols).CopyTo(dst);
            }
        }
    }

    /// <summary>
    /// Runs the microkernel of <c>w.Path</c> for <c>w</c>'s element type on the panels starting at element
    /// <paramref name="offset"/> (float16 weights with <paramref name="scaledA"/>: the kernels for A scaled by 2^112); the
    /// scalar path, which has no generated kernel, walks the same chains in <see cref="ScalarKernel"/>.
    /// </summary>
    private static void Run(PackedMatrix w, bool scaledA, int rows, int panels, ref float a, int offset, nint panelStride, int kc, ref float c, nint ldc, bool first, nint prefetch)
    {
        if (w.HalfWeights)
        {
            ref ushort b = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.HalfData), offset);
            if (scaledA)
            {
                SgemmKernels.RunScaled(w.Path, rows, panels, ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch);
            }
            else if (!SgemmKernels.Run(w.Path, rows, panels, ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch))
            {
                ScalarKernel(rows, ref a, ref b, kc, ref c, ldc, first);
            }
        }
        else
        {
            ref float b = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Data), offset);
            if (!SgemmKernels.Run(w.Path, rows, panels, ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch))
            {
                ScalarKernel(rows, ref a, ref b, kc, ref c, ldc, first);
            }
        }
    }

    /// <summary>
    /// dst = src x 2^112, for the float16 kernels that widen a weight w to w x 2^-112 (its bits shifted into float
    /// position, no multiply): each FMA then takes x 2^112 and w 2^-112, whose product is exactly x w, and rounds it with
    /// the partial sum once, as the float kernels do, so the bits do not change. Both factors are exact: a power-of-two
    /// scale of a float is exact unless it overflows (|x| 2^112 is finite for |x| &lt; 2^16) or underflows (it only grows x),
    /// and w 2^-112 is a float (normal, or subnormal for the smallest halves, which the FMA takes as it is). False, with
    /// dst unspecified, when some |x| is 2^16 or more, or NaN: the caller then runs the kernels that multiply.
    /// </summary>
    internal static bool ScaleForHalf(ReadOnlySpan<float> src, Span<float> dst)
    {
        int n = src.Length;
        if (dst.Length < n)
        {
            throw new ArgumentException($"dst holds {dst.Length} floats; {n} needed.", nameof(dst));
        }

        (int i, bool inside) = Isa.Active switch
        {
            IsaPath.Avx512 => ScaleForHalf<Vec512>(src, dst),
            IsaPath.Avx2 => ScaleForHalf<Vec256>(src, dst),
            IsaPath.Neon or IsaPath.Vector128 => ScaleForHalf<Vec128>(src, dst),
            _ => (0, true),
        };
        for (; i < n; i++)
        {
            inside &= MathF.Abs(src[i]) < ScaledHalfLimit;
            dst[i] = src[i] * SgemmKernels.HalfScale;
        }

        return inside;
    }

    /// <summary>The whole vectors of <see cref="ScaleForHalf(ReadOnlySpan{float}, Span{float})"/>: how far it got, and whether every |x| was below the limit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (int End, bool Inside) ScaleForHalf<TV>(ReadOnlySpan<float> src, Span<float> dst)
        where TV : struct, IVec<TV>
    {
        TV scale = TV.Broadcast(SgemmKernels.HalfScale), limit = TV.Broadcast(ScaledHalfLimit);
        TV magnitude = TV.BroadcastBits(0x7FFF_FFFF), inside = TV.BroadcastBits(uint.MaxValue);
        int i = 0;
        for (; i + TV.Count <= src.Length; i += TV.Count)
        {
            TV x = TV.Load(src, i);

            // Lanes below the limit keep their bits set; too large, infinite or NaN clears them.
            inside = TV.AndBits(inside, TV.LessThan(TV.AndBits(x, magnitude), limit));
            TV.Store(TV.Multiply(x, scale), dst, i);
        }

        Span<float> lanes = stackalloc float[TV.Count];
        TV.Store(inside, lanes, 0);
        foreach (float lane in lanes)
        {
            if (BitConverter.SingleToUInt32Bits(lane) != uint.MaxValue)
            {
                return (i, false);
            }
        }

        return (i, true);
    }

    /// <summary>The scalar kernel: the same chains, one element at a time (the scalar panel width of 16 columns).</summary>
    private static void ScalarKernel<TWeight>(int rows, ref float a, ref TWeight b, int kc, ref float c, nint ldc, bool first)
        where TWeight : unmanaged
    {
        const int nr = SgemmKernels.ScalarPanelWidth;
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < nr; j++)
            {
                float acc = first ? 0f : Unsafe.Add(ref c, (i * ldc) + j);
                for (int kk = 0; kk < kc; kk++)
                {
                    float x = Unsafe.Add(ref a, ((kk & ~15) * rows) + (16 * i) + (kk & 15));
                    acc = MathF.FusedMultiplyAdd(x, Weight(ref Unsafe.Add(ref b, (kk * nr) + j)), acc);
                }

                Unsafe.Add(ref c, (i * ldc) + j) = acc;
            }
        }
    }

    /// <summary>A weight as float: itself, or a float16's exact value (the JIT keeps one branch per instantiation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Weight<TWeight>(ref TWeight w)
        where TWeight : unmanaged =>
        typeof(TWeight) == typeof(ushort)
            ? (float)BitConverter.UInt16BitsToHalf(Unsafe.As<TWeight, ushort>(ref w))
            : Unsafe.As<TWeight, float>(ref w);

    private static void CheckA(ReadOnlySpan<float> a, int m, int k, int lda)
    {
        if (m < 0 || k < 1 || lda < k)
        {
            throw new ArgumentOutOfRangeException(nameof(lda), $"Invalid A shape: M={m}, K={k}, lda={lda} (need M >= 0, K >= 1, lda >= K).");
        }

        if (m > 0 && a.Length < ((long)(m - 1) * lda) + k)
        {
            throw new ArgumentException($"A holds {a.Length} floats; {m} rows of stride {lda} and width {k} need {((long)(m - 1) * lda) + k}.", nameof(a));
        }
    }

    private static void CheckOutput(
        ReadOnlySpan<float> packedA, int m, PackedMatrix w, int panelStart, int panelEnd,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, int residualStride, Span<float> c, int ldc)
    {
        int n = w.N;
        if (m < 0 || packedA.Length < (long)PackedSize(m, w.K))
        {
            throw new ArgumentException($"Packed A holds {packedA.Length} floats; {m} x {w.K} packed needs {PackedSize(m, w.K)}.", nameof(packedA));
        }

        if (panelStart < 0 || panelEnd > w.Panels || panelStart > panelEnd)
        {
            throw new ArgumentOutOfRangeException(nameof(panelStart), $"Panel range [{panelStart}, {panelEnd}) is outside [0, {w.Panels}).");
        }

        if (ldc < n || (m > 0 && c.Length < ((long)(m - 1) * ldc) + n))
        {
            throw new ArgumentException($"C holds {c.Length} floats; {m} rows of stride {ldc} and width {n} need {((long)Math.Max(m - 1, 0) * ldc) + n}.", nameof(c));
        }

        if (!bias.IsEmpty && bias.Length < n)
        {
            throw new ArgumentException($"Bias holds {bias.Length} values; N = {n}.", nameof(bias));
        }

        if (!residual.IsEmpty)
        {
            if (residualStride < n || (m > 0 && residual.Length < ((long)(m - 1) * residualStride) + n))
            {
                throw new ArgumentException($"Residual holds {residual.Length} floats with stride {residualStride}; {m} x {n} needed.", nameof(residual));
            }

            if (residual.Overlaps(c))
            {
                throw new ArgumentException("The residual must not overlap the output (partial sums are stored in C between K blocks).", nameof(residual));
            }
        }
    }
}
