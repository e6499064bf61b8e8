namespace Asd.Simd.Kernels.Gemm;

/// <summary>
/// A weight matrix W (K x N, used as C = A W) packed for one ISA path: K is cut into blocks of
/// <see cref="Sgemm.KBlock"/> rows and N into panels of <see cref="PanelWidth"/> columns; block by block, each panel
/// stores its rows contiguously (k-major, zero-padded past N). A GEMM that walks blocks, then panels, so reads the whole
/// matrix as one sequential stream, which is what matters when the weights come from L3 or DRAM (small batches).
/// Immutable once built; share it across threads.
/// </summary>
public sealed class PackedMatrix
{
    private readonly float[] _data;

    private PackedMatrix(int k, int n, IsaPath path, float[] data)
    {
        K = k;
        N = n;
        Path = path;
        PanelWidth = Sgemm.PanelWidth(path);
        Panels = (n + PanelWidth - 1) / PanelWidth;
        _data = data;
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

    internal float[] Data => _data;

    /// <summary>Bytes held.</summary>
    public long Bytes => (long)_data.Length * sizeof(float);

    /// <summary>
    /// Packs W given as <paramref name="weights"/>. With <paramref name="outputMajor"/> the layout is PyTorch's
    /// nn.Linear weight [N, K] (row n holds output n's inputs); otherwise row-major [K, N].
    /// </summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int k, int n, bool outputMajor, IsaPath? path = null)
    {
        if (k < 1 || n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(k), $"Matrix dimensions must be >= 1 (got K={k}, N={n}).");
        }

        if (weights.Length != (long)k * n)
        {
            throw new ArgumentException($"Weights hold {weights.Length} values; K={k} x N={n} needs {(long)k * n}.", nameof(weights));
        }

        IsaPath p = path ?? Isa.Active;
        int nr = Sgemm.PanelWidth(p);
        int panels = (n + nr - 1) / nr;
        var data = new float[checked((long)panels * k * nr)];
        var result = new PackedMatrix(k, n, p, data);
        for (int k0 = 0; k0 < k; k0 += Sgemm.KBlock)
        {
            int kc = Math.Min(Sgemm.KBlock, k - k0);
            for (int panel = 0; panel < panels; panel++)
            {
                int colStart = panel * nr;
                int cols = Math.Min(nr, n - colStart);
                Span<float> dst = data.AsSpan(result.Offset(k0, panel), kc * nr);
                for (int kk = 0; kk < kc; kk++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        int col = colStart + j, row = k0 + kk;
                        dst[(kk * nr) + j] = outputMajor ? weights[(col * k) + row] : weights[(row * n) + col];
                    }
                }
            }
        }

        return result;
    }

    /// <summary>W[k, n] (for tests and diagnostics).</summary>
    public float this[int k, int n]
    {
        get
        {
            int k0 = k / Sgemm.KBlock * Sgemm.KBlock;
            return _data[Offset(k0, n / PanelWidth) + ((k - k0) * PanelWidth) + (n % PanelWidth)];
        }
    }
}
