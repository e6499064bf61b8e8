namespace Asd.Native.Sampling;

/// <summary>
/// The settings a sampler is built with. <see cref="SamplerFactory"/> fills them from a <see cref="SamplerRequest"/>
/// (the one record callers use); tests and benchmarks that build a sampler directly use them as they are.
/// </summary>
public sealed record SamplerOptions
{
    /// <summary>Default row cap per denoiser call (<see cref="SamplerRequest.DefaultMaxBatchRows"/>).</summary>
    public const int DefaultMaxBatchRows = SamplerRequest.DefaultMaxBatchRows;

    /// <summary>
    /// The most rows one denoiser call carries. Bounds memory: the sampler's batch buffers hold this many rows,
    /// whatever L and the number of chains. A verification that needs more rows is split into several calls
    /// (each counts as a sequential call) and continues exactly as if it had not been split.
    /// </summary>
    public int MaxBatchRows { get; init; } = DefaultMaxBatchRows;

    /// <summary>The speculation length (ASD only; the default, auto, needs <see cref="CostCurve"/>).</summary>
    public SpecLength SpecLength { get; init; } = SpecLength.Auto;

    /// <summary>
    /// The denoiser's batch-cost curve for the automatic speculation length, which a sampler never measures itself:
    /// <see cref="SamplerFactory"/> measures it once per model and thread count (cached, <see cref="CostCurveCache"/>)
    /// unless the request gives one, which makes "auto" deterministic (docs/math.md section 6).
    /// </summary>
    public CostCurve? CostCurve { get; init; }

    /// <summary>
    /// The rows per call for samples of <paramref name="sampleSize"/> floats and conditioning rows of
    /// <paramref name="conditionSize"/>: <see cref="MaxBatchRows"/>, lowered so that every batch buffer (samples, outputs,
    /// conditioning) holds at most <see cref="Validation.ResourceLimits.MaxBatchFloats"/> floats (splitting a
    /// verification into more calls never changes the bytes of a sample). A model may take a conditioning row of 2^20
    /// floats: sized by the sample alone, 1024 such rows were a 4 GiB buffer, copied again by the denoiser.
    /// </summary>
    public int RowsFor(int sampleSize, int conditionSize = 0) =>
        Math.Max(1, Math.Min(MaxBatchRows, Validation.ResourceLimits.RowsWithinBatchFloats(Math.Max(sampleSize, conditionSize))));

    /// <summary>Throws on invalid settings.</summary>
    public SamplerOptions Validate()
    {
        if (MaxBatchRows < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchRows), $"max_batch_rows must be >= 1 (got {MaxBatchRows}).");
        }

        if (SpecLength.Encoded < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(SpecLength), "Invalid speculation length.");
        }

        return this;
    }
}

/// <summary>Progress of a run, reported after every denoiser invocation.</summary>
/// <param name="CompletedSteps">Steps completed, summed over chains.</param>
/// <param name="TotalSteps">K times the number of chains.</param>
/// <param name="Invocations">Denoiser invocations so far.</param>
public readonly record struct SamplingProgress(long CompletedSteps, long TotalSteps, long Invocations);

/// <summary>Receives progress on the sampling thread; returning false cancels the run.</summary>
public interface ISamplingProgress
{
    /// <summary>Called after each denoiser invocation; return false to cancel (no output is written).</summary>
    bool OnProgress(in SamplingProgress progress);
}

/// <summary>Thrown when a progress callback cancels a run; the output buffer is left untouched.</summary>
public sealed class SamplingCancelledException() : OperationCanceledException("Sampling was cancelled by the progress callback; no output was written.");

/// <summary>Thrown when a calibration's callback (<see cref="CalibrationLimits.Continue"/>) cancels it.</summary>
public sealed class CalibrationCancelledException() : OperationCanceledException("The batch-cost calibration was cancelled by its progress callback; no sampler was created.");

/// <summary>
/// Bounds on the batch-cost calibration that the automatic speculation length runs when no curve is given.
/// </summary>
/// <param name="Seconds">Wall-clock budget; the measurement keeps what it has when it runs out. Negative: skip the
/// calibration and assume a cost linear in rows (T(B) = B T(1)), under which auto runs L = 1.</param>
/// <param name="Continue">Called after every model call with (calls done, calls planned); false cancels.</param>
public sealed record CalibrationLimits(double Seconds, Func<int, int, bool>? Continue = null)
{
    /// <summary>The default budget (<see cref="Validation.ResourceLimits.DefaultCalibrationSeconds"/>), no callback.</summary>
    public static CalibrationLimits Default { get; } = new(Validation.ResourceLimits.DefaultCalibrationSeconds);

    /// <summary>True when the calibration is skipped.</summary>
    public bool Skip => Seconds < 0;

    /// <summary>Measure again even when a curve is remembered (in memory or in <see cref="CostCurveStore"/>), and replace it.</summary>
    public bool Refresh { get; init; }
}

/// <summary>Thrown when the model returns NaN or infinity in a row the chain actually uses.</summary>
public sealed class NonFiniteModelOutputException(string message) : InvalidOperationException(message);
