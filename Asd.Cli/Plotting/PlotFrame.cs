namespace Asd.Cli.Plotting;

/// <summary>A rectangle of whole pixels: columns [X, X + Width), rows [Y, Y + Height).</summary>
internal readonly record struct PixelRect(int X, int Y, int Width, int Height)
{
    public int Right => X + Width;

    public int Bottom => Y + Height;
}

/// <summary>
/// Maps data coordinates to pixels inside a plot area (y up), and draws the area's axis box with ticks and labels.
/// </summary>
internal sealed class PlotFrame
{
    public PlotFrame(PixelRect area, double xMin, double xMax, double yMin, double yMax)
    {
        if (area.Width < 1 || area.Height < 1)
        {
            throw new ArgumentException($"The plot area {area.Width}x{area.Height} is empty; enlarge the picture or shorten its text.");
        }

        if (!double.IsFinite(xMin) || !double.IsFinite(xMax) || !(xMax > xMin) || !double.IsFinite(xMax - xMin))
        {
            throw new ArgumentException($"The x range [{xMin}, {xMax}] must be finite with min < max.");
        }

        if (!double.IsFinite(yMin) || !double.IsFinite(yMax) || !(yMax > yMin) || !double.IsFinite(yMax - yMin))
        {
            throw new ArgumentException($"The y range [{yMin}, {yMax}] must be finite with min < max.");
        }

        Area = area;
        XMin = xMin;
        XMax = xMax;
        YMin = yMin;
        YMax = yMax;
    }

    public PixelRect Area { get; }

    public double XMin { get; }

    public double XMax { get; }

    public double YMin { get; }

    public double YMax { get; }

    public double PixelX(double x) => Area.X + ((x - XMin) / (XMax - XMin) * Area.Width);

    public double PixelY(double y) => Area.Y + ((YMax - y) / (YMax - YMin) * Area.Height);

    /// <summary>Data x at the centre of pixel column <paramref name="column"/>.</summary>
    public double DataX(int column) => XMin + ((column + 0.5 - Area.X) / Area.Width * (XMax - XMin));

    /// <summary>Data y at the centre of pixel row <paramref name="row"/>.</summary>
    public double DataY(int row) => YMax - ((row + 0.5 - Area.Y) / Area.Height * (YMax - YMin));

    public void ClipTo(Canvas canvas) => canvas.SetClip(Area.X, Area.Y, Area.Right, Area.Bottom);

    /// <summary>Pixels left of the area that <see cref="DrawAxes"/> needs for y tick labels and an optional y label.</summary>
    public static int LeftGutter(double yMin, double yMax, int textScale, bool yLabel)
    {
        double step = Ticks.Step(yMin, yMax);
        int widest = 0;
        foreach (double v in Ticks.Values(yMin, yMax))
        {
            widest = Math.Max(widest, BitmapFont.MeasureWidth(Ticks.Format(v, step), textScale));
        }

        return TickLength(textScale) + (3 * textScale) + widest + (yLabel ? (BitmapFont.LineHeight + 2) * textScale : 0);
    }

    /// <summary>Pixels below the area that <see cref="DrawAxes"/> needs for x tick labels and an optional x label.</summary>
    public static int BottomGutter(int textScale, bool xLabel) =>
        TickLength(textScale) + (3 * textScale) + (BitmapFont.CapHeight * textScale) + (xLabel ? (BitmapFont.LineHeight + 2) * textScale : 0);

    private static int TickLength(int textScale) => 3 + (2 * textScale);

    /// <summary>
    /// The axis box, outward ticks with numeric labels (x ticks only when <paramref name="xTicks"/>), light grid lines
    /// when <paramref name="grid"/>, and axis labels when given.
    /// </summary>
    public void DrawAxes(Canvas canvas, int textScale, string? xLabel, string? yLabel, bool xTicks = true, bool grid = false)
    {
        canvas.ResetClip();
        Rgba ink = Rgba.Ink;
        int tick = TickLength(textScale);
        int gap = 3 * textScale;
        int left = Area.X, top = Area.Y, right = Area.Right, bottom = Area.Bottom;

        double yStep = Ticks.Step(YMin, YMax);
        int widest = 0;
        foreach (double v in Ticks.Values(YMin, YMax))
        {
            double py = Math.Round(PixelY(v)) - 0.5;
            if (grid)
            {
                canvas.FillRect(left, py - 0.5, right, py + 0.5, Palette.Grid);
            }

            canvas.FillRect(left - tick, py - 0.5, left, py + 0.5, ink);
            string label = Ticks.Format(v, yStep);
            widest = Math.Max(widest, BitmapFont.MeasureWidth(label, textScale));
            canvas.DrawText(left - tick - gap, (int)Math.Round(py - (BitmapFont.CapHeight * textScale / 2.0) + 0.5), label, ink, textScale, TextAlign.Right);
        }

        if (xTicks)
        {
            double xStep = Ticks.Step(XMin, XMax);
            foreach (double v in Ticks.Values(XMin, XMax))
            {
                double px = Math.Round(PixelX(v)) + 0.5;
                if (grid)
                {
                    canvas.FillRect(px - 0.5, top, px + 0.5, bottom, Palette.Grid);
                }

                canvas.FillRect(px - 0.5, bottom, px + 0.5, bottom + tick, ink);
                canvas.DrawText((int)px, bottom + tick + gap, Ticks.Format(v, xStep), ink, textScale, TextAlign.Center);
            }
        }

        canvas.StrokeRect(left - 0.5, top - 0.5, right + 0.5, bottom + 0.5, ink);

        if (!string.IsNullOrEmpty(xLabel))
        {
            int y = bottom + tick + gap + ((BitmapFont.LineHeight + 2) * textScale);
            canvas.DrawText(left + (Area.Width / 2), y, xLabel, ink, textScale, TextAlign.Center);
        }

        if (!string.IsNullOrEmpty(yLabel))
        {
            int x = left - tick - gap - widest - ((BitmapFont.LineHeight + 1) * textScale);
            canvas.DrawTextUp(x, top + (Area.Height / 2), yLabel, ink, textScale, TextAlign.Center);
        }
    }
}
