namespace Asd.Cli.Plotting;

/// <summary>Plane geometry for the plots: where a planned path first enters the obstacle.</summary>
internal static class Geometry
{
    /// <summary>Euclidean distance from point p to the segment from a to b (a point when a == b).</summary>
    public static double DistanceToSegment(double px, double py, double ax, double ay, double bx, double by)
    {
        double dx = bx - ax, dy = by - ay;
        double len2 = (dx * dx) + (dy * dy);
        double t = len2 > 0 ? Math.Clamp((((px - ax) * dx) + ((py - ay) * dy)) / len2, 0.0, 1.0) : 0.0;
        double ex = ax + (t * dx) - px, ey = ay + (t * dy) - py;
        return Math.Sqrt((ex * ex) + (ey * ey));
    }

    /// <summary>
    /// The first point of the polyline (interleaved x, y) that lies inside or on the circle, walking from its first
    /// vertex; null when the polyline keeps outside. A segment counts as entering when its distance to the centre is
    /// at most <paramref name="r"/>; the returned point is where it first crosses the circle (or its start, if inside).
    /// </summary>
    public static (double X, double Y)? FirstIntrusion(ReadOnlySpan<double> xy, double cx, double cy, double r)
    {
        int n = xy.Length / 2;
        if (n == 0)
        {
            return null;
        }

        if (Hypot(xy[0] - cx, xy[1] - cy) <= r)
        {
            return (xy[0], xy[1]);
        }

        for (int i = 1; i < n; i++)
        {
            double ax = xy[2 * (i - 1)], ay = xy[(2 * (i - 1)) + 1], bx = xy[2 * i], by = xy[(2 * i) + 1];
            if (DistanceToSegment(cx, cy, ax, ay, bx, by) > r)
            {
                continue;
            }

            // a is outside (checked on the previous step), so the smaller root of |a + t(b - a) - c| = r is the entry.
            double dx = bx - ax, dy = by - ay, fx = ax - cx, fy = ay - cy;
            double qa = (dx * dx) + (dy * dy), qb = 2 * ((fx * dx) + (fy * dy)), qc = (fx * fx) + (fy * fy) - (r * r);
            double disc = Math.Max((qb * qb) - (4 * qa * qc), 0.0);
            double t = qa > 0 ? Math.Clamp((-qb - Math.Sqrt(disc)) / (2 * qa), 0.0, 1.0) : 0.0;
            return (ax + (t * dx), ay + (t * dy));
        }

        return null;
    }

    private static double Hypot(double x, double y) => Math.Sqrt((x * x) + (y * y));
}
