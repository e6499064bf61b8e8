namespace Asd.Native.Backends.Onnx;

/// <summary>
/// Row-parallel ONNX verification on the CPU (<see cref="ModelOpenOptions.RowParallel"/>): the rows of one call are
/// independent, so each core-pool lane owns an ONNX Runtime session with one intra-op thread (the lanes share
/// prepacked weights) and runs about B/P of the rows. A convolution of batch 1 gains little from intra-op threads
/// (unet16: 173 us on one, 155 us on two), while two rows on two lanes cost about one row's time.
/// </summary>
/// <remarks>
/// Every row is evaluated alone (a batch of one) on a one-thread session, all lanes configured alike, so a row's output
/// bits depend neither on its batch neighbours nor on the thread count: this path is batch-invariant, unlike ONNX
/// Runtime's batched calls. Lane i takes rows i, i + P, i + 2P, ...: lanes are indices of the pool's range, so no two
/// threads ever share a lane's session and buffers. After the first call nothing is allocated.
/// </remarks>
internal sealed unsafe class OnnxRowParallelDenoiser : IDenoiser, IDisposable, IRangeWork
{
    private readonly OnnxModel _model;
    private readonly CorePool? _pool;
    private readonly OnnxDenoiser[] _lanes;

    // The current call, for the lanes (spans cannot be fields; the caller's memory is pinned for the call's duration).
    private float* _samples, _conditioning, _output;
    private int* _timesteps;
    private int _rows;

    internal OnnxRowParallelDenoiser(OnnxModel model, CorePool? pool, bool flagged)
    {
        _model = model;
        _pool = pool;
        int lanes = pool?.Threads ?? 1;
        _lanes = new OnnxDenoiser[lanes];
        try
        {
            for (int i = 0; i < lanes; i++)
            {
                _lanes[i] = new OnnxDenoiser(model, 1, flagged, model.LaneSession(i));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public int SampleSize => _lanes[0].SampleSize;

    /// <inheritdoc/>
    public int ConditionSize => _lanes[0].ConditionSize;

    /// <inheritdoc/>
    public bool IsBatchInvariant => true;

    /// <inheritdoc/>
    public bool SharedTimestep => _model.ScalarTimestep;

    /// <summary>Lanes, one per pool thread.</summary>
    internal int Lanes => _lanes.Length;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length;
        DenoiserChecks.CheckBatch(this, samples.Length, rows, conditioning.Length, output.Length);
        if (rows == 0)
        {
            return;
        }

        fixed (float* x = samples, c = conditioning, y = output)
        fixed (int* t = timesteps)
        {
            _samples = x;
            _conditioning = c;
            _output = y;
            _timesteps = t;
            _rows = rows;
            try
            {
                CorePool.RunOrInline(_pool, this, Math.Min(_lanes.Length, rows));
            }
            finally
            {
                _samples = _conditioning = _output = null;
                _timesteps = null;
            }
        }
    }

    /// <summary>Runs lanes [start, end): lane i evaluates rows i, i + P, ..., one at a time.</summary>
    public void Execute(int start, int end)
    {
        int d = SampleSize, c = ConditionSize, stride = Math.Min(_lanes.Length, _rows);
        for (int lane = start; lane < end; lane++)
        {
            OnnxDenoiser den = _lanes[lane];
            for (int r = lane; r < _rows; r += stride)
            {
                den.Denoise(
                    new ReadOnlySpan<float>(_samples + ((long)r * d), d),
                    new ReadOnlySpan<int>(_timesteps + r, 1),
                    new ReadOnlySpan<float>(_conditioning + ((long)r * c), c),
                    new Span<float>(_output + ((long)r * d), d));
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (OnnxDenoiser? lane in _lanes)
        {
            lane?.Dispose();
        }
    }
}
