namespace Asd.Cli.Plotting;

/// <summary>
/// The frame shared by every plot: a title band at the top, a legend and a caption at the bottom, and the body
/// between them where the plot goes. Text wraps at word boundaries to the picture's width.
/// </summary>
internal sealed class Figure
{
    private static readonly Rgba CaptionInk = new(80, 80, 80);

    private Figure(Canvas canvas, int textScale, PixelRect body)
    {
        Canvas = canvas;
        TextScale = textScale;
        Body = body;
    }

    public Canvas Canvas { get; }

    public int TextScale { get; }

    public int TitleScale => TextScale + 1;

    /// <summary>The space left for the plot, axis labels included.</summary>
    public PixelRect Body { get; }

    public static int Margin(int textScale) => 10 * textScale;

    public static int HeaderHeight(int width, string title, int textScale)
    {
        int lines = Wrap(title, width - (2 * Margin(textScale)), textScale + 1).Count;
        return Margin(textScale) + (lines * BitmapFont.LineHeight * (textScale + 1)) + Margin(textScale);
    }

    public static int FooterHeight(int width, string caption, IReadOnlyList<LegendEntry> legend, int textScale)
    {
        int inner = width - (2 * Margin(textScale));
        int legendRows = LayoutLegend(legend, inner, textScale).Count;
        int captionLines = Wrap(caption, inner, textScale).Count;
        return Margin(textScale) + (legendRows * LegendRowHeight(textScale)) + (captionLines * BitmapFont.LineHeight * textScale) + Margin(textScale);
    }

    /// <summary>Makes the canvas, draws the title, legend and caption, and reserves the body.</summary>
    public static Figure Create(int width, int height, int textScale, string title, string caption, IReadOnlyList<LegendEntry> legend)
    {
        var canvas = new Canvas(width, height, Rgba.White);
        int m = Margin(textScale);
        int inner = width - (2 * m);
        int titleScale = textScale + 1;

        int y = m;
        foreach (string line in Wrap(title, inner, titleScale))
        {
            canvas.DrawText(width / 2, y, line, Rgba.Ink, titleScale, TextAlign.Center);
            y += BitmapFont.LineHeight * titleScale;
        }

        int header = HeaderHeight(width, title, textScale);
        int footer = FooterHeight(width, caption, legend, textScale);
        int footerTop = height - footer + m;

        y = footerTop;
        foreach (List<(LegendEntry Entry, int X)> row in LayoutLegend(legend, inner, textScale))
        {
            int rowWidth = row.Count == 0 ? 0 : row[^1].X + EntryWidth(row[^1].Entry, textScale);
            int x0 = m + ((inner - rowWidth) / 2);
            foreach ((LegendEntry entry, int x) in row)
            {
                DrawLegendEntry(canvas, entry, x0 + x, y, textScale);
            }

            y += LegendRowHeight(textScale);
        }

        foreach (string line in Wrap(caption, inner, textScale))
        {
            canvas.DrawText(m, y, line, CaptionInk, textScale);
            y += BitmapFont.LineHeight * textScale;
        }

        var body = new PixelRect(m, header, inner, height - header - footer);
        if (body.Height < 40 || body.Width < 40)
        {
            throw new ArgumentException($"A {width}x{height} picture leaves no room for the plot after its title, legend and caption; enlarge it or shorten the text.");
        }

        return new Figure(canvas, textScale, body);
    }

    /// <summary>
    /// A plot frame inside <see cref="Body"/>, leaving gutters for tick labels (and axis labels when asked). With
    /// <paramref name="equalAspect"/> one data unit is as long on both axes, and the frame is centred.
    /// </summary>
    public PlotFrame Frame(double xMin, double xMax, double yMin, double yMax, bool equalAspect, bool xLabel = false, bool yLabel = false)
    {
        int left = PlotFrame.LeftGutter(yMin, yMax, TextScale, yLabel);
        int bottom = PlotFrame.BottomGutter(TextScale, xLabel);
        int right = 4 * TextScale; // room for the last x tick label's right half
        int top = 4 * TextScale;
        int w = Body.Width - left - right, h = Body.Height - top - bottom;
        int x = Body.X + left, y = Body.Y + top;
        if (equalAspect && w > 0 && h > 0)
        {
            double aspect = (xMax - xMin) / (yMax - yMin);
            if (double.IsFinite(aspect) && aspect > 0)
            {
                int fitW = (int)Math.Min(w, Math.Round(h * aspect));
                int fitH = (int)Math.Min(h, Math.Round(fitW / aspect));
                x += (w - fitW) / 2;
                y += (h - fitH) / 2;
                (w, h) = (fitW, fitH);
            }
        }

        return new PlotFrame(new PixelRect(x, y, w, h), xMin, xMax, yMin, yMax);
    }

    public static IReadOnlyList<string> Wrap(string text, int maxWidth, int scale)
    {
        int maxChars = Math.Max(1, ((maxWidth / scale) + 1) / BitmapFont.Advance);
        var lines = new List<string>();
        foreach (string paragraph in text.Split('\n'))
        {
            var line = new System.Text.StringBuilder();
            foreach (string word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                string rest = word;
                while (rest.Length > 0)
                {
                    int need = line.Length == 0 ? rest.Length : line.Length + 1 + rest.Length;
                    if (need <= maxChars)
                    {
                        _ = line.Length == 0 ? line.Append(rest) : line.Append(' ').Append(rest);
                        rest = string.Empty;
                    }
                    else if (line.Length > 0)
                    {
                        lines.Add(line.ToString());
                        line.Clear();
                    }
                    else
                    {
                        lines.Add(rest[..maxChars]);
                        rest = rest[maxChars..];
                    }
                }
            }

            if (line.Length > 0)
            {
                lines.Add(line.ToString());
            }
        }

        return lines;
    }

    private static int LegendRowHeight(int textScale) => (BitmapFont.LineHeight + 4) * textScale;

    private static int SwatchWidth(int textScale) => 16 * textScale;

    private static int EntryWidth(LegendEntry entry, int textScale) =>
        SwatchWidth(textScale) + (3 * textScale) + BitmapFont.MeasureWidth(entry.Label, textScale);

    private static List<List<(LegendEntry Entry, int X)>> LayoutLegend(IReadOnlyList<LegendEntry> legend, int maxWidth, int textScale)
    {
        int spacing = 8 * textScale;
        var rows = new List<List<(LegendEntry, int)>>();
        List<(LegendEntry, int)>? row = null;
        int x = 0;
        foreach (LegendEntry entry in legend)
        {
            int w = EntryWidth(entry, textScale);
            if (row is null || (row.Count > 0 && x + w > maxWidth))
            {
                row = [];
                rows.Add(row);
                x = 0;
            }

            row.Add((entry, x));
            x += w + spacing;
        }

        return rows;
    }

    private static void DrawLegendEntry(Canvas canvas, LegendEntry entry, int x, int y, int textScale)
    {
        double sw = SwatchWidth(textScale);
        double cy = y + (BitmapFont.CapHeight * textScale / 2.0);
        if (entry.Line)
        {
            double dash = entry.Dashed ? 4 * textScale : 0;
            ReadOnlySpan<double> xy = [x, cy, x + sw, cy];
            canvas.DrawPolyline(xy, entry.Color, Math.Max(1.5, textScale), dash, dash * 0.6);
        }

        if (entry.Marker is { } marker)
        {
            canvas.DrawMarker(x + (sw / 2), cy, marker, 6 * textScale, entry.Color, entry.Outline);
        }
        else if (!entry.Line)
        {
            double h = 3.5 * textScale;
            canvas.FillRect(x + (sw / 2) - h, cy - h, x + (sw / 2) + h, cy + h, entry.Color);
        }

        canvas.DrawText(x + (int)sw + (3 * textScale), y, entry.Label, Rgba.Ink, textScale);
    }
}
