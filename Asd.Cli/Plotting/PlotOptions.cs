namespace Asd.Cli.Plotting;

/// <summary>Picture size for <see cref="Plots"/>; text sizes follow the shorter side (800 pixels: 20-pixel title).</summary>
internal sealed record PlotOptions(int Width = 800, int Height = 800)
{
    public static PlotOptions Default { get; } = new();

    /// <summary>Text size relative to an 800-pixel picture, never below 0.6 so small pictures stay legible.</summary>
    public float TextScale => Math.Max(0.6f, Math.Min(Width, Height) / 800f);

    internal void Validate()
    {
        if (Width < 200 || Height < 200 || Width > 8192 || Height > 8192)
        {
            throw new ArgumentException($"Plot size {Width}x{Height} must be between 200 and 8192 pixels on each side.");
        }
    }
}

/// <summary>How <see cref="Plots.MixtureScatter"/> maps density to colour.</summary>
internal enum DensityScale
{
    /// <summary>sqrt(p / max p): shows the modes' shapes and their tails.</summary>
    Sqrt,

    /// <summary>log10(p / max p) over three decades: shows far tails.</summary>
    Log,
}
