namespace Asd.Cli.Plotting;

/// <summary>
/// A drawn plot: its canvas, the pixel rectangle its data went into (the axes' inner box, or the image grid), and
/// for plots with data axes the mapping from data to pixels.
/// </summary>
internal sealed record RenderedPlot(Canvas Canvas, PixelRect PlotArea, PlotFrame? Frame);

/// <summary>
/// The CLI's pictures, each written as one PNG with a title, a legend and a caption. Every input is checked before
/// anything is drawn: nulls, wrong lengths and non-finite coordinates throw <see cref="ArgumentException"/> (a
/// point is never skipped silently). The Render methods return the picture and where its data went, without saving.
/// </summary>
internal static class Plots
{
    private static readonly Rgba SampleInk = new(25, 35, 80, 210);
    private static readonly Rgba ObstacleEdge = new(110, 110, 110);
    private static readonly Rgba TileBackground = new(180, 190, 205);

    // ---- Policy trajectories -------------------------------------------------------------------------------------

    /// <summary>
    /// Planned 2-D paths around a disc obstacle. Each episode has a start, a goal and any number of sampled paths;
    /// a path is its waypoints as interleaved (x, y) pairs and is drawn from the start through them. Paths that
    /// come within the obstacle's radius are dashed, with a red cross where they first enter it.
    /// </summary>
    public static void PolicyTrajectories(
        string path,
        string title,
        string caption,
        (double X, double Y, double R) obstacle,
        (double XMin, double XMax, double YMin, double YMax) workspace,
        IReadOnlyList<(float[] Start, float[] Goal, float[][] Paths)> episodes,
        PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RenderPolicyTrajectories(title, caption, obstacle, workspace, episodes, options).Canvas.SavePng(path);
    }

    public static RenderedPlot RenderPolicyTrajectories(
        string title,
        string caption,
        (double X, double Y, double R) obstacle,
        (double XMin, double XMax, double YMin, double YMax) workspace,
        IReadOnlyList<(float[] Start, float[] Goal, float[][] Paths)> episodes,
        PlotOptions? options = null)
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

        int ts = options.ResolvedTextScale;
        var legend = new List<LegendEntry>
        {
            new("start", new Rgba(200, 200, 200), Marker.Dot, Outline: Rgba.Ink),
            new("goal", new Rgba(200, 200, 200), Marker.Star, Outline: Rgba.Ink),
            new("waypoint", Rgba.Ink, Marker.Dot, Line: true),
            new("obstacle", Palette.Obstacle, Marker.Dot),
            new($"enters obstacle ({intruding} of {pathCount})", Palette.Alert, Marker.Cross, Line: true, Dashed: true, Outline: Rgba.White),
        };
        if (episodes.Count <= Palette.QualitativeCount)
        {
            for (int e = 0; e < episodes.Count; e++)
            {
                legend.Add(new LegendEntry($"episode {e + 1}", Palette.Series(e), Line: true));
            }
        }

        Figure figure = MakeFigure(options, title, caption, legend, options.Height);
        Canvas canvas = figure.Canvas;
        PlotFrame frame = figure.Frame(workspace.XMin, workspace.XMax, workspace.YMin, workspace.YMax, equalAspect: true);
        frame.DrawAxes(canvas, ts, null, null, grid: true);

        frame.ClipTo(canvas);
        double radius = obstacle.R * 0.5 * ((frame.Area.Width / (frame.XMax - frame.XMin)) + (frame.Area.Height / (frame.YMax - frame.YMin)));
        canvas.FillCircle(frame.PixelX(obstacle.X), frame.PixelY(obstacle.Y), radius, Palette.Obstacle);
        canvas.StrokeCircle(frame.PixelX(obstacle.X), frame.PixelY(obstacle.Y), radius, ObstacleEdge, 1.0);

        double lineWidth = Math.Max(1.25, ts);
        var intrusions = new List<(double X, double Y)>();
        for (int e = 0; e < episodes.Count; e++)
        {
            (float[] start, _, float[][] paths) = episodes[e];
            Rgba color = Palette.Series(e);
            foreach (float[] waypoints in paths)
            {
                double[] data = DataPolyline(start, waypoints);
                (double X, double Y)? entry = Geometry.FirstIntrusion(data, obstacle.X, obstacle.Y, obstacle.R);
                double[] pixels = ToPixels(frame, data);
                double dash = entry is null ? 0 : 5 * ts;
                canvas.DrawPolyline(pixels, color, lineWidth, dash, dash * 0.7);
                for (int i = 2; i < pixels.Length; i += 2)
                {
                    canvas.FillCircle(pixels[i], pixels[i + 1], lineWidth + 0.5, color);
                }

                if (entry is { } hit)
                {
                    intrusions.Add(hit);
                }
            }
        }

        foreach ((double x, double y) in intrusions)
        {
            canvas.DrawMarker(frame.PixelX(x), frame.PixelY(y), Marker.Cross, 6 * ts, Palette.Alert, Rgba.White);
        }

        for (int e = 0; e < episodes.Count; e++)
        {
            (float[] start, float[] goal, _) = episodes[e];
            Rgba color = Palette.Series(e);
            canvas.DrawMarker(frame.PixelX(start[0]), frame.PixelY(start[1]), Marker.Dot, 5 * ts, color, Rgba.Ink);
            canvas.DrawMarker(frame.PixelX(goal[0]), frame.PixelY(goal[1]), Marker.Star, 8 * ts, color, Rgba.Ink);
        }

        canvas.ResetClip();
        return new RenderedPlot(canvas, frame.Area, frame);
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

    private static double[] ToPixels(PlotFrame frame, double[] data)
    {
        var xy = new double[data.Length];
        for (int i = 0; i < data.Length; i += 2)
        {
            xy[i] = frame.PixelX(data[i]);
            xy[i + 1] = frame.PixelY(data[i + 1]);
        }

        return xy;
    }

    // ---- Mixture scatter -----------------------------------------------------------------------------------------

    /// <summary>
    /// Samples (interleaved x, y) as dark dots over a heat map of the target density, which is evaluated on a grid
    /// of about half the plot's pixel resolution. Non-finite or negative density values count as 0.
    /// </summary>
    public static void MixtureScatter(
        string path,
        string title,
        string caption,
        Func<double, double, double> density,
        float[] samples,
        (double XMin, double XMax, double YMin, double YMax) ranges,
        DensityScale scale = DensityScale.Sqrt,
        PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RenderMixtureScatter(title, caption, density, samples, ranges, scale, options).Canvas.SavePng(path);
    }

    /// <summary>
    /// As the density overload, with the density precomputed: <paramref name="densityGrid"/>[row * columns + column]
    /// is its value at the centre of grid cell (column, row); columns run along x from XMin, rows along y from YMin.
    /// </summary>
    public static void MixtureScatter(
        string path,
        string title,
        string caption,
        double[] densityGrid,
        int gridColumns,
        int gridRows,
        float[] samples,
        (double XMin, double XMax, double YMin, double YMax) ranges,
        DensityScale scale = DensityScale.Sqrt,
        PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RenderMixtureScatter(title, caption, densityGrid, gridColumns, gridRows, samples, ranges, scale, options).Canvas.SavePng(path);
    }

    public static RenderedPlot RenderMixtureScatter(
        string title,
        string caption,
        Func<double, double, double> density,
        float[] samples,
        (double XMin, double XMax, double YMin, double YMax) ranges,
        DensityScale scale = DensityScale.Sqrt,
        PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(density);
        return RenderMixture(title, caption, frame =>
        {
            int columns = Math.Max(2, frame.Area.Width / 2), rows = Math.Max(2, frame.Area.Height / 2);
            var grid = new double[columns * rows];
            for (int r = 0; r < rows; r++)
            {
                double y = ranges.YMin + ((r + 0.5) / rows * (ranges.YMax - ranges.YMin));
                for (int c = 0; c < columns; c++)
                {
                    grid[(r * columns) + c] = density(ranges.XMin + ((c + 0.5) / columns * (ranges.XMax - ranges.XMin)), y);
                }
            }

            return (grid, columns, rows);
        }, samples, ranges, scale, options);
    }

    public static RenderedPlot RenderMixtureScatter(
        string title,
        string caption,
        double[] densityGrid,
        int gridColumns,
        int gridRows,
        float[] samples,
        (double XMin, double XMax, double YMin, double YMax) ranges,
        DensityScale scale = DensityScale.Sqrt,
        PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(densityGrid);
        if (gridColumns < 1 || gridRows < 1 || (long)gridColumns * gridRows != densityGrid.Length)
        {
            throw new ArgumentException($"The density grid has {densityGrid.Length} values, not {gridColumns} columns x {gridRows} rows (both >= 1).", nameof(densityGrid));
        }

        return RenderMixture(title, caption, _ => (densityGrid, gridColumns, gridRows), samples, ranges, scale, options);
    }

    private static RenderedPlot RenderMixture(
        string title,
        string caption,
        Func<PlotFrame, (double[] Grid, int Columns, int Rows)> makeGrid,
        float[] samples,
        (double XMin, double XMax, double YMin, double YMax) ranges,
        DensityScale scale,
        PlotOptions? options)
    {
        options = CheckCommon(title, caption, options);
        CheckRanges(ranges, nameof(ranges));
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

        int ts = options.ResolvedTextScale;
        string scaleName = scale == DensityScale.Sqrt ? "sqrt" : "log";
        LegendEntry[] legend =
        [
            new($"target density ({scaleName} scale)", Palette.Heat(0.75)),
            new($"samples ({samples.Length / 2})", SampleInk with { A = 255 }, Marker.Dot),
        ];
        Figure figure = MakeFigure(options, title, caption, legend, options.Height);
        Canvas canvas = figure.Canvas;
        PlotFrame frame = figure.Frame(ranges.XMin, ranges.XMax, ranges.YMin, ranges.YMax, equalAspect: true);

        (double[] grid, int columns, int rows) = makeGrid(frame);
        DrawHeat(canvas, frame, grid, columns, rows, scale);

        frame.ClipTo(canvas);
        double dot = Math.Max(1.0, 1.1 * ts);
        for (int i = 0; i < samples.Length; i += 2)
        {
            canvas.FillCircle(frame.PixelX(samples[i]), frame.PixelY(samples[i + 1]), dot, SampleInk);
        }

        frame.DrawAxes(canvas, ts, null, null);
        return new RenderedPlot(canvas, frame.Area, frame);
    }

    private static void DrawHeat(Canvas canvas, PlotFrame frame, double[] grid, int columns, int rows, DensityScale scale)
    {
        var clean = new double[grid.Length];
        double max = 0;
        for (int i = 0; i < grid.Length; i++)
        {
            double v = grid[i];
            clean[i] = double.IsFinite(v) && v > 0 ? v : 0.0;
            max = Math.Max(max, clean[i]);
        }

        if (!(max > 0))
        {
            return; // flat zero density: the plot area stays white
        }

        PixelRect a = frame.Area;

        // Cell centres sit at (index + 0.5) / count of the range; each pixel interpolates between the nearest four.
        // Column positions are the same on every row, so work them out once.
        var c0s = new int[a.Width];
        var c1s = new int[a.Width];
        var fxs = new double[a.Width];
        for (int i = 0; i < a.Width; i++)
        {
            double gx = (((frame.DataX(a.X + i) - frame.XMin) / (frame.XMax - frame.XMin)) * columns) - 0.5;
            c0s[i] = Math.Clamp((int)Math.Floor(gx), 0, columns - 1);
            c1s[i] = Math.Min(c0s[i] + 1, columns - 1);
            fxs[i] = Math.Clamp(gx - c0s[i], 0.0, 1.0);
        }

        double invMax = 1.0 / max;
        for (int py = a.Y; py < a.Bottom; py++)
        {
            double gy = (((frame.DataY(py) - frame.YMin) / (frame.YMax - frame.YMin)) * rows) - 0.5;
            int r0 = Math.Clamp((int)Math.Floor(gy), 0, rows - 1), r1 = Math.Min(r0 + 1, rows - 1);
            double fy = Math.Clamp(gy - r0, 0.0, 1.0);
            ReadOnlySpan<double> lower = clean.AsSpan(r0 * columns, columns), upper = clean.AsSpan(r1 * columns, columns);
            for (int i = 0; i < a.Width; i++)
            {
                int c0 = c0s[i], c1 = c1s[i];
                double fx = fxs[i];
                double v0 = lower[c0] + ((lower[c1] - lower[c0]) * fx);
                double v1 = upper[c0] + ((upper[c1] - upper[c0]) * fx);
                double p = (v0 + ((v1 - v0) * fy)) * invMax;
                double t = scale == DensityScale.Sqrt ? Math.Sqrt(p) : p > 0 ? 1 + (Math.Log10(p) / 3) : 0;
                if (t > 0.002)
                {
                    canvas.Blend(a.X + i, py, Palette.HeatFast(t));
                }
            }
        }
    }

    // ---- Image grid ----------------------------------------------------------------------------------------------

    /// <summary>
    /// <paramref name="count"/> images laid out row-major in a near-square grid. <paramref name="images"/> is
    /// count x channels x height x width (NCHW); values map from [-1, 1] to [0, 255], clamped. Tiles are
    /// upscaled by an integer factor (nearest neighbour) to fill the picture, and to at least 64 pixels on their
    /// longer side; the picture grows if the grid needs more room than the options give.
    /// </summary>
    public static void ImageGrid(string path, string title, string caption, float[] images, int count, int channels, int height, int width, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RenderImageGrid(title, caption, images, count, channels, height, width, options).Canvas.SavePng(path);
    }

    public const int TileGap = 2;

    public const int MinTileSize = 64;

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
        int ts = options.ResolvedTextScale;
        int gridW = (columns * width * upscale) + ((columns - 1) * TileGap);
        int gridH = (rows * height * upscale) + ((rows - 1) * TileGap);
        int canvasW = Math.Max(options.Width, gridW + (2 * Figure.Margin(ts)));
        LegendEntry[] legend = [];
        int chrome = Figure.HeaderHeight(canvasW, title, ts) + Figure.FooterHeight(canvasW, caption, legend, ts);
        int canvasH = Math.Max(options.Height, gridH + chrome);
        Figure figure = MakeFigure(options with { Width = canvasW }, title, caption, legend, canvasH);
        Canvas canvas = figure.Canvas;

        int x0 = figure.Body.X + ((figure.Body.Width - gridW) / 2);
        int y0 = figure.Body.Y + ((figure.Body.Height - gridH) / 2);
        canvas.FillRect(x0 - TileGap, y0 - TileGap, x0 + gridW + TileGap, y0 + gridH + TileGap, TileBackground);
        int plane = height * width;
        for (int k = 0; k < count; k++)
        {
            int tileX = x0 + ((k % columns) * ((width * upscale) + TileGap));
            int tileY = y0 + ((k / columns) * ((height * upscale) + TileGap));
            int baseIndex = k * channels * plane;
            for (int i = 0; i < height; i++)
            {
                for (int j = 0; j < width; j++)
                {
                    int at = baseIndex + (i * width) + j;
                    byte r = ToByte(images[at]);
                    Rgba color = channels == 1 ? new Rgba(r, r, r) : new Rgba(r, ToByte(images[at + plane]), ToByte(images[at + (2 * plane)]));
                    canvas.FillRect(tileX + (j * upscale), tileY + (i * upscale), tileX + ((j + 1) * upscale), tileY + ((i + 1) * upscale), color);
                }
            }
        }

        return new RenderedPlot(canvas, new PixelRect(x0, y0, gridW, gridH), null);
    }

    /// <summary>Grid columns and rows (near square, row-major) and the integer upscale of each image.</summary>
    internal static (int Columns, int Rows, int Upscale) GridLayout(int count, int height, int width, PlotOptions options)
    {
        int columns = (int)Math.Ceiling(Math.Sqrt(count));
        int rows = (count + columns - 1) / columns;
        int ts = options.ResolvedTextScale;

        // The body of a picture with one title line and one caption line, as the space to fill.
        int availW = options.Width - (2 * Figure.Margin(ts));
        int availH = options.Height - (5 * Figure.Margin(ts)) - (BitmapFont.LineHeight * ((2 * ts) + 1));
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
    /// optional dashed horizontal reference line (e.g. speedup 1.0, or a cost model's ceiling).
    /// </summary>
    public static void Bars(string path, string title, string caption, string[] categories, IReadOnlyList<(string Name, double[] Values)> series, string yLabel, double? referenceLine, PlotOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        RenderBars(title, caption, categories, series, yLabel, referenceLine, options).Canvas.SavePng(path);
    }

    public static RenderedPlot RenderBars(string title, string caption, string[] categories, IReadOnlyList<(string Name, double[] Values)> series, string yLabel, double? referenceLine, PlotOptions? options = null)
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
        for (int s = 0; s < series.Count; s++)
        {
            (string name, double[] values) = series[s];
            if (name is null || values is null)
            {
                throw new ArgumentException($"series[{s}] has a null {(name is null ? "name" : "values")}.", nameof(series));
            }

            if (values.Length != categories.Length)
            {
                throw new ArgumentException($"series[{s}] ('{name}') has {values.Length} values for {categories.Length} categories.", nameof(series));
            }

            for (int i = 0; i < values.Length; i++)
            {
                if (!double.IsFinite(values[i]))
                {
                    throw new ArgumentException($"series[{s}] ('{name}') value {i} is {values[i]}; bar values must be finite.", nameof(series));
                }

                lo = Math.Min(lo, values[i]);
                hi = Math.Max(hi, values[i]);
            }
        }

        if (referenceLine is { } reference)
        {
            if (!double.IsFinite(reference))
            {
                throw new ArgumentException($"The reference line {reference} must be finite.", nameof(referenceLine));
            }

            lo = Math.Min(lo, reference);
            hi = Math.Max(hi, reference);
        }

        if (hi - lo <= 0)
        {
            hi = lo + 1;
        }

        // Headroom for the value labels, then out to the next round tick.
        double pad = 0.12 * (hi - lo);
        hi += hi > 0 ? pad : 0;
        lo -= lo < 0 ? pad : 0;
        double step = Ticks.Step(lo, hi);
        hi = Math.Ceiling((hi / step) - 1e-9) * step;
        lo = Math.Floor((lo / step) + 1e-9) * step;

        int ts = options.ResolvedTextScale;
        var legend = new List<LegendEntry>();
        for (int s = 0; s < series.Count; s++)
        {
            legend.Add(new LegendEntry(series[s].Name, Palette.Series(s)));
        }

        if (referenceLine is { } r)
        {
            legend.Add(new LegendEntry($"reference {Ticks.FormatValue(r)}", Palette.Reference, Line: true, Dashed: true));
        }

        Figure figure = MakeFigure(options, title, caption, legend, options.Height);
        Canvas canvas = figure.Canvas;
        PlotFrame frame = figure.Frame(0, categories.Length, lo, hi, equalAspect: false, xLabel: false, yLabel: yLabel.Length > 0);
        frame.DrawAxes(canvas, ts, null, yLabel, xTicks: false, grid: true);

        double groupPx = frame.Area.Width / (double)categories.Length;
        double barPx = groupPx * 0.8 / series.Count;
        double zero = frame.PixelY(0);
        frame.ClipTo(canvas);
        for (int s = 0; s < series.Count; s++)
        {
            double[] values = series[s].Values;
            for (int i = 0; i < categories.Length; i++)
            {
                double left = frame.Area.X + (i * groupPx) + (groupPx * 0.1) + (s * barPx);
                double inset = barPx > 6 ? 1.0 : 0.0; // a hairline between neighbouring bars
                canvas.FillRect(left + inset, zero, left + barPx - inset, frame.PixelY(values[i]), Palette.Series(s));
            }
        }

        if (referenceLine is { } line)
        {
            double y = frame.PixelY(line);
            ReadOnlySpan<double> xy = [frame.Area.X, y, frame.Area.Right, y];
            canvas.DrawPolyline(xy, Palette.Reference, Math.Max(1.5, ts), 6 * ts, 4 * ts);
        }

        canvas.ResetClip();
        for (int s = 0; s < series.Count; s++)
        {
            double[] values = series[s].Values;
            for (int i = 0; i < categories.Length; i++)
            {
                string label = Ticks.FormatValue(values[i]);
                int labelScale = BitmapFont.MeasureWidth(label, ts) <= barPx + (groupPx * 0.1) ? ts : 1;
                int cx = (int)Math.Round(frame.Area.X + (i * groupPx) + (groupPx * 0.1) + ((s + 0.5) * barPx));
                double top = frame.PixelY(values[i]);
                int y = values[i] >= 0
                    ? (int)Math.Round(top) - (3 * ts) - (BitmapFont.CapHeight * labelScale)
                    : (int)Math.Round(top) + (3 * ts);
                canvas.DrawText(cx, y, label, Rgba.Ink, labelScale, TextAlign.Center);
            }
        }

        for (int i = 0; i < categories.Length; i++)
        {
            int labelScale = BitmapFont.MeasureWidth(categories[i], ts) <= groupPx ? ts : 1;
            int cx = (int)Math.Round(frame.Area.X + ((i + 0.5) * groupPx));
            canvas.DrawText(cx, frame.Area.Bottom + (5 * ts), categories[i], Rgba.Ink, labelScale, TextAlign.Center);
        }

        return new RenderedPlot(canvas, frame.Area, frame);
    }

    // ---- Shared checks -------------------------------------------------------------------------------------------

    private static Figure MakeFigure(PlotOptions options, string title, string caption, IReadOnlyList<LegendEntry> legend, int height) =>
        Figure.Create(options.Width, height, options.ResolvedTextScale, title, caption, legend);

    private static PlotOptions CheckCommon(string title, string caption, PlotOptions? options)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(caption);
        options ??= PlotOptions.Default;
        options.Validate();
        return options;
    }

    private static void CheckRanges((double XMin, double XMax, double YMin, double YMax) r, string name)
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
