namespace Asd.Cli.Plotting;

/// <summary>Fixed colours for plots, so the same series always gets the same colour from run to run.</summary>
internal static class Palette
{
    private static readonly Rgba[] Qualitative =
    [
        new(31, 119, 180),  // blue
        new(255, 127, 14),  // orange
        new(44, 160, 44),   // green
        new(148, 103, 189), // purple
        new(140, 86, 75),   // brown
        new(227, 119, 194), // pink
        new(188, 189, 34),  // olive
        new(23, 190, 207),  // cyan
    ];

    // Pure red is kept out of the qualitative set: it marks obstacle intrusions.
    public static Rgba Alert => new(214, 39, 40);

    public static Rgba Obstacle => new(160, 160, 160);

    public static Rgba Grid => new(225, 225, 225);

    public static Rgba Reference => new(120, 20, 20);

    public static int QualitativeCount => Qualitative.Length;

    /// <summary>The <paramref name="index"/>-th qualitative colour; cycles after <see cref="QualitativeCount"/>.</summary>
    public static Rgba Series(int index) => Qualitative[(int)((uint)index % (uint)Qualitative.Length)];

    // Light sequential map (white to warm) so dark sample dots stay visible on top of the densest regions.
    private static readonly Rgba[] HeatStops =
    [
        new(255, 255, 255),
        new(255, 244, 208),
        new(253, 214, 146),
        new(248, 168, 104),
        new(228, 112, 86),
    ];

    private const int HeatSteps = 1024;

    // Heat(t) at t = i / HeatSteps, so a heat map costs a table look-up per pixel.
    private static readonly Rgba[] HeatTable = [.. Enumerable.Range(0, HeatSteps + 1).Select(i => Heat(i / (double)HeatSteps))];

    /// <summary><see cref="Heat"/> rounded to the nearest of 1025 evenly spaced levels (at most 1/2048 off in t).</summary>
    public static Rgba HeatFast(double t) => HeatTable[double.IsNaN(t) ? 0 : (int)((Math.Clamp(t, 0.0, 1.0) * HeatSteps) + 0.5)];

    /// <summary>The light heat colour for <paramref name="t"/> in [0, 1] (clamped).</summary>
    public static Rgba Heat(double t)
    {
        t = double.IsNaN(t) ? 0.0 : Math.Clamp(t, 0.0, 1.0) * (HeatStops.Length - 1);
        int i = Math.Min((int)t, HeatStops.Length - 2);
        return Rgba.Lerp(HeatStops[i], HeatStops[i + 1], t - i);
    }
}
