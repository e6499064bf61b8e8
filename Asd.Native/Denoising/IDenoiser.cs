namespace Asd.Native.Denoising;

/// <summary>
/// A batched diffusion model call: rows of noisy samples, each with its own training timestep and optional
/// conditioning row, in; one raw model output row each (epsilon, v or x0, as the scheduler's
/// <c>prediction_type</c> says) out.
/// </summary>
/// <remarks>
/// <para>An instance owns its scratch buffers and is not thread-safe: each sampler gets its own. The weights behind
/// it are immutable and may be shared by many instances on many threads (see <see cref="IDiffusionModel"/>).</para>
/// <para>Batch invariance (docs/math.md section 6): implementations in this engine compute every row's output with
/// bits that do not depend on the batch size, the row's position or the thread count. ONNX Runtime does not
/// promise this; <see cref="IsBatchInvariant"/> says which kind an instance is.</para>
/// </remarks>
public interface IDenoiser
{
    /// <summary>Elements per sample row (the product of the sample shape).</summary>
    int SampleSize { get; }

    /// <summary>Elements per conditioning row; 0 for an unconditional model.</summary>
    int ConditionSize { get; }

    /// <summary>Whether a row's output bits are independent of its batch (see remarks).</summary>
    bool IsBatchInvariant { get; }

    /// <summary>
    /// The most rows one call can take in one model evaluation (a static batch dimension), or 0 for any number.
    /// Samplers never send more, so every <see cref="Denoise"/> call is one model evaluation and call counts are honest.
    /// </summary>
    int MaxRowsPerCall => 0;

    /// <summary>
    /// True when the model takes one timestep per call (a scalar timestep input): samplers then only batch rows that
    /// share a timestep.
    /// </summary>
    bool SharedTimestep => false;

    /// <summary>
    /// Evaluates <c>timesteps.Length</c> rows. <paramref name="samples"/> and <paramref name="output"/> hold
    /// rows x SampleSize values, <paramref name="conditioning"/> rows x ConditionSize (empty when ConditionSize is 0).
    /// </summary>
    void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output);
}

/// <summary>
/// A loaded model: immutable, shareable across threads, with the scheduler it was trained with. Each sampler asks
/// it for its own <see cref="IDenoiser"/>.
/// </summary>
public interface IDiffusionModel : IDisposable
{
    /// <summary>A short description, for summaries and stats.</summary>
    string Name { get; }

    /// <summary>The shape of one sample (for example [2] or [3, 16, 16]).</summary>
    IReadOnlyList<int> SampleShape { get; }

    /// <summary>Elements per conditioning row; 0 when unconditional.</summary>
    int ConditionSize { get; }

    /// <summary>
    /// What a conditioning row's values are when they are more than one flat list (a ConditionalUnet1D with local
    /// conditioning: "3 global values, then 8 positions x 4 local values"), for the messages of every interface; null
    /// otherwise.
    /// </summary>
    string? ConditionLayout => null;

    /// <summary>The scheduler the model was trained with (flags may override fields).</summary>
    Schedules.SchedulerConfig DefaultScheduler { get; }

    /// <summary>
    /// Whether the model defines a null condition, so that a guidance scale can be asked for (capability; front-ends
    /// ask this rather than test a model's type).
    /// </summary>
    bool SupportsGuidance => false;

    /// <summary>
    /// Whether the model's denoisers run on the engine's core pool (true) or bring their own threads (ONNX Runtime),
    /// in which case the factory gives them a pool of one thread.
    /// </summary>
    bool UsesCorePool => true;

    /// <summary>
    /// The threads a call runs on when the model brings its own (<see cref="UsesCorePool"/> false: ONNX Runtime's
    /// intra-op threads); 1 otherwise. Part of the cost curve's key: a curve measured with one intra-op thread is not
    /// the curve of two.
    /// </summary>
    int OwnThreads => 1;

    /// <summary>Where the model runs: "cpu" (the engine's kernels, or ONNX Runtime on the CPU) or "cuda".</summary>
    string Device => "cpu";

    /// <summary>Why the device asked for was not used ("auto" without CUDA), or null.</summary>
    string? DeviceFallback => null;

    /// <summary>A line for reports on the runtime and device (ONNX Runtime, batch buckets), or null for the engine's own kernels.</summary>
    string? RuntimeSummary => null;

    /// <summary>
    /// The density of the model's target distribution at <paramref name="x"/> (one sample), when the model knows it in
    /// closed form (the analytic mixture), else null: pictures draw it under the samples.
    /// </summary>
    double? TargetDensity(ReadOnlySpan<double> x) => null;

    /// <summary>
    /// A denoiser for one sampler, for the given (possibly overridden) schedule. Analytic models use the schedule
    /// to compute their exact answer and express it in the schedule's prediction type.
    /// </summary>
    IDenoiser CreateDenoiser(Schedules.DiffusionSchedule schedule, DenoiserOptions options);
}

/// <summary>Per-denoiser settings.</summary>
public sealed record DenoiserOptions
{
    /// <summary>The most rows a single call will carry (the sampler's cap), so buffers can be sized once.</summary>
    public int MaxBatchRows { get; init; } = 1024;

    /// <summary>The core pool that splits rows across threads (null: run on the calling thread).</summary>
    public Threading.CorePool? Pool { get; init; }

    /// <summary>
    /// Classifier-free guidance scale w (m = m_uncond + w (m_cond - m_uncond)), for models that define a null
    /// condition; null uses the model's default (no guidance unless its configuration sets a scale).
    /// </summary>
    public double? GuidanceScale { get; init; }
}

/// <summary>
/// The model's own runtime rejected a call (an ONNX Runtime error: an index outside an embedding table, a shape the
/// graph cannot take): the model or its inputs are at fault, not the engine.
/// </summary>
public sealed class ModelRunException(string message, Exception inner) : InvalidOperationException(message, inner);
