namespace Asd.Tests.Onnx;

/// <summary>
/// The quality heuristic of tools/make_unet28_fixture.py for 28x28 images of one shape (+1 on a -1 background), the
/// same rules as the script's <c>shape_class</c> and <c>score</c>: foreground = pixels &gt; 0; an image is a valid
/// shape when its foreground is one 4-connected component (at most <see cref="MaxStray"/> stray foreground pixels
/// elsewhere) of at least <see cref="MinArea"/> pixels whose bounding box (aspect = longer / shorter side, fill =
/// component pixels / box area) is a bar (aspect &gt;= 2.2, fill &gt;= 0.85), a square (aspect &lt;= 1.25, fill &gt;=
/// 0.9, the four corner pixels foreground) or a disc (aspect &lt;= 1.25, 0.55 &lt;= fill &lt; 0.95, the four corner
/// pixels background). Clean = the fraction of all pixels within <see cref="CleanTolerance"/> of -1 or +1.
/// </summary>
internal static class ShapeHeuristic
{
    public const int Size = 28;
    public const int MinArea = 24;
    public const int MaxStray = 2;
    public const double CleanTolerance = 0.2;

    public enum Shape
    {
        None = -1,
        Square = 0,
        Disc = 1,
        Bar = 2,
    }

    /// <summary>Scores of a set of images: the fraction that are valid shapes, the clean fraction of pixels, and the counts per shape.</summary>
    public sealed record Score(double Valid, double Clean, int Squares, int Discs, int Bars, int None)
    {
        public bool Passes(Threshold t) => Valid >= t.ValidMin && Clean >= t.CleanMin;

        public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"valid {Valid:F3}, clean {Clean:F3}, square/disc/bar/none {Squares}/{Discs}/{Bars}/{None}");
    }

    /// <summary>The quality threshold: both scores must reach their minimum.</summary>
    public sealed record Threshold(double ValidMin, double CleanMin);

    /// <summary>Scores <paramref name="images"/>, a whole number of 28x28 images.</summary>
    public static Score Evaluate(ReadOnlySpan<float> images)
    {
        const int pixels = Size * Size;
        Assert.True(images.Length > 0 && images.Length % pixels == 0, $"{images.Length} values are not whole 28x28 images");
        int count = images.Length / pixels;
        var counts = new int[4];
        long clean = 0;
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<float> im = images.Slice(i * pixels, pixels);
            Shape s = Classify(im);
            counts[s == Shape.None ? 3 : (int)s]++;
            foreach (float v in im)
            {
                if (Math.Min(Math.Abs(v - 1.0), Math.Abs(v + 1.0)) <= CleanTolerance)
                {
                    clean++;
                }
            }
        }

        return new Score((double)(count - counts[3]) / count, (double)clean / images.Length, counts[0], counts[1], counts[2], counts[3]);
    }

    /// <summary>The heuristic shape of one 28x28 image (row-major).</summary>
    public static Shape Classify(ReadOnlySpan<float> image)
    {
        var fg = new bool[Size * Size];
        int total = 0;
        for (int i = 0; i < fg.Length; i++)
        {
            fg[i] = image[i] > 0;
            total += fg[i] ? 1 : 0;
        }

        if (total < MinArea)
        {
            return Shape.None;
        }

        bool[] comp = LargestComponent(fg);
        int n = 0, y0 = Size, y1 = -1, x0 = Size, x1 = -1;
        for (int i = 0; i < comp.Length; i++)
        {
            if (comp[i])
            {
                n++;
                int y = i / Size, x = i % Size;
                (y0, y1, x0, x1) = (Math.Min(y0, y), Math.Max(y1, y), Math.Min(x0, x), Math.Max(x1, x));
            }
        }

        if (n < MinArea || total - n > MaxStray)
        {
            return Shape.None;
        }

        int h = y1 - y0 + 1, w = x1 - x0 + 1;
        double fill = n / (double)(h * w);
        double aspect = Math.Max(h, w) / (double)Math.Min(h, w);
        bool[] corners = [comp[(y0 * Size) + x0], comp[(y0 * Size) + x1], comp[(y1 * Size) + x0], comp[(y1 * Size) + x1]];
        if (aspect >= 2.2)
        {
            return fill >= 0.85 ? Shape.Bar : Shape.None;
        }

        if (aspect > 1.25)
        {
            return Shape.None;
        }

        if (fill >= 0.9 && corners.All(c => c))
        {
            return Shape.Square;
        }

        return fill >= 0.55 && fill < 0.95 && !corners.Any(c => c) ? Shape.Disc : Shape.None;
    }

    /// <summary>The largest 4-connected component of <paramref name="fg"/> (ties: the first found in row-major order).</summary>
    private static bool[] LargestComponent(bool[] fg)
    {
        var seen = new bool[fg.Length];
        List<int> best = [];
        var stack = new Stack<int>();
        for (int start = 0; start < fg.Length; start++)
        {
            if (!fg[start] || seen[start])
            {
                continue;
            }

            List<int> comp = [];
            seen[start] = true;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                comp.Add(p);
                int y = p / Size, x = p % Size;
                foreach ((int ny, int nx) in ((int, int)[])[(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)])
                {
                    int q = (ny * Size) + nx;
                    if (ny >= 0 && ny < Size && nx >= 0 && nx < Size && fg[q] && !seen[q])
                    {
                        seen[q] = true;
                        stack.Push(q);
                    }
                }
            }

            if (comp.Count > best.Count)
            {
                best = comp;
            }
        }

        var result = new bool[fg.Length];
        foreach (int p in best)
        {
            result[p] = true;
        }

        return result;
    }
}
