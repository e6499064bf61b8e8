namespace Asd.Native.Denoising;

/// <summary>A denoiser whose scratch holds <see cref="PassRows"/> rows, so a larger batch runs in passes of that many.</summary>
internal interface IRowPassDenoiser : IDenoiser
{
    /// <summary>The most rows one <see cref="Pass"/> takes.</summary>
    int PassRows { get; }

    /// <summary>Denoises at most <see cref="PassRows"/> rows whose buffers were checked already.</summary>
    void Pass(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output);
}

/// <summary>The batch loop of every <see cref="IRowPassDenoiser"/>.</summary>
internal static class RowPasses
{
    /// <summary>
    /// Checks the batch (<see cref="DenoiserChecks.CheckBatch"/>), then runs it as consecutive passes of at most
    /// <see cref="IRowPassDenoiser.PassRows"/> rows, each row's samples, timestep, conditioning and output together.
    /// </summary>
    public static void Denoise<TDenoiser>(TDenoiser denoiser, ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        where TDenoiser : IRowPassDenoiser
    {
        int rows = timesteps.Length;
        DenoiserChecks.CheckBatch(denoiser, samples.Length, rows, conditioning.Length, output.Length);
        int d = denoiser.SampleSize, c = denoiser.ConditionSize, pass = denoiser.PassRows;
        for (int start = 0; start < rows; start += pass)
        {
            int m = Math.Min(pass, rows - start);
            denoiser.Pass(
                samples.Slice(start * d, m * d),
                timesteps.Slice(start, m),
                c == 0 ? default : conditioning.Slice(start * c, m * c),
                output.Slice(start * d, m * d));
        }
    }
}
