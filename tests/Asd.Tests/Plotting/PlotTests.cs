using System.Diagnostics;
using Asd.Cli.Plotting;
using Xunit;
using Xunit.Abstractions;

namespace Asd.Tests.Plotting;

/// <summary>
/// Each plot writes a PNG whose decoded pixels show what was asked for: tests look up where data landed through
/// the rendered plot's frame, then read those pixels back from the file.
/// </summary>
public sealed class PlotTests : IDisposable
{
    private static readonly (double, double, double, double) Unit = (0.0, 1.0, 0.0, 1.0);

    private readonly string _dir = Directory.CreateTempSubdirectory("asd-plot-").FullName;
    private readonly ITestOutputHelper _output;

    public PlotTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    private static PngReader Read(string path) => PngReader.Decode(System.IO.File.ReadAllBytes(path));

    private static (byte R, byte G, byte B) Rgb(Rgba c) => (c.R, c.G, c.B);

    private static (byte R, byte G, byte B) At(PngReader png, PlotFrame frame, double x, double y) =>
        png[(int)Math.Floor(frame.PixelX(x)), (int)Math.Floor(frame.PixelY(y))];

    private static void Near((byte R, byte G, byte B) expected, (byte R, byte G, byte B) actual, int tolerance)
    {
        bool ok = Math.Abs(expected.R - actual.R) <= tolerance && Math.Abs(expected.G - actual.G) <= tolerance
            && Math.Abs(expected.B - actual.B) <= tolerance;
        Assert.True(ok, $"expected about {expected} (+-{tolerance}), got {actual}");
    }

    private static int DarkPixels(PngReader png, int y0, int y1)
    {
        int dark = 0;
        for (int y = y0; y < y1; y++)
        {
            for (int x = 0; x < png.Width; x++)
            {
                (byte r, byte g, byte b) = png[x, y];
                dark += r < 90 && g < 90 && b < 90 ? 1 : 0;
            }
        }

        return dark;
    }

    // ---- Trajectories --------------------------------------------------------------------------------------------

    // Episode 0 runs along y = 0.85 above the obstacle; episode 1 has one path that stays left and one that dives
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
        byte[] bytes = System.IO.File.ReadAllBytes(path);
        Assert.True(PngReader.HasSignature(bytes));
        Assert.Equal((800, 800), PngReader.ReadSize(bytes));

        PngReader png = PngReader.Decode(bytes);
        PlotFrame frame = Plots.RenderPolicyTrajectories("Policy paths", "two episodes", Obstacle, Unit, Episodes()).Frame!;

        // Obstacle: its centre is the grey fill; just outside its radius, where nothing else is drawn, is background.
        Assert.Equal(Rgb(Palette.Obstacle), At(png, frame, 0.62, 0.40));
        Assert.Equal((255, 255, 255), At(png, frame, 0.5, 0.22));

        // Episode 0's first segment runs (0.1, 0.85) -> (0.5, 0.85): its midpoint has the episode's colour.
        Assert.Equal(Rgb(Palette.Series(0)), At(png, frame, 0.3, 0.85));

        // Episode 1's safe path goes down to (0.2, 0.1): the middle of its first segment is episode 1's colour.
        Assert.Equal(Rgb(Palette.Series(1)), At(png, frame, 0.15, 0.25));

        // The other path enters at (0.35, 0.4): a red cross there.
        Near(Rgb(Palette.Alert), At(png, frame, 0.35, 0.40), 30);

        // Background well away from everything (and off the grid lines).
        Assert.Equal((255, 255, 255), At(png, frame, 0.93, 0.55));
        Assert.Equal((255, 255, 255), At(png, frame, 0.27, 0.63));

        // Start and goal markers: episode 0's start dot and goal star are its colour at their centres.
        Assert.Equal(Rgb(Palette.Series(0)), At(png, frame, 0.1, 0.85));
        Assert.Equal(Rgb(Palette.Series(0)), At(png, frame, 0.9, 0.85));

        // The title band (top margin, title scale 3 at 800 px) has ink; the corner outside it has none.
        int top = Figure.Margin(2);
        Assert.True(DarkPixels(png, top, top + (7 * 3)) > 100);
        Assert.Equal((255, 255, 255), png[2, 2]);
    }

    [Fact]
    public void TitleBandIsBlankWithoutATitle()
    {
        // Negative control for the title check above.
        string path = File("untitled.png");
        Plots.PolicyTrajectories(path, string.Empty, "caption", Obstacle, Unit, Episodes());
        PngReader png = Read(path);
        int top = Figure.Margin(2);
        Assert.Equal(0, DarkPixels(png, top, top + (7 * 3)));
    }

    [Fact]
    public void PathsOutsideTheWorkspaceAreClippedToThePlotArea()
    {
        List<(float[] Start, float[] Goal, float[][] Paths)> episodes = [([0.5f, 0.9f], [0.5f, 0.9f], [[5f, 0.9f]])];
        RenderedPlot plot = Plots.RenderPolicyTrajectories("t", "c", Obstacle, Unit, episodes);
        PixelRect area = plot.PlotArea;
        int y = (int)plot.Frame!.PixelY(0.9);
        Assert.Equal(Rgb(Palette.Series(0)), Rgb(plot.Canvas.GetPixel(area.Right - 2, y)));
        Assert.Equal((255, 255, 255), Rgb(plot.Canvas.GetPixel(area.Right + 8, y)));
    }

    // ---- Mixture scatter -----------------------------------------------------------------------------------------

    private static double Gaussian(double x, double y) => Math.Exp(-((x * x) + (y * y)) / (2 * 0.25));

    [Fact]
    public void MixtureShowsHeatAtTheModeDotsAtSamplesAndWhiteTails()
    {
        string path = File("mix.png");
        float[] samples = [1.5f, 1.5f, -1.2f, 1.4f];
        var ranges = (-2.0, 2.0, -2.0, 2.0);
        Plots.MixtureScatter(path, "Mixture", "a Gaussian", Gaussian, samples, ranges);
        PngReader png = Read(path);
        Assert.Equal((800, 800), (png.Width, png.Height));
        PlotFrame frame = Plots.RenderMixtureScatter("Mixture", "a Gaussian", Gaussian, samples, ranges).Frame!;

        Near(Rgb(Palette.Heat(1.0)), At(png, frame, 0, 0), 6);
        Assert.Equal((255, 255, 255), At(png, frame, -1.9, -1.9));
        (byte r, byte g, byte b) = At(png, frame, 1.5, 1.5);
        Assert.True(r < 90 && g < 90 && b < 130, $"sample dot is ({r}, {g}, {b})");
        (r, g, b) = At(png, frame, -1.2, 1.4);
        Assert.True(r < 90 && g < 90 && b < 130, $"sample dot is ({r}, {g}, {b})");

        // Between mode and tail the colour is in between: lighter than the mode, darker than white.
        (byte rm, byte gm, byte bm) = At(png, frame, 0.6, 0);
        Assert.True(gm > Palette.Heat(1.0).G && bm < 255, $"mid-density pixel ({rm}, {gm}, {bm})");
    }

    [Fact]
    public void DensityGridMapsCellsAndClampsNonFiniteToZero()
    {
        // Rows run along y from YMin: row 1 is the top half. Only the top-right cell has density.
        double[] grid = [double.NaN, double.PositiveInfinity, -3, 4];
        string path = File("grid.png");
        Plots.MixtureScatter(path, "Grid", "2 x 2", grid, 2, 2, [], Unit);
        PngReader png = Read(path);
        PlotFrame frame = Plots.RenderMixtureScatter("Grid", "2 x 2", grid, 2, 2, [], Unit).Frame!;

        Assert.Equal(Rgb(Palette.Heat(1.0)), At(png, frame, 0.9, 0.9));
        Assert.Equal((255, 255, 255), At(png, frame, 0.9, 0.1)); // +inf clamped to 0
        Assert.Equal((255, 255, 255), At(png, frame, 0.1, 0.1)); // NaN clamped to 0
        Assert.Equal((255, 255, 255), At(png, frame, 0.1, 0.9)); // negative clamped to 0
    }

    [Fact]
    public void LogScaleLightensTheTails()
    {
        var ranges = (-2.0, 2.0, -2.0, 2.0);
        RenderedPlot sqrt = Plots.RenderMixtureScatter("m", "c", Gaussian, [], ranges, DensityScale.Sqrt);
        RenderedPlot log = Plots.RenderMixtureScatter("m", "c", Gaussian, [], ranges, DensityScale.Log);
        PlotFrame f = sqrt.Frame!;
        int x = (int)f.PixelX(1.1), y = (int)f.PixelY(0);
        Assert.True(log.Canvas.GetPixel(x, y).G < sqrt.Canvas.GetPixel(x, y).G, "log scale should colour the tail more strongly");
    }

    // ---- Image grid ----------------------------------------------------------------------------------------------

    [Fact]
    public void ImageGridMapsValuesUpscalesAndSeparatesTiles()
    {
        const int count = 5, size = 16;
        var images = new float[count * size * size];
        for (int k = 0; k < count; k++)
        {
            Array.Fill(images, -1f + (0.5f * k), k * size * size, size * size);
        }

        images[(3 * size) + 5] = 7f; // image 0, row 3, column 5: clamps to 255

        string path = File("grid.png");
        Plots.ImageGrid(path, "Samples", "5 images", images, count, 1, size, size);
        PngReader png = Read(path);
        RenderedPlot plot = Plots.RenderImageGrid("Samples", "5 images", images, count, 1, size, size);
        (int columns, int rows, int upscale) = Plots.GridLayout(count, size, size, PlotOptions.Default);
        Assert.Equal((3, 2), (columns, rows));
        Assert.True(upscale * size >= Plots.MinTileSize, $"tile is {upscale * size} px");
        Assert.Equal((png.Width, png.Height), (800, 800));

        int tile = (size * upscale) + Plots.TileGap;
        byte[] expected = [0, 64, 128, 191, 255];
        for (int k = 0; k < count; k++)
        {
            int x = plot.PlotArea.X + ((k % columns) * tile) + (10 * upscale) + 1;
            int y = plot.PlotArea.Y + ((k / columns) * tile) + (10 * upscale) + 1;
            Assert.Equal((expected[k], expected[k], expected[k]), png[x, y]);
        }

        // Nearest neighbour: the whole upscale x upscale block of image 0's (3, 5) pixel is white, its neighbour black.
        int bx = plot.PlotArea.X + (5 * upscale), by = plot.PlotArea.Y + (3 * upscale);
        Assert.Equal((255, 255, 255), png[bx, by]);
        Assert.Equal((255, 255, 255), png[bx + upscale - 1, by + upscale - 1]);
        Assert.Equal((0, 0, 0), png[bx + upscale, by]);

        // The gap between tiles 0 and 1 shows the grid background, not either image.
        (byte gr, byte gg, byte gb) = png[plot.PlotArea.X + (size * upscale), plot.PlotArea.Y + 5];
        Assert.True(gb > gr && gr > 100, $"gap pixel ({gr}, {gg}, {gb})");
    }

    [Fact]
    public void ColourImagesUseThreePlanes()
    {
        // One 2x2 RGB image, planes R then G then B; pixel (0, 0) is (1, -1, 0) -> (255, 0, 128).
        float[] image = [1, -1, -1, -1, /* G */ -1, 1, -1, -1, /* B */ 0, -1, 1, -1];
        RenderedPlot plot = Plots.RenderImageGrid("rgb", string.Empty, image, 1, 3, 2, 2);
        PixelRect a = plot.PlotArea;
        int half = a.Width / 2;
        Assert.Equal((255, 0, 128), Rgb(plot.Canvas.GetPixel(a.X + 1, a.Y + 1)));
        Assert.Equal((0, 255, 0), Rgb(plot.Canvas.GetPixel(a.X + half + 1, a.Y + 1)));
        Assert.Equal((0, 0, 255), Rgb(plot.Canvas.GetPixel(a.X + 1, a.Y + half + 1)));
        Assert.Equal((0, 0, 0), Rgb(plot.Canvas.GetPixel(a.Right - 1, a.Bottom - 1)));
    }

    [Fact]
    public void ValueMappingClampsAndRounds()
    {
        Assert.Equal(0, Plots.ToByte(-1f));
        Assert.Equal(0, Plots.ToByte(-5f));
        Assert.Equal(128, Plots.ToByte(0f));
        Assert.Equal(255, Plots.ToByte(1f));
        Assert.Equal(255, Plots.ToByte(3f));
    }

    [Fact]
    public void ManyImagesGrowThePicture()
    {
        // 400 images of 16x16 (20 x 20 tiles) at >= 64 px each need more than 800 px both ways.
        RenderedPlot plot = Plots.RenderImageGrid("many", "c", new float[400 * 16 * 16], 400, 1, 16, 16);
        int grid = (20 * 64) + (19 * Plots.TileGap);
        Assert.Equal(grid, plot.PlotArea.Width);
        Assert.Equal(grid, plot.PlotArea.Height);
        Assert.True(plot.Canvas.Width >= grid + (2 * Figure.Margin(2)));
        Assert.True(plot.Canvas.Height > grid);
    }

    // ---- Bars ----------------------------------------------------------------------------------------------------

    private static readonly string[] Lengths = ["K=2", "K=4", "K=8"];

    private static List<(string Name, double[] Values)> Speedups() =>
    [
        ("wall-clock", [1.2, 1.8, 2.5]),
        ("algorithmic", [1.5, 2.4, 3.9]),
    ];

    [Fact]
    public void BarsFillToTheirValuesWithLabelsAndReferenceLine()
    {
        string path = File("bars.png");
        Plots.Bars(path, "Speedup", "per speculation length", Lengths, Speedups(), "speedup", 1.0);
        PngReader png = Read(path);
        RenderedPlot plot = Plots.RenderBars("Speedup", "per speculation length", Lengths, Speedups(), "speedup", 1.0);
        PlotFrame f = plot.Frame!;

        // Category i spans x in [i, i + 1]; series s of 2 covers [i + 0.1 + 0.4 s, i + 0.5 + 0.4 s].
        Assert.Equal(Rgb(Palette.Series(0)), At(png, f, 2.3, 2.0)); // wall-clock K=8, value 2.5
        Assert.Equal(Rgb(Palette.Series(1)), At(png, f, 2.7, 3.5)); // algorithmic K=8, value 3.9
        Assert.Equal((255, 255, 255), At(png, f, 0.3, 1.45));      // above wall-clock K=2 (1.2) and off the grid
        Assert.Equal(Rgb(Palette.Series(0)), At(png, f, 0.3, 1.1));

        // The value label "3.90" sits just above the tallest bar.
        int barTop = (int)f.PixelY(3.9);
        int labelInk = 0;
        int cx = (int)f.PixelX(2.7);
        for (int y = barTop - 30; y < barTop; y++)
        {
            for (int x = cx - 30; x <= cx + 30; x++)
            {
                labelInk += png[x, y] == Rgb(Rgba.Ink) ? 1 : 0;
            }
        }

        Assert.True(labelInk > 20, $"{labelInk} label pixels above the bar");

        // The dashed reference line at 1.0 crosses the plot between bars: some of its row is the reference colour.
        int refY = (int)Math.Floor(f.PixelY(1.0));
        int dashes = 0, total = 0;
        for (double x = 0.02; x < 0.1; x += 0.002)
        {
            total++;
            dashes += At(png, f, x, 1.0) == Rgb(Palette.Reference) || png[(int)f.PixelX(x), refY] == Rgb(Palette.Reference) ? 1 : 0;
        }

        Assert.InRange(dashes, 1, total - 1);
    }

    [Fact]
    public void NegativeBarsGrowDownward()
    {
        RenderedPlot plot = Plots.RenderBars("b", "c", ["a"], [("s", [-2.0])], "y", null);
        PlotFrame f = plot.Frame!;
        Assert.True(f.YMin <= -2 && f.YMax >= 0);
        Assert.Equal(Rgb(Palette.Series(0)), Rgb(plot.Canvas.GetPixel((int)f.PixelX(0.5), (int)f.PixelY(-1))));
    }

    // ---- Every plot: files, determinism, validation ---------------------------------------------------------------

    private void WriteAll(string prefix)
    {
        Plots.PolicyTrajectories(File(prefix + "traj.png"), "Policy paths", "two episodes", Obstacle, Unit, Episodes());
        Plots.MixtureScatter(File(prefix + "mix.png"), "Mixture", "a Gaussian", Gaussian, [0.5f, 0.5f, -1f, 0.25f], (-2.0, 2.0, -2.0, 2.0));
        Plots.MixtureScatter(File(prefix + "mixgrid.png"), "Mixture", "grid", [1.0, 2, 3, 4, 5, 6], 3, 2, [0.5f, 0.5f], Unit, DensityScale.Log);
        Plots.ImageGrid(File(prefix + "img.png"), "Images", "4 tiles", Enumerable.Range(0, 4 * 3 * 8 * 8).Select(i => MathF.Sin(i * 0.1f)).ToArray(), 4, 3, 8, 8);
        Plots.Bars(File(prefix + "bars.png"), "Speedup", "per K", Lengths, Speedups(), "speedup", 1.0);
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
            Assert.True(PngReader.HasSignature(a), name);
            Assert.Equal(a, b);
            PngReader png = PngReader.Decode(a);
            Assert.True(png.Width >= 200 && png.Height >= 200, name);
        }

        // Different input gives different bytes (so the equality above is not vacuous).
        Plots.Bars(File("c-bars.png"), "Speedup", "per K", Lengths, Speedups(), "speedup", 2.0);
        Assert.NotEqual(System.IO.File.ReadAllBytes(File("a-bars.png")), System.IO.File.ReadAllBytes(File("c-bars.png")));
    }

    [Fact]
    public void OptionsSetTheSize()
    {
        string path = File("small.png");
        Plots.Bars(path, "Small", "c", Lengths, Speedups(), "y", null, new PlotOptions(400, 300));
        Assert.Equal((400, 300), PngReader.ReadSize(System.IO.File.ReadAllBytes(path)));
        Assert.Throws<ArgumentException>(() => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", null, new PlotOptions(50, 50)));
    }

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
            { "null density", () => Plots.RenderMixtureScatter("t", "c", (Func<double, double, double>)null!, [], Unit) },
            { "null samples", () => Plots.RenderMixtureScatter("t", "c", Gaussian, null!, Unit) },
            { "odd samples", () => Plots.RenderMixtureScatter("t", "c", Gaussian, [1f, 2f, 3f], Unit) },
            { "NaN sample", () => Plots.RenderMixtureScatter("t", "c", Gaussian, [0.5f, float.NaN], Unit) },
            { "infinite range", () => Plots.RenderMixtureScatter("t", "c", Gaussian, [], (0.0, double.PositiveInfinity, 0.0, 1.0)) },
            { "grid size", () => Plots.RenderMixtureScatter("t", "c", [1.0, 2.0, 3.0], 2, 2, [], Unit) },
            { "null grid", () => Plots.RenderMixtureScatter("t", "c", null!, 2, 2, [], Unit) },
            { "image length", () => Plots.RenderImageGrid("t", "c", new float[100], 1, 1, 16, 16) },
            { "two channels", () => Plots.RenderImageGrid("t", "c", new float[2 * 4 * 4], 1, 2, 4, 4) },
            { "zero images", () => Plots.RenderImageGrid("t", "c", [], 0, 1, 4, 4) },
            { "NaN pixel", () => Plots.RenderImageGrid("t", "c", [0f, 0f, float.NaN, 0f], 1, 1, 2, 2) },
            { "null images", () => Plots.RenderImageGrid("t", "c", null!, 1, 1, 2, 2) },
            { "bar length", () => Plots.RenderBars("t", "c", Lengths, [("s", [1.0, 2.0])], "y", null) },
            { "NaN bar", () => Plots.RenderBars("t", "c", Lengths, [("s", [1.0, double.NaN, 2.0])], "y", null) },
            { "infinite reference", () => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", double.PositiveInfinity) },
            { "no categories", () => Plots.RenderBars("t", "c", [], [("s", [])], "y", null) },
            { "no series", () => Plots.RenderBars("t", "c", Lengths, [], "y", null) },
            { "null category", () => Plots.RenderBars("t", "c", ["a", null!, "c"], Speedups(), "y", null) },
            { "null series name", () => Plots.RenderBars("t", "c", Lengths, [(null!, [1.0, 2.0, 3.0])], "y", null) },
            { "null y label", () => Plots.RenderBars("t", "c", Lengths, Speedups(), null!, null) },
            { "bad text scale", () => Plots.RenderBars("t", "c", Lengths, Speedups(), "y", null, new PlotOptions(TextScale: 20)) },
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
        Assert.ThrowsAny<ArgumentException>(() => Plots.MixtureScatter(path, "t", "c", Gaussian, [float.NaN, 0f], Unit));
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

    // ---- Speed ---------------------------------------------------------------------------------------------------

    [Fact]
    public void A800PixelPlotRendersAndEncodesQuickly()
    {
        var rng = new Random(7);
        var episodes = new List<(float[] Start, float[] Goal, float[][] Paths)>();
        for (int e = 0; e < 8; e++)
        {
            var paths = new float[16][];
            for (int p = 0; p < paths.Length; p++)
            {
                paths[p] = Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble()).ToArray();
            }

            episodes.Add(([(float)rng.NextDouble(), (float)rng.NextDouble()], [(float)rng.NextDouble(), (float)rng.NextDouble()], paths));
        }

        float[] samples = Enumerable.Range(0, 4000).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
        _ = Plots.RenderPolicyTrajectories("warm", "up", Obstacle, Unit, episodes).Canvas.EncodePng();

        var clock = Stopwatch.StartNew();
        byte[] traj = Plots.RenderPolicyTrajectories("Speed", "8 episodes x 16 paths", Obstacle, Unit, episodes).Canvas.EncodePng();
        double trajMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        byte[] mix = Plots.RenderMixtureScatter("Speed", "2000 samples", Gaussian, samples, (-2.0, 2.0, -2.0, 2.0)).Canvas.EncodePng();
        double mixMs = clock.Elapsed.TotalMilliseconds;
        _output.WriteLine($"trajectories {trajMs:F1} ms ({traj.Length} bytes), mixture {mixMs:F1} ms ({mix.Length} bytes)");

        // Generous bounds: the machine is shared; the point is to catch an accidental quadratic blow-up.
        Assert.True(trajMs < 1000, $"trajectories took {trajMs:F0} ms");
        Assert.True(mixMs < 1000, $"mixture took {mixMs:F0} ms");
    }

    /// <summary>
    /// The sample pictures (each plot kind with realistic inputs) are written as decodable PNGs with content: into
    /// $ASD_PLOT_SAMPLES when set, for looking at them, otherwise into the test's own folder.
    /// </summary>
    [Fact]
    public void SamplePicturesAreWrittenAndDecodable()
    {
        string? asked = Environment.GetEnvironmentVariable("ASD_PLOT_SAMPLES");
        string target = string.IsNullOrEmpty(asked) ? _dir : asked;
        Samples.Write(target);
        foreach (string name in (string[])["trajectories.png", "mixture.png", "images.png", "bench.png"])
        {
            string path = Path.Combine(target, name);
            Assert.True(System.IO.File.Exists(path), $"{name} was not written");
            PngReader png = Read(path);
            var colours = new HashSet<(byte, byte, byte)>();
            for (int y = 0; y < png.Height; y += 3)
            {
                for (int x = 0; x < png.Width; x += 3)
                {
                    colours.Add(png[x, y]);
                }
            }

            Assert.True(png.Width >= 200 && png.Height >= 200 && colours.Count >= 8, $"{name}: {png.Width}x{png.Height}, {colours.Count} colours");
        }
    }
}
