using ScottPlot;
using ScottPlot.Plottables;
using ScottPlot.TickGenerators;
using PlotRanges = (double XMin, double XMax, double YMin, double YMax);
using PolicyEpisode = (float[] Start, float[] Goal, float[][] Paths);
using PolicyObstacle = (double X, double Y, double R);

namespace Asd.Cli.Plotting;

/// <summary>
/// A drawn plot (ScottPlot) and its picture size. <see cref="Png"/> renders it; after that, <see cref="PixelOf"/>
/// says where a data point landed, so tests can read the pixels back from the file.
/// </summary>
internal sealed class RenderedPlot(Plot plot, int width, int height) : IDisposable
{
    public Plot Plot { get; } = plot;

    public int Width { get; } = width;

    public int Height { get; } = height;

    /// <summary>The picture as PNG bytes (renders the plot, which fixes its layout).</summary>
    public byte[] Png() => Plot.GetImageBytes(Width, Height, ImageFormat.Png);

    /// <summary>Writes the PNG, whole or not at all. Its folder must exist: no output file creates one (the CLI checks paths before a run).</summary>
    public void Save(string path) => Asd.Native.IO.AtomicFile.WriteBytes(path, Png());

    /// <summary>The pixel of data point (x, y) in the last rendered picture.</summary>
    public Pixel PixelOf(double x, double y) => Plot.GetPixel(new Coordinates(x, y));

    /// <summary>The data area of the last rendered picture.</summary>
    public PixelRect DataArea => Plot.LastRender.DataRect;

    public void Dispose() => Plot.Dispose();
}

/// <summary>
/// A density at the centres of a <see cref="Columns"/> x <see cref="Rows"/> grid: <see cref="Values"/>[row * Columns +
/// column], columns along x from the plot's XMin, rows along y from its YMin (the heat map of
/// <see cref="Plots.MixtureScatter"/>).
/// </summary>
internal sealed record DensityGrid(double[] Values, int Columns, int Rows)
{
    /// <summary>Columns and rows of the grid on which <see cref="Evaluate"/> samples a density function.</summary>
    public const int Size = 400;

    /// <summary><paramref name="density"/>(x, y) at the centres of a <see cref="Size"/>-square grid over <paramref name="ranges"/>.</summary>
    public static DensityGrid Evaluate(Func<double, double, double> density, PlotRanges ranges)
    {
        ArgumentNullException.ThrowIfNull(density);
        Plots.CheckRanges(ranges, nameof(ranges));
        const int n = Size;
        var grid = new double[n * n];
        for (int r = 0; r < n; r++)
        {
            double y = ranges.YMin + ((r + 0.5) / n * (ranges.YMax - ranges.YMin));
            for (int c = 0; c < n; c++)
            {
                grid[(r * n) + c] = density(ranges.XMin + ((c + 0.5) / n * (ranges.XMax - ranges.XMin)), y);
            }
        }

        return new DensityGrid(grid, n, n);
    }
}

/// <summary>
/// The CLI's pictures, each one PNG with a title, a legend and a caption, drawn with ScottPlot in the embedded font
/// (<see cref="PlotFonts"/>). Every input is checked before anything is drawn: nulls, wrong lengths and non-finite
/// coordinates throw <see cref="ArgumentException"/> (a point is never skipped silently). Titles and captions stay
/// on one line: a text wider than the picture is set smaller until it fits. The Render methods return the plot
/// without saving it.
/// </summary>
internal static class Plots
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    // Text sizes in pixels for an 800-pixel picture (PlotOptions.TextScale scales them).
    private const float TitleSize = 20, LabelSize = 16, TickSize = 14, LegendSize = 14, CaptionSize = 14, ValueSize = 12;

    /// <summary>The smallest size a title or caption is shrunk to; below it a text is cut at the picture's edge.</summary>
    private const float MinTextSize = 8;

    // ---- Policy trajectories -------------------------------------------------------------------------------------

    /// <summary>
    /// Planned 2-D paths around a disc obstacle. Each episode has a start, a goal and any number of sampled paths;
    /// a path is its waypoints as interleaved (x, y) pairs and is drawn from the start through them. Paths that
    /// come within the obstacle's radius are dashed, with a red cross where they first enter it.
    /// </summary>
    public static void PolicyTrajectories(string path, string title, string caption, PolicyObstacle obstacle, PlotRanges workspace, IReadOnlyList<PolicyEpisode> episodes, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using RenderedPlot plot = RenderPolicyTrajectories(title, caption, obstacle, workspace, episodes, options);
        plot.Save(path);
    }

    public static RenderedPlot RenderPolicyTrajectories(string title, string caption, PolicyObstacle obstacle, PlotRanges workspace, IReadOnlyList<PolicyEpisode> episodes, PlotOptions? options = null)
    {
        options = CheckCommon(title, caption, options);
        CheckRanges(workspace, nameof(workspace));
        if (!double.IsFinite(obstacle.X) || !double.IsFinite(obstacle.Y) || !double.IsFinite(obstacle.R) || obstacle.R <= 0)
        {
            throw new ArgumentException($"The obstacle ({obstacle.X}, {obstacle.Y}, r = {obstacle.R}) needs a finite centre and a finite radius > 0.", nameof(obstacle));
        }

        ArgumentNullException.ThrowIfNull(episodes);
        int pathCount = 0, intruding = 0;
        for (int e = 0; e < episodes.Count; e++)
        {
            (float[] start, float[] goal, float[][] paths) = episodes[e];
            CheckPoint(start, $"episodes[{e}].Start");
            CheckPoint(goal, $"episodes[{e}].Goal");
            if (paths is null)
            {
                throw new ArgumentException($"episodes[{e}].Paths is null.", nameof(episodes));
            }

            for (int p = 0; p < paths.Length; p++)
            {
                float[] waypoints = paths[p];
                string name = $"episodes[{e}].Paths[{p}]";
                if (waypoints is null || waypoints.Length < 2 || waypoints.Length % 2 != 0)
                {
                    throw new ArgumentException($"{name} must hold waypoints as (x, y) pairs; got {(waypoints is null ? "null" : $"{waypoints.Length} numbers")}.", nameof(episodes));
                }

                CheckFinite(waypoints, name);
                pathCount++;
                if (Geometry.FirstIntrusion(DataPolyline(start, waypoints), obstacle.X, obstacle.Y, obstacle.R) is not null)
                {
                    intruding++;
                }
            }
        }

        float s = options.TextScale;
        Plot plot = NewPlot(options, title);
        Ellipse disc = plot.Add.Circle(obstacle.X, obstacle.Y, obstacle.R);
        disc.FillColor = Palette.Obstacle;
        disc.LineColor = Palette.ObstacleEdge;
        disc.LineWidth = 1;

        float lineWidth = 1.6f * s, dot = 4.5f * s;
        var intrusions = new List<(double X, double Y)>();
        for (int e = 0; e < episodes.Count; e++)
        {
            (float[] start, _, float[][] paths) = episodes[e];
            Color color = Palette.Series(e);
            foreach (float[] waypoints in paths)
            {
                double[] xy = DataPolyline(start, waypoints);
                (double X, double Y)? entry = Geometry.FirstIntrusion(xy, obstacle.X, obstacle.Y, obstacle.R);
                double[] xs = new double[xy.Length / 2], ys = new double[xy.Length / 2];
                for (int i = 0; i < xs.Length; i++)
                {
                    xs[i] = xy[2 * i];
                    ys[i] = xy[(2 * i) + 1];
                }

                Scatter line = plot.Add.Scatter(xs, ys, color);
                line.LineWidth = lineWidth;
                line.MarkerShape = MarkerShape.FilledCircle;
                line.MarkerSize = dot;
                if (entry is { } hit)
                {
                    line.LinePattern = new LinePattern([6 * s, 4 * s], 0, "dashed");
                    intrusions.Add(hit);
                }
            }
        }

        foreach ((double x, double y) in intrusions)
        {
            OutlinedMarker(plot, x, y, MarkerShape.Eks, 13 * s, Palette.Alert, Colors.White, lineWidth: 3 * s);
        }

        for (int e = 0; e < episodes.Count; e++)
        {
            (float[] start, float[] goal, _) = episodes[e];
            Color color = Palette.Series(e);
            OutlinedMarker(plot, start[0], start[1], MarkerShape.FilledCircle, 11 * s, color, Palette.Ink);
            OutlinedMarker(plot, goal[0], goal[1], MarkerShape.FilledDiamond, 15 * s, color, Palette.Ink);
        }

        Color swatch = new(200, 200, 200);
        var legend = new List<LegendItem>
        {
            MarkerItem("start", MarkerShape.FilledCircle, swatch, s),
            MarkerItem("goal", MarkerShape.FilledDiamond, swatch, s),
            MarkerItem("obstacle", MarkerShape.FilledCircle, Palette.Obstacle, s),
            new()
            {
                LabelText = $"enters obstacle ({intruding} of {pathCount})",
                LineColor = Palette.Alert,
                LineWidth = lineWidth,
                LinePattern = LinePattern.Dashed,
                MarkerShape = MarkerShape.Eks,
                MarkerColor = Palette.Alert,
                MarkerSize = 9 * s,
                MarkerLineWidth = 2 * s,
            },
        };
        if (episodes.Count <= Palette.QualitativeCount)
        {
            for (int e = 0; e < episodes.Count; e++)
            {
                legend.Add(new LegendItem { LabelText = $"episode {e + 1}", LineColor = Palette.Series(e), LineWidth = 2 * s });
            }
        }

        ShowLegend(plot, legend, s);
        SetDataLimits(plot, workspace, squareUnits: true);
        return Finish(plot, options, caption);
    }

    private static double[] DataPolyline(float[] start, float[] waypoints)
    {
        var xy = new double[2 + waypoints.Length];
        xy[0] = start[0];
        xy[1] = start[1];
        for (int i = 0; i < waypoints.Length; i++)
        {
            xy[2 + i] = waypoints[i];
        }

        return xy;
    }

    // ---- Mixture scatter -----------------------------------------------------------------------------------------

    /// <summary>
    /// Samples (interleaved x, y) as dark dots over a heat map of the target density (<see cref="DensityGrid"/>, over
    /// the same ranges). Non-finite or negative density values count as 0.
    /// </summary>
    public static void MixtureScatter(string path, string title, string caption, DensityGrid density, float[] samples, PlotRanges ranges, DensityScale scale = DensityScale.Sqrt, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using RenderedPlot plot = RenderMixtureScatter(title, caption, density, samples, ranges, scale, options);
        plot.Save(path);
    }

    public static RenderedPlot RenderMixtureScatter(string title, string caption, DensityGrid density, float[] samples, PlotRanges ranges, DensityScale scale = DensityScale.Sqrt, PlotOptions? options = null)
    {
        options = CheckCommon(title, caption, options);
        CheckRanges(ranges, nameof(ranges));
        ArgumentNullException.ThrowIfNull(density);
        ArgumentNullException.ThrowIfNull(density.Values, nameof(density));
        if (density.Columns < 1 || density.Rows < 1 || (long)density.Columns * density.Rows != density.Values.Length)
        {
            throw new ArgumentException($"The density grid has {density.Values.Length} values, not {density.Columns} columns x {density.Rows} rows (both >= 1).", nameof(density));
        }

        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Length % 2 != 0)
        {
            throw new ArgumentException($"samples must be n x 2 (interleaved x, y); got {samples.Length} numbers.", nameof(samples));
        }

        CheckFinite(samples, nameof(samples));
        if (scale is not (DensityScale.Sqrt or DensityScale.Log))
        {
            throw new ArgumentException($"Unknown density scale {scale}.", nameof(scale));
        }

        float s = options.TextScale;
        Plot plot = NewPlot(options, title);
        ImageRect heat = plot.Add.ImageRect(HeatImage(density.Values, density.Columns, density.Rows, scale), new CoordinateRect(ranges.XMin, ranges.XMax, ranges.YMin, ranges.YMax));
        heat.AntiAlias = true;
        plot.Grid.IsVisible = false;

        int count = samples.Length / 2;
        double[] xs = new double[count], ys = new double[count];
        for (int i = 0; i < count; i++)
        {
            xs[i] = samples[2 * i];
            ys[i] = samples[(2 * i) + 1];
        }

        if (count > 0)
        {
            plot.Add.Markers(xs, ys, MarkerShape.FilledCircle, 5 * s, Palette.SampleInk);
        }

        (byte hr, byte hg, byte hb) = Palette.Heat(0.75);
        ShowLegend(plot,
        [
            new LegendItem { LabelText = $"target density ({(scale == DensityScale.Sqrt ? "sqrt" : "log")} scale)", FillColor = new Color(hr, hg, hb) },
            MarkerItem($"samples ({count})", MarkerShape.FilledCircle, Palette.SampleInk.WithAlpha(255), s),
        ], s);
        SetDataLimits(plot, ranges, squareUnits: true);
        return Finish(plot, options, caption);
    }

    /// <summary>The density grid as an RGB picture, top row = the highest y, in the light heat colours.</summary>
    private static Image HeatImage(double[] grid, int columns, int rows, DensityScale scale)
    {
        double max = 0;
        foreach (double v in grid)
        {
            if (double.IsFinite(v) && v > max)
            {
                max = v;
            }
        }

        var rgb = new byte[rows, columns, 3];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                double v = grid[(r * columns) + c];
                double p = max > 0 && double.IsFinite(v) && v > 0 ? v / max : 0;
                double t = scale == DensityScale.Sqrt ? Math.Sqrt(p) : p > 0 ? 1 + (Math.Log10(p) / 3) : 0;
                (byte red, byte green, byte blue) = Palette.Heat(t);
                int row = rows - 1 - r;
                rgb[row, c, 0] = red;
                rgb[row, c, 1] = green;
                rgb[row, c, 2] = blue;
            }
        }

        return new Image(rgb);
    }

    // ---- Image grid ----------------------------------------------------------------------------------------------

    public const int TileGap = 2;

    public const int MinTileSize = 64;

    /// <summary>
    /// <paramref name="count"/> images laid out row-major in a near-square grid. <paramref name="images"/> is
    /// count x channels x height x width (NCHW); values map from [-1, 1] to [0, 255], clamped. Tiles are
    /// upscaled by an integer factor (nearest neighbour) to fill the picture, and to at least 64 pixels on their
    /// longer side; the picture grows if the grid needs more room than the options give.
    /// </summary>
    public static void ImageGrid(string path, string title, string caption, float[] images, int count, int channels, int height, int width, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using RenderedPlot plot = RenderImageGrid(title, caption, images, count, channels, height, width, options);
        plot.Save(path);
    }

    /// <summary>
    /// The image grid as a plot whose data coordinates are the grid picture's pixels: x from 0 at the left edge,
    /// y from 0 at the bottom edge, one unit per upscaled pixel (<see cref="GridLayout"/> gives the upscale).
    /// </summary>
    public static RenderedPlot RenderImageGrid(string title, string caption, float[] images, int count, int channels, int height, int width, PlotOptions? options = null)
    {
        options = CheckCommon(title, caption, options);
        ArgumentNullException.ThrowIfNull(images);
        if (count < 1 || height < 1 || width < 1 || height > 4096 || width > 4096)
        {
            throw new ArgumentException($"Image grid needs count >= 1 and 1 <= height, width <= 4096; got count {count}, {height}x{width}.");
        }

        if (channels is not (1 or 3))
        {
            throw new ArgumentException($"Images must have 1 or 3 channels; got {channels}.", nameof(channels));
        }

        if ((long)count * channels * height * width != images.Length)
        {
            throw new ArgumentException($"images has {images.Length} values, not count x channels x height x width = {count} x {channels} x {height} x {width}.", nameof(images));
        }

        CheckFinite(images, nameof(images));

        (int columns, int rows, int upscale) = GridLayout(count, height, width, options);
        int gridW = (columns * width * upscale) + ((columns - 1) * TileGap);
        int gridH = (rows * height * upscale) + ((rows - 1) * TileGap);
        if ((long)gridW * gridH > 8192L * 8192)
        {
            throw new ArgumentException($"An image grid of {count} images of {height}x{width} would be {gridW}x{gridH} pixels; at most 8192x8192 are drawn.", nameof(count));
        }

        var rgb = new byte[gridH, gridW, 3];
        (byte bgR, byte bgG, byte bgB) = (Palette.TileBackground.R, Palette.TileBackground.G, Palette.TileBackground.B);
        for (int y = 0; y < gridH; y++)
        {
            for (int x = 0; x < gridW; x++)
            {
                rgb[y, x, 0] = bgR;
                rgb[y, x, 1] = bgG;
                rgb[y, x, 2] = bgB;
            }
        }

        int plane = height * width;
        for (int k = 0; k < count; k++)
        {
            int tileX = (k % columns) * ((width * upscale) + TileGap);
            int tileY = (k / columns) * ((height * upscale) + TileGap);
            int baseIndex = k * channels * plane;
            for (int i = 0; i < height * upscale; i++)
            {
                for (int j = 0; j < width * upscale; j++)
                {
                    int at = baseIndex + (i / upscale * width) + (j / upscale);
                    byte r = ToByte(images[at]);
                    rgb[tileY + i, tileX + j, 0] = r;
                    rgb[tileY + i, tileX + j, 1] = channels == 1 ? r : ToByte(images[at + plane]);
                    rgb[tileY + i, tileX + j, 2] = channels == 1 ? r : ToByte(images[at + (2 * plane)]);
                }
            }
        }

        // Room for the grid at one picture pixel per grid pixel, plus the title and caption bands.
        float s = options.TextScale;
        int chrome = (int)Math.Ceiling(6 * CaptionSize * s);
        var size = options with { Width = Math.Max(options.Width, gridW + 40), Height = Math.Max(options.Height, gridH + chrome) };
        Plot plot = NewPlot(size, title);
        ImageRect tiles = plot.Add.ImageRect(new Image(rgb), new CoordinateRect(0, gridW, 0, gridH));
        tiles.AntiAlias = false;
        var rim = plot.Add.Rectangle(-TileGap, gridW + TileGap, -TileGap, gridH + TileGap);
        rim.FillColor = Palette.TileBackground;
        rim.LineWidth = 0;
        plot.MoveToBack(rim);
        plot.Axes.Frameless();
        plot.Axes.Title.IsVisible = title.Length > 0; // Frameless hides every panel, the title's too
        plot.Grid.IsVisible = false;
        double margin = 0.03 * Math.Max(gridW, gridH);
        SetDataLimits(plot, (-margin, gridW + margin, -margin, gridH + margin), squareUnits: true);
        return Finish(plot, size, caption);
    }

    /// <summary>Grid columns and rows (near square, row-major) and the integer upscale of each image.</summary>
    internal static (int Columns, int Rows, int Upscale) GridLayout(int count, int height, int width, PlotOptions options)
    {
        int columns = (int)Math.Ceiling(Math.Sqrt(count));
        int rows = (count + columns - 1) / columns;

        // The body of a picture with one title line and one caption line, as the space to fill.
        int availW = options.Width - 40;
        int availH = options.Height - (int)Math.Ceiling(6 * CaptionSize * options.TextScale);
        int fitW = (availW - ((columns - 1) * TileGap)) / (columns * width);
        int fitH = (availH - ((rows - 1) * TileGap)) / (rows * height);
        int minimum = (MinTileSize + Math.Max(height, width) - 1) / Math.Max(height, width);
        return (columns, rows, Math.Max(Math.Max(1, minimum), Math.Min(fitW, fitH)));
    }

    /// <summary>[-1, 1] to [0, 255], rounding half away from zero, clamped.</summary>
    internal static byte ToByte(float value) => (byte)Math.Clamp(Math.Round((value + 1.0) * 127.5, MidpointRounding.AwayFromZero), 0, 255);

    // ---- Bars ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// A grouped bar chart: one group per category, one bar per series, each labelled with its value, and an
    /// optional dashed horizontal reference line with its legend text (e.g. speedup 1.0, or a cost model's ceiling).
    /// </summary>
    public static void Bars(string path, string title, string caption, string[] categories, IReadOnlyList<(string Name, double[] Values)> series, string yLabel, (double Value, string Label)? reference, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using RenderedPlot plot = RenderBars(title, caption, categories, series, yLabel, reference, options);
        plot.Save(path);
    }

    /// <summary>Where bar <paramref name="seriesIndex"/> of category <paramref name="category"/> is centred on the x axis.</summary>
    public static double BarCentre(int category, int seriesIndex, int seriesCount) => category + ((seriesIndex - ((seriesCount - 1) / 2.0)) * BarWidth(seriesCount));

    private static double BarWidth(int seriesCount) => 0.8 / seriesCount;

    public static RenderedPlot RenderBars(string title, string caption, string[] categories, IReadOnlyList<(string Name, double[] Values)> series, string yLabel, (double Value, string Label)? reference, PlotOptions? options = null)
    {
        options = CheckCommon(title, caption, options);
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(yLabel);
        if (categories.Length == 0 || series.Count == 0)
        {
            throw new ArgumentException($"A bar chart needs at least one category and one series; got {categories.Length} and {series.Count}.");
        }

        for (int i = 0; i < categories.Length; i++)
        {
            if (categories[i] is null)
            {
                throw new ArgumentException($"categories[{i}] is null.", nameof(categories));
            }
        }

        double lo = 0, hi = 0;
        for (int k = 0; k < series.Count; k++)
        {
            (string name, double[] values) = series[k];
            if (name is null || values is null)
            {
                throw new ArgumentException($"series[{k}] has a null {(name is null ? "name" : "values")}.", nameof(series));
            }

            if (values.Length != categories.Length)
            {
                throw new ArgumentException($"series[{k}] ('{name}') has {values.Length} values for {categories.Length} categories.", nameof(series));
            }

            for (int i = 0; i < values.Length; i++)
            {
                if (!double.IsFinite(values[i]))
                {
                    throw new ArgumentException($"series[{k}] ('{name}') value {i} is {values[i]}; bar values must be finite.", nameof(series));
                }

                lo = Math.Min(lo, values[i]);
                hi = Math.Max(hi, values[i]);
            }
        }

        if (reference is { } line)
        {
            if (!double.IsFinite(line.Value) || line.Label is null)
            {
                throw new ArgumentException($"The reference line {line.Value} must be finite and have a label.", nameof(reference));
            }

            lo = Math.Min(lo, line.Value);
            hi = Math.Max(hi, line.Value);
        }

        if (hi - lo <= 0)
        {
            hi = lo + 1;
        }

        // Headroom for the value labels above (or below) the bars.
        double pad = 0.12 * (hi - lo);
        hi += hi > 0 ? pad : 0;
        lo -= lo < 0 ? pad : 0;

        float s = options.TextScale;
        Plot plot = NewPlot(options, title);
        double barWidth = BarWidth(series.Count);
        for (int k = 0; k < series.Count; k++)
        {
            (string name, double[] values) = series[k];
            var bars = new List<Bar>(values.Length);
            for (int i = 0; i < values.Length; i++)
            {
                bars.Add(new Bar
                {
                    Position = BarCentre(i, k, series.Count),
                    Value = values[i],
                    Size = barWidth * 0.94,
                    FillColor = Palette.Series(k),
                    LineWidth = 0,
                    Label = FormatValue(values[i]),
                });
            }

            BarPlot plottable = plot.Add.Bars(bars);
            plottable.LegendText = name;
            plottable.ValueLabelStyle.FontName = PlotFonts.Name;
            plottable.ValueLabelStyle.FontSize = ValueSize * s;
        }

        if (reference is { } r)
        {
            HorizontalLine h = plot.Add.HorizontalLine(r.Value, 1.8f * s, Palette.Reference, LinePattern.Dashed);
            h.LegendText = r.Label;
        }

        plot.Axes.Bottom.TickGenerator = new NumericManual([.. Enumerable.Range(0, categories.Length).Select(i => (double)i)], categories);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Grid.XAxisStyle.IsVisible = false;
        if (yLabel.Length > 0)
        {
            plot.YLabel(yLabel, LabelSize * s);
            plot.Axes.Left.Label.Bold = false;
        }

        plot.Legend.DisplayPlottableLegendItems = true;
        plot.ShowLegend(Edge.Bottom);
        StyleLegend(plot, s);
        plot.Axes.SetLimits(-0.5, categories.Length - 0.5, lo, hi);
        return Finish(plot, options, caption);
    }

    /// <summary>A short label for a bar's value (about three significant digits).</summary>
    internal static string FormatValue(double value)
    {
        double a = Math.Abs(value);
        string format = a >= 100 ? "F0" : a >= 10 ? "F1" : "F2";
        return value.ToString(format, Ci);
    }

    // ---- Shared parts --------------------------------------------------------------------------------------------

    /// <summary>A white plot in the embedded font with its title above (one line; <see cref="Finish"/> adds the caption).</summary>
    private static Plot NewPlot(PlotOptions options, string title)
    {
        PlotFonts.Register();
        float s = options.TextScale;
        var plot = new Plot();
        plot.Font.Set(PlotFonts.Name, FontWeight.Normal, FontSlant.Upright, FontSpacing.Normal);
        plot.Axes.Left.TickLabelStyle.FontSize = TickSize * s;
        plot.Axes.Bottom.TickLabelStyle.FontSize = TickSize * s;
        plot.Grid.MajorLineColor = new Color(225, 225, 225);
        plot.Axes.Left.TickGenerator = new NumericAutomatic { MinimumTickSpacing = 60 * s };
        plot.Axes.Bottom.TickGenerator = new NumericAutomatic { MinimumTickSpacing = 60 * s };

        float textWidth = options.Width - (24 * s);
        if (title.Length > 0)
        {
            plot.Title(title, FitSize(title, TitleSize * s, textWidth, bold: true));
            plot.Axes.Title.Label.Bold = true;
            plot.Axes.Title.FullFigureCenter = true;
        }

        return plot;
    }

    /// <summary>
    /// Adds the caption under everything else (so after the legend), word-wrapped to the picture's width, and wraps
    /// the plot with its size.
    /// </summary>
    private static RenderedPlot Finish(Plot plot, PlotOptions options, string caption)
    {
        float s = options.TextScale;
        if (caption.Length > 0)
        {
            var panel = new CaptionPanel();
            panel.Label.FontName = PlotFonts.Name;
            panel.Label.FontSize = CaptionSize * s;
            panel.Label.Bold = false;
            panel.Label.ForeColor = new Color(60, 60, 60);
            panel.Label.Text = string.Join('\n', WrapText(caption, panel.Label, options.Width - (24 * s)));
            plot.Axes.AddPanel(panel);
        }

        return new RenderedPlot(plot, options.Width, options.Height);
    }

    /// <summary>Breaks the text at spaces into lines at most <paramref name="width"/> pixels wide (a longer word gets its own line).</summary>
    internal static List<string> WrapText(string text, LabelStyle style, float width)
    {
        using Paint paint = Paint.NewDisposablePaint();
        var lines = new List<string>();
        string line = "";
        foreach (string word in text.Split(' '))
        {
            string candidate = line.Length == 0 ? word : line + " " + word;
            if (line.Length > 0 && style.Measure(candidate, paint).Width > width)
            {
                lines.Add(line);
                line = word;
            }
            else
            {
                line = candidate;
            }
        }

        lines.Add(line);
        return lines;
    }

    /// <summary>The largest size up to <paramref name="size"/> at which the text is at most <paramref name="width"/> pixels wide.</summary>
    internal static float FitSize(string text, float size, float width, bool bold)
    {
        PlotFonts.Register();
        using Paint paint = Paint.NewDisposablePaint();
        var style = new LabelStyle { FontName = PlotFonts.Name, Bold = bold, FontSize = size };
        while (size > MinTextSize && style.Measure(text, paint).Width > width)
        {
            size = Math.Max(MinTextSize, size * 0.95f);
            style.FontSize = size;
        }

        return size;
    }

    /// <summary>Shows exactly these legend items, in rows under the plot.</summary>
    private static void ShowLegend(Plot plot, IEnumerable<LegendItem> items, float s)
    {
        plot.Legend.DisplayPlottableLegendItems = false;
        plot.Legend.ManualItems.AddRange(items);
        plot.ShowLegend(Edge.Bottom);
        StyleLegend(plot, s);
    }

    private static void StyleLegend(Plot plot, float s)
    {
        plot.Legend.FontName = PlotFonts.Name;
        plot.Legend.FontSize = LegendSize * s;
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.Legend.OutlineWidth = 0;
        plot.Legend.ShadowColor = Colors.Transparent;
        plot.Legend.SymbolWidth = 24 * s;
        plot.Legend.SetBestFontOnEachRender = false;
    }

    private static LegendItem MarkerItem(string label, MarkerShape shape, Color color, float s) => new()
    {
        LabelText = label,
        MarkerShape = shape,
        MarkerColor = color,
        MarkerSize = 10 * s,
        LineWidth = 0,
    };

    /// <summary>A marker with a contrasting rim: the same shape, larger, in the outline colour underneath.</summary>
    private static void OutlinedMarker(Plot plot, double x, double y, MarkerShape shape, float size, Color fill, Color outline, float lineWidth = 1)
    {
        bool stroked = shape is MarkerShape.Eks or MarkerShape.Cross;
        Marker under = plot.Add.Marker(x, y, shape, size + (stroked ? 0 : 3), outline);
        Marker over = plot.Add.Marker(x, y, shape, size, fill);
        if (stroked)
        {
            under.MarkerLineWidth = lineWidth + 2.5f;
            over.MarkerLineWidth = lineWidth;
        }
    }

    private static void SetDataLimits(Plot plot, PlotRanges r, bool squareUnits)
    {
        plot.Axes.SetLimits(r.XMin, r.XMax, r.YMin, r.YMax);
        if (squareUnits)
        {
            plot.Axes.SquareUnits();
        }
    }

    // ---- Checks --------------------------------------------------------------------------------------------------

    private static PlotOptions CheckCommon(string title, string caption, PlotOptions? options)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(caption);
        options ??= PlotOptions.Default;
        options.Validate();
        return options;
    }

    internal static void CheckRanges(PlotRanges r, string name)
    {
        if (!double.IsFinite(r.XMin) || !double.IsFinite(r.XMax) || !double.IsFinite(r.YMin) || !double.IsFinite(r.YMax)
            || !(r.XMax > r.XMin) || !(r.YMax > r.YMin) || !double.IsFinite(r.XMax - r.XMin) || !double.IsFinite(r.YMax - r.YMin))
        {
            throw new ArgumentException($"{name} x [{r.XMin}, {r.XMax}], y [{r.YMin}, {r.YMax}] must be finite with min < max on both axes.", name);
        }
    }

    private static void CheckPoint(float[] point, string name)
    {
        if (point is null || point.Length != 2)
        {
            throw new ArgumentException($"{name} must be an (x, y) pair; got {(point is null ? "null" : $"{point.Length} numbers")}.", name);
        }

        CheckFinite(point, name);
    }

    private static void CheckFinite(float[] values, string name)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"{name}[{i}] is {values[i]}; every coordinate and pixel value must be finite.", name);
            }
        }
    }
}
