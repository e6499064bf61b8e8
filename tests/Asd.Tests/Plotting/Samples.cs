using Asd.Cli.Plotting;

namespace Asd.Tests.Plotting;

/// <summary>Realistic-looking inputs for each plot, for eyeballing the output (PlotTests.TheSamplePicturesAllRender writes them).</summary>
internal static class Samples
{
    public static void Write(string folder)
    {
        var rng = new Random(2024);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

        // Policy paths as in tests/fixtures/onnx/README.md: 8 waypoints bending left or right along a half sine.
        var episodes = new List<(float[] Start, float[] Goal, float[][] Paths)>();
        (float, float)[] pairs = [(0.12f, 0.2f), (0.85f, 0.15f), (0.2f, 0.8f), (0.15f, 0.5f)];
        (float, float)[] goals = [(0.88f, 0.75f), (0.2f, 0.9f), (0.85f, 0.3f), (0.9f, 0.5f)];
        for (int e = 0; e < pairs.Length; e++)
        {
            float[] start = [pairs[e].Item1, pairs[e].Item2], goal = [goals[e].Item1, goals[e].Item2];
            double dx = goal[0] - start[0], dy = goal[1] - start[1], len = Math.Sqrt((dx * dx) + (dy * dy));
            var paths = new float[6][];
            for (int p = 0; p < paths.Length; p++)
            {
                double side = p % 2 == 0 ? 1 : -1, height = side * 0.35 * len * (p == 5 ? 0.1 : 1);
                paths[p] = new float[16];
                for (int k = 1; k <= 8; k++)
                {
                    double t = k / 8.0, bend = height * Math.Sin(Math.PI * t);
                    paths[p][(2 * k) - 2] = (float)(start[0] + (dx * t) - (dy / len * bend) + (0.01 * Normal()));
                    paths[p][(2 * k) - 1] = (float)(start[1] + (dy * t) + (dx / len * bend) + (0.01 * Normal()));
                }
            }

            episodes.Add((start, goal, paths));
        }

        Plots.PolicyTrajectories(Path.Combine(folder, "trajectories.png"), "policy_mlp: 6 sampled plans per episode (ASD, K=8)",
            "Grey disc: obstacle. Each colour is one start/goal pair; plans are drawn from the start through their 8 waypoints.",
            (0.5, 0.5, 0.12), (0.0, 1.0, 0.0, 1.0), episodes);

        // An 8-mode ring mixture and samples from it.
        const int modes = 8;
        const double sigma = 0.18;
        double Density(double x, double y)
        {
            double sum = 0;
            for (int m = 0; m < modes; m++)
            {
                double mx = 1.5 * Math.Cos(2 * Math.PI * m / modes), my = 1.5 * Math.Sin(2 * Math.PI * m / modes);
                sum += Math.Exp(-(((x - mx) * (x - mx)) + ((y - my) * (y - my))) / (2 * sigma * sigma));
            }

            return sum / (modes * 2 * Math.PI * sigma * sigma);
        }

        var samples = new float[2 * 1000];
        for (int i = 0; i < 1000; i++)
        {
            int m = rng.Next(modes);
            samples[2 * i] = (float)((1.5 * Math.Cos(2 * Math.PI * m / modes)) + (sigma * Normal()));
            samples[(2 * i) + 1] = (float)((1.5 * Math.Sin(2 * Math.PI * m / modes)) + (sigma * Normal()));
        }

        (double, double, double, double) ranges = (-2.5, 2.5, -2.5, 2.5);
        Plots.MixtureScatter(Path.Combine(folder, "mixture.png"), "mixture8: 1000 ASD samples over the target density",
            "Heat: target density (sqrt scale). Dots: samples.", DensityGrid.Evaluate(Density, ranges), samples, ranges);

        // 16 synthetic 16x16 greyscale tiles: rings of varying radius.
        const int n = 16, size = 16;
        var images = new float[n * size * size];
        for (int k = 0; k < n; k++)
        {
            double radius = 2.5 + (k * 0.35);
            for (int i = 0; i < size; i++)
            {
                for (int j = 0; j < size; j++)
                {
                    double d = Math.Sqrt(((i - 7.5) * (i - 7.5)) + ((j - 7.5) * (j - 7.5)));
                    images[(k * size * size) + (i * size) + j] = (float)Math.Clamp(1.6 - (2 * Math.Abs(d - radius)), -1, 1);
                }
            }
        }

        Plots.ImageGrid(Path.Combine(folder, "images.png"), "unet16: 16 samples", "Values in [-1, 1] shown as black to white, upscaled 4x+.", images, n, 1, size, size);

        Plots.Bars(Path.Combine(folder, "bench.png"), "asd bench: speedup over DDPM by speculation length",
            "Wall-clock: measured on this machine. Algorithmic: sequential model calls saved.",
            ["K=2", "K=4", "K=8", "K=16"],
            [("wall-clock", [1.31, 1.87, 2.42, 2.21]), ("algorithmic", [1.62, 2.55, 3.71, 4.48])], "speedup (x)", (1.0, "no speedup"));
    }
}
