using Asd.Native.Backends.Analytic;

namespace Asd.Native.Backends.Mlp;

/// <summary>
/// Runs an <see cref="MlpModel"/> on batches of rows with the Asd.Simd GEMM on the core pool. A call of few rows splits
/// each GEMM's output panels across threads (never K); a call of at least <see cref="MlpModel.RowSplitRows"/> rows
/// gives each thread whole rows instead, run through every layer on that thread's own scratch (a lane). Owns its
/// scratch (one per sampler); the model's packed weights are shared.
/// </summary>
/// <remarks>
/// <para>Batch-invariant: the time embedding and layer norm are computed per row, every GEMM output element is one FMA
/// chain over k, and threads only split columns or whole rows, so a row's output bits do not depend on the batch size,
/// the row's position, the thread count or the split. Batches larger than the scratch are run in passes, which changes
/// nothing either.</para>
/// <para>Why rows at all: see <see cref="RowSplit"/>. Traced per chunk on builtin:policy (2
/// threads, 8 rows), each half of a 768x768 layer took 41-44 us against 58 us for the whole layer on one thread.</para>
/// </remarks>
public sealed class MlpDenoiser : IDenoiser, IRowPassDenoiser, ILaneDenoiser
{
    /// <summary>
    /// The default of <see cref="MlpModel.RowSplitRows"/>. builtin:policy on the 2-vCPU VM (loop-policy, 2 threads,
    /// interleaved): at 4 rows the column split ran 95-101 us against 109-125 for the row split, at 6 rows 205-214
    /// against 168-178 in a noisier hour, at 8 rows 162-188 against 147-170. (A per-size choice by timing both ways
    /// was tried and dropped: a call of one way amid calls of the other finds the caches as the other left them, so
    /// back-to-back timings misjudged the mixed sizes of sampling; on the trained ConditionalUnet1D auto lost ~8%.)
    /// </summary>
    internal const int DefaultRowSplitRows = 6;

    /// <summary>Layer norms of at least this many rows are split across the pool.</summary>
    private const int LayerNormSplitRows = 32;

    private const int InputBuffer = 0;
    private const int EmbeddingBuffer = 1;

    private readonly MlpModel _model;
    private readonly IReadOnlyDictionary<MlpLinear, PackedMatrix> _packed;
    private readonly CorePool? _pool;
    private readonly int _passRows, _stride;
    private readonly List<Op> _timeOps = [], _mainOps = [];
    private readonly int _timeOut, _mainOut;
    private int _bufferCount = 2;
    private readonly Lane[] _lanes;
    private readonly string[] _inputParts;
    private readonly RowSplit? _rowSplit;
    private readonly TimestepEmbeddings _embeddings;

    internal MlpDenoiser(MlpModel model, int maxRows, CorePool? pool, int rowSplitRows = DefaultRowSplitRows)
    {
        _model = model;
        _pool = pool;
        Path = Isa.Active;
        _packed = model.PackedFor(Path, pool?.Threads ?? 1);
        int width = Math.Max(model.InputWidth, model.TimeEmbedding.Dim);
        foreach (MlpLinear l in model.AllLinears())
        {
            width = Math.Max(width, Math.Max(l.InWidth, l.OutWidth));
        }

        // An activation buffer holds a pass's rows at the widest layer's width: at most MaxBatchFloats floats, as the
        // samplers' buffers (a layer may be 2^24 wide, and 128 rows of it overflowed the buffer's size). Rows are
        // independent, so fewer rows per pass give the same bits.
        _passRows = Math.Clamp(Math.Min(maxRows, Validation.ResourceLimits.MaxBatchFloats / width), 1, 128);
        _stride = width;
        _inputParts = [.. model.Input];
        _timeOut = Plan(model.TimeMlp, EmbeddingBuffer, _timeOps, [InputBuffer]);
        _mainOut = Plan(model.Layers, InputBuffer, _mainOps, []);
        ChainPacking(_timeOps);
        ChainPacking(_mainOps);

        // Lane 0 serves column-split calls of up to a whole pass; a row split of m rows over min(L, m) lanes gives each
        // at most ceil(passRows / L) rows.
        int lanes = pool is null || _passRows < rowSplitRows ? 1 : Math.Min(pool.Threads, _passRows);

        TimeEmbeddingSpec te = model.TimeEmbedding;
        float[] frequencies = RowNorm.SinusoidalFrequencies(te.Dim, te.MaxPeriod, te.DownscaleFreqShift);
        // One embedding cache for every lane: a row split warms it for its call first, so the lanes only read it.
        _embeddings = new TimestepEmbeddings(te.Dim, frequencies, (float)te.Scale, te.FlipSinToCos);
        // With a row split, one lane per pool thread: RowSplit picks a lane by the running thread's slot.
        _lanes = [.. Enumerable.Range(0, lanes < 2 ? 1 : pool!.Threads).Select(i => new Lane(i == 0 ? _passRows : (_passRows + lanes - 1) / lanes, _stride, _bufferCount))];
        _rowSplit = lanes < 2 ? null : new RowSplit(this, _passRows, pool!, lanes, rowSplitRows, _embeddings);
    }

    /// <summary>The ISA path whose packing this denoiser uses (the active path when it was created).</summary>
    public IsaPath Path { get; }

    /// <summary>Whether any layer reads float16-packed weights (<see cref="MlpModel.PacksHalf"/> for this pool).</summary>
    internal bool ReadsHalfWeights => _packed.Values.Any(w => w.HalfWeights);

    /// <inheritdoc/>
    public int SampleSize => _model.SampleSize;

    /// <inheritdoc/>
    public int ConditionSize => _model.ConditionSize;

    /// <inheritdoc/>
    public bool IsBatchInvariant => true;

    private enum OpKind
    {
        Gemm,
        LayerNorm,
        Activate,
        AddResidual,
    }

    private sealed record Op(OpKind Kind, int Source, int Destination, MlpLayer? Layer, int Residual, Activation Activation, int Width)
    {
        /// <summary>The previous GEMM already wrote this GEMM's input packed (in its epilogue).</summary>
        public bool InputPacked { get; set; }

        /// <summary>The next op is a GEMM on this output: write it packed in the epilogue.</summary>
        public bool PackOutput { get; set; }
    }

    /// <summary>Assigns scratch buffers to the layers once, so a forward pass only runs a fixed list of operations.</summary>
    private int Plan(IReadOnlyList<MlpLayer> layers, int input, List<Op> ops, List<int> reserved)
    {
        var live = new List<int>(reserved) { input };
        int current = input;
        foreach (MlpLayer layer in layers)
        {
            switch (layer)
            {
                case MlpLinear linear:
                    {
                        int dst = Allocate(live);
                        ops.Add(new Op(OpKind.Gemm, current, dst, linear, -1, linear.Activation, linear.OutWidth));
                        live.Remove(current);
                        live.Add(dst);
                        current = dst;
                        break;
                    }

                case MlpLayerNorm norm:
                    {
                        // In place, unless the value is still needed (a residual block's input).
                        int dst = current;
                        if (reserved.Contains(current) || current == input)
                        {
                            dst = Allocate(live);
                            live.Add(dst);
                        }

                        ops.Add(new Op(OpKind.LayerNorm, current, dst, norm, -1, Activation.Identity, norm.Width));
                        if (dst != current && !reserved.Contains(current))
                        {
                            live.Remove(current);
                        }

                        current = dst;
                        break;
                    }

                case MlpResidual block:
                    {
                        int blockInput = current;
                        int count = ops.Count;
                        int output = Plan(block.Layers, blockInput, ops, [.. live]);
                        Op lastOp = ops[^1];
                        if (ops.Count > count && lastOp.Kind == OpKind.Gemm && lastOp.Destination == output && lastOp.Residual < 0)
                        {
                            ops[^1] = lastOp with { Residual = blockInput };
                        }
                        else
                        {
                            ops.Add(new Op(OpKind.AddResidual, output, output, null, blockInput, Activation.Identity, block.Width));
                        }

                        if (block.Activation != Activation.Identity)
                        {
                            ops.Add(new Op(OpKind.Activate, output, output, null, -1, block.Activation, block.Width));
                        }

                        live.Remove(blockInput);
                        live.Add(output);
                        current = output;
                        break;
                    }
            }
        }

        return current;
    }

    /// <summary>Marks GEMMs that feed the next GEMM directly, so the activations are packed once, in the epilogue.</summary>
    private static void ChainPacking(List<Op> ops)
    {
        for (int i = 0; i + 1 < ops.Count; i++)
        {
            if (ops[i].Kind == OpKind.Gemm && ops[i + 1].Kind == OpKind.Gemm && ops[i + 1].Source == ops[i].Destination)
            {
                ops[i].PackOutput = true;
                ops[i + 1].InputPacked = true;
            }
        }
    }

    private int Allocate(List<int> live)
    {
        for (int i = 2; i < _bufferCount; i++)
        {
            if (!live.Contains(i))
            {
                return i;
            }
        }

        return _bufferCount++;
    }

    /// <inheritdoc/>
    int IRowPassDenoiser.PassRows => _passRows;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output) =>
        RowPasses.Denoise(this, samples, timesteps, conditioning, output);

    /// <inheritdoc/>
    void IRowPassDenoiser.Pass(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        if (_rowSplit?.TryRun(samples, timesteps, conditioning, output) != true)
        {
            Forward(_lanes[0], _pool, samples, timesteps, conditioning, output);
        }
    }

    /// <inheritdoc/>
    void ILaneDenoiser.ForwardLane(int lane, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output) =>
        Forward(_lanes[lane], null, samples, timesteps, conditioning, output);

    /// <summary>The forward pass of <paramref name="timesteps"/>.Length rows on one lane's scratch; GEMMs split their
    /// columns across <paramref name="pool"/> when there is one.</summary>
    private void Forward(Lane lane, CorePool? pool, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int m = timesteps.Length, d = SampleSize, c = ConditionSize;
        float[] emb = lane.Buffers[EmbeddingBuffer];
        int dim = _model.TimeEmbedding.Dim;
        for (int r = 0; r < m; r++)
        {
            _embeddings.Write(timesteps[r], emb.AsSpan(r * _stride, dim));
        }

        Execute(lane, pool, _timeOps, m);

        float[] input = lane.Buffers[InputBuffer], time = lane.Buffers[_timeOut];
        int tw = _model.TimeWidth;
        for (int r = 0; r < m; r++)
        {
            Span<float> row = input.AsSpan(r * _stride, _model.InputWidth);
            int offset = 0;
            foreach (string part in _inputParts)
            {
                switch (part)
                {
                    case "sample":
                        samples.Slice(r * d, d).CopyTo(row[offset..]);
                        offset += d;
                        break;
                    case "time":
                        time.AsSpan(r * _stride, tw).CopyTo(row[offset..]);
                        offset += tw;
                        break;
                    default:
                        conditioning.Slice(r * c, c).CopyTo(row[offset..]);
                        offset += c;
                        break;
                }
            }
        }

        Execute(lane, pool, _mainOps, m);
        float[] result = lane.Buffers[_mainOut];
        for (int r = 0; r < m; r++)
        {
            result.AsSpan(r * _stride, d).CopyTo(output.Slice(r * d, d));
        }
    }

    private void Execute(Lane lane, CorePool? pool, List<Op> ops, int m)
    {
        foreach (Op op in ops)
        {
            float[] src = lane.Buffers[op.Source], dst = lane.Buffers[op.Destination];
            switch (op.Kind)
            {
                case OpKind.Gemm:
                    Gemm(lane, pool, op, src, dst, m);
                    break;
                case OpKind.LayerNorm:
                    // A row of 768 takes ~0.36 us. Split across the pool only when there are many: rows a worker
                    // normalized sit in its core's cache, and the next GEMM's packing on this thread then pulls them
                    // across.
                    lane.NormWork.Set((MlpLayerNorm)op.Layer!, src, dst, _stride);
                    CorePool.RunOrInline(pool, lane.NormWork, m, worthSplitting: m >= LayerNormSplitRows);
                    break;
                case OpKind.Activate:
                    for (int r = 0; r < m; r++)
                    {
                        Span<float> row = dst.AsSpan(r * _stride, op.Width);
                        ActivationMath.ApplyRow(row, default, op.Activation, default, row);
                    }

                    break;
                default:
                    float[] residual = lane.Buffers[op.Residual];
                    for (int r = 0; r < m; r++)
                    {
                        Span<float> row = dst.AsSpan(r * _stride, op.Width);
                        ActivationMath.ApplyRow(row, default, Activation.Identity, residual.AsSpan(r * _stride, op.Width), row);
                    }

                    break;
            }
        }
    }

    private void Gemm(Lane lane, CorePool? pool, Op op, float[] src, float[] dst, int m)
    {
        var linear = (MlpLinear)op.Layer!;
        PackedMatrix w = _packed[linear];
        float[] packedA = lane.PackedA[lane.PackedCurrent];
        if (!op.InputPacked)
        {
            Sgemm.PackA(src, m, linear.InWidth, _stride, w.Path, packedA);
        }

        float[]? packNext = op.PackOutput ? lane.PackedA[1 - lane.PackedCurrent] : null;
        int groups = (w.Panels + GemmWork.PanelsPerUnit - 1) / GemmWork.PanelsPerUnit;
        int tiles = Sgemm.TileCount(m, w.Path);
        int threads = pool?.Threads ?? 1;

        // Threads take panel groups; a narrow layer (fewer groups than threads) is split by row tiles instead.
        bool byRows = groups < threads && tiles > groups;
        lane.Work.Set(packedA, m, w, linear.Bias, linear.Activation, op.Residual >= 0 ? lane.Buffers[op.Residual] : null, dst, _stride, packNext, byRows);
        CorePool.RunOrInline(pool, lane.Work, byRows ? tiles : groups);

        if (op.PackOutput)
        {
            lane.PackedCurrent = 1 - lane.PackedCurrent;
        }
    }

    /// <summary>One thread's scratch: activations, packed inputs, and the per-call state of its GEMMs and norms.</summary>
    private sealed class Lane
    {
        public Lane(int rows, int stride, int buffers)
        {
            Buffers = [.. Enumerable.Range(0, buffers).Select(_ => new float[rows * stride])];
            PackedA = [new float[Sgemm.PackedSize(rows, stride)], new float[Sgemm.PackedSize(rows, stride)]];
        }

        public float[][] Buffers { get; }

        public float[][] PackedA { get; }

        public int PackedCurrent { get; set; }

        public GemmWork Work { get; } = new();

        public LayerNormWork NormWork { get; } = new();
    }

    /// <summary>One layer norm's rows, so pool workers can take disjoint row ranges without allocating.</summary>
    private sealed class LayerNormWork : IRangeWork
    {
        private MlpLayerNorm _norm = null!;
        private float[] _src = [], _dst = [];
        private int _stride;

        public void Set(MlpLayerNorm norm, float[] src, float[] dst, int stride) => (_norm, _src, _dst, _stride) = (norm, src, dst, stride);

        public void Execute(int start, int end)
        {
            int w = _norm.Width;
            for (int r = start; r < end; r++)
            {
                RowNorm.LayerNorm(_src.AsSpan(r * _stride, w), _norm.Weight, _norm.Bias, _norm.Epsilon, _dst.AsSpan(r * _stride, w));
            }
        }
    }

    /// <summary>One GEMM's state, so pool workers can take disjoint panel ranges without allocating.</summary>
    private sealed class GemmWork : IRangeWork
    {
        /// <summary>Threads split panels in groups of 4, the span of the small-batch kernel.</summary>
        public const int PanelsPerUnit = 4;

        private float[] _packedA = [], _c = [];
        private float[]? _bias, _residual, _packNext;
        private PackedMatrix _w = null!;
        private Activation _activation;
        private int _m, _stride;
        private bool _byRows;

        public void Set(float[] packedA, int m, PackedMatrix w, float[]? bias, Activation activation, float[]? residual, float[] c, int stride, float[]? packNext, bool byRows)
        {
            (_packedA, _m, _w, _bias, _activation, _residual, _c, _stride) = (packedA, m, w, bias, activation, residual, c, stride);
            (_packNext, _byRows) = (packNext, byRows);
        }

        public void Execute(int start, int end)
        {
            (int p0, int p1, int t0, int t1) = _byRows
                ? (0, _w.Panels, start, end)
                : (start * PanelsPerUnit, Math.Min(end * PanelsPerUnit, _w.Panels), 0, int.MaxValue);
            Sgemm.MultiplyPacked(
                _packedA.AsSpan(0, Sgemm.PackedSize(_m, _w.K)), _m, _w, p0, p1,
                _bias, _activation, _residual, _stride,
                _c, _stride, _packNext is null ? default : _packNext.AsSpan(0, Sgemm.PackedSize(_m, _w.N)), t0, t1);
        }
    }
}
