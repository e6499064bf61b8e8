using Asd.Cli.Commands;
using Asd.Tests.Simd;

namespace Asd.Tests.Cli;

/// <summary>
/// <c>asd selftest</c>, run in-process: it passes on every path this machine has, and it fails (exit code 1, a FAIL
/// line naming the operation and the value) when a kernel is broken: the negative controls below perturb one kernel's
/// output by one float ulp, make one throw, and drop one operation's check.
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class SelftestCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The table line of <paramref name="operation"/> (the first, or the one on <paramref name="path"/>).</summary>
    private static string Line(string output, string operation, string? path = null) =>
        Lines(output).Single(l => l.StartsWith(operation + " ", StringComparison.Ordinal) && (path is null || l[44..].TrimStart().StartsWith(path + " ", StringComparison.Ordinal)));

    [Fact]
    public void SelectedPathPassesWithALinePerRegistryOperation()
    {
        var (code, output, err) = Run("selftest");
        Assert.True(code == 0, output + err);
        foreach (KernelChoice k in KernelRegistry.Describe())
        {
            string line = Line(output, k.Operation);
            Assert.EndsWith("pass", line);
            Assert.Contains($" {Isa.Name(k.Path)} ", line);
        }

        Assert.Contains("selftest passed: 7 of 7 operations", output);
        Assert.DoesNotContain("FAIL", output);

        // The selftest forces paths while it runs and must leave the process on the path it found.
        Assert.Equal(Isa.Default, Isa.Active);
    }

    [Fact]
    public void EverySupportedPathPasses()
    {
        var (code, output, err) = Run("selftest", "--path", "all");
        Assert.True(code == 0, output + err);
        IsaPath[] supported = Isa.Supported();
        Assert.Contains($"selftest passed: {7 * supported.Length} of {7 * supported.Length} operations", output);
        foreach (IsaPath p in supported)
        {
            Assert.EndsWith("pass", Line(output, "sgemm", Isa.Name(p)));
        }
    }

    [Fact]
    public void ShapesIncludeTailsOddSizesAndTinyOnes()
    {
        IReadOnlyList<KernelCheck> checks = KernelChecks.All();
        Assert.Equal(KernelRegistry.Describe().Select(k => k.Operation), checks.Select(c => c.Operation));
        string[] gemm = [.. checks.Single(c => c.Operation == KernelChecks.Sgemm).Shapes];
        Assert.Contains("M=1 K=1 N=1 offset 0", gemm);
        Assert.Contains(gemm, s => s.Contains("K=257", StringComparison.Ordinal));
        string[] rows = [.. checks.Single(c => c.Operation == KernelChecks.RowUpdate).Shapes];
        Assert.Contains(rows, s => s.StartsWith("n=0 ", StringComparison.Ordinal));
        Assert.Contains(rows, s => s.StartsWith("n=65 ", StringComparison.Ordinal));
        Assert.All(checks, c => Assert.True(c.Shapes.Count >= 10, $"{c.Operation}: {c.Shapes.Count} shapes"));
    }

    [Fact]
    public void UnknownOrUnsupportedPathIsAUserError()
    {
        var (code, _, err) = Run("selftest", "--path", "sse9");
        Assert.Equal(2, code);
        Assert.Contains("asd: error: --path 'sse9': expected avx512, avx2, neon, vector128, scalar or all.", err, StringComparison.Ordinal);

        IsaPath? missing = Enum.GetValues<IsaPath>().Cast<IsaPath?>().FirstOrDefault(p => !Isa.IsSupported(p!.Value));
        if (missing is { } m)
        {
            (code, _, err) = Run("selftest", "--path", Isa.Name(m));
            Assert.Equal(2, code);
            Assert.Contains("not supported", err);
        }
    }

    /// <summary>The best vector path here (the negative controls need a path other than scalar to break).</summary>
    private static IsaPath VectorPath() => Isa.Supported().First(p => p != IsaPath.Scalar);

    /// <summary>The checks with <paramref name="operation"/>'s candidate replaced by <paramref name="candidate"/>.</summary>
    private static List<KernelCheck> With(string operation, Func<KernelCheck, Func<int, double[]>> candidate) =>
        [.. KernelChecks.All().Select(c => c.Operation == operation ? c with { Candidate = candidate(c) } : c)];

    [Fact]
    public void OneUlpInOneSgemmElementFails()
    {
        // Negative control: the real sgemm, with one element of one shape moved by a single float ulp.
        List<KernelCheck> checks = With(KernelChecks.Sgemm, c => i =>
        {
            double[] r = c.Candidate(i);
            if (i == 5)
            {
                r[r.Length / 2] = MathF.BitIncrement((float)r[r.Length / 2]);
            }

            return r;
        });
        var stdout = new StringWriter();
        int code = SelftestCommand.Run(checks, [VectorPath()], stdout);
        string output = stdout.ToString();
        Assert.Equal(1, code);
        Assert.EndsWith("FAIL", Line(output, KernelChecks.Sgemm));
        Assert.Contains($"FAIL sgemm on {Isa.Name(VectorPath())}, M=5 K=33 N=37 offset 1: value", output);
        Assert.Contains("selftest FAILED: 1 of 7 operations", output);
        foreach (string other in checks.Select(c => c.Operation).Where(o => o != KernelChecks.Sgemm))
        {
            Assert.EndsWith("pass", Line(output, other));
        }

        Assert.Equal(Isa.Default, Isa.Active);
    }

    [Fact]
    public void AToleranceIsHonouredBothWays()
    {
        // Layer norm is checked against its double-precision definition with 1e-6 + 1e-6 |ref|: a 1e-7 shift passes,
        // a 1e-4 shift fails.
        foreach ((double shift, int expected) in new[] { (1e-7, 0), (1e-4, 1) })
        {
            List<KernelCheck> checks = With(KernelChecks.Norms, c => i => [.. c.Candidate(i).Select(v => v + shift)]);
            var stdout = new StringWriter();
            int code = SelftestCommand.Run(checks, [VectorPath()], stdout);
            Assert.True(expected == code, stdout.ToString());
            Assert.EndsWith(expected == 0 ? "pass" : "FAIL", Line(stdout.ToString(), KernelChecks.Norms));
        }
    }

    [Fact]
    public void AKernelThatThrowsFailsItsOperationOnly()
    {
        List<KernelCheck> checks = With(KernelChecks.Gaussian, _ => _ => throw new InvalidOperationException("broken on purpose"));
        var stdout = new StringWriter();
        int code = SelftestCommand.Run(checks, [VectorPath()], stdout);
        string output = stdout.ToString();
        Assert.Equal(1, code);
        Assert.Contains("threw InvalidOperationException: broken on purpose", output);
        Assert.EndsWith("FAIL", Line(output, KernelChecks.Gaussian));
        Assert.EndsWith("pass", Line(output, KernelChecks.Sgemm));
    }

    [Fact]
    public void AnOperationWithoutACheckFails()
    {
        List<KernelCheck> checks = [.. KernelChecks.All().Where(c => c.Operation != KernelChecks.RowUpdate)];
        var stdout = new StringWriter();
        int code = SelftestCommand.Run(checks, [VectorPath()], stdout);
        Assert.Equal(1, code);
        Assert.Contains("no self-test covers this registry operation", stdout.ToString());
        Assert.EndsWith("FAIL", Line(stdout.ToString(), KernelChecks.RowUpdate));
    }
}
