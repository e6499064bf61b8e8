using CommunityToolkit.HighPerformance;
using System.Diagnostics;

namespace Asd.Native.Sampling;

/// <summary>
/// What DDPM and ASD share: the chains' state, the batch buffers (sized once by the row cap), the one denoiser
/// call path (raw output converted to x0 estimates in place), the noise keys and the statistics.
/// A sampler is not thread-safe; use one per thread (they may share the model behind the denoiser).
/// </summary>
public abstract class Sampler : IDisposable
{
    private readonly float[] _batchX, _batchOut, _batchCond;
    private readonly int[] _batchT, _batchStep, _batchChain;
    private float[] _x = [], _cond = [];
    private int[] _callStamp = [];
    private int _batchRows;
    private int _invocation;
    private ulong _chainOffset;
    private ISamplingProgress? _progress;

    /// <summary>Creates a sampler; buffers for <see cref="SamplerOptions.MaxBatchRows"/> rows are allocated here.</summary>
    protected Sampler(IDenoiser denoiser, InferencePlan plan, SamplerOptions options)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(plan);
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        Denoiser = denoiser;
        Plan = plan;
        D = denoiser.SampleSize;
        C = denoiser.ConditionSize;
        if (D < 1)
        {
            throw new ArgumentException($"The denoiser's sample size must be >= 1 (got {D}).");
        }

        // At most MaxBatchFloats per buffer: max_batch_rows alone must not size an allocation (1024 rows of a
        // 2^24-float sample would be 64 GiB, of a 2^20-float conditioning row 4 GiB). Fewer rows per call split
        // verifications into more calls, same bytes.
        int r = Options.RowsFor(D, C);
        BatchCapacity = r;
        RowsPerCall = denoiser.MaxRowsPerCall > 0 ? Math.Min(r, denoiser.MaxRowsPerCall) : r;
        _batchX = new float[checked(r * D)];
        _batchOut = new float[r * D];
        _batchCond = new float[r * C];
        _batchT = new int[r];
        _batchStep = new int[r];
        _batchChain = new int[r];
        StepNoise = new float[D];
        Noise = new CounterNoise(0);
    }

    /// <summary>The denoiser this sampler calls.</summary>
    public IDenoiser Denoiser { get; }

    /// <summary>The K steps.</summary>
    public InferencePlan Plan { get; }

    /// <summary>The settings.</summary>
    public SamplerOptions Options { get; }

    /// <summary>Statistics of the last run (reused by the next run).</summary>
    public SamplingStats Stats { get; } = new();

    /// <summary>Elements per sample.</summary>
    protected int D { get; }

    /// <summary>Elements per conditioning row.</summary>
    protected int C { get; }

    /// <summary>Number of chains in the current run.</summary>
    protected int N { get; private set; }

    /// <summary>The noise of the current run.</summary>
    protected INoiseSource Noise { get; private set; }

    /// <summary>Whether <see cref="Dispose"/> disposes the denoiser (true when a factory created it for this sampler).</summary>
    internal bool OwnsDenoiser { get; set; }

    /// <summary>The core pool the factory made for this sampler alone, disposed with it (null when shared or none).</summary>
    internal Threading.CorePool? OwnedPool { get; set; }

    /// <summary>Releases the denoiser's native resources when this sampler owns it, then its own core pool.</summary>
    public void Dispose()
    {
        if (OwnsDenoiser && Denoiser is IDisposable d)
        {
            d.Dispose();
        }

        OwnedPool?.Dispose();
        OwnedPool = null;

        GC.SuppressFinalize(this);
    }

    /// <summary>Replaces the counter-based noise (tests feed recorded noise through this); null restores it.</summary>
    internal INoiseSource? NoiseOverride { get; set; }

    /// <summary>Scratch for one row of step noise.</summary>
    protected float[] StepNoise { get; }

    /// <summary>Chain states x (N x D); holds the outputs when a run ends.</summary>
    protected Span<float> X => _x.AsSpan(0, N * D);

    /// <summary>Row <paramref name="chain"/> of <see cref="X"/>.</summary>
    protected Span<float> XRow(int chain) => Rows(_x, D).GetRowSpan(chain);

    /// <summary>Steps completed, summed over chains, for progress reports.</summary>
    protected long CompletedSteps { get; set; }

    /// <summary>Input row <paramref name="row"/> of the batch being assembled.</summary>
    protected Span<float> BatchInput(int row) => Rows(_batchX, D).GetRowSpan(row);

    /// <summary>Output row of the last invocation, already converted to an x0 estimate.</summary>
    protected Span<float> BatchOutput(int row) => Rows(_batchOut, D).GetRowSpan(row);

    /// <summary>A row-major buffer of rows of <paramref name="width"/> floats, as a 2-D view (CommunityToolkit.HighPerformance).</summary>
    protected static Span2D<float> Rows(float[] buffer, int width) => new(buffer, buffer.Length / width, width);

    /// <summary>Rows in the batch being assembled.</summary>
    protected int BatchRows => _batchRows;

    /// <summary>Rows still free in the batch being assembled.</summary>
    protected int BatchCapacityLeft => RowsPerCall - _batchRows;

    /// <summary>The row cap of one call: the option, or the denoiser's static batch if smaller.</summary>
    protected int RowsPerCall { get; }

    /// <summary>Rows the batch buffers hold (<see cref="SamplerOptions.RowsFor"/>).</summary>
    protected int BatchCapacity { get; }

    /// <summary>The timestep every row of the current batch must share when the denoiser takes one timestep per call (-1: none yet).</summary>
    protected int BatchTimestep { get; private set; } = -1;

    /// <summary>Whether a row at <paramref name="step"/> may join the current batch.</summary>
    protected bool FitsBatch(int step) => !Denoiser.SharedTimestep || BatchTimestep < 0 || Plan.Timesteps[step] == BatchTimestep;

    /// <summary>The global chain id of local chain <paramref name="chain"/> (the noise key).</summary>
    protected ulong ChainId(int chain) => _chainOffset + (ulong)chain;

    /// <summary>
    /// Samples <paramref name="count"/> chains into <paramref name="output"/> (count x sample size values).
    /// </summary>
    /// <param name="count">Number of chains N &gt;= 1.</param>
    /// <param name="seed">The seed; with the chain ids it keys every random number.</param>
    /// <param name="output">Receives the samples; written only when the whole run succeeds.</param>
    /// <param name="conditioning">ConditionSize values (shared by all chains) or N x ConditionSize; empty when unconditional.</param>
    /// <param name="initialNoise">Optional x_T for every chain (N x D, diffusers' <c>latents</c>); empty to draw it.</param>
    /// <param name="chainOffset">The id of the first chain: a run split by offsets gives the same samples as one run.</param>
    /// <param name="progress">Optional progress receiver; returning false cancels.</param>
    /// <returns>The run's statistics (<see cref="Stats"/>).</returns>
    public SamplingStats Sample(
        int count,
        ulong seed,
        Span<float> output,
        ReadOnlySpan<float> conditioning = default,
        ReadOnlySpan<float> initialNoise = default,
        ulong chainOffset = 0,
        ISamplingProgress? progress = null)
    {
        ValidateRequest(count, output.Length, conditioning, initialNoise);

        // Chain ids key the noise: ids that wrapped past 2^64 would repeat chains 0, 1, ... of another shard's run (the
        // bound is the one a shard manifest's reader applies, so every run's shard can be merged).
        if (chainOffset > ulong.MaxValue - (ulong)count)
        {
            throw new ArgumentOutOfRangeException(nameof(chainOffset), $"chain_offset {chainOffset} + {count} samples exceeds the 64-bit chain ids (at most {ulong.MaxValue - (ulong)count} for {count} samples).");
        }

        long start = Stopwatch.GetTimestamp();
        N = count;
        _chainOffset = chainOffset;
        _progress = progress;
        if (NoiseOverride is { } injected)
        {
            Noise = injected;
        }
        else if (Noise is CounterNoise counter)
        {
            counter.Seed = seed;
        }
        else
        {
            Noise = new CounterNoise(seed);
        }

        EnsureChainBuffers(count);
        if (C > 0)
        {
            for (int c = 0; c < count; c++)
            {
                (conditioning.Length == C ? conditioning : conditioning.Slice(c * C, C)).CopyTo(_cond.AsSpan(c * C, C));
            }
        }

        if (initialNoise.IsEmpty)
        {
            for (int c = 0; c < count; c++)
            {
                Noise.Gaussian(ChainId(c), 0, NoisePurpose.Initial, XRow(c));
            }
        }
        else
        {
            initialNoise.CopyTo(X);
        }

        Array.Clear(_callStamp, 0, count);
        _invocation = 0;
        _batchRows = 0;
        CompletedSteps = 0;
        ResetStats(Stats);
        Run();
        Stats.FinishCalls();
        Stats.WallSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        X.CopyTo(output);
        return Stats;
    }

    /// <summary>Resets <paramref name="stats"/> for a run of <see cref="N"/> chains.</summary>
    protected abstract void ResetStats(SamplingStats stats);

    /// <summary>Runs all chains to the end, leaving the samples in <see cref="X"/>.</summary>
    protected abstract void Run();

    /// <summary>Bytes of this sampler's state per chain (its per-chain arrays), for the size checks of a run.</summary>
    public virtual long BytesPerChain => (4L * (D + C)) + sizeof(int);

    /// <summary>Values per chain in this sampler's largest per-chain array (a run's chains times this must fit one array).</summary>
    protected virtual long ValuesPerChain => Math.Max(D, C);

    /// <summary>Allocates per-chain state for <paramref name="count"/> chains (called when N grows).</summary>
    protected virtual void EnsureChainBuffers(int count)
    {
        if (_x.Length < count * D)
        {
            _x = new float[count * D];
            _cond = new float[count * C];
            _callStamp = new int[count];
        }
    }

    /// <summary>Starts assembling a new batch.</summary>
    protected void BeginBatch()
    {
        _batchRows = 0;
        BatchTimestep = -1;
    }

    /// <summary>
    /// Appends a row for <paramref name="chain"/> at step <paramref name="step"/> (its input is written by the
    /// caller through <see cref="BatchInput"/>) and returns its index.
    /// </summary>
    protected int AddRow(int chain, int step)
    {
        int row = _batchRows++;
        _batchT[row] = Plan.Timesteps[step];
        BatchTimestep = Plan.Timesteps[step];
        _batchStep[row] = step;
        _batchChain[row] = chain;
        if (C > 0)
        {
            _cond.AsSpan(chain * C, C).CopyTo(_batchCond.AsSpan(row * C, C));
        }

        return row;
    }

    /// <summary>
    /// Calls the denoiser on the assembled rows and converts every output row to an x0 estimate; counts one
    /// sequential call for each chain with a row in the batch.
    /// </summary>
    protected void Invoke()
    {
        int rows = _batchRows;
        Denoiser.Denoise(
            _batchX.AsSpan(0, rows * D),
            _batchT.AsSpan(0, rows),
            C > 0 ? _batchCond.AsSpan(0, rows * C) : default,
            _batchOut.AsSpan(0, rows * D));
        _invocation++;
        Span<int> calls = Stats.CallsRaw;
        for (int r = 0; r < rows; r++)
        {
            Span<float> o = BatchOutput(r);
            Plan.ToX0(_batchStep[r], BatchInput(r), o, o);
            int chain = _batchChain[r];
            if (_callStamp[chain] != _invocation)
            {
                _callStamp[chain] = _invocation;
                calls[chain]++;
            }
        }

        Stats.DenoiserInvocations++;
        Stats.RowsEvaluated += rows;
    }

    /// <summary>
    /// The clock that times the calls automatic L learns from: the system's <see cref="System.Diagnostics.Stopwatch"/>;
    /// tests give a fake one whose time a fake denoiser advances, so that they control every cost.
    /// </summary>
    internal TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>
    /// The bytes this process may use, for the size check of a run (null: the GC's figure); tests give a small one, so
    /// that a refusal is reached without a machine too small for the run.
    /// </summary>
    internal Func<long>? AvailableMemory { get; set; }

    /// <summary>Throws when a row the chain is about to use holds NaN or infinity.</summary>
    protected void CheckFinite(ReadOnlySpan<float> m, int chain, int step)
    {
        if (!RowOps.AllFinite(m))
        {
            throw new NonFiniteModelOutputException(
                $"The denoiser returned NaN or infinity (after conversion to an x0 estimate) for chain {ChainId(chain)} at step {step} of {Plan.Steps} (timestep {Plan.Timesteps[step]}); no output was written.");
        }
    }

    /// <summary>Draws z for (chain, step) into <see cref="StepNoise"/> unless the step is deterministic.</summary>
    protected ReadOnlySpan<float> DrawStepNoise(int chain, int step)
    {
        if (Plan.SigmaF[step] == 0f)
        {
            return default;
        }

        Noise.Gaussian(ChainId(chain), step, NoisePurpose.Step, StepNoise);
        return StepNoise;
    }

    /// <summary>
    /// DDPM's loop: K steps, each one batched model call over all chains (split by the row cap), then
    /// x_{i+1} = a_i x_i + b_i m_i + sigma_i z_i; every step but the last counts as one round per chain.
    /// </summary>
    protected void RunDdpmSteps()
    {
        int k = Plan.Steps, cap = RowsPerCall;
        for (int i = 0; i < k; i++)
        {
            for (int first = 0; first < N; first += cap)
            {
                int end = Math.Min(N, first + cap);
                BeginBatch();
                for (int c = first; c < end; c++)
                {
                    XRow(c).CopyTo(BatchInput(AddRow(c, i)));
                }

                Invoke();
                for (int c = first; c < end; c++)
                {
                    Span<float> m = BatchOutput(c - first);
                    CheckFinite(m, c, i);
                    Span<float> x = XRow(c);
                    Plan.Step(i, x, m, DrawStepNoise(c, i), x);
                }

                CompletedSteps += end - first;
                ReportProgress();
            }

            if (i < k - 1)
            {
                Stats.Rounds += N;
            }

            AfterDdpmStep(i);
        }
    }

    /// <summary>Called by <see cref="RunDdpmSteps"/> after step <paramref name="step"/> (the states hold x_{step+1}).</summary>
    protected virtual void AfterDdpmStep(int step)
    {
    }

    /// <summary>Reports progress; throws <see cref="SamplingCancelledException"/> if the receiver cancels.</summary>
    protected void ReportProgress()
    {
        if (_progress is { } p && !p.OnProgress(new SamplingProgress(CompletedSteps, (long)N * Plan.Steps, Stats.DenoiserInvocations)))
        {
            throw new SamplingCancelledException();
        }
    }

    private void ValidateRequest(int count, int outputLength, ReadOnlySpan<float> conditioning, ReadOnlySpan<float> initialNoise)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"The number of samples must be >= 1 (got {count}).");
        }

        long need = (long)count * D;
        if (outputLength != need)
        {
            throw new ArgumentException($"The output buffer holds {outputLength} floats; {count} samples of {D} need {need}.", "output");
        }

        // Hostile sizes: a run's per-chain state lives in arrays of count x (values per chain); more than an array
        // holds, or than this process may use, is refused here rather than as an overflow or an out-of-memory later.
        if ((long)count * ValuesPerChain > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} chains in one run need arrays of {(long)count * ValuesPerChain:N0} values ({ValuesPerChain} per chain), more than one array holds; sample in several runs (chain_offset).");
        }

        // Asked of the GC only for a large run: GetGCMemoryInfo allocates, and a sampler's later runs allocate nothing.
        long bytes = count * BytesPerChain;
        if (bytes > 1L << 30 && (AvailableMemory is { } given ? given() : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) is long available && available > 0 && bytes > available)
        {
            throw new ArgumentOutOfRangeException(nameof(count), string.Create(CultureInfo.InvariantCulture, $"{count} chains in one run need {bytes / (double)(1L << 30):F1} GiB of sampler state, more than the {available / (double)(1L << 30):F1} GiB this process may use; sample in several runs (chain_offset)."));
        }

        if (C == 0 && !conditioning.IsEmpty)
        {
            throw new ArgumentException($"This model is unconditional, but {conditioning.Length} conditioning values were given.", nameof(conditioning));
        }

        if (C > 0)
        {
            if (conditioning.Length != C && conditioning.Length != (long)count * C)
            {
                throw new ArgumentException(conditioning.IsEmpty
                    ? $"This model is conditional: give {C} conditioning values (shared by all samples) or {count} x {C}."
                    : $"Conditioning holds {conditioning.Length} values; expected {C} (shared) or {count} x {C} = {(long)count * C}.", nameof(conditioning));
            }

            int bad = IndexOfNonFinite(conditioning);
            if (bad >= 0)
            {
                throw new ArgumentException($"Conditioning value {bad} is {conditioning[bad]}; conditioning must be finite.", nameof(conditioning));
            }
        }

        if (!initialNoise.IsEmpty)
        {
            if (initialNoise.Length != need)
            {
                throw new ArgumentException($"Initial noise holds {initialNoise.Length} values; {count} samples of {D} need {need}.", nameof(initialNoise));
            }

            int bad = IndexOfNonFinite(initialNoise);
            if (bad >= 0)
            {
                throw new ArgumentException($"Initial noise value {bad} is {initialNoise[bad]}; it must be finite.", nameof(initialNoise));
            }
        }
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
