namespace Asd.Native.Denoising;

/// <summary>Argument checks shared by denoisers, so every implementation reports shape errors the same way.</summary>
public static class DenoiserChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> when buffer lengths disagree with the row count.</summary>
    public static void CheckBatch(IDenoiser denoiser, int samplesLength, int rows, int conditioningLength, int outputLength)
    {
        int d = denoiser.SampleSize, c = denoiser.ConditionSize;
        if (samplesLength != rows * d)
        {
            throw new ArgumentException($"samples holds {samplesLength} values; {rows} rows of {d} need {rows * d}.");
        }

        if (outputLength != rows * d)
        {
            throw new ArgumentException($"output holds {outputLength} values; {rows} rows of {d} need {rows * d}.");
        }

        if (conditioningLength != rows * c)
        {
            throw new ArgumentException(c == 0
                ? $"This model is unconditional but {conditioningLength} conditioning values were given."
                : $"conditioning holds {conditioningLength} values; {rows} rows of {c} need {rows * c}.");
        }
    }
}
