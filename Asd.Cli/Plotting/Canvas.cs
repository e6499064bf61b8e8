namespace Asd.Cli.Plotting;

/// <summary>
/// An opaque RGB raster with anti-aliased primitives. Pixel (x, y) covers [x, x+1) x [y, y+1), y grows downward;
/// shape coordinates are continuous, so a pixel's centre is (x + 0.5, y + 0.5). Every primitive blends its colour,
/// scaled by the colour's alpha and the pixel's coverage, into the pixels inside the clip rectangle.
/// </summary>
internal sealed class Canvas
{
    private readonly byte[] _rgb;
    private int _clipX0;
    private int _clipY0;
    private int _clipX1;
    private int _clipY1;

    public Canvas(int width, int height, Rgba background)
    {
        if (width < 1 || height < 1 || (long)width * height > 64L * 1024 * 1024)
        {
            throw new ArgumentException($"Canvas size {width}x{height} must be at least 1x1 and at most 64 Mpixel.");
        }

        Width = width;
        Height = height;
        _rgb = new byte[width * height * 3];
        ResetClip();
        Clear(background);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Row-major RGB bytes, three per pixel.</summary>
    public ReadOnlySpan<byte> Pixels => _rgb;

    public Rgba GetPixel(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            throw new ArgumentOutOfRangeException(nameof(x), $"Pixel ({x}, {y}) is outside the {Width}x{Height} canvas.");
        }

        int i = ((y * Width) + x) * 3;
        return new Rgba(_rgb[i], _rgb[i + 1], _rgb[i + 2]);
    }

    /// <summary>Sets every pixel (ignoring the clip rectangle and alpha).</summary>
    public void Clear(Rgba color)
    {
        for (int i = 0; i < _rgb.Length; i += 3)
        {
            _rgb[i] = color.R;
            _rgb[i + 1] = color.G;
            _rgb[i + 2] = color.B;
        }
    }

    /// <summary>Restricts drawing to pixels with x0 &lt;= x &lt; x1 and y0 &lt;= y &lt; y1 (intersected with the canvas).</summary>
    public void SetClip(int x0, int y0, int x1, int y1)
    {
        _clipX0 = Math.Clamp(x0, 0, Width);
        _clipY0 = Math.Clamp(y0, 0, Height);
        _clipX1 = Math.Clamp(x1, _clipX0, Width);
        _clipY1 = Math.Clamp(y1, _clipY0, Height);
    }

    public void ResetClip() => SetClip(0, 0, Width, Height);

    /// <summary>Blends <paramref name="color"/> into pixel (x, y) with weight alpha * <paramref name="coverage"/>.</summary>
    public void Blend(int x, int y, Rgba color, double coverage = 1.0)
    {
        if (x < _clipX0 || x >= _clipX1 || y < _clipY0 || y >= _clipY1 || !(coverage > 0))
        {
            return;
        }

        // Integer weight in [0, 256] keeps the result exact and identical on every platform.
        int w = (int)((Math.Min(coverage, 1.0) * color.A * (256.0 / 255.0)) + 0.5);
        if (w <= 0)
        {
            return;
        }

        int i = ((y * Width) + x) * 3;
        if (w >= 256)
        {
            _rgb[i] = color.R;
            _rgb[i + 1] = color.G;
            _rgb[i + 2] = color.B;
            return;
        }

        _rgb[i] = Over(_rgb[i], color.R, w);
        _rgb[i + 1] = Over(_rgb[i + 1], color.G, w);
        _rgb[i + 2] = Over(_rgb[i + 2], color.B, w);
    }

    private static byte Over(int dst, int src, int w) => (byte)(dst + ((((src - dst) * w) + 128) >> 8));

    /// <summary>Fills the axis-aligned rectangle between the two corners; fractional edges are partially covered.</summary>
    public void FillRect(double x0, double y0, double x1, double y1, Rgba color)
    {
        if (x1 < x0)
        {
            (x0, x1) = (x1, x0);
        }

        if (y1 < y0)
        {
            (y0, y1) = (y1, y0);
        }

        x0 = Math.Max(x0, _clipX0);
        y0 = Math.Max(y0, _clipY0);
        x1 = Math.Min(x1, _clipX1);
        y1 = Math.Min(y1, _clipY1);
        if (!(x1 > x0 && y1 > y0))
        {
            return;
        }

        int px0 = (int)Math.Floor(x0), px1 = (int)Math.Ceiling(x1);
        int py0 = (int)Math.Floor(y0), py1 = (int)Math.Ceiling(y1);
        for (int y = py0; y < py1; y++)
        {
            double cy = Math.Min(y + 1, y1) - Math.Max(y, y0);
            for (int x = px0; x < px1; x++)
            {
                double cx = Math.Min(x + 1, x1) - Math.Max(x, x0);
                Blend(x, y, color, cx * cy);
            }
        }
    }

    /// <summary>Outlines a rectangle; the stroke is centred on the rectangle's edges.</summary>
    public void StrokeRect(double x0, double y0, double x1, double y1, Rgba color, double width = 1.0)
    {
        double h = width / 2;
        FillRect(x0 - h, y0 - h, x1 + h, y0 + h, color);
        FillRect(x0 - h, y1 - h, x1 + h, y1 + h, color);
        FillRect(x0 - h, y0 + h, x0 + h, y1 - h, color);
        FillRect(x1 - h, y0 + h, x1 + h, y1 - h, color);
    }

    /// <summary>
    /// A line of the given width with round caps: each pixel is covered by how far its centre lies inside the
    /// capsule around the segment (a one-pixel ramp), which anti-aliases at any angle and width.
    /// </summary>
    public void DrawLine(double x0, double y0, double x1, double y1, Rgba color, double width = 1.0)
    {
        if (!double.IsFinite(x0) || !double.IsFinite(y0) || !double.IsFinite(x1) || !double.IsFinite(y1) || !(width > 0))
        {
            return;
        }

        double r = width / 2;
        double reach = r + 0.5;
        int rowFirst = Math.Max((int)Math.Floor(Math.Min(y0, y1) - reach), _clipY0);
        int rowLast = Math.Min((int)Math.Ceiling(Math.Max(y0, y1) + reach), _clipY1 - 1);
        double dx = x1 - x0, dy = y1 - y0;
        double length2 = (dx * dx) + (dy * dy);
        double invLength2 = length2 > 0 ? 1.0 / length2 : 0.0;
        double reach2 = reach * reach;
        for (int y = rowFirst; y <= rowLast; y++)
        {
            double cy = y + 0.5;

            // Segment points whose y lies within reach of this row bound the pixels that can be covered.
            double tLo, tHi;
            if (Math.Abs(dy) < 1e-12)
            {
                if (Math.Abs(cy - y0) > reach)
                {
                    continue;
                }

                (tLo, tHi) = (0.0, 1.0);
            }
            else
            {
                double ta = (cy - reach - y0) / dy, tb = (cy + reach - y0) / dy;
                tLo = Math.Max(0.0, Math.Min(ta, tb));
                tHi = Math.Min(1.0, Math.Max(ta, tb));
                if (tLo > tHi)
                {
                    continue;
                }
            }

            double xa = x0 + (dx * tLo), xb = x0 + (dx * tHi);
            int colFirst = Math.Max((int)Math.Floor(Math.Min(xa, xb) - reach), _clipX0);
            int colLast = Math.Min((int)Math.Ceiling(Math.Max(xa, xb) + reach), _clipX1 - 1);
            for (int x = colFirst; x <= colLast; x++)
            {
                // Distance from the pixel centre to the segment (Geometry.DistanceToSegment, with 1/|d|^2 hoisted).
                double px = x + 0.5 - x0, py = cy - y0;
                double t = Math.Clamp(((px * dx) + (py * dy)) * invLength2, 0.0, 1.0);
                double ex = px - (t * dx), ey = py - (t * dy);
                double d2 = (ex * ex) + (ey * ey);
                if (d2 < reach2)
                {
                    Blend(x, y, color, reach - Math.Sqrt(d2));
                }
            }
        }
    }

    /// <summary>
    /// A polyline through interleaved pixel coordinates (x0, y0, x1, y1, ...). With <paramref name="dash"/> &gt; 0 it
    /// alternates <paramref name="dash"/> pixels drawn and <paramref name="gap"/> pixels skipped, continuing the
    /// pattern across vertices.
    /// </summary>
    public void DrawPolyline(ReadOnlySpan<double> xy, Rgba color, double width = 1.0, double dash = 0, double gap = 0)
    {
        if (xy.Length % 2 != 0)
        {
            throw new ArgumentException($"Polyline coordinates must come in (x, y) pairs; got {xy.Length} numbers.", nameof(xy));
        }

        double phase = 0; // distance already walked inside the current dash period
        for (int i = 2; i + 1 < xy.Length; i += 2)
        {
            double ax = xy[i - 2], ay = xy[i - 1], bx = xy[i], by = xy[i + 1];
            if (dash <= 0)
            {
                DrawLine(ax, ay, bx, by, color, width);
                continue;
            }

            double length = Math.Sqrt(((bx - ax) * (bx - ax)) + ((by - ay) * (by - ay)));
            double period = dash + Math.Max(gap, 0);
            double s = 0;
            while (s < length)
            {
                double inPeriod = phase % period;
                double left = inPeriod < dash ? dash - inPeriod : period - inPeriod;
                double end = Math.Min(length, s + left);
                if (inPeriod < dash && length > 0)
                {
                    double t0 = s / length, t1 = end / length;
                    DrawLine(ax + ((bx - ax) * t0), ay + ((by - ay) * t0), ax + ((bx - ax) * t1), ay + ((by - ay) * t1), color, width);
                }

                phase += end - s;
                s = end;
            }
        }
    }

    /// <summary>A filled disc with an anti-aliased edge.</summary>
    public void FillCircle(double cx, double cy, double radius, Rgba color)
    {
        if (!(radius > 0))
        {
            return;
        }

        double reach = radius + 0.5;
        ForEachPixelNear(cx, cy, reach, (x, y, d) => Blend(x, y, color, reach - d));
    }

    /// <summary>A circle outline of the given stroke width, centred on <paramref name="radius"/>.</summary>
    public void StrokeCircle(double cx, double cy, double radius, Rgba color, double width = 1.0)
    {
        if (!(radius > 0) || !(width > 0))
        {
            return;
        }

        double half = width / 2;
        ForEachPixelNear(cx, cy, radius + half + 0.5, (x, y, d) => Blend(x, y, color, half + 0.5 - Math.Abs(d - radius)));
    }

    private void ForEachPixelNear(double cx, double cy, double reach, Action<int, int, double> visit)
    {
        if (!double.IsFinite(cx) || !double.IsFinite(cy))
        {
            return;
        }

        int x0 = Math.Max((int)Math.Floor(cx - reach), _clipX0), x1 = Math.Min((int)Math.Ceiling(cx + reach), _clipX1 - 1);
        int y0 = Math.Max((int)Math.Floor(cy - reach), _clipY0), y1 = Math.Min((int)Math.Ceiling(cy + reach), _clipY1 - 1);
        for (int y = y0; y <= y1; y++)
        {
            double ddy = y + 0.5 - cy;
            for (int x = x0; x <= x1; x++)
            {
                double ddx = x + 0.5 - cx;
                visit(x, y, Math.Sqrt((ddx * ddx) + (ddy * ddy)));
            }
        }
    }

    /// <summary>
    /// Fills a simple or self-intersecting polygon (non-zero winding) given as interleaved pixel coordinates, with
    /// 4x4 supersampling per pixel. Meant for markers and other small shapes.
    /// </summary>
    public void FillPolygon(ReadOnlySpan<double> xy, Rgba color)
    {
        if (xy.Length < 6 || xy.Length % 2 != 0)
        {
            throw new ArgumentException($"A polygon needs at least three (x, y) pairs; got {xy.Length} numbers.", nameof(xy));
        }

        double minX = double.PositiveInfinity, minY = double.PositiveInfinity, maxX = double.NegativeInfinity, maxY = double.NegativeInfinity;
        for (int i = 0; i < xy.Length; i += 2)
        {
            minX = Math.Min(minX, xy[i]);
            maxX = Math.Max(maxX, xy[i]);
            minY = Math.Min(minY, xy[i + 1]);
            maxY = Math.Max(maxY, xy[i + 1]);
        }

        if (!double.IsFinite(minX + maxX + minY + maxY))
        {
            return;
        }

        const int sub = 4;
        int px0 = Math.Max((int)Math.Floor(minX), _clipX0), px1 = Math.Min((int)Math.Ceiling(maxX), _clipX1 - 1);
        int py0 = Math.Max((int)Math.Floor(minY), _clipY0), py1 = Math.Min((int)Math.Ceiling(maxY), _clipY1 - 1);
        for (int y = py0; y <= py1; y++)
        {
            for (int x = px0; x <= px1; x++)
            {
                int inside = 0;
                for (int sy = 0; sy < sub; sy++)
                {
                    for (int sx = 0; sx < sub; sx++)
                    {
                        if (Geometry.Winding(xy, x + ((sx + 0.5) / sub), y + ((sy + 0.5) / sub)) != 0)
                        {
                            inside++;
                        }
                    }
                }

                Blend(x, y, color, inside / (double)(sub * sub));
            }
        }
    }

    /// <summary>
    /// A marker of full width <paramref name="size"/> centred at (x, y). With an <paramref name="outline"/> colour the
    /// marker first gets a halo about 1.5 pixels wide in that colour, so it stays visible on lines and fills of a
    /// similar colour.
    /// </summary>
    public void DrawMarker(double x, double y, Marker marker, double size, Rgba color, Rgba? outline = null)
    {
        const double halo = 1.5;
        double stroke = Math.Max(1.5, size / 5);
        double h = size / 2;
        switch (marker)
        {
            case Marker.Dot:
                if (outline is { } dotHalo)
                {
                    FillCircle(x, y, h + halo, dotHalo);
                }

                FillCircle(x, y, h, color);
                break;
            case Marker.Ring:
                if (outline is { } ringHalo)
                {
                    StrokeCircle(x, y, h - (stroke / 2), ringHalo, stroke + (2 * halo));
                }

                StrokeCircle(x, y, h - (stroke / 2), color, stroke);
                break;
            case Marker.Square:
                if (outline is { } squareHalo)
                {
                    FillRect(x - h - halo, y - h - halo, x + h + halo, y + h + halo, squareHalo);
                }

                FillRect(x - h, y - h, x + h, y + h, color);
                break;
            case Marker.Cross:
            case Marker.Plus:
                double c = marker == Marker.Cross ? h * 0.8 : h;
                Span<double> arms = marker == Marker.Cross
                    ? [x - c, y - c, x + c, y + c, x - c, y + c, x + c, y - c]
                    : [x - c, y, x + c, y, x, y - c, x, y + c];
                if (outline is { } armHalo)
                {
                    DrawLine(arms[0], arms[1], arms[2], arms[3], armHalo, stroke + (2 * halo));
                    DrawLine(arms[4], arms[5], arms[6], arms[7], armHalo, stroke + (2 * halo));
                }

                DrawLine(arms[0], arms[1], arms[2], arms[3], color, stroke);
                DrawLine(arms[4], arms[5], arms[6], arms[7], color, stroke);
                break;
            case Marker.Star:
                Span<double> star = stackalloc double[22];
                for (int k = 0; k <= 10; k++)
                {
                    double radius = k % 2 == 0 ? h : h * 0.45;
                    double angle = (-Math.PI / 2) + (k * Math.PI / 5);
                    star[2 * k] = x + (radius * Math.Cos(angle));
                    star[(2 * k) + 1] = y + (radius * Math.Sin(angle));
                }

                if (outline is { } starHalo)
                {
                    DrawPolyline(star, starHalo, 2 * halo);
                }

                FillPolygon(star[..20], color);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(marker), marker, "Unknown marker.");
        }
    }

    /// <summary>Draws one line of text with its top edge at <paramref name="y"/>; glyph pixels are <paramref name="scale"/> squares.</summary>
    public void DrawText(int x, int y, string text, Rgba color, int scale = 1, TextAlign align = TextAlign.Left)
    {
        ArgumentNullException.ThrowIfNull(text);
        int left = x - Offset(BitmapFont.MeasureWidth(text, scale), align);
        ForEachInk(text, scale, (u, v) => Blend(left + u, y + v, color));
    }

    /// <summary>
    /// Draws text rotated a quarter turn counter-clockwise (reading upward), with the glyph tops towards the left edge
    /// at <paramref name="x"/>; <paramref name="y"/> and <paramref name="align"/> place it along the vertical.
    /// </summary>
    public void DrawTextUp(int x, int y, string text, Rgba color, int scale = 1, TextAlign align = TextAlign.Center)
    {
        ArgumentNullException.ThrowIfNull(text);
        int bottom = y + Offset(BitmapFont.MeasureWidth(text, scale), align);
        ForEachInk(text, scale, (u, v) => Blend(x + v, bottom - 1 - u, color));
    }

    private static int Offset(int width, TextAlign align) => align switch
    {
        TextAlign.Center => width / 2,
        TextAlign.Right => width,
        _ => 0,
    };

    // Visits every ink pixel of the laid-out line: u along the text, v downward from its top.
    private static void ForEachInk(string text, int scale, Action<int, int> ink)
    {
        if (scale < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "Text scale must be at least 1.");
        }

        for (int k = 0; k < text.Length; k++)
        {
            int cellX = k * BitmapFont.Advance * scale;
            for (int gy = 0; gy < BitmapFont.GlyphHeight; gy++)
            {
                int bits = BitmapFont.RowBits(text[k], gy);
                for (int gx = 0; bits != 0 && gx < BitmapFont.GlyphWidth; gx++)
                {
                    if (((bits >> (BitmapFont.GlyphWidth - 1 - gx)) & 1) == 0)
                    {
                        continue;
                    }

                    for (int sy = 0; sy < scale; sy++)
                    {
                        for (int sx = 0; sx < scale; sx++)
                        {
                            ink(cellX + (gx * scale) + sx, (gy * scale) + sy);
                        }
                    }
                }
            }
        }
    }

    /// <summary>The canvas as a PNG file (8-bit RGB).</summary>
    public byte[] EncodePng() => PngEncoder.EncodeRgb(_rgb, Width, Height);

    /// <summary>Writes <see cref="EncodePng"/> to <paramref name="path"/> (its folder must exist: none is created, as for every output file).</summary>
    public void SavePng(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        File.WriteAllBytes(path, EncodePng());
    }
}
