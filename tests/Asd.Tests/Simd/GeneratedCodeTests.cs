using System.Diagnostics;

namespace Asd.Tests.Simd;

/// <summary>
/// Generated code stays generated: the GEMM microkernels and their dispatch in Asd.Simd/Kernels/Gemm/*.g.cs, and the
/// IVec widths in Asd.Simd/Vectors/*.g.cs, must be exactly what tools/gen_gemm_kernels.py and tools/gen_vectors.py
/// write, so a hand edit (or a generator change without regenerating) fails CI.
/// </summary>
public sealed class GeneratedCodeTests
{
    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "AsdAot.sln")) && File.Exists(Path.Combine(d.FullName, "tools", "gen_gemm_kernels.py")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"No repository root (AsdAot.sln) above {AppContext.BaseDirectory}.");
    }

    /// <summary>Files named *.g.cs that are missing from one folder or differ in bytes, sorted.</summary>
    internal static List<string> Differences(string committed, string regenerated)
    {
        static SortedSet<string> Names(string dir) => [.. Directory.GetFiles(dir, "*.g.cs").Select(Path.GetFileName).OfType<string>()];
        SortedSet<string> a = Names(committed), b = Names(regenerated);
        var differ = new List<string>();
        foreach (string name in a.Union(b).Order(StringComparer.Ordinal))
        {
            if (!a.Contains(name) || !b.Contains(name)
                || !File.ReadAllBytes(Path.Combine(committed, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(regenerated, name))))
            {
                differ.Add(name);
            }
        }

        return differ;
    }

    [Theory]
    [InlineData("gen_gemm_kernels.py", "Kernels/Gemm")]
    [InlineData("gen_vectors.py", "Vectors")]
    public void GeneratedFilesAreWhatTheGeneratorWrites(string generator, string folder)
    {
        string root = RepositoryRoot();
        string committed = Path.Combine(root, "Asd.Simd", folder);
        string fresh = Directory.CreateTempSubdirectory("asd-gen-").FullName;
        try
        {
            string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
            var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
            start.ArgumentList.Add(Path.Combine(root, "tools", generator));
            start.ArgumentList.Add("--out");
            start.ArgumentList.Add(fresh);
            using Process p = Process.Start(start)!;
            string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(120_000), "the generator did not finish in 2 minutes");
            Assert.True(p.ExitCode == 0, $"tools/{generator} exited {p.ExitCode}: {stdout}{stderr}");
            Assert.NotEmpty(Directory.GetFiles(fresh, "*.g.cs"));

            List<string> differ = Differences(committed, fresh);
            Assert.True(differ.Count == 0,
                $"Generated files in Asd.Simd/{folder} differ from tools/{generator}'s output: {string.Join(", ", differ)}. "
                + $"Edit the generator, run `python3 tools/{generator}` and commit its output.");
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    [Fact]
    public void AHandEditOrAMissingFileIsCaught()
    {
        // Negative control for the comparison above.
        string a = Directory.CreateTempSubdirectory("asd-gen-a-").FullName, b = Directory.CreateTempSubdirectory("asd-gen-b-").FullName;
        try
        {
            foreach (string dir in (string[])[a, b])
            {
                File.WriteAllText(Path.Combine(dir, "K.Avx2.g.cs"), "// generated\nclass K {}\n");
                File.WriteAllText(Path.Combine(dir, "K.Neon.g.cs"), "// generated\nclass N {}\n");
            }

            Assert.Empty(Differences(a, b));
            File.WriteAllText(Path.Combine(a, "K.Neon.g.cs"), "// generated\nclass N { int hand; }\n");
            File.WriteAllText(Path.Combine(b, "K.Avx512.g.cs"), "// generated\n");
            Assert.Equal(["K.Avx512.g.cs", "K.Neon.g.cs"], Differences(a, b));
        }
        finally
        {
            Directory.Delete(a, recursive: true);
            Directory.Delete(b, recursive: true);
        }
    }
}
