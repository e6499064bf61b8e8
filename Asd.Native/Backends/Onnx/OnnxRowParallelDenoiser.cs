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
/// <para>A call of one row gains nothing from the lanes, and may run faster on one session with the pool's threads as
/// intra-op threads (the 28x28 UNet fixture: 0.71 ms on two against 1.10 ms on one, while two rows on two lanes took
/// 1.10 ms). When the model's first such denoiser is made, both ways are timed on one probe row, in alternating blocks (once per
/// model and lane count: <see cref="OnnxModel.SingleRowChoice"/>); where they gave the probe row's exact bits, that
/// starts a running choice (<see cref="Asd.Native.Denoising.TwoWayChoice"/>: the intra-op session first when it was at
/// least 5% faster, then whichever recent calls timed faster), so the choice changes the time, not the output
/// (<see cref="SingleRowMode"/> says what runs, how often it moved and the probe's timing).</para>
/// </remarks>
internal sealed unsafe class OnnxRowParallelDenoiser : IDenoiser, IDisposable, IRangeWork
{
    private readonly OnnxModel _model;
    private readonly CorePool? _pool;
    private readonly OnnxDenoiser[] _lanes;
    private readonly OnnxDenoiser? _single;

    /// <summary>The model's running choice for one-row calls (way 0 a lane, 1 the intra-op session), or null when fixed.</summary>
    private readonly Asd.Native.Denoising.TwoWayChoice? _choice;

    private readonly string _singleRowMode;

    // The current call, for the lanes (spans cannot be fields; the caller's memory is pinned for the call's duration).
    private float* _samples, _conditioning, _output;
    private int* _timesteps;
    private int _rows;

    /// <param name="model">The row-parallel model.</param>
    /// <param name="pool">The core pool whose threads run the lanes.</param>
    /// <param name="flagged">Whether the rows carry a guidance flag (guided calls).</param>
    /// <param name="singleRowIntraOp">One-row calls on intra-op threads: null to time both ways (the default), true to
    /// take them whenever their bits match a lane's (tests), false never.</param>
    internal OnnxRowParallelDenoiser(OnnxModel model, CorePool? pool, bool flagged, bool? singleRowIntraOp = null)
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

            _singleRowMode = "one lane (one thread)";
            if (lanes >= 2 && !flagged && singleRowIntraOp != false)
            {
                // Probed once per model and lane count, which starts a running choice every later denoiser shares
                // (forced, for tests, not timed against anything); where the two ways' bits differ, one lane always,
                // and a later denoiser that reuses that answer makes no intra-op denoiser at all.
                OnnxDenoiser? single = null;
                OnnxDenoiser Single() => single ??= new OnnxDenoiser(model, 1, flagged, model.SingleRowSession(lanes));
                (_choice, bool faster, _singleRowMode) = singleRowIntraOp == true
                    ? ChooseSingleRow(Single(), lanes, forced: true)
                    : model.SingleRowChoice.Get(lanes, () => ChooseSingleRow(Single(), lanes, forced: false));
                if (faster || _choice is not null)
                {
                    _single = Single();
                }
                else
                {
                    single?.Dispose();
                }
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

    /// <summary>How calls of one row run, and the timing that chose it.</summary>
    internal string SingleRowMode => _choice is { } choice ? choice.Describe() : _singleRowMode;

    /// <summary>The model's running choice for one-row calls (tests), or null when fixed.</summary>
    internal Asd.Native.Denoising.TwoWayChoice? SingleRowChoice => _choice;

    /// <summary>Minimum speedup of the intra-op session over one lane for one-row calls to take it.</summary>
    internal const double SingleRowMinGain = 1.05;

    /// <inheritdoc/>
    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        int rows = timesteps.Length;
        DenoiserChecks.CheckBatch(this, samples.Length, rows, conditioning.Length, output.Length);
        if (rows == 0)
        {
            return;
        }

        if (rows == 1 && _choice is { } choice)
        {
            Asd.Native.Denoising.TwoWayChoice.Ticket ticket = choice.Next();
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            (ticket.Way == 1 ? _single! : _lanes[0]).Denoise(samples, timesteps, conditioning, output);
            choice.Record(ticket, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            return;
        }

        if (rows == 1 && _single is not null)
        {
            _single.Denoise(samples, timesteps, conditioning, output);
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

    /// <summary>
    /// Times one probe row on lane 0 and on <paramref name="single"/>, in alternating blocks of 3 back-to-back calls (the
    /// last 2 of each block timed; 7 blocks each way, the first 2 untimed), as DDPM makes them, and compares their outputs
    /// bit for bit: true when the intra-op session's median was at least <see cref="SingleRowMinGain"/> times faster and
    /// every output matched. Call by call alternation, as before, timed each intra-op call right after a lane call: on
    /// the 28x28 UNet (Zen 4, 30 bench runs) it read 1.8-2.2 ms in 12 runs, which then kept one lane, and DDPM's
    /// request took 189-199 ms (medians) against 119-129 ms where it chose the intra-op session; in blocks it read
    /// 1.16-1.22 ms against 1.80-1.86 on a lane in 5 runs of 5, each choosing the session (DDPM 116-123 ms).
    /// </summary>
    private (Asd.Native.Denoising.TwoWayChoice? Choice, bool Faster, string Mode) ChooseSingleRow(OnnxDenoiser single, int threads, bool forced)
    {
        int d = SampleSize, c = ConditionSize, trainSteps = Math.Max(1, _model.DefaultScheduler.NumTrainTimesteps);
        var rng = new Random(7);
        float[] x = [.. Enumerable.Range(0, d).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] cond = new float[c];
        int[] t = [trainSteps / 2];
        float[] byLane = new float[d], bySingle = new float[d];
        var laneTimes = new List<double>();
        var singleTimes = new List<double>();
        bool same = true;
        for (int block = 0; block < 7; block++)
        {
            for (int i = 0; i < 3; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _lanes[0].Denoise(x, t, cond, byLane);
                double lane = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (i > 0 && block > 1)
                {
                    laneTimes.Add(lane);
                }
            }

            for (int i = 0; i < 3; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                single.Denoise(x, t, cond, bySingle);
                double one = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (i > 0 && block > 1)
                {
                    singleTimes.Add(one);
                }
            }

            same &= System.Runtime.InteropServices.MemoryMarshal.AsBytes(byLane.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bySingle.AsSpan()));
        }

        double laneMedian = laneTimes.Order().ElementAt(laneTimes.Count / 2), singleMedian = singleTimes.Order().ElementAt(singleTimes.Count / 2);
        string timing = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"one row: {laneMedian * 1e6:F0} us on one lane, {singleMedian * 1e6:F0} us on {threads} intra-op threads");
        if (!same)
        {
            return (null, false, $"one lane (one thread): the {threads}-thread session's output bits differ from a lane's; {timing}");
        }

        if (forced)
        {
            return (null, true, $"{threads} intra-op threads ({timing}; forced)");
        }

        // The start; the calls then keep it right (TwoWayChoice), since the machine can change under a run.
        int initial = laneMedian >= SingleRowMinGain * singleMedian ? 1 : 0;
        string[] names = ["one lane (one thread)", $"{threads} intra-op threads"];
        return (new Asd.Native.Denoising.TwoWayChoice(initial, names, laneTimes, singleTimes, $"{timing}, timed when the model's first row-parallel denoiser on this many lanes was made"), false, "");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (OnnxDenoiser? lane in _lanes)
        {
            lane?.Dispose();
        }

        _single?.Dispose();
    }
}
