using Asd.Cli.Output;
using Asd.Cli.Plotting;
using ScottPlot;
using SkiaSharp;
using Palette = Asd.Cli.Plotting.Palette;

namespace Asd.Tests.Plotting;

/// <summary>
/// Each plot writes a PNG whose decoded pixels show what was asked for: tests look up where data landed through the
/// rendered plot (<see cref="RenderedPlot.PixelOf"/>), then read those pixels back from the PNG with SkiaSharp.
/// </summary>
public sealed class PlotTests : IDisposable
{
    private static readonly (double, double, double, double) Unit = (0.0, 1.0, 0.0, 1.0);

    private readonly string _dir = Directory.CreateTempSubdirectory("asd-plot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    /// <summary>A decoded PNG: size and RGB lookup.</summary>
    private sealed class Png : IDisposable
    {
        private readonly SKBitmap _bitmap;

        public Png(byte[] bytes)
        {
            Assert.True(bytes.Length > 8 && bytes[0] == 0x89 && bytes[1] == (byte)'P' && bytes[2] == (byte)'N' && bytes[3] == (byte)'G', "not a PNG");
            _bitmap = SKBitmap.Decode(bytes) ?? throw new InvalidOperationException("SkiaSharp could not decode the PNG");
        }

        public int Width => _bitmap.Width;

        public int Height => _bitmap.Height;

        public (byte R, byte G, byte B) this[int x, int y]
        {
            get
            {
                SKColor c = _bitmap.GetPixel(x, y);
                return (c.Red, c.Green, c.Blue);
            }
        }

        public (byte R, byte G, byte B) At(Pixel p) => this[(int)Math.Floor(p.X), (int)Math.Floor(p.Y)];

        /// <summary>Pixels darker than 90 on every channel, in rows [y0, y1).</summary>
        public int DarkPixels(int y0, int y1) => Count(y0, y1, 0, Width, (r, g, b) => r < 90 && g < 90 && b < 90);

        public int Count(int y0, int y1, int x0, int x1, Func<byte, byte, byte, bool> match)
        {
            int n = 0;
            for (int y = y0; y < y1; y++)
            {
                for (int x = x0; x < x1; x++)
                {
                    (byte r, byte g, byte b) = this[x, y];
                    n += match(r, g, b) ? 1 : 0;
                }
            }

            return n;
        }

        /// <summary>Rows in [y0, y1) that hold at least one dark pixel.</summary>
        public List<int> InkRows(int y0, int y1) => [.. Enumerable.Range(y0, y1 - y0).Where(y => DarkPixels(y, y + 1) > 0)];

        public void Dispose() => _bitmap.Dispose();
    }

    private static (byte R, byte G, byte B) Rgb(Color c) => (c.R, c.G, c.B);

    private static void Near((byte R, byte G, byte B) expected, (byte R, byte G, byte B) actual, int tolerance)
    {
        bool ok = Math.Abs(expected.R - actual.R) <= tolerance && Math.Abs(expected.G - actual.G) <= tolerance
            && Math.Abs(expected.B - actual.B) <= tolerance;
        Assert.True(ok, $"expected about {expected} (+-{tolerance}), got {actual}");
    }

    /// <summary>Whether any pixel within <paramref name="radius"/> of p is near the colour.</summary>
    private static bool AnyNear(Png png, Pixel p, int radius, (byte R, byte G, byte B) color, int tolerance)
    {
        for (int dy = -radius; dy <= radius; dy++)
        {
            for (int dx = -radius; dx <= radius; dx++)
            {
                (byte r, byte g, byte b) = png[(int)p.X + dx, (int)p.Y + dy];
                if (Math.Abs(r - color.R) <= tolerance && Math.Abs(g - color.G) <= tolerance && Math.Abs(b - color.B) <= tolerance)
                {
                    return true;
                }
            }
        }

        return false;
    }

    // ---- Trajectories --------------------------------------------------------------------------------------------

    // Episode 0 runs along y = 0.85 above the obstacle; episode 1 has one path that stays low and one that dives
    // through the obstacle at (0.5, 0.4), r = 0.15.
    private static List<(float[] Start, float[] Goal, float[][] Paths)> Episodes() =>
    [
        ([0.1f, 0.85f], [0.9f, 0.85f], [[0.5f, 0.85f, 0.9f, 0.85f]]),
        ([0.1f, 0.4f], [0.9f, 0.1f],
            [
                [0.2f, 0.1f, 0.9f, 0.1f],
                [0.5f, 0.4f, 0.9f, 0.1f],
            ]),
    ];

    private static readonly (double, double, double) Obstacle = (0.5, 0.4, 0.15);

    [Fact]
    public void TrajectoriesShowObstaclePathsIntrusionAndTitle()
    {
        string path = File("traj.png");
        Plots.PolicyTrajectories(path, "Policy paths", "two episodes", Obstacle, Unit, Episodes());
        using var png = new Png(System.IO.File.ReadAllBytes(path));
        Assert.Equal((800, 800), (png.Width, png.Height));

        using RenderedPlot plot = Plots.RenderPolicyTrajectories("Policy paths", "two episodes", Obstacle, Unit, Episodes());
        using var same = new Png(plot.Png());

        // Obstacle: its fill inside, background just outside its radius where nothing else is drawn.
        Near(Rgb(Palette.Obstacle), same.At(plot.PixelOf(0.62, 0.40)), 3);
        Near((255, 255, 255), same.At(plot.PixelOf(0.5, 0.22)), 3);

        // Episode 0's first segment runs (0.1, 0.85) -> (0.5, 0.85); episode 1's low path (0.1, 0.4) -> (0.2, 0.1).
        Assert.True(AnyNear(same, plot.PixelOf(0.3, 0.85), 1, Rgb(Palette.Series(0)), 40), "episode 0's path");
        Assert.True(AnyNear(same, plot.PixelOf(0.15, 0.25), 1, Rgb(Palette.Series(1)), 40), "episode 1's path");

        // The diving path enters the circle at (0.35, 0.4): a red cross there.
        Assert.True(AnyNear(same, plot.PixelOf(0.35, 0.40), 2, Rgb(Palette.Alert), 40), "intrusion cross");
        Assert.False(AnyNear(same, plot.PixelOf(0.15, 0.25), 4, Rgb(Palette.Alert), 40), "no cross on the safe path");

        // Start and goal markers have the episode's colour at their centres.
        Near(Rgb(Palette.Series(0)), same.At(plot.PixelOf(0.1, 0.85)), 10);
        Near(Rgb(Palette.Series(0)), same.At(plot.PixelOf(0.9, 0.85)), 10);

        // The title band above the data has ink; the PNG file and the in-memory render are the same picture.
        Assert.True(same.DarkPixels(0, (int)plot.DataArea.Top) > 100);
        Assert.Equal(plot.Png(), System.IO.File.ReadAllBytes(path));
    }

    [Fact]
    public void TitleBandIsBlankWithoutATitle()
    {
        // Negative control for the title check above: the same plot without a title has no ink above the data
        // but the top tick label.
        using RenderedPlot titled = Plots.RenderPolicyTrajectories("Policy paths", "c", Obstacle, Unit, Episodes());
        using RenderedPlot untitled = Plots.RenderPolicyTrajectories(string.Empty, "c", Obstacle, Unit, Episodes());
        using var a = new Png(titled.Png());
        using var b = new Png(untitled.Png());
        int inkTitled = a.Count(0, (int)titled.DataArea.Top - 10, (int)titled.DataArea.Left, a.Width, (r, g, bl) => r < 90 && g < 90 && bl < 90);
        int inkUntitled = b.Count(0, (int)untitled.DataArea.Top - 10, (int)untitled.DataArea.Left, b.Width, (r, g, bl) => r < 90 && g < 90 && bl < 90);
        Assert.True(inkTitled > 100, $"titled: {inkTitled}");
        Assert.Equal(0, inkUntitled);
    }

    [Fact]
    public void ThePolicyTitleStaysOnOneLine()
    {
        // The rough edge of issue 14: "(L =" on one line and "auto)" on the next. The title now never wraps.
        var stats = new Asd.Native.Sampling.SamplingStats();
        stats.Reset("asd", 100, 32, "auto", "auto");
        string title = SamplePictures.Title("builtin:policy", 32, stats);
        Assert.Equal("builtin:policy: 32 samples, ASD (L = auto), K = 100", title);
        using RenderedPlot plot = Plots.RenderPolicyTrajectories(title, "c", Obstacle, Unit, Episodes());
        using var png = new Png(plot.Png());
        List<int> rows = png.InkRows(0, (int)plot.DataArea.Top - 12);
        Assert.NotEmpty(rows);

        // One line of 20-pixel text covers fewer than 28 rows, all in one run; two lines would cover about 50.
        Assert.True(rows[^1] - rows[0] < 28, $"title ink spans rows {rows[0]}..{rows[^1]}");
        Assert.Equal(rows.Count, rows[^1] - rows[0] + 1);
    }

    [Fact]
    public void ALongTitleIsSetSmallerToFitNotWrappedOrCut()
    {
        string title = string.Concat(Enumerable.Repeat("a long title (L = auto) ", 6)).Trim();
        float fitted = Plots.FitSize(title, 20, 776, bold: true);
        Assert.True(fitted < 20, $"size {fitted}");
        Assert.Equal(20, Plots.FitSize("short", 20, 776, bold: true));

        using RenderedPlot plot = Plots.RenderBars(title, "c", ["a"], [("s", [1.0])], "y", null);
        using var png = new Png(plot.Png());
        List<int> rows = png.InkRows(0, (int)plot.DataArea.Top - 12);
        Assert.True(rows[^1] - rows[0] < 28, $"title ink spans rows {rows[0]}..{rows[^1]}");

        // Nothing is cut at the picture's edges: the title's ink keeps off the outermost 4 columns.
        Assert.Equal(0, png.Count(rows[0], rows[^1] + 1, 0, 4, (r, g, b) => r < 200));
        Assert.Equal(0, png.Count(rows[0], rows[^1] + 1, png.Width - 4, png.Width, (r, g, b) => r < 200));
    }

    [Fact]
    public void ALongCaptionWrapsAtSpaces()
    {
        var style = new LabelStyle { FontName = PlotFonts.Name, FontSize = 14 };
        PlotFonts.Register();
        List<string> lines = Plots.WrapText("sequential model calls per sample: ASD 200.0, as many as DDPM (auto chose L = 1 throughout: speculating costs more than it saves on this model); same law as DDPM", style, 776);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.False(l.StartsWith(' ') || l.EndsWith(' ')));
        Assert.Single(Plots.WrapText("short caption", style, 776));
    }

    [Fact]
    public void TextUsesTheEmbeddedFontWhateverTheMachineHas()
    {
        // Without it, SkiaSharp takes the machine's fonts and, where there are none, draws no text at all.
        PlotFonts.Register();
        SKTypeface regular = ScottPlot.Fonts.GetTypeface(PlotFonts.Name, bold: false, italic: false);
        SKTypeface bold = ScottPlot.Fonts.GetTypeface(PlotFonts.Name, bold: true, italic: false);
        Assert.Equal("DejaVu Sans", regular.FamilyName);
        Assert.Equal("DejaVu Sans", bold.FamilyName);
        Assert.True(bold.FontWeight > regular.FontWeight);
        Assert.True(regular.ContainsGlyphs("builtin:policy: 32 samples, ASD (L = auto), K = 100; 5.20x ±σ"));
    }

    [Fact]
    public void AMissingSkiaSharpLibraryIsFoundInsideTypeInitializers()
    {
        // A folder copied without libSkiaSharp.so surfaces as TypeInitializationException(s) around a
        // DllNotFoundException; PlotFonts turns that into a one-line error (tests/cli/run.sh checks the executable).
        var missing = new DllNotFoundException("Unable to load shared library 'libSkiaSharp'");
        var wrapped = new TypeInitializationException("ScottPlot.Fonts", new TypeInitializationException("SkiaSharp.SKObject", missing));
        Assert.Same(missing, PlotFonts.MissingNativeLibrary(wrapped));
        Assert.Null(PlotFonts.MissingNativeLibrary(new TypeInitializationException("X", new InvalidOperationException("other"))));
    }

    [Fact]
    public void PathsOutsideTheWorkspaceAreClippedToTheDataArea()
    {
        List<(float[] Start, float[] Goal, float[][] Paths)> episodes = [([0.5f, 0.9f], [0.5f, 0.9f], [[5f, 0.9f]])];
        using RenderedPlot plot = Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, episodes);
        using var png = new Png(plot.Png());
        int y = (int)plot.PixelOf(0, 0.9).Y;
        Assert.True(AnyNear(png, new Pixel(plot.DataArea.Right - 3, y), 1, Rgb(Palette.Series(0)), 40));
        Near((255, 255, 255), png[(int)plot.DataArea.Right + 6, y], 3);
    }

    // ---- Mixture scatter -----------------------------------------------------------------------------------------

    private static readonly (double, double, double, double) Around0 = (-2.0, 2.0, -2.0, 2.0);

    private static double Gaussian(double x, double y) => Math.Exp(-((x * x) + (y * y)) / (2 * 0.25));

    [Fact]
    public void MixtureShowsHeatAtTheModeDotsAtSamplesAndWhiteTails()
    {
        float[] samples = [1.5f, 1.5f, -1.2f, 1.4f];
        using RenderedPlot plot = Plots.RenderMixtureScatter("Mixture", "one mode", DensityGrid.Evaluate(Gaussian, Around0), samples, Around0);
        using var png = new Png(plot.Png());

        // The mode is the darkest heat colour; far tails are white; sample dots are dark ink.
        (byte R, byte G, byte B) top = Palette.Heat(1.0);
        Near(top, png.At(plot.PixelOf(0, 0)), 12);
        Near((255, 255, 255), png.At(plot.PixelOf(1.9, -1.9)), 3);
        // The dots lie in near-white tails, where their translucent ink blends with white.
        Color ink = Palette.SampleInk;
        double a = ink.A / 255.0;
        (byte, byte, byte) dot = ((byte)Math.Round((ink.R * a) + (255 * (1 - a))), (byte)Math.Round((ink.G * a) + (255 * (1 - a))), (byte)Math.Round((ink.B * a) + (255 * (1 - a))));
        Near(dot, png.At(plot.PixelOf(1.5, 1.5)), 10);
        Near(dot, png.At(plot.PixelOf(-1.2, 1.4)), 10);
    }

    [Fact]
    public void DensityGridMapsCellsTopRowUpAndClampsNonFiniteToZero()
    {
        // 2 x 2 grid over the unit square: rows run up from y = 0. Only the upper-right cell has mass; the NaN and
        // negative cells must count as zero (white), as must +inf (not a usable maximum).
        double[] grid = [double.NaN, -1.0, double.PositiveInfinity, 5.0];
        using RenderedPlot plot = Plots.RenderMixtureScatter("Grid", "c", new DensityGrid(grid, 2, 2), [], Unit);
        using var png = new Png(plot.Png());
        Near(Palette.Heat(1.0), png.At(plot.PixelOf(0.9, 0.9)), 12);
        Near((255, 255, 255), png.At(plot.PixelOf(0.1, 0.1)), 3);
        Near((255, 255, 255), png.At(plot.PixelOf(0.9, 0.1)), 3);
        Near((255, 255, 255), png.At(plot.PixelOf(0.1, 0.9)), 3);
    }

    [Fact]
    public void LogScaleLightensTheTailsLessThanSqrtDarkens()
    {
        // At 1% of the peak: sqrt maps to t = 0.1 (near white), log (3 decades) to t = 1/3 (clearly warm).
        double[] grid = [0.01, 1.0];
        using RenderedPlot sqrt = Plots.RenderMixtureScatter("s", "c", new DensityGrid(grid, 2, 1), [], Unit, DensityScale.Sqrt);
        using RenderedPlot log = Plots.RenderMixtureScatter("l", "c", new DensityGrid(grid, 2, 1), [], Unit, DensityScale.Log);
        using var a = new Png(sqrt.Png());
        using var b = new Png(log.Png());
        (byte R, byte G, byte B) pa = a.At(sqrt.PixelOf(0.1, 0.5)), pb = b.At(log.PixelOf(0.1, 0.5));
        Near(Palette.Heat(0.1), pa, 12);
        Near(Palette.Heat(1.0 / 3), pb, 12);
        Assert.True(pb.B < pa.B - 20, $"log {pb} should be warmer than sqrt {pa}");
    }

    // ---- Image grid ----------------------------------------------------------------------------------------------

    [Fact]
    public void ImageGridMapsValuesUpscalesAndSeparatesTiles()
    {
        // 3 greyscale 4x4 images: all -1 (black), all +1 (white), and a ramp; 2 columns x 2 rows.
        const int h = 4, w = 4;
        var images = new float[3 * h * w];
        for (int i = 0; i < h * w; i++)
        {
            images[i] = -1;
            images[(h * w) + i] = 1;
            images[(2 * h * w) + i] = (i % w) / 3f * 2 - 1;
        }

        using RenderedPlot plot = Plots.RenderImageGrid("Images", "3 tiles", images, 3, 1, h, w);
        using var png = new Png(plot.Png());
        (int columns, int rows, int u) = Plots.GridLayout(3, h, w, PlotOptions.Default);
        Assert.Equal((2, 2), (columns, rows));
        Assert.True(u * w >= Plots.MinTileSize);
        int gridH = (rows * h * u) + Plots.TileGap;

        // Data coordinates are grid pixels with y up: tile (column c, row r), image pixel (i, j) has its centre at
        // x = c * (w u + gap) + (j + 0.5) u, y = gridH - (r * (h u + gap) + (i + 0.5) u).
        Pixel Centre(int c, int r, int i, int j) => plot.PixelOf((c * ((w * u) + Plots.TileGap)) + ((j + 0.5) * u), gridH - ((r * ((h * u) + Plots.TileGap)) + ((i + 0.5) * u)));
        Near((0, 0, 0), png.At(Centre(0, 0, 1, 1)), 2);
        Near((255, 255, 255), png.At(Centre(1, 0, 2, 2)), 2);
        for (int j = 0; j < w; j++)
        {
            byte v = Plots.ToByte((j / 3f * 2) - 1);
            Near((v, v, v), png.At(Centre(0, 1, 1, j)), 2);
        }

        // The gap between the first two tiles and the empty fourth cell show the tile background.
        Near(Rgb(Palette.TileBackground), png.At(plot.PixelOf((w * u) + (Plots.TileGap / 2.0), gridH - (h * u / 2.0))), 8);
        Near(Rgb(Palette.TileBackground), png.At(Centre(1, 1, 2, 2)), 2);
    }

    [Fact]
    public void ColourImagesUseThreePlanes()
    {
        // One 2x2 RGB image: red plane +1, green 0, blue -1 everywhere.
        float[] image = [1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, -1];
        using RenderedPlot plot = Plots.RenderImageGrid("RGB", "c", image, 1, 3, 2, 2);
        using var png = new Png(plot.Png());
        (_, _, int u) = Plots.GridLayout(1, 2, 2, PlotOptions.Default);
        Near((255, 128, 0), png.At(plot.PixelOf(u * 0.5, u * 1.5)), 2);
    }

    [Fact]
    public void ValueMappingClampsAndRounds()
    {
        Assert.Equal(0, Plots.ToByte(-1));
        Assert.Equal(0, Plots.ToByte(-7));
        Assert.Equal(255, Plots.ToByte(1));
        Assert.Equal(255, Plots.ToByte(3));
        Assert.Equal(128, Plots.ToByte(0)); // 127.5 rounds away from zero
    }

    [Fact]
    public void ManyImagesGrowThePicture()
    {
        // 100 tiles of 32x32 at the 64-pixel minimum need 10 x 64 + gaps = 658 columns: fits 800; 400 tiles need more.
        using RenderedPlot few = Plots.RenderImageGrid("few", "c", new float[100 * 32 * 32], 100, 1, 32, 32);
        using RenderedPlot many = Plots.RenderImageGrid("many", "c", new float[400 * 32 * 32], 400, 1, 32, 32);
        Assert.Equal((800, 800), (few.Width, few.Height));
        Assert.True(many.Width > 1300 && many.Height > 1300, $"{many.Width}x{many.Height}");
        using var png = new Png(many.Png());
        Assert.Equal((many.Width, many.Height), (png.Width, png.Height));
    }

    // ---- Bars ----------------------------------------------------------------------------------------------------

    private static readonly string[] Lengths = ["L=2", "L=4", "L=8"];

    private static (string Name, double[] Values)[] Speedups() => [("wall", [1.5, 2.5, 3.0]), ("algorithmic", [2.0, 3.5, 5.0])];

    [Fact]
    public void BarsFillToTheirValuesWithReferenceLineAndLegend()
    {
        using RenderedPlot plot = Plots.RenderBars("Speedup", "per L", Lengths, Speedups(), "speedup", (4.0, "ceiling 4.00x"));
        using var png = new Png(plot.Png());
        (string _, double[] values)[] series = Speedups();
        for (int s = 0; s < series.Length; s++)
        {
            for (int i = 0; i < Lengths.Length; i++)
            {
                double x = Plots.BarCentre(i, s, series.Length), v = series[s].values[i];
                Near(Rgb(Palette.Series(s)), png.At(plot.PixelOf(x, v * 0.5)), 3);
                Near(Rgb(Palette.Series(s)), png.At(plot.PixelOf(x, v * 0.97)), 3);

                // Just above the bar's top: not the bar's colour (background, grid, value label or the ceiling line).
                (byte r, byte g, byte b) above = png.At(plot.PixelOf(x, v * 1.06));
                Assert.NotEqual(Rgb(Palette.Series(s)), above);
            }
        }

        // The dashed reference line crosses the gap between groups at y = 4.
        int hits = Enumerable.Range(0, 40).Count(k => AnyNear(png, plot.PixelOf(0.45 + (k * 0.025), 4.0), 1, Rgb(Palette.Reference), 60));
        Assert.True(hits >= 10, $"reference line seen at {hits} of 40 points");

        // Below the plot: the legend (three entries' ink) and the caption.
        Assert.True(png.DarkPixels((int)plot.DataArea.Bottom + 40, png.Height) > 200);
    }

    [Fact]
    public void NegativeBarsGrowDownward()
    {
        using RenderedPlot plot = Plots.RenderBars("Delta", "c", ["a", "b"], [("d", [-2.0, 1.0])], "y", null);
        using var png = new Png(plot.Png());
        Near(Rgb(Palette.Series(0)), png.At(plot.PixelOf(0, -1)), 3);
        Assert.NotEqual(Rgb(Palette.Series(0)), png.At(plot.PixelOf(0, 0.5)));
        Near(Rgb(Palette.Series(0)), png.At(plot.PixelOf(1, 0.5)), 3);
    }

    [Fact]
    public void ValueLabelsHaveAboutThreeDigits()
    {
        Assert.Equal("1.00", Plots.FormatValue(1));
        Assert.Equal("12.3", Plots.FormatValue(12.34));
        Assert.Equal("-0.50", Plots.FormatValue(-0.5));
        Assert.Equal("123", Plots.FormatValue(123.4));
    }

    // ---- Every plot ----------------------------------------------------------------------------------------------

    private void WriteAll(string prefix)
    {
        Plots.PolicyTrajectories(File(prefix + "traj.png"), "Policy paths", "two episodes", Obstacle, Unit, Episodes());
        Plots.MixtureScatter(File(prefix + "mix.png"), "Mixture", "one mode", DensityGrid.Evaluate(Gaussian, Around0), [1.5f, 1.5f], Around0);
        Plots.MixtureScatter(File(prefix + "mixgrid.png"), "Mixture", "grid", new DensityGrid([1.0, 2, 3, 4, 5, 6], 3, 2), [0.5f, 0.5f], Unit, DensityScale.Log);
        Plots.ImageGrid(File(prefix + "img.png"), "Images", "4 tiles", Enumerable.Range(0, 4 * 3 * 8 * 8).Select(i => MathF.Sin(i * 0.1f)).ToArray(), 4, 3, 8, 8);
        Plots.Bars(File(prefix + "bars.png"), "Speedup", "per K", Lengths, Speedups(), "speedup", (1.0, "no speedup"));
    }

    private static readonly string[] Names = ["traj.png", "mix.png", "mixgrid.png", "img.png", "bars.png"];

    [Fact]
    public void EveryPlotWritesADecodablePngAndIsDeterministic()
    {
        WriteAll("a-");
        WriteAll("b-");
        foreach (string name in Names)
        {
            byte[] a = System.IO.File.ReadAllBytes(File("a-" + name));
            byte[] b = System.IO.File.ReadAllBytes(File("b-" + name));
            Assert.Equal(a, b);
            using var png = new Png(a);
            Assert.True(png.Width >= 200 && png.Height >= 200, name);
            Assert.True(png.DarkPixels(0, png.Height) > 200, $"{name} has text and ink");
        }

        // Different input gives different bytes (so the equality above is not vacuous).
        Plots.Bars(File("c-bars.png"), "Speedup", "per K", Lengths, Speedups(), "speedup", (2.0, "no speedup"));
        Assert.NotEqual(System.IO.File.ReadAllBytes(File("a-bars.png")), System.IO.File.ReadAllBytes(File("c-bars.png")));
    }

    [Fact]
    public void OptionsSetTheSize()
    {
        string path = File("small.png"); // plots create no folder (as every output since issue 13)
        Plots.Bars(path, "Small", "c", Lengths, Speedups(), "y", null, new PlotOptions(400, 300));
        using var png = new Png(System.IO.File.ReadAllBytes(path));
        Assert.Equal((400, 300), (png.Width, png.Height));
        Assert.Throws<ArgumentException>(() => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", null, new PlotOptions(50, 50)));
    }

    [Fact]
    public void TheSamplePicturesAllRender()
    {
        // The eyeballing set (Samples.cs) doubles as a smoke test of every plot on realistic data.
        Samples.Write(_dir);
        foreach (string name in (string[])["trajectories.png", "mixture.png", "images.png", "bench.png"])
        {
            using var png = new Png(System.IO.File.ReadAllBytes(File(name)));
            Assert.Equal(800, png.Width);
            Assert.True(png.DarkPixels(0, png.Height) > 500, name);
        }
    }

    // ---- The caption of asd sample -------------------------------------------------------------------------------

    [Fact]
    public void CaptionSaysHowManyCallsASDSaved()
    {
        Assert.Equal("sequential model calls per sample: ASD 20.0, DDPM 100 (5.00x fewer); same law as DDPM",
            SamplePictures.Caption("asd", 100, "auto", "auto 6:10 8:4", 20.0));
        Assert.Equal("sequential model calls per sample: 100 (DDPM: one per step)",
            SamplePictures.Caption("ddpm", 100, "-", "-", 100));
    }

    [Fact]
    public void CaptionExplainsAnAutoRunThatSavedNothing()
    {
        // The rough edge of issue 14: builtin:mixture, where auto runs L = 1, read "ASD 200.0 (1.00x fewer)".
        string caption = SamplePictures.Caption("asd", 200, "auto", "auto 1:199", 200.0);
        Assert.DoesNotContain("fewer", caption, StringComparison.Ordinal);
        Assert.Contains("as many as DDPM", caption, StringComparison.Ordinal);
        Assert.Contains("auto chose L = 1 throughout", caption, StringComparison.Ordinal);

        // L = 1 asked for; and a run that rounds to 1.00x without being L = 1 (no reason claimed).
        Assert.Contains("with L = 1, ASD is DDPM", SamplePictures.Caption("asd", 50, "1", "1", 50.0), StringComparison.Ordinal);
        string rounded = SamplePictures.Caption("asd", 100, "8", "8", 99.9);
        Assert.Contains("as many as DDPM; same law", rounded, StringComparison.Ordinal);
        Assert.DoesNotContain("auto", rounded, StringComparison.Ordinal);
    }

    // ---- Bad input -----------------------------------------------------------------------------------------------

    public static TheoryData<string, Action> BadInputs()
    {
        float[][] onePath = [[0.5f, 0.5f]];
        var data = new TheoryData<string, Action>
        {
            { "null title", () => Plots.RenderPolicyTrajectories(null!, "c", Obstacle, Unit, Episodes()) },
            { "null caption", () => Plots.RenderBars("t", null!, Lengths, Speedups(), "y", null) },
            { "null episodes", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, null!) },
            { "3-number start", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f, 0f], [1f, 1f], onePath)]) },
            { "null goal", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], null!, onePath)]) },
            { "NaN start", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([float.NaN, 0f], [1f, 1f], onePath)]) },
            { "NaN waypoint", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [[0.2f, float.NaN]])]) },
            { "infinite waypoint", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [[0.2f, float.PositiveInfinity]])]) },
            { "odd waypoints", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [[0.2f, 0.3f, 0.4f]])]) },
            { "empty path", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [[]])]) },
            { "null path", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [null!])]) },
            { "null paths", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], null!)]) },
            { "zero radius", () => Plots.RenderPolicyTrajectories("t", "c", (0.5, 0.5, 0.0), Unit, Episodes()) },
            { "NaN obstacle", () => Plots.RenderPolicyTrajectories("t", "c", (double.NaN, 0.5, 0.1), Unit, Episodes()) },
            { "empty workspace", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, (0.0, 0.0, 0.0, 1.0), Episodes()) },
            { "reversed workspace", () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, (0.0, 1.0, 1.0, 0.0), Episodes()) },
            { "null density", () => DensityGrid.Evaluate(null!, Unit) },
            { "null samples", () => Plots.RenderMixtureScatter("t", "c", DensityGrid.Evaluate(Gaussian, Unit), null!, Unit) },
            { "odd samples", () => Plots.RenderMixtureScatter("t", "c", DensityGrid.Evaluate(Gaussian, Unit), [1f, 2f, 3f], Unit) },
            { "NaN sample", () => Plots.RenderMixtureScatter("t", "c", DensityGrid.Evaluate(Gaussian, Unit), [0.5f, float.NaN], Unit) },
            { "infinite range", () => Plots.RenderMixtureScatter("t", "c", new DensityGrid([1.0], 1, 1), [], (0.0, double.PositiveInfinity, 0.0, 1.0)) },
            { "infinite grid range", () => DensityGrid.Evaluate(Gaussian, (0.0, double.PositiveInfinity, 0.0, 1.0)) },
            { "grid size", () => Plots.RenderMixtureScatter("t", "c", new DensityGrid([1.0, 2.0, 3.0], 2, 2), [], Unit) },
            { "null grid", () => Plots.RenderMixtureScatter("t", "c", null!, [], Unit) },
            { "null grid values", () => Plots.RenderMixtureScatter("t", "c", new DensityGrid(null!, 2, 2), [], Unit) },
            { "image length", () => Plots.RenderImageGrid("t", "c", new float[100], 1, 1, 16, 16) },
            { "two channels", () => Plots.RenderImageGrid("t", "c", new float[2 * 4 * 4], 1, 2, 4, 4) },
            { "zero images", () => Plots.RenderImageGrid("t", "c", [], 0, 1, 4, 4) },
            { "NaN pixel", () => Plots.RenderImageGrid("t", "c", [0f, 0f, float.NaN, 0f], 1, 1, 2, 2) },
            { "null images", () => Plots.RenderImageGrid("t", "c", null!, 1, 1, 2, 2) },
            { "bar length", () => Plots.RenderBars("t", "c", Lengths, [("s", [1.0, 2.0])], "y", null) },
            { "NaN bar", () => Plots.RenderBars("t", "c", Lengths, [("s", [1.0, double.NaN, 2.0])], "y", null) },
            { "infinite reference", () => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", (double.PositiveInfinity, "r")) },
            { "null reference label", () => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", (1.0, null!)) },
            { "no categories", () => Plots.RenderBars("t", "c", [], [("s", [])], "y", null) },
            { "no series", () => Plots.RenderBars("t", "c", Lengths, [], "y", null) },
            { "null category", () => Plots.RenderBars("t", "c", ["a", null!, "c"], Speedups(), "y", null) },
            { "null series name", () => Plots.RenderBars("t", "c", Lengths, [(null!, [1.0, 2.0, 3.0])], "y", null) },
            { "null y label", () => Plots.RenderBars("t", "c", Lengths, Speedups(), null!, null) },
            { "too small", () => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", null, new PlotOptions(100, 800)) },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputThrowsArgumentException(string what, Action render)
    {
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(render);
        Assert.False(string.IsNullOrWhiteSpace(e.Message), what);
    }

    [Fact]
    public void BadInputWritesNoFile()
    {
        string path = File("bad.png");
        Assert.ThrowsAny<ArgumentException>(() => Plots.MixtureScatter(path, "t", "c", DensityGrid.Evaluate(Gaussian, Unit), [float.NaN, 0f], Unit));
        Assert.ThrowsAny<ArgumentException>(() => Plots.Bars(" ", "t", "c", Lengths, Speedups(), "y", null));
        Assert.False(System.IO.File.Exists(path));
    }

    [Fact]
    public void NaNMessageNamesTheCoordinate()
    {
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(
            () => Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, [([0f, 0f], [1f, 1f], [[0.2f, 0.3f, float.NaN, 0.1f]])]));
        Assert.Contains("episodes[0].Paths[0][2]", e.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
    }
}
