using System.Diagnostics;
using System.Globalization;
using Asd.Native.Sampling;
using Asd.Tests.Properties;
using Asd.Tests.Statistics;

// Runs each statistical property of the suite over many seeds, with and without its negative control, and
// prints the rejection rates. Usage: PowerStudy [seeds=100] [filter] [variant filter] [first seed index=0]
// (the last two split a long study into chunks: their rows add up, seed index by seed index).
int seeds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
string filter = args.Length > 1 ? args[1] : "";
string variantFilter = args.Length > 2 ? args[2] : "";
int firstSeed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;

var studies = PropertyCatalog.All.Where(s => s.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
Console.WriteLine($"# Power study: {seeds} seeds per row, i = {firstSeed}..{firstSeed + seeds - 1} (seed i = 1000003 * i + 17)");
Console.WriteLine();
Console.WriteLine("| property | variant | rejection rate | 95% interval | mean rejecting cases | fewest | seconds |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (PropertyStudy study in studies)
{
    foreach ((string variant, Func<ulong, PropertyOutcome> run) in study.Variants.Where(v => v.Variant.Contains(variantFilter, StringComparison.OrdinalIgnoreCase)))
    {
        var watch = Stopwatch.StartNew();
        int rejected = 0;
        double cases = 0;
        int fewest = int.MaxValue;
        for (int i = firstSeed; i < firstSeed + seeds; i++)
        {
            ulong seed = (1000003UL * (ulong)i) + 17;
            PropertyOutcome outcome = run(seed);
            rejected += outcome.Rejected ? 1 : 0;
            cases += outcome.Rejections;
            fewest = Math.Min(fewest, outcome.Rejections);
        }

        double rate = (double)rejected / seeds;
        (double lo, double hi) = Wilson(rejected, seeds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {study.Name} | {variant} | {rate:F3} | [{lo:F3}, {hi:F3}] | {cases / seeds:F2} | {fewest} | {watch.Elapsed.TotalSeconds:F0} |"));
    }
}

static (double Lo, double Hi) Wilson(int k, int n)
{
    const double z = 1.96;
    double p = (double)k / n, denom = 1 + (z * z / n);
    double centre = (p + (z * z / (2 * n))) / denom;
    double half = z * Math.Sqrt((p * (1 - p) / n) + (z * z / (4.0 * n * n))) / denom;
    return (Math.Max(0, centre - half), Math.Min(1, centre + half));
}
