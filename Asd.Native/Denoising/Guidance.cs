namespace Asd.Native.Denoising;

/// <summary>How the unconditional half of classifier-free guidance is formed.</summary>
public abstract record NullCondition
{
    /// <summary>The unconditional row is all zeros.</summary>
    public sealed record Zeros : NullCondition;

    /// <summary>The unconditional row is a given vector (for a class input: the null class id).</summary>
    /// <param name="Values">One value per conditioning element.</param>
    public sealed record Value(float[] Values) : NullCondition;

    /// <summary>A separate model input (one value per row) is 1 for the unconditional half and 0 for the conditional one.</summary>
    /// <param name="InputName">The flag input.</param>
    public sealed record FlagInput(string InputName) : NullCondition;
}

/// <summary>Guidance settings of a model: how to form the null condition and the default scale.</summary>
public sealed record GuidanceConfig(NullCondition Null, double Scale);
