namespace Asd.Cli.Plotting;

/// <summary>Picture size and text size for <see cref="Plots"/>; <see cref="TextScale"/> 0 picks one from the size.</summary>
internal sealed record PlotOptions(int Width = 800, int Height = 800, int TextScale = 0)
{
    public static PlotOptions Default { get; } = new();

    /// <summary>Integer glyph magnification for labels (the title gets one more): 2 at 800x800, 1 below 600 pixels.</summary>
    public int ResolvedTextScale => TextScale > 0 ? TextScale : Math.Max(1, (int)Math.Round(Math.Min(Width, Height) / 400.0));

    internal void Validate()
    {
        if (Width < 200 || Height < 200 || Width > 8192 || Height > 8192)
        {
            throw new ArgumentException($"Plot size {Width}x{Height} must be between 200 and 8192 pixels on each side.");
        }

        if (TextScale < 0 || TextScale > 8)
        {
            throw new ArgumentException($"Text scale {TextScale} must be 0 (automatic) or 1..8.");
        }
    }
}

/// <summary>How <see cref="Plots.MixtureScatter(string, string, string, Func{double, double, double}, float[], ValueTuple{double, double, double, double}, DensityScale, PlotOptions?)"/> maps density to colour.</summary>
internal enum DensityScale
{
    /// <summary>sqrt(p / max p): shows the modes' shapes and their tails.</summary>
    Sqrt,

    /// <summary>log10(p / max p) over three decades: shows far tails.</summary>
    Log,
}

/// <summary>One legend item: a line (solid or dashed), a marker, both, or (neither) a filled swatch.</summary>
internal readonly record struct LegendEntry(string Label, Rgba Color, Marker? Marker = null, bool Line = false, bool Dashed = false, Rgba? Outline = null);
