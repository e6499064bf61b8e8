using Asd.Cli.Plotting;
using Xunit;

namespace Asd.Tests.Plotting;

/// <summary>The rasterizer's primitives, font, ticks and geometry, checked on real pixel values.</summary>
public sealed class CanvasTests
{
    private static readonly Rgba Red = new(200, 30, 40);

    private static (byte R, byte G, byte B) Px(Canvas c, int x, int y)
    {
        Rgba p = c.GetPixel(x, y);
        return (p.R, p.G, p.B);
    }

    [Fact]
    public void PngHasSignatureAndIhdrSize()
    {
        var canvas = new Canvas(37, 23, Rgba.White);
        byte[] png = canvas.EncodePng();
        Assert.True(PngReader.HasSignature(png));
        Assert.Equal((37, 23), PngReader.ReadSize(png));
    }

    [Fact]
    public void PngRoundTripsEveryPixel()
    {
        // Gradients, flat areas and noise make stb pick different row filters; all must decode back exactly.
        var canvas = new Canvas(61, 47, Rgba.White);
        uint state = 12345;
        for (int y = 0; y < 47; y++)
        {
            for (int x = 0; x < 61; x++)
            {
                state = (state * 1664525u) + 1013904223u;
                var color = y < 15 ? new Rgba((byte)(x * 4), (byte)(y * 5), (byte)(x + y))
                    : y < 30 ? new Rgba(10, 200, 30)
                    : new Rgba((byte)(state >> 24), (byte)(state >> 16), (byte)(state >> 8));
                canvas.Blend(x, y, color);
            }
        }

        PngReader decoded = PngReader.Decode(canvas.EncodePng());
        Assert.Equal(61, decoded.Width);
        Assert.Equal(47, decoded.Height);
        Assert.Equal(canvas.Pixels.ToArray(), decoded.Rgb);
    }

    [Fact]
    public void StbEncodedCopyDecodesToTheSamePixels()
    {
        // stb picks a row filter per row (all five kinds on this picture), so this exercises every filter path of
        // the test decoder, and shows the two encoders agree on the pixels.
        var canvas = new Canvas(64, 48, Rgba.White);
        canvas.FillCircle(20, 20, 15, new Rgba(31, 119, 180));
        canvas.DrawLine(0, 47, 63, 0, Red, 2);
        canvas.DrawText(2, 38, "Ab3", Rgba.Ink);
        for (int x = 0; x < 64; x++)
        {
            canvas.Blend(x, 0, new Rgba((byte)(x * 4), 100, (byte)(255 - (x * 4))));
        }

        using var stream = new MemoryStream();
        new StbImageWriteSharp.ImageWriter().WritePng(canvas.Pixels.ToArray(), 64, 48, StbImageWriteSharp.ColorComponents.RedGreenBlue, stream);
        Assert.Equal(canvas.Pixels.ToArray(), PngReader.Decode(stream.ToArray()).Rgb);
        Assert.Equal(canvas.Pixels.ToArray(), PngReader.Decode(canvas.EncodePng()).Rgb);
    }

    [Fact]
    public void EncoderRejectsMismatchedSizes()
    {
        Assert.Throws<ArgumentException>(() => PngEncoder.EncodeRgb(new byte[10], 2, 2));
        Assert.Throws<ArgumentException>(() => PngEncoder.EncodeRgb(new byte[0], 0, 0));
    }

    [Fact]
    public void SavePngWritesTheEncodedBytesAndCreatesNoFolder()
    {
        // Issue 13: --plot nodir/p.png used to create the folder while --out nodir/x.npy failed; no output creates one.
        string dir = Path.Combine(Path.GetTempPath(), $"asd-canvas-{Guid.NewGuid():N}");
        try
        {
            var canvas = new Canvas(10, 10, new Rgba(1, 2, 3));
            Directory.CreateDirectory(dir);
            string file = Path.Combine(dir, "c.png");
            canvas.SavePng(file);
            Assert.Equal(canvas.EncodePng(), File.ReadAllBytes(file));
            Assert.Equal((1, 2, 3), PngReader.Decode(File.ReadAllBytes(file))[9, 9]);
            Assert.Throws<DirectoryNotFoundException>(() => canvas.SavePng(Path.Combine(dir, "sub", "c.png")));
            Assert.False(Directory.Exists(Path.Combine(dir, "sub")));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void LineCoversItsMidpointAndNotTheBackground()
    {
        var canvas = new Canvas(100, 100, Rgba.White);
        canvas.DrawLine(10.5, 20.5, 90.5, 80.5, Red, 3);
        Assert.Equal((200, 30, 40), Px(canvas, 50, 50));
        Assert.Equal((200, 30, 40), Px(canvas, 10, 20));
        Assert.Equal((255, 255, 255), Px(canvas, 80, 20));
        Assert.Equal((255, 255, 255), Px(canvas, 50, 56)); // 4.8 px off the line, width 3
        Assert.Equal((255, 255, 255), Px(canvas, 95, 84)); // past the round cap

        // The edge is anti-aliased: some pixel next to the line is a strict mix of red and white.
        bool mixed = false;
        for (int y = 40; y < 60; y++)
        {
            (byte r, byte g, _) = Px(canvas, 50, y);
            mixed |= g > 30 && g < 255 && r > 200;
        }

        Assert.True(mixed);
    }

    [Fact]
    public void ThinHorizontalLineFillsOneRow()
    {
        var canvas = new Canvas(20, 10, Rgba.White);
        canvas.DrawLine(2, 4.5, 18, 4.5, Rgba.Black, 1);
        Assert.Equal((0, 0, 0), Px(canvas, 10, 4));
        Assert.Equal((255, 255, 255), Px(canvas, 10, 2));
        Assert.Equal((255, 255, 255), Px(canvas, 10, 6));
    }

    [Fact]
    public void DashedPolylineLeavesGaps()
    {
        var canvas = new Canvas(120, 10, Rgba.White);
        ReadOnlySpan<double> xy = [0, 5.5, 60, 5.5, 120, 5.5];
        canvas.DrawPolyline(xy, Rgba.Black, 1, dash: 6, gap: 4);
        int ink = 0, blank = 0;
        for (int x = 2; x < 118; x++)
        {
            if (Px(canvas, x, 5) == (0, 0, 0))
            {
                ink++;
            }
            else if (Px(canvas, x, 5) == (255, 255, 255))
            {
                blank++;
            }
        }

        // 6 on, 4 off over 116 px; round caps soften each gap's ends, so fewer pixels stay pure white.
        Assert.InRange(ink, 50, 80);
        Assert.InRange(blank, 15, 50);
    }

    [Fact]
    public void DiscHasFullCentreSoftEdgeAndClearOutside()
    {
        var canvas = new Canvas(50, 50, Rgba.White);
        canvas.FillCircle(25, 25, 10, Red);
        Assert.Equal((200, 30, 40), Px(canvas, 25, 25));
        Assert.Equal((200, 30, 40), Px(canvas, 25, 16)); // centre 8.5 from the middle
        Assert.Equal((255, 255, 255), Px(canvas, 25, 13)); // centre 11.5 away
        Assert.Equal((255, 255, 255), Px(canvas, 33, 33)); // 11.3 away
        (byte _, byte g, byte _) = Px(canvas, 32, 31); // 9.2 away: partly covered
        Assert.InRange(g, 31, 254);
    }

    [Fact]
    public void RingLeavesItsCentreUntouched()
    {
        var canvas = new Canvas(50, 50, Rgba.White);
        canvas.StrokeCircle(25, 25, 10, Rgba.Black, 2);
        Assert.Equal((255, 255, 255), Px(canvas, 25, 25));
        Assert.Equal((0, 0, 0), Px(canvas, 25, 15)); // centre 9.5 from the middle
    }

    [Fact]
    public void AlphaBlendsHalfway()
    {
        var canvas = new Canvas(4, 4, Rgba.White);
        canvas.FillRect(0, 0, 4, 4, Rgba.Black.WithAlpha(128));
        (byte r, byte g, byte b) = Px(canvas, 1, 1);
        Assert.InRange(r, 125, 129);
        Assert.Equal(r, g);
        Assert.Equal(r, b);

        canvas.FillRect(0, 0, 2, 4, Rgba.Black.WithAlpha(0));
        Assert.Equal((r, g, b), Px(canvas, 0, 0));
    }

    [Fact]
    public void FractionalRectangleEdgesArePartiallyCovered()
    {
        var canvas = new Canvas(10, 10, Rgba.White);
        canvas.FillRect(2, 2, 5.5, 6, Rgba.Black);
        Assert.Equal((0, 0, 0), Px(canvas, 4, 3));
        (byte r, _, _) = Px(canvas, 5, 3);
        Assert.InRange(r, 126, 129);
        Assert.Equal((255, 255, 255), Px(canvas, 6, 3));
        Assert.Equal((255, 255, 255), Px(canvas, 4, 6));
    }

    [Fact]
    public void ClipRectangleStopsDrawing()
    {
        var canvas = new Canvas(20, 20, Rgba.White);
        canvas.SetClip(0, 0, 10, 20);
        canvas.FillRect(0, 0, 20, 20, Rgba.Black);
        canvas.ResetClip();
        Assert.Equal((0, 0, 0), Px(canvas, 9, 5));
        Assert.Equal((255, 255, 255), Px(canvas, 10, 5));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void MarkersInkNearTheirCentreOnly(int shape)
    {
        var marker = (Marker)shape;
        Assert.True(Enum.IsDefined(marker));
        var canvas = new Canvas(40, 40, Rgba.White);
        canvas.DrawMarker(20, 20, marker, 12, Rgba.Black);
        int ink = 0;
        for (int y = 0; y < 40; y++)
        {
            for (int x = 0; x < 40; x++)
            {
                if (Px(canvas, x, y) != (255, 255, 255))
                {
                    ink++;
                    Assert.InRange(x, 12, 27);
                    Assert.InRange(y, 12, 27);
                }
            }
        }

        Assert.True(ink > 10, $"{marker} drew {ink} pixels");
    }

    [Fact]
    public void StarIsFilledAtItsCentreAndOutlineMakesAHalo()
    {
        var canvas = new Canvas(40, 40, Rgba.White);
        canvas.DrawMarker(20.5, 20.5, Marker.Star, 16, Red, Rgba.Black);
        Assert.Equal((200, 30, 40), Px(canvas, 20, 20));
        int red = 0, halo = 0;
        for (int y = 0; y < 40; y++)
        {
            for (int x = 0; x < 40; x++)
            {
                red += Px(canvas, x, y) == (200, 30, 40) ? 1 : 0;
                halo += Px(canvas, x, y) == (0, 0, 0) ? 1 : 0;
            }
        }

        Assert.True(red > 30, $"{red} red pixels");
        Assert.True(halo > 10, $"{halo} halo pixels");
        Assert.Equal((255, 255, 255), Px(canvas, 20, 6)); // beyond the halo's top point (y = 11)
    }

    [Fact]
    public void TextDrawsTheGlyphPixelsScaled()
    {
        var canvas = new Canvas(40, 30, Rgba.White);
        canvas.DrawText(3, 4, "A", Rgba.Black, 2);

        // 'A' row 0 is ".###.", row 3 is "#####": each font pixel is a 2x2 block.
        for (int gy = 0; gy < BitmapFont.GlyphHeight; gy++)
        {
            for (int gx = 0; gx < BitmapFont.GlyphWidth; gx++)
            {
                var expected = BitmapFont.Ink('A', gx, gy) ? (0, 0, 0) : (255, 255, 255);
                Assert.Equal(expected, Px(canvas, 3 + (2 * gx) + 1, 4 + (2 * gy) + 1));
            }
        }

        Assert.False(BitmapFont.Ink('A', 0, 0));
        Assert.True(BitmapFont.Ink('A', 1, 0));
        Assert.True(BitmapFont.Ink('A', 0, 3));
        Assert.Equal((255, 255, 255), Px(canvas, 3, 4));
        Assert.Equal((0, 0, 0), Px(canvas, 5, 4));
    }

    [Fact]
    public void AlignedTextEndsAtItsAnchor()
    {
        var canvas = new Canvas(60, 12, Rgba.White);
        canvas.DrawText(50, 2, "11", Rgba.Black, 1, TextAlign.Right);

        // '1' has ink in columns 1..3 only; the right-aligned run ends at x = 50 - 1 - 1 (last glyph's column 3).
        Assert.Equal(11, BitmapFont.MeasureWidth("11", 1));
        Assert.Equal((0, 0, 0), Px(canvas, 50 - 11 + 6 + 2, 2 + 6));
        Assert.Equal((255, 255, 255), Px(canvas, 50, 8));
    }

    [Fact]
    public void VerticalTextReadsUpward()
    {
        var canvas = new Canvas(20, 40, Rgba.White);
        canvas.DrawTextUp(5, 30, "L", Rgba.Black, 1, TextAlign.Left);

        // Turned a quarter counter-clockwise, glyph rows run along x (row 0 at x = 5) and glyph columns run upward
        // from y = 29. 'L' is a full column 0 plus a full row 6.
        for (int gy = 0; gy < 7; gy++)
        {
            Assert.Equal((0, 0, 0), Px(canvas, 5 + gy, 29)); // glyph column 0, every row
        }

        for (int gx = 0; gx < 5; gx++)
        {
            Assert.Equal((0, 0, 0), Px(canvas, 5 + 6, 29 - gx)); // glyph row 6, every column
        }

        Assert.Equal((255, 255, 255), Px(canvas, 5, 28));
    }

    [Fact]
    public void FontCoversPrintableAsciiWithDistinctGlyphs()
    {
        var seen = new HashSet<string>();
        for (char c = BitmapFont.First; c <= BitmapFont.Last; c++)
        {
            string rows = string.Join(",", Enumerable.Range(0, BitmapFont.GlyphHeight).Select(y => BitmapFont.RowBits(c, y)));
            Assert.True(seen.Add(rows), $"glyph '{c}' repeats another");
            Assert.Equal(c == ' ', rows == string.Join(",", Enumerable.Repeat(0, BitmapFont.GlyphHeight)));
        }

        Assert.Equal(95, seen.Count);

        // Descenders go below the capitals' 7 rows; capitals and digits stay within them.
        foreach (char c in "gjpqy,;")
        {
            Assert.True(BitmapFont.RowBits(c, BitmapFont.CapHeight) != 0, $"'{c}' has no descender");
        }

        foreach (char c in "AZ09")
        {
            Assert.Equal(0, BitmapFont.RowBits(c, BitmapFont.CapHeight) | BitmapFont.RowBits(c, BitmapFont.CapHeight + 1));
        }

        // Outside the range draws as '?'.
        Assert.Equal(BitmapFont.RowBits('?', 0), BitmapFont.RowBits('\u00e9', 0));
    }

    [Fact]
    public void TicksAreRoundAndLabelled()
    {
        Assert.Equal([0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0], Ticks.Values(0, 1));
        Assert.Equal(["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"], Ticks.Values(0, 1).Select(v => Ticks.Format(v, 0.2)));
        Assert.Equal([-10.0, 0.0, 10.0, 20.0], Ticks.Values(-13, 24, 4));
        Assert.Equal("0", Ticks.Format(-1e-17, 1));
        Assert.Equal("2.37", Ticks.FormatValue(2.3712));
        Assert.Equal("12.5", Ticks.FormatValue(12.49));
        Assert.Equal("250", Ticks.FormatValue(250.2));
    }

    [Fact]
    public void PointToSegmentDistance()
    {
        Assert.Equal(1.0, Geometry.DistanceToSegment(0, 1, -1, 0, 1, 0), 12);
        Assert.Equal(Math.Sqrt(2), Geometry.DistanceToSegment(2, 1, -1, 0, 1, 0), 12);
        Assert.Equal(5.0, Geometry.DistanceToSegment(3, 4, 0, 0, 0, 0), 12);
    }

    [Fact]
    public void FirstIntrusionIsWhereThePathCrossesTheCircle()
    {
        // Unit circle at the origin; the path comes in along y = 0.5 from the left.
        double[] path = [-3, 0.5, -2, 0.5, 2, 0.5];
        (double X, double Y)? hit = Geometry.FirstIntrusion(path, 0, 0, 1);
        Assert.NotNull(hit);
        Assert.Equal(-Math.Sqrt(0.75), hit.Value.X, 9);
        Assert.Equal(0.5, hit.Value.Y, 9);

        // Passing 1.01 above the centre misses; a tangent-or-closer pass counts.
        Assert.Null(Geometry.FirstIntrusion([-3, 1.01, 3, 1.01], 0, 0, 1));
        Assert.NotNull(Geometry.FirstIntrusion([-3, 0.999, 3, 0.999], 0, 0, 1));

        // A start inside is its own first intrusion.
        Assert.Equal((0.1, 0.2), Geometry.FirstIntrusion([0.1, 0.2, 5, 5], 0, 0, 1));
    }
}
