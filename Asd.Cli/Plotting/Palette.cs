using ScottPlot;

namespace Asd.Cli.Plotting;

/// <summary>Fixed colours for plots, so the same series always gets the same colour from run to run.</summary>
internal static class Palette
{
    private static readonly Color[] Qualitative =
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
    public static Color Alert => new(214, 39, 40);

    public static Color Obstacle => new(160, 160, 160);

    public static Color ObstacleEdge => new(110, 110, 110);

    public static Color Ink => new(20, 20, 20);

    public static Color SampleInk => new(25, 35, 80, 220);

    public static Color TileBackground => new(180, 190, 205);

    public static Color Reference => new(120, 20, 20);

    public static int QualitativeCount => Qualitative.Length;

    /// <summary>The <paramref name="index"/>-th qualitative colour; cycles after <see cref="QualitativeCount"/>.</summary>
    public static Color Series(int index) => Qualitative[(int)((uint)index % (uint)Qualitative.Length)];

    // Light sequential map (white to warm) so dark sample dots stay visible on top of the densest regions.
    private static readonly (byte R, byte G, byte B)[] HeatStops =
    [
        (255, 255, 255),
        (255, 244, 208),
        (253, 214, 146),
        (248, 168, 104),
        (228, 112, 86),
    ];

    /// <summary>The light heat colour for <paramref name="t"/> in [0, 1] (clamped; NaN is 0).</summary>
    public static (byte R, byte G, byte B) Heat(double t)
    {
        t = double.IsNaN(t) ? 0.0 : Math.Clamp(t, 0.0, 1.0) * (HeatStops.Length - 1);
        int i = Math.Min((int)t, HeatStops.Length - 2);
        double f = t - i;
        (byte R, byte G, byte B) a = HeatStops[i], b = HeatStops[i + 1];
        return (Mix(a.R, b.R, f), Mix(a.G, b.G, f), Mix(a.B, b.B, f));
    }

    private static byte Mix(byte a, byte b, double f) => (byte)Math.Round(a + ((b - a) * f));
}
