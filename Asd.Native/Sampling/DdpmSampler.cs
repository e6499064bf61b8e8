namespace Asd.Native.Sampling;

/// <summary>
/// The sequential reference: K steps, each one batched model call over all chains (split by the row cap),
/// then x_{i+1} = a_i x_i + b_i m_i + sigma_i z_i.
/// </summary>
public sealed class DdpmSampler(IDenoiser denoiser, InferencePlan plan, SamplerOptions? options = null)
    : Sampler(denoiser, plan, options ?? new SamplerOptions())
{
    /// <summary>Test hook: called with (step, states) after every step (states hold x_{step+1}).</summary>
    internal Action<int, ReadOnlyMemory<float>>? StepObserver { get; set; }

    /// <inheritdoc/>
    protected override void ResetStats(SamplingStats stats) => stats.Reset("ddpm", Plan.Steps, N, "-", "-");

    /// <inheritdoc/>
    protected override void Run()
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

            StepObserver?.Invoke(i, X.ToArray());
        }
    }
}
