namespace Asd.Native.Validation;

/// <summary>
/// The documented ceilings on what a model file, a spec or a caller may ask of the engine (README, "Reliability").
/// Each bounds memory or time that input alone could otherwise make unbounded; every check that enforces one names
/// the field and the limit. Every backend uses these, so a new model format inherits them.
/// </summary>
public static class ResourceLimits
{
    /// <summary>Floats in one sample (the product of the sample shape): 2^24, 64 MiB as float32.</summary>
    public const int MaxSampleSize = 1 << 24;

    /// <summary>Floats in one conditioning row: 2^20.</summary>
    public const int MaxConditionSize = 1 << 20;

    /// <summary>Dimensions of a sample shape.</summary>
    public const int MaxRank = 8;

    /// <summary>Threads of one sampler's core pool (and ONNX Runtime's intra-op threads).</summary>
    public const int MaxThreads = 256;

    /// <summary>num_train_timesteps (T); inference steps K are at most T.</summary>
    public const int MaxTrainSteps = 100_000;

    /// <summary>
    /// Floats in one batch buffer of a sampler (rows per call x sample size): 2^24, 64 MiB (a sampler holds about four
    /// such buffers). The rows per call are lowered to fit (only samples of more than 16,384 floats are affected at the
    /// default 1024 rows); this changes how a verification is split into calls, never the bytes of a sample.
    /// </summary>
    public const int MaxBatchFloats = 1 << 24;

    /// <summary>The most rows of <paramref name="floatsPerRow"/> floats a batch buffer holds within <see cref="MaxBatchFloats"/>; at least 1.</summary>
    public static int RowsWithinBatchFloats(int floatsPerRow) => Math.Max(1, MaxBatchFloats / Math.Max(1, floatsPerRow));

    /// <summary>Bytes of a weights file (asd-mlp safetensors): 1 GiB.</summary>
    public const long MaxWeightsBytes = 1L << 30;

    /// <summary>Bytes of a JSON file (asd-mlp model, scheduler_config.json, asd.json, cost curve): 16 MiB.</summary>
    public const long MaxJsonBytes = 16L << 20;

    /// <summary>Bytes of a safetensors header (the format's own limit, 100,000,000).</summary>
    public const long MaxSafetensorsHeaderBytes = 100_000_000;

    /// <summary>Bytes of an .npy file read as input (conditioning): 1 GiB.</summary>
    public const long MaxNpyBytes = 1L << 30;

    /// <summary>Batch sizes in a cost-curve file.</summary>
    public const int MaxCostCurvePoints = 4096;

    /// <summary>
    /// Default wall-clock budget, in seconds, of the batch-cost calibration that the automatic speculation length
    /// runs when a sampler is created without a cost curve.
    /// </summary>
    public const double DefaultCalibrationSeconds = 5;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless 0 &lt;= threads &lt;= <see cref="MaxThreads"/>.</summary>
    public static int CheckThreads(int threads, string field = "threads")
    {
        if (threads < 0 || threads > MaxThreads)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} = {threads} is out of range: use 0 (one per core) to {MaxThreads}."));
        }

        return threads;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless 1 &lt;= steps &lt;= <see cref="MaxTrainSteps"/>.</summary>
    public static int CheckTrainSteps(int steps, string field = "num_train_timesteps")
    {
        if (steps < 1 || steps > MaxTrainSteps)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} = {steps} is out of range: use 1 to {MaxTrainSteps}."));
        }

        return steps;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="field"/> unless 0 &lt;= size &lt;= <see cref="MaxConditionSize"/>.</summary>
    public static int CheckConditionSize(long size, string field = "cond_dim")
    {
        if (size < 0 || size > MaxConditionSize)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} = {size} is out of range: use 0 to {MaxConditionSize}."));
        }

        return (int)size;
    }
}

/// <summary>Shape arithmetic that cannot overflow: products are computed in 64 bits, checked, and bounded.</summary>
public static class Shapes
{
    /// <summary>
    /// The number of elements of <paramref name="dims"/>, each &gt;= 1, at most <see cref="ResourceLimits.MaxRank"/> of them,
    /// and a product of at most <paramref name="limit"/> (default <see cref="ResourceLimits.MaxSampleSize"/>). Throws
    /// <see cref="ArgumentException"/> naming <paramref name="field"/> with the shape as given.
    /// </summary>
    public static int SampleSize(IReadOnlyList<long> dims, string field = "sample_shape", long limit = ResourceLimits.MaxSampleSize)
    {
        ArgumentNullException.ThrowIfNull(dims);
        string shape = Text(dims);
        if (dims.Count == 0 || dims.Count > ResourceLimits.MaxRank)
        {
            throw new ArgumentException($"{field} {shape} must have 1 to {ResourceLimits.MaxRank} dimensions.");
        }

        long product = 1;
        foreach (long d in dims)
        {
            if (d < 1)
            {
                throw new ArgumentException($"{field} {shape}: every size must be >= 1.");
            }

            // Compare before multiplying: product <= limit and d <= limit, so the check itself cannot overflow.
            if (d > limit || product > limit / d)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{field} {shape} holds more than {limit} values per sample (the limit)."));
            }

            product *= d;
        }

        return (int)product;
    }

    /// <summary><see cref="SampleSize(IReadOnlyList{long}, string, long)"/> for 32-bit sizes.</summary>
    public static int SampleSize(IReadOnlyList<int> dims, string field = "sample_shape", long limit = ResourceLimits.MaxSampleSize) =>
        SampleSize([.. (dims ?? throw new ArgumentNullException(nameof(dims))).Select(d => (long)d)], field, limit);

    /// <summary>The product of non-negative <paramref name="dims"/>, or -1 when it exceeds <paramref name="limit"/> (or a size is negative).</summary>
    public static long ProductOrMinusOne(IReadOnlyList<long> dims, long limit)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long product = 1;
        foreach (long d in dims)
        {
            if (d < 0)
            {
                return -1;
            }

            if (d != 0 && product > limit / d)
            {
                return -1;
            }

            product *= d;
        }

        return product;
    }

    /// <summary>"[a, b, c]".</summary>
    public static string Text(IEnumerable<long> dims) => $"[{string.Join(", ", dims.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";
}
