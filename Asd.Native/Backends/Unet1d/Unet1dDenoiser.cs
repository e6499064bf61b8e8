using System.Numerics.Tensors;

namespace Asd.Native.Backends.Unet1d;

/// <summary>
/// Runs a <see cref="Unet1dModel"/> on batches of samples. Activations are channels-last rows, one per (sample,
/// position); every convolution is a GEMM of its im2col rows (<see cref="Conv1dPacking"/>) with weights packed once;
/// group norm, Mish, FiLM and the residual sum are one fused pass per (sample, group) (<see cref="GroupNorm"/>).
/// The core pool splits the packing by row tiles and each GEMM by output panels (never K), and the norms by (sample,
/// group). Owns its scratch (one per sampler); allocates nothing per call once every timestep has been seen.
/// </summary>
/// <remarks>
/// Batch-invariant: a convolution reads only its own sample's positions (zero padding at each sample's ends), every
/// GEMM output element is one FMA chain over k, norms use only their sample's group with fixed-order double
/// statistics, and the embeddings are per row; so a sample's output bits do not depend on the batch size, its position
/// in the batch, the thread count or (see <see cref="Asd.Simd.Kernels.Gemm.Sgemm"/>) the ISA path.
/// </remarks>
public sealed class Unet1dDenoiser : IDenoiser, IRowPassDenoiser, ILaneDenoiser
{
    /// <summary>
    /// The default of <see cref="Unet1dModel.RowSplitRows"/>: every call, a single sample included, runs whole samples
    /// per thread (a single sample on the calling thread alone). On the trained policy (models/unet-policy;
    /// quick-unet, 2 threads, interleaved runs) two threads splitting columns ran 2 samples in 0.82-0.97 ms, no faster
    /// than one thread (0.82-0.96), while one sample per thread takes one thread's T(1), 0.57-0.66 ms; and, after the
    /// group norm walked rows whole (2026-12-04), one sample took 0.31-0.37 ms on one thread against 0.36-0.43 ms with
    /// its columns split across two (3 interleaved runs each): the split's per-layer hand-offs cost more than the half
    /// of the arithmetic it saves. Models too large for a row split (<see cref="RowSplitMaxWeightBytes"/>) still
    /// split a single sample's columns, since there each thread then streams half the weights.
    /// </summary>
    internal const int DefaultRowSplitRows = 1;

    /// <summary>
    /// Models with more packed weights than this never split rows: each lane streams all the weights, which a model
    /// that fits in a last-level cache pays from there, and a larger one pays twice from DRAM. Measured on the
    /// deployment-size network (249 MB): a row split gave T(2) 10.3-12.7 ms against 8.5-8.8 ms for the column split.
    /// </summary>
    internal const long RowSplitMaxWeightBytes = 32L << 20;

    /// <summary>Below this many multiply-adds a GEMM runs on the calling thread: waking the pool would cost more.</summary>
    private const long ParallelGemmMacs = 1 << 17;

    /// <summary>Below this many packed floats, or normalized elements, the work runs on the calling thread.</summary>
    private const long ParallelElements = 1 << 15;

    /// <summary>
    /// From this many normalized elements a group norm is split across the pool (by sample and group): on the
    /// deployment-size network (4096 elements a sample at every level) from 2 samples. Below it the caller normalizes
    /// alone while the other threads wait. Call by call against the earlier 2^15 (`Asd.Bench quick-unet` with
    /// ASD_AB_PACK=2097152/32768,2097152, four runs, 11:03 UTC): 0.967-0.988 of the time at 6 samples, 0.976-1.011 at 4,
    /// 0.977-1.025 at 2, and 0.988-1.004 and 0.991-1.001 at 1 and 8 samples, where nothing changes (the noise); a split
    /// from one sample (threshold 0) read 0.993-1.037 at 1. Settable for that side-by-side timing.
    /// </summary>
    internal static long NormParallelElements { get; set; } = 1 << 13;

    /// <summary>
    /// The most im2col elements (rows x depth, 8 MB of floats) a thread packs for itself when a GEMM's columns are split
    /// across the pool (<see cref="ConvWork.Fused"/>); beyond it the threads pack disjoint row tiles of one shared A
    /// first. The deployment-size network's A reaches it at 32 samples. With more than two threads each gets
    /// <see cref="PerThreadPackTotal"/> / threads, so the copies together stay within 16 MB of floats.
    /// </summary>
    internal const long PerThreadPackMost = 1 << 21;

    /// <summary>The most im2col elements all threads' own copies of A hold together (see <see cref="PerThreadPackMost"/>).</summary>
    internal const long PerThreadPackTotal = 2 * PerThreadPackMost;

    /// <summary>
    /// The most im2col elements a thread packs for itself, at most <see cref="PerThreadPackMost"/>: a development knob
    /// (0 turns per-thread packing off), for side-by-side timing (Asd.Bench quick-unet with ASD_AB_PACK).
    /// </summary>
    internal static long PerThreadPackLimit { get; set; } = PerThreadPackMost;

    /// <summary>
    /// From this many samples a convolution of more than one tap packs its rows by position and skips the taps on the
    /// padding (<see cref="Conv1dRows"/>: 24% of a ConditionalUnet1D's multiply-adds at kernel 5 over horizons 16, 8
    /// and 4; the same bits), when the weights stay in cache. Fewer samples keep the sample order, whose tiles are
    /// larger. Measured on the Zen 4 (2 threads, <c>Asd.Bench quick-unet</c>, ASD_AB_PACK's fourth knob, position
    /// order from 1000 (never), 4, 2 or 1 sample, call by call) on the trained policy (models/unet-policy, whose calls
    /// run whole samples per thread, so a lane sees half the call): from 2, 0.94, 0.92, 0.81, 0.79, 0.76, 0.84 of the
    /// time at 3, 4, 6, 8, 12, 16 samples, 0.99-1.00 at 1-2; from 1, 1.08 and 1.45 at 1 and 2 (one-row tiles); the
    /// AVX2 kernels (ASD_FORCE_ISA=avx2) from 2: 0.93, 0.97, 0.94, 0.85, 0.82, 0.89 at 3-16. Settable for that timing.
    /// </summary>
    internal static int ByPositionMinSamples { get; set; } = 2;

    /// <summary>
    /// <see cref="ByPositionMinSamples"/> for weights that stream from memory on every call (the deployment-size
    /// network), whose GEMMs overlap the stream with the arithmetic of a few large tiles: position order there, from
    /// 2 and 3 samples, made calls 1.49 and 1.17 times as long (more, smaller tiles), and from 4 took 0.94, 0.87, 0.81
    /// of the time at 4, 6, 8 samples (float32 weights; float16 0.91, 0.87, 0.82, 0.79 at 4, 6, 8, 12).
    /// </summary>
    internal static int ByPositionMinSamplesFromMemory { get; set; } = 4;

    /// <summary>
    /// A convolution with fewer groups of <see cref="ConvWork.DefaultPanelsPerUnit"/> output panels than threads, and
    /// no more row tiles than groups, splits its panels in smaller groups so every thread takes a share (otherwise it
    /// ran on the calling thread alone: a one-sample call's 128-channel convolutions at 8 and 4 positions and its
    /// 64-channel ones at 8, one row tile and one group each). Settable for side-by-side timing (ASD_AB_PACK's fifth knob).
    /// </summary>
    internal static bool SplitNarrowPanels { get; set; } = true;

    /// <summary>
    /// A group norm that follows a convolution whose columns are split across the pool runs inside the convolution's
    /// chunks: each thread normalizes the groups of the columns it just wrote, while they are in its cache, when its
    /// chunks hold whole groups (<see cref="ConvWork.Norm"/>). Otherwise the norm ran after the GEMM: below
    /// <see cref="NormParallelElements"/> on the calling thread alone while the others waited, above it as one more
    /// pool call. The same function of the same values per group, so the same bits. Settable for side-by-side timing
    /// (ASD_AB_PACK's sixth knob).
    /// </summary>
    internal static bool NormInGemmChunks { get; set; } = true;

    private readonly Unet1dModel _model;
    private readonly Unet1dConfig _c;
    private readonly Unet1dPacked _w;
    private readonly CorePool? _pool;
    private readonly int _passSamples;
    private readonly int[] _kernelOffsets, _downOffsets = [-1, 0, 1], _pointOffsets = [0];
    private readonly float[] _emb, _hidden, _feature, _featureMish, _film, _input, _output, _t, _r, _packedA, _local;
    private readonly float[][] _general, _skips;
    private readonly ConvWork _conv;
    private readonly NormWork _norm = new();
    private readonly TimestepEmbeddings _embeddings;
    private readonly Unet1dDenoiser[] _laneDenoisers = [];
    private readonly RowSplit? _rowSplit;

    /// <summary>Whether a one-sample call splits its GEMMs' columns across the pool instead of running on one lane, when <see cref="_oneSample"/> is null.</summary>
    private readonly bool _oneSampleColumns;

    /// <summary>The model's running choice for one-sample calls (way 0 one lane, 1 the columns split), or null when fixed.</summary>
    private readonly TwoWayChoice? _oneSample;

    private readonly string _oneSampleMode;

    /// <summary>
    /// A denoiser for passes of up to <paramref name="maxRows"/> samples. With a pool of two or more threads, calls of
    /// at least <paramref name="rowSplitRows"/> samples give each thread whole samples (<see cref="RowSplit"/>), run
    /// on a lane denoiser of its own; smaller calls split each GEMM's columns.
    /// </summary>
    internal Unet1dDenoiser(Unet1dModel model, int maxRows, CorePool? pool, int rowSplitRows = DefaultRowSplitRows, TimestepEmbeddings? sharedEmbeddings = null, bool? oneSampleColumns = null)
    {
        _model = model;
        _c = model.Config;
        _pool = pool;
        Path = Isa.Active;
        _w = model.PackedFor(Path);

        // Weights beyond what a last-level cache holds come from memory on every call (the deployment-size network's
        // 249 MB); the GEMMs then overlap the next panel's stream with the current one's arithmetic. Measured in
        // alternated `quick-unet` pairs on that network (2 threads): 4-6 samples a median 4-5% faster.
        _conv = new ConvWork { WeightsFromMemory = model.PackedWeightBytes(Path) > RowSplitMaxWeightBytes };
        // A pass's buffers hold at most MaxBatchFloats floats each, as the samplers' (a long horizon of wide channels
        // fits one sample, Unet1dConfig.Validate, but not 64). Samples are independent, so the bits are the same.
        long perSample = PackedScratch(1);
        for (int l = 0; l < _c.Levels; l++)
        {
            perSample = Math.Max(perSample, (long)_c.LengthAt(l) * _c.DownDims[l]);
        }

        _passSamples = (int)Math.Clamp(Math.Min(maxRows, Validation.ResourceLimits.MaxBatchFloats / perSample), 1, 64);
        int p = _passSamples, d = _c.StepEmbedDim, levels = _c.Levels;
        _kernelOffsets = [.. Enumerable.Range(-(_c.KernelSize / 2), _c.KernelSize)];
        _emb = new float[p * d];
        _hidden = new float[p * 4 * d];
        _feature = new float[p * _c.CondDim];
        _featureMish = new float[p * _c.CondDim];
        _film = new float[p * model.CondWidth];
        _input = new float[p * model.SampleSize];
        _local = new float[p * _c.Horizon * _c.LocalCondDim];
        _output = new float[p * model.SampleSize];
        long most = 0;
        for (int l = 0; l < levels; l++)
        {
            most = Math.Max(most, (long)_c.LengthAt(l) * _c.DownDims[l]);
        }

        int size = checked((int)(most * p));
        _general = [new float[size], new float[size], new float[size]];
        _t = new float[size];
        _r = new float[size];
        _skips = [.. Enumerable.Range(0, levels).Select(l => new float[checked(p * _c.LengthAt(l) * _c.DownDims[l])])];
        _packedA = new float[PackedScratch(p)];
        _embeddings = sharedEmbeddings ?? new TimestepEmbeddings(d, RowNorm.SinusoidalFrequencies(d, 10000, 1), 1f, flipSinToCos: false);

        int splitRows = Math.Max(rowSplitRows, 1);
        int lanes = pool is null ? 1 : Math.Min(pool.Threads, _passSamples);
        if (pool is { Threads: >= 2 } && _passSamples >= splitRows && model.PackedWeightBytes(Path) <= RowSplitMaxWeightBytes)
        {
            // One lane per pool thread (RowSplit picks a lane by the running thread's slot), each for the most rows a
            // split over min(threads, rows) lanes gives one.
            _laneDenoisers = [.. Enumerable.Range(0, pool.Threads).Select(_ => new Unet1dDenoiser(model, (_passSamples + lanes - 1) / lanes, null, int.MaxValue, _embeddings))];
            _rowSplit = new RowSplit(this, _passSamples, pool!, lanes, splitRows, _embeddings);
        }

        // A row split from one sample runs a lone sample on one lane unless the columns split measures faster
        // (ChooseOneSample), so those calls need the column split's buffers too.
        bool probeOneSample = _rowSplit is not null && splitRows <= 1;
        if (pool is { Threads: >= 2 } && (_rowSplit is null || splitRows > 1 || probeOneSample))
        {
            // Calls this denoiser runs itself, its GEMMs' columns split: each thread packs A into a buffer of its own
            // (ConvWork.Fused), up to PerThreadPackMost elements (less with more than two threads) plus each row's
            // padding to the K step. A one-sample call's largest A on the deployment size (40960 elements: 4 rows x 5
            // taps x 2048 channels in the first up block) still fits on 64 threads.
            long elements = Math.Min(PerThreadPackMost, PerThreadPackTotal / pool.Threads);
            int own = (int)Math.Min(_packedA.Length, elements + (16L * p * _c.Horizon));
            _conv.PerThread = [.. Enumerable.Range(0, pool.Threads).Select(_ => new float[own])];
        }

        _oneSampleMode = pool is not { Threads: >= 2 } ? "one thread (no pool)" : _rowSplit is null ? "its GEMMs' columns split across the pool" : "one lane (one thread)";
        if (probeOneSample && oneSampleColumns is { } forced)
        {
            (_oneSampleColumns, _oneSampleMode) = (forced, forced ? $"the columns split over {pool!.Threads} threads (forced)" : "one lane (one thread; forced)");
        }
        else if (probeOneSample)
        {
            // Once per model, pool size and path: every sampler of the model then shares one running choice.
            (_oneSample, _oneSampleMode) = model.OneSampleChoice.Get((pool!.Threads, Path), () => ChooseOneSample(pool.Threads));
        }
    }

    /// <summary>
    /// A one-sample call gains nothing from a row split: it runs on one lane, or has its GEMMs' columns split across the
    /// pool, and which is faster depends on the machine. The lane was faster on the project's AVX-512 VM (the trained
    /// policy: 0.31-0.37 ms against 0.36-0.43 ms), the columns on an AVX2-only one (a Zen 3: 0.61 ms against 0.84 ms,
    /// `quick-unet` with and without ASD_ROW_SPLIT=off), where the same arithmetic takes twice the instructions and
    /// outweighs the per-layer hand-offs. Timed when the model's first such denoiser is made (<see cref="Unet1dModel.OneSampleChoice"/>): the column split
    /// starts the run when this much faster; the calls then keep the choice right (<see cref="TwoWayChoice"/>).
    /// </summary>
    internal const double OneSampleColumnsMinGain = 1.05;

    /// <summary>How one-sample calls run, and the timing that chose it (both ways give the same bits).</summary>
    internal string OneSampleMode => _oneSample is { } choice ? choice.Describe() : _oneSampleMode;

    /// <summary>Group norms this denoiser ran inside its convolutions' column chunks (<see cref="NormInGemmChunks"/>; tests).</summary>
    internal long NormsInChunks { get; private set; }

    /// <summary>The model's running choice for one-sample calls (tests), or null when fixed.</summary>
    internal TwoWayChoice? OneSampleChoice => _oneSample;

    /// <summary>
    /// Times one probe sample on lane 0 and with the columns split, in alternating blocks of 3 back-to-back calls (the
    /// last 2 of each block timed; 7 blocks each way, the first 2 untimed), and compares their outputs bit for bit: the
    /// columns when their median was at least <see cref="OneSampleColumnsMinGain"/> times faster and every output
    /// matched. Back to back,
    /// as sampling calls: a column call right after a lane call found the pool's threads asleep (on a Zen 3, 0.77-0.90
    /// ms against 0.58-0.67 in a run of column calls).
    /// </summary>
    private (TwoWayChoice? Choice, string Mode) ChooseOneSample(int threads)
    {
        int d = SampleSize, c = ConditionSize;
        var rng = new Random(7);
        float[] x = [.. Enumerable.Range(0, d).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] cond = [.. Enumerable.Range(0, c).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        int[] t = [Math.Max(1, _model.DefaultScheduler.NumTrainTimesteps) / 2];
        float[] byLane = new float[d], byColumns = new float[d];
        var laneTimes = new List<double>();
        var columnTimes = new List<double>();
        bool same = true;
        for (int block = 0; block < 7; block++)
        {
            for (int i = 0; i < 3; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _rowSplit!.TryRun(x, t, cond, byLane);
                double lane = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (i > 0 && block > 1)
                {
                    laneTimes.Add(lane);
                }
            }

            for (int i = 0; i < 3; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                Forward(x, t, cond, byColumns);
                double columns = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (i > 0 && block > 1)
                {
                    columnTimes.Add(columns);
                }
            }

            same &= System.Runtime.InteropServices.MemoryMarshal.AsBytes(byLane.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(byColumns.AsSpan()));
        }

        double laneMedian = laneTimes.Order().ElementAt(laneTimes.Count / 2), columnMedian = columnTimes.Order().ElementAt(columnTimes.Count / 2);
        string timing = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"one sample: {laneMedian * 1e6:F0} us on one lane, {columnMedian * 1e6:F0} us with the columns split over {threads} threads");
        if (!same)
        {
            return (null, $"one lane (one thread): the column split's output bits differ from a lane's; {timing}");
        }

        // The start; the calls then keep it right (TwoWayChoice), since the machine can change under a run.
        int initial = laneMedian >= OneSampleColumnsMinGain * columnMedian ? 1 : 0;
        string[] names = ["one lane (one thread)", $"the columns split over {threads} threads"];
        return (new TwoWayChoice(initial, names, laneTimes, columnTimes, $"{timing}, timed when the model's first denoiser on this pool size was made"), "");
    }

    /// <summary>The ISA path whose packing this denoiser uses (the active path when it was created).</summary>
    public IsaPath Path { get; }

    /// <inheritdoc/>
    public int SampleSize => _model.SampleSize;

    /// <inheritdoc/>
    public int ConditionSize => _model.ConditionSize;

    /// <inheritdoc/>
    public bool IsBatchInvariant => true;

    /// <summary>The largest packed im2col matrix of a pass of <paramref name="p"/> samples.</summary>
    private int PackedScratch(int p)
    {
        int most = 0;
        void Need(int rows, int depth) => most = Math.Max(most, Sgemm.PackedSize(checked(p * rows), depth));
        int d = _c.StepEmbedDim, q = _c.KernelSize;
        Need(1, Math.Max(4 * d, _c.CondDim));
        if (_model.LocalCond is { } local)
        {
            Need(_c.Horizon, q * Math.Max(local.In, local.Out));
        }

        for (int l = 0; l < _c.Levels; l++)
        {
            int h = _c.LengthAt(l);
            foreach (Unet1dBlock b in new[] { _model.Down[l].First, _model.Down[l].Second })
            {
                Need(h, q * Math.Max(b.In, b.Out));
            }

            Need(h / 2, 3 * _c.DownDims[l]);
        }

        foreach (Unet1dBlock b in _model.Mid)
        {
            Need(_c.LengthAt(_c.Levels - 1), q * b.In);
        }

        for (int i = 0; i < _model.Up.Count; i++)
        {
            int h = _c.LengthAt(_c.Levels - 1 - i);
            Need(h, q * _model.Up[i].First.In);
            Need(h, 2 * _model.Up[i].Upsample.Channels);
        }

        Need(_c.Horizon, q * _c.DownDims[0]);
        return most;
    }

    /// <inheritdoc/>
    int IRowPassDenoiser.PassRows => _passSamples;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output) =>
        RowPasses.Denoise(this, samples, timesteps, conditioning, output);

    /// <summary>A channels-last activation: rows of <see cref="Stride"/> floats, the first <see cref="Channels"/> used.</summary>
    private readonly record struct Act(float[] Data, int Stride, int Channels)
    {
        public static Act None => new([], 0, 0);
    }

    /// <inheritdoc/>
    void IRowPassDenoiser.Pass(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        // The lanes share this denoiser's embedding cache (RowSplit warms it for the call).
        if (timesteps.Length == 1 && _oneSample is { } choice)
        {
            TwoWayChoice.Ticket ticket = choice.Next();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            if (ticket.Way == 1 || !_rowSplit!.TryRun(samples, timesteps, conditioning, output))
            {
                Forward(samples, timesteps, conditioning, output);
            }

            choice.Record(ticket, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            return;
        }

        if ((timesteps.Length == 1 && _oneSampleColumns) || _rowSplit?.TryRun(samples, timesteps, conditioning, output) != true)
        {
            Forward(samples, timesteps, conditioning, output);
        }
    }

    /// <inheritdoc/>
    void ILaneDenoiser.ForwardLane(int lane, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output) =>
        _laneDenoisers[lane].Forward(samples, timesteps, conditioning, output);

    /// <summary>One pass on this denoiser's scratch, its GEMMs' columns split across the pool when it has one.</summary>
    private void Forward(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int p = timesteps.Length, d = _c.StepEmbedDim, cond = _c.CondDim, g = _c.GlobalCondDim, cs = _c.ConditionSize;

        // The conditioning of every FiLM layer: Mish(concat(step MLP(embedding(t)), global_cond)), one GEMM for all blocks.
        Embed(timesteps);
        Conv(_w[_model.StepHidden], _model.StepHidden.Bias, new Act(_emb, d, d), Act.None, p, 1, 1, 1, _pointOffsets, Activation.Mish, _hidden, 0, 4 * d);
        Conv(_w[_model.StepOut], _model.StepOut.Bias, new Act(_hidden, 4 * d, 4 * d), Act.None, p, 1, 1, 1, _pointOffsets, Activation.Identity, _feature, 0, cond);
        // A sample's conditioning: the global values, then the local ones [horizon, local_cond_dim] (channels-last rows),
        // or the local ones first (Unet1dConfig.LocalCondFirst).
        int localSize = _c.Horizon * _c.LocalCondDim;
        (int globalAt, int localAt) = _c.LocalCondFirst ? (localSize, 0) : (0, g);
        for (int r = 0; r < p; r++)
        {
            conditioning.Slice((r * cs) + globalAt, g).CopyTo(_feature.AsSpan((r * cond) + d, g));
            conditioning.Slice((r * cs) + localAt, localSize).CopyTo(_local.AsSpan(r * localSize, localSize));
        }

        ActivationMath.ApplyRow(_feature.AsSpan(0, p * cond), default, Activation.Mish, default, _featureMish.AsSpan(0, p * cond));
        Conv(_w.Cond, _w.CondBias, new Act(_featureMish, cond, cond), Act.None, p, 1, 1, 1, _pointOffsets, Activation.Identity, _film, 0, _model.CondWidth);

        samples.CopyTo(_input);
        var x = new Act(_input, _c.InputDim, _c.InputDim);
        for (int l = 0; l < _c.Levels; l++)
        {
            Unet1dDown level = _model.Down[l];
            int h = _c.LengthAt(l);
            Act first = Block(level.First, x, Act.None, p, h, Free(x));
            if (l == 0 && _model.LocalCond is { } local)
            {
                // diffusion_policy adds the local conditioning's block to the first block's output (after its residual).
                Act features = Block(local, new Act(_local, _c.LocalCondDim, _c.LocalCondDim), Act.None, p, h, Free(first));
                Span<float> sum = first.Data.AsSpan(0, p * h * first.Stride);
                TensorPrimitives.Add(sum, features.Data.AsSpan(0, sum.Length), sum);
            }

            Act skip = Block(level.Second, first, Act.None, p, h, _skips[l]);
            if (level.Downsample is { } down)
            {
                float[] next = Free(skip);
                Conv(_w[down], down.Bias, skip, Act.None, p, h, h / 2, 2, _downOffsets, Activation.Identity, next, 0, down.Out);
                x = new Act(next, down.Out, down.Out);
            }
            else
            {
                x = skip;
            }
        }

        int coarse = _c.LengthAt(_c.Levels - 1);
        for (int i = 0; i < _model.Mid.Count; i++)
        {
            x = Block(_model.Mid[i], x, Act.None, p, coarse, Free(x));
        }

        for (int i = 0; i < _model.Up.Count; i++)
        {
            Unet1dUp level = _model.Up[i];
            int l = _c.Levels - 1 - i, h = _c.LengthAt(l);
            var skip = new Act(_skips[l], _c.DownDims[l], _c.DownDims[l]);
            Act first = Block(level.First, x, skip, p, h, Free(x));
            Act second = Block(level.Second, first, Act.None, p, h, Free(first));
            Unet1dUpsample up = level.Upsample;
            float[] next = Free(second);

            // Output rows 2m and 2m + 1 of each sample: two GEMMs writing every other row (row stride doubled).
            Conv(_w.Upsample(up, false), up.Bias, second, Act.None, p, h, h, 1, Unet1dUpsample.EvenOffsets, Activation.Identity, next, 0, 2 * up.Channels);
            Conv(_w.Upsample(up, true), up.Bias, second, Act.None, p, h, h, 1, Unet1dUpsample.OddOffsets, Activation.Identity, next, up.Channels, 2 * up.Channels);
            x = new Act(next, up.Channels, up.Channels);
        }

        int hz = _c.Horizon, start = _c.DownDims[0];
        Conv(_w[_model.FinalConv], _model.FinalConv.Bias, x, Act.None, p, hz, hz, 1, _kernelOffsets, Activation.Identity, _t, 0, start, Normed(_model.FinalNorm, _t, start, p, hz));
        Conv(_w[_model.FinalOut], _model.FinalOut.Bias, new Act(_t, start, start), Act.None, p, hz, hz, 1, _pointOffsets, Activation.Identity, _output, 0, _c.InputDim);
        _output.AsSpan(0, output.Length).CopyTo(output);
    }

    /// <summary>A general buffer that holds none of <paramref name="busy"/> (three rotate, so one is always free).</summary>
    private float[] Free(Act busy) => Free(busy.Data, busy.Data);

    private float[] Free(float[] a, float[] b)
    {
        foreach (float[] g in _general)
        {
            if (!ReferenceEquals(g, a) && !ReferenceEquals(g, b))
            {
                return g;
            }
        }

        throw new InvalidOperationException("No free buffer (a bug).");
    }

    /// <summary>ConditionalResidualBlock1D on <paramref name="a"/> (concatenated with <paramref name="b"/> when given) into <paramref name="dest"/>.</summary>
    private Act Block(Unet1dBlock block, Act a, Act b, int p, int h, float[] dest)
    {
        int o = block.Out;
        int scale = _c.CondPredictScale ? block.CondOffset : -1;
        int shift = block.CondOffset + (_c.CondPredictScale ? o : 0);
        Conv(_w[block.Conv1], block.Conv1.Bias, a, b, p, h, h, 1, _kernelOffsets, Activation.Identity, _t, 0, o, Normed(block.Norm1, _t, o, p, h, scale, shift));
        if (block.Residual is { } r)
        {
            // The second norm adds the residual convolution's output, so it follows that convolution (which reads the
            // block's input, not the second convolution's output: only the norm needs both).
            Conv(_w[block.Conv2], block.Conv2.Bias, new Act(_t, o, o), Act.None, p, h, h, 1, _kernelOffsets, Activation.Identity, dest, 0, o);
            Conv(_w[r], r.Bias, a, b, p, h, h, 1, _pointOffsets, Activation.Identity, _r, 0, o, Normed(block.Norm2, dest, o, p, h, residual: _r, ldr: o));
        }
        else
        {
            Conv(_w[block.Conv2], block.Conv2.Bias, new Act(_t, o, o), Act.None, p, h, h, 1, _kernelOffsets, Activation.Identity, dest, 0, o, Normed(block.Norm2, dest, o, p, h, residual: a.Data, ldr: a.Stride));
        }

        return new Act(dest, o, o);
    }

    /// <summary>
    /// A 1-D convolution (or, with length 1, a linear layer) as im2col + GEMM: output row (sample, t) is written at
    /// <paramref name="cOffset"/> + row * <paramref name="ldc"/> of <paramref name="c"/>; then, when given,
    /// <paramref name="norm"/> (set for this call: the group norm of the same columns, of this output or another of
    /// the same width), in the GEMM's column chunks where they hold whole groups, else after it.
    /// </summary>
    private void Conv(
        PackedMatrix w, float[] bias, Act a, Act b, int samples, int inLength, int outLength, int stride, int[] offsets,
        Activation activation, float[] c, int cOffset, int ldc, NormWork? norm = null)
    {
        var rows = new Conv1dRows(samples, inLength, outLength, stride, offsets, a.Channels + b.Channels, offsets.Length > 1 && samples >= (_conv.WeightsFromMemory ? ByPositionMinSamplesFromMemory : ByPositionMinSamples));
        int m = rows.Rows, k = rows.Depth, threads = _pool?.Threads ?? 1;
        if (w.K != k)
        {
            throw new InvalidOperationException($"Convolution depth {k} does not match the packed weights' {w.K} (a bug).");
        }

        _conv.Set(a, b, rows, w, bias, activation, c, cOffset, ldc, _packedA);
        int tiles = rows.TileCount(w.Path);
        int perUnit = ConvWork.DefaultPanelsPerUnit, groups = (w.Panels + perUnit - 1) / perUnit;

        // Threads take panel groups; a narrow output (fewer groups than threads) is split by row tiles instead, or,
        // when it has fewer row tiles than groups too, by smaller groups of panels.
        _conv.ByRows = groups < threads && tiles > groups;
        if (!_conv.ByRows && groups < threads && w.Panels > groups && SplitNarrowPanels)
        {
            perUnit = Math.Max(1, w.Panels / threads);
            groups = (w.Panels + perUnit - 1) / perUnit;
        }

        _conv.PanelsPerUnit = perUnit;
        bool splitGemm = (long)m * k * w.N >= ParallelGemmMacs, splitPack = (long)m * k >= ParallelElements;
        _conv.Fused = _pool is not { Threads: >= 2 } || !splitGemm ? Fusion.None
            : _conv.ByRows ? Fusion.OwnTiles
            : (long)m * k <= PerThreadPackLimit && Sgemm.PackedSize(m, k) <= _conv.PerThread[0].Length ? Fusion.WholeA
            : Fusion.None;

        // The norm in the column chunks when each holds whole groups (a chunk's columns start at a multiple of
        // perUnit panels; the last ends at the output's width, a whole number of groups).
        bool normInChunks = norm is not null && NormInGemmChunks && !_conv.ByRows && norm.Columns == w.N
            && perUnit * w.PanelWidth % norm.GroupWidth == 0;
        _conv.Norm = normInChunks ? norm : null;
        NormsInChunks += normInChunks ? 1 : 0;
        if (_conv.Fused != Fusion.None)
        {
            // One pool call: each chunk packs the A it multiplies (see ConvWork.Fused).
            _conv.NextCall();
            _pool!.Run(_conv, _conv.ByRows ? tiles : groups);
        }
        else
        {
            _conv.Packing = true;
            CorePool.RunOrInline(_pool, _conv, tiles, splitPack);

            _conv.Packing = false;
            CorePool.RunOrInline(_pool, _conv, _conv.ByRows ? tiles : groups, splitGemm);
        }

        if (norm is not null && !normInChunks)
        {
            CorePool.RunOrInline(_pool, norm, norm.Units, norm.Elements >= NormParallelElements);
        }
    }

    /// <summary>
    /// This denoiser's group norm set for <paramref name="x"/> (channels-last rows of <paramref name="channels"/>): Mish,
    /// then FiLM from the conditioning GEMM's columns <paramref name="scale"/> and <paramref name="shift"/> (-1: none), then
    /// the residual (row stride <paramref name="ldr"/>) when given; for the convolution it follows.
    /// </summary>
    private NormWork Normed(Unet1dNorm norm, float[] x, int channels, int samples, int length, int scale = -1, int shift = -1, float[]? residual = null, int ldr = 0)
    {
        _norm.Set(norm, x, channels, samples, length, _c.GroupNormEpsilon, _film, _model.CondWidth, scale, shift, residual, ldr);
        return _norm;
    }

    private void Embed(ReadOnlySpan<int> timesteps)
    {
        int dim = _c.StepEmbedDim;
        for (int r = 0; r < timesteps.Length; r++)
        {
            _embeddings.Write(timesteps[r], _emb.AsSpan(r * dim, dim));
        }
    }

    /// <summary>One convolution's state, so pool workers can take disjoint tile or panel ranges without allocating.</summary>
    private sealed class ConvWork : IRangeWork
    {
        /// <summary>Threads split panels in groups of 4, the span of the small-batch kernel.</summary>
        public const int DefaultPanelsPerUnit = 4;

        /// <summary>This call's panels per unit of work (<see cref="DefaultPanelsPerUnit"/> unless the output is narrow).</summary>
        public int PanelsPerUnit { get; set; } = DefaultPanelsPerUnit;

        private Act _a, _b;
        private Conv1dRows _rows;
        private int _cOffset, _ldc;
        private PackedMatrix _w = null!;
        private float[] _bias = [], _c = [], _packed = [];
        private Activation _activation;

        /// <summary>True: pack the im2col rows (units are row tiles); false: the GEMM (units per <see cref="ByRows"/>).</summary>
        public bool Packing { get; set; }

        /// <summary>The GEMM's units are row tiles rather than panel groups.</summary>
        public bool ByRows { get; set; }

        /// <summary>The model's weights stream from memory on every call (<see cref="Sgemm.MultiplyPacked"/>'s hint).</summary>
        public bool WeightsFromMemory { get; init; }

        /// <summary>How the GEMM's chunks get their packed A (see <see cref="Fusion"/>).</summary>
        public Fusion Fused { get; set; }

        /// <summary>
        /// The group norm of this call's columns, run by each column chunk on the columns it wrote (whole groups), or
        /// null. Not with <see cref="ByRows"/>: a chunk's rows hold only part of a group's statistics. Set by every
        /// convolution before its chunks run.
        /// </summary>
        public NormWork? Norm { get; set; }

        /// <summary>Per pool slot, the buffer <see cref="Fusion.WholeA"/> packs into (empty without a pool of 2+).</summary>
        public float[][] PerThread { get; set; } = [[]];

        private int _call;
        private int[] _packedCall = [];

        /// <summary>Starts a <see cref="Fusion.WholeA"/> call: every thread packs again.</summary>
        public void NextCall()
        {
            if (_packedCall.Length != PerThread.Length)
            {
                _packedCall = new int[PerThread.Length];
            }

            // Call numbers start at 1 (0 is "never packed") and wrap past int.MaxValue without reaching 0 again.
            _call = _call == int.MaxValue ? 1 : _call + 1;
        }

        public void Set(Act a, Act b, in Conv1dRows rows, PackedMatrix w, float[] bias, Activation activation, float[] c, int cOffset, int ldc, float[] packed)
        {
            (_a, _b, _rows) = (a, b, rows);
            (_w, _bias, _activation, _c, _cOffset, _ldc, _packed) = (w, bias, activation, c, cOffset, ldc, packed);
        }

        public void Execute(int start, int end)
        {
            int m = _rows.Rows;
            if (Packing)
            {
                Conv1dPacking.Pack(
                    _a.Data, _a.Stride, _a.Channels, _b.Data, _b.Stride, _b.Channels, _rows, _w.Path, _packed, start, end);
                return;
            }

            float[] packed = _packed;
            if (Fused == Fusion.OwnTiles)
            {
                Conv1dPacking.Pack(
                    _a.Data, _a.Stride, _a.Channels, _b.Data, _b.Stride, _b.Channels, _rows, _w.Path, packed, start, end);
            }
            else if (Fused == Fusion.WholeA)
            {
                // The slot of this pool's running thread; a call nested in another pool's chunk runs inline on one
                // thread, whose slot (the other pool's) may exceed this pool's, and any one buffer then serves.
                int slot = Math.Min(CorePool.CurrentSlot, PerThread.Length - 1);
                packed = PerThread[slot];
                if (_packedCall[slot] != _call)
                {
                    Conv1dPacking.Pack(
                        _a.Data, _a.Stride, _a.Channels, _b.Data, _b.Stride, _b.Channels, _rows, _w.Path, packed);
                    _packedCall[slot] = _call;
                }
            }

            (int p0, int p1, int t0, int t1) = ByRows
                ? (0, _w.Panels, start, end)
                : (start * PanelsPerUnit, Math.Min(end * PanelsPerUnit, _w.Panels), 0, int.MaxValue);
            Sgemm.MultiplyPackedConv(
                packed.AsSpan(0, Sgemm.PackedSize(m, _w.K)), _rows, _w, p0, p1,
                _bias, _activation, _c.AsSpan(_cOffset), _ldc, t0, t1, WeightsFromMemory);
            if (Norm is { } norm && p0 < p1)
            {
                norm.ExecuteColumns(p0 * _w.PanelWidth, Math.Min(p1 * _w.PanelWidth, _w.N));
            }
        }
    }

    /// <summary>
    /// Where a column- or row-split GEMM's packed A comes from. Without fusion the threads first pack disjoint row tiles
    /// of one shared A (or the caller packs it alone, when it is too small to split), then multiply: every thread then
    /// reads the tiles the other packed from the other core's cache, and the next pack writes over lines the other core
    /// holds. On the deployment-size network (2 threads) that cost 4-10% of a call at 1-32 samples (Asd.Bench quick-unet,
    /// ASD_AB_PACK, README "Bringing your diffusion policy"). Packing is the same function of the same input on any
    /// thread, so fusion never changes the product's bits.
    /// </summary>
    private enum Fusion
    {
        /// <summary>A packed before the GEMM, into the shared buffer.</summary>
        None,

        /// <summary>Each thread packs the whole A into its own buffer (by <see cref="CorePool.CurrentSlot"/>), once per call whatever chunks it takes, then multiplies its panels.</summary>
        WholeA,

        /// <summary>The GEMM is split by row tiles: each chunk packs its own tiles into the shared buffer, then multiplies them.</summary>
        OwnTiles,
    }

    /// <summary>
    /// One group norm + Mish in place, then FiLM from the block's columns of the conditioning GEMM (scale at column
    /// scale unless -1, shift at shift unless -1), then the residual when given; unit u is sample u / groups, group
    /// u % groups (<see cref="Execute"/>), or a range of columns of every sample (<see cref="ExecuteColumns"/>, from
    /// a convolution's chunk).
    /// </summary>
    private sealed class NormWork : IRangeWork
    {
        private Unet1dNorm _norm = null!;
        private float[] _x = [], _film = [];
        private float[]? _residual;
        private int _channels, _samples, _length, _filmStride, _scale, _shift, _ldr;
        private double _epsilon;

        /// <summary>The channels normalized (the width of the convolution it may follow).</summary>
        public int Columns => _channels;

        /// <summary>Channels per group.</summary>
        public int GroupWidth => _channels / _norm.Groups;

        /// <summary>Units of <see cref="Execute"/>: samples x groups.</summary>
        public int Units => _samples * _norm.Groups;

        /// <summary>Elements normalized.</summary>
        public long Elements => (long)_samples * _length * _channels;

        public void Set(Unet1dNorm norm, float[] x, int channels, int samples, int length, double epsilon, float[] film, int filmStride, int scale, int shift, float[]? residual, int ldr)
        {
            (_norm, _x, _channels, _samples, _length, _epsilon) = (norm, x, channels, samples, length, epsilon);
            (_film, _filmStride, _scale, _shift, _residual, _ldr) = (film, filmStride, scale, shift, residual, ldr);
        }

        public void Execute(int start, int end)
        {
            int groups = _norm.Groups;
            for (int u = start; u < end;)
            {
                // The units of one sample in this range, as one call: its rows are then walked once, whole.
                int sample = u / groups, g = u % groups, count = Math.Min(end - u, groups - g);
                Apply(sample, g, count);
                u += count;
            }
        }

        /// <summary>Normalizes columns [<paramref name="c0"/>, <paramref name="c1"/>) of every sample: whole groups.</summary>
        public void ExecuteColumns(int c0, int c1)
        {
            int width = GroupWidth;
            if (c0 % width != 0 || c1 % width != 0 || c1 > _channels || c0 >= c1)
            {
                throw new InvalidOperationException($"Columns {c0}-{c1} are not whole groups of {width} of {_channels} channels (a bug).");
            }

            for (int sample = 0; sample < _samples; sample++)
            {
                Apply(sample, c0 / width, (c1 - c0) / width);
            }
        }

        private void Apply(int sample, int g, int count)
        {
            int width = GroupWidth, block = _length * _channels;
            Span<float> x = _x.AsSpan(sample * block, block);
            GroupNorm.ApplyGroups(
                x, _channels, x, _channels, _length, g * width, count, width, _norm.Gamma, _norm.Beta, _epsilon, Activation.Mish,
                _scale < 0 ? default : _film.AsSpan((sample * _filmStride) + _scale, _channels),
                _shift < 0 ? default : _film.AsSpan((sample * _filmStride) + _shift, _channels),
                _residual is null ? default : _residual.AsSpan(sample * _length * _ldr, ((_length - 1) * _ldr) + _channels), _ldr);
        }
    }
}
