using System.Diagnostics;
using Asd.Simd;
using Asd.Simd.Kernels;
using Asd.Simd.Kernels.Gemm;
using Asd.Simd.Random;

namespace Asd.Cli.Commands;

/// <summary>
/// <c>asd selftest</c>: every kernel family of <see cref="KernelRegistry"/>, run on the selected path (or the ones named
/// by the path flag) against the scalar reference path over small shapes with odd sizes and tails. Built for machines
/// that only the published binary reaches (an arm64 board, qemu in CI): one command says whether this build's vector
/// code computes what the scalar code computes here. Exit code 0 when every operation passes, 1 when any fails.
/// </summary>
internal static class SelftestCommand
{
    public static Command Create(TextWriter stdout)
    {
        var path = new Option<string?>("--path")
        {
            Description = "Path to test against scalar: avx512, avx2, neon, vector128, scalar, or all (every supported path). Default: the selected one.",
        };
        var command = new Command("selftest", "Check every kernel on the selected ISA path against the scalar reference (exit 0 all pass, 1 any fails).")
        {
            path,
        };
        command.SetAction(parse =>
        {
            IsaPath[] paths = parse.GetValue(path) switch
            {
                null => [Isa.Active],
                string s when s.Trim().Equals("all", StringComparison.OrdinalIgnoreCase) => Isa.Supported(),
                string s => [ParsePath(s)],
            };
            foreach (IsaPath p in paths)
            {
                if (!Isa.IsSupported(p))
                {
                    throw new PlatformNotSupportedException($"ISA path '{Isa.Name(p)}' is not supported on this machine (supported: {string.Join(", ", Array.ConvertAll(Isa.Supported(), Isa.Name))}).");
                }
            }

            return Run(KernelChecks.All(), paths, stdout);
        });
        return command;
    }

    /// <summary>A --path other than all, named as typed (Isa.Parse's message does not know the flag, nor "all").</summary>
    private static IsaPath ParsePath(string text)
    {
        try
        {
            return Isa.Parse(text);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"--path '{text}': expected avx512, avx2, neon, vector128, scalar or all.");
        }
    }

    /// <summary>
    /// Runs <paramref name="checks"/> on each of <paramref name="paths"/>, prints one line per registry operation and
    /// path, and returns 0 when all pass, 1 otherwise. An operation of <see cref="KernelRegistry.Describe"/> with no check
    /// fails: a kernel family added without a self-test must not pass silently.
    /// </summary>
    internal static int Run(IReadOnlyList<KernelCheck> checks, IReadOnlyList<IsaPath> paths, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        IsaPath before = Isa.Active;
        bool restoreDefault = before == Isa.Default;
        var failures = new List<string>();
        int operations = 0, failed = 0;
        stdout.WriteLine($"asd selftest: each kernel on the path under test against the scalar reference path, {RuntimeInformationText()}");
        stdout.WriteLine($"{"operation",-44} {"path",-9} {"shapes",6}  {"max error",-9}  {"tolerance",-26} result");
        try
        {
            foreach (IsaPath path in paths)
            {
                var pending = checks.ToList();
                foreach (KernelChoice choice in KernelRegistry.Describe(path))
                {
                    KernelCheck? check = pending.Find(c => c.Operation == choice.Operation);
                    CheckOutcome outcome;
                    if (check is null)
                    {
                        outcome = new CheckOutcome(0, 0, $"{choice.Operation} on {Isa.Name(path)}: no self-test covers this registry operation");
                    }
                    else
                    {
                        pending.Remove(check);
                        outcome = Evaluate(check, path);
                    }

                    Report(choice.Operation, choice.Path, check?.Tolerance, outcome);
                }

                // Checks of operations the registry does not list (a test may add one) run too, on the path under test.
                foreach (KernelCheck extra in pending)
                {
                    Report(extra.Operation, path, extra.Tolerance, Evaluate(extra, path));
                }
            }
        }
        finally
        {
            Isa.Force(restoreDefault ? null : before);
        }

        foreach (string f in failures)
        {
            stdout.WriteLine($"FAIL {f}");
        }

        stdout.WriteLine(failed == 0
            ? $"selftest passed: {operations} of {operations} operations agree with the scalar reference ({clock.Elapsed.TotalSeconds:F2} s)"
            : $"selftest FAILED: {failed} of {operations} operations disagree with the scalar reference ({clock.Elapsed.TotalSeconds:F2} s)");
        return failed == 0 ? 0 : 1;

        void Report(string operation, IsaPath shownPath, Tolerance? tolerance, CheckOutcome outcome)
        {
            operations++;
            bool ok = outcome.Failure is null;
            if (!ok)
            {
                failed++;
                failures.Add(outcome.Failure!);
            }

            string error = outcome.MaxError switch
            {
                double.NaN => "NaN",
                0 => "0",
                double e => e.ToString("0.##E+0", CultureInfo.InvariantCulture),
            };
            stdout.WriteLine($"{operation,-44} {Isa.Name(shownPath),-9} {outcome.Shapes,6}  {error,-9}  {tolerance?.ToString() ?? "-",-26} {(ok ? "pass" : "FAIL")}");
        }
    }

    private static string RuntimeInformationText() =>
        $"{System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}, selected path {Isa.Name(Isa.Active)}";

    /// <summary>Runs one check on <paramref name="path"/>: the candidate with that path forced, the reference with scalar forced.</summary>
    private static CheckOutcome Evaluate(KernelCheck check, IsaPath path)
    {
        double maxError = 0;
        string? failure = null;
        int shapes = 0;
        for (int s = 0; s < check.Shapes.Count; s++)
        {
            double[] got, want;
            try
            {
                Isa.Force(IsaPath.Scalar);
                want = check.Reference(s);
                Isa.Force(path);
                got = check.Candidate(s);
            }
            catch (Exception e)
            {
                return new CheckOutcome(shapes, double.NaN, $"{check.Operation} on {Isa.Name(path)}, {check.Shapes[s]}: threw {e.GetType().Name}: {e.Message}");
            }

            shapes++;
            if (got.Length != want.Length)
            {
                failure ??= $"{check.Operation} on {Isa.Name(path)}, {check.Shapes[s]}: {got.Length} values, the reference has {want.Length}";
                continue;
            }

            for (int i = 0; i < got.Length; i++)
            {
                double g = got[i], w = want[i];
                if (g == w || (double.IsNaN(g) && double.IsNaN(w)))
                {
                    continue;
                }

                double error = Math.Abs(g - w);
                maxError = double.IsNaN(error) || double.IsNaN(maxError) ? double.NaN : Math.Max(maxError, error);
                if (!(error <= check.Tolerance.Bound(w)))
                {
                    failure ??= string.Create(CultureInfo.InvariantCulture, $"{check.Operation} on {Isa.Name(path)}, {check.Shapes[s]}: value {i} is {g:R}, the reference {w:R} (|difference| {error:R}, allowed {check.Tolerance.Bound(w):R})");
                }
            }
        }

        return new CheckOutcome(shapes, maxError, failure);
    }

    private readonly record struct CheckOutcome(int Shapes, double MaxError, string? Failure);
}

/// <summary>How far a kernel's value may be from the reference: |got - want| &lt;= Absolute + Relative |want|.</summary>
/// <param name="Absolute">The absolute part.</param>
/// <param name="Relative">The part proportional to the reference value.</param>
internal readonly record struct Tolerance(double Absolute, double Relative)
{
    /// <summary>Bit for bit (up to the sign of zero): what the kernels promise between paths.</summary>
    public static Tolerance Exact => new(0, 0);

    /// <summary>The largest difference allowed around <paramref name="reference"/>.</summary>
    public double Bound(double reference) => Absolute + (Relative * Math.Abs(reference));

    public override string ToString() => Absolute == 0 && Relative == 0
        ? "0 (bit-identical)"
        : string.Create(CultureInfo.InvariantCulture, $"{Absolute:0.#E+0} + {Relative:0.#E+0}|ref|");
}

/// <summary>
/// One self-test: <paramref name="Candidate"/> (run with the path under test forced) against <paramref name="Reference"/>
/// (run with the scalar path forced) on every shape; both return the outputs as doubles (floats widen exactly).
/// </summary>
/// <param name="Operation">The operation, spelled as <see cref="KernelRegistry.Describe"/> spells it.</param>
/// <param name="Tolerance">The allowed difference per value.</param>
/// <param name="Shapes">A label per shape (index = the argument of both functions).</param>
/// <param name="Candidate">The kernel under test.</param>
/// <param name="Reference">The reference.</param>
internal sealed record KernelCheck(string Operation, Tolerance Tolerance, IReadOnlyList<string> Shapes, Func<int, double[]> Candidate, Func<int, double[]> Reference)
{
    /// <summary>A check whose reference is the same code on the scalar path (the runner forces the path).</summary>
    public static KernelCheck SamePath(string operation, Tolerance tolerance, IReadOnlyList<string> shapes, Func<int, double[]> kernel) =>
        new(operation, tolerance, shapes, kernel, kernel);
}

/// <summary>
/// The self-tests of the kernel families in <see cref="KernelRegistry"/>. Inputs come from <see cref="System.Random"/>
/// with fixed seeds (the same numbers on every architecture). Shapes are small (the whole set runs in well under a
/// second natively, a few seconds under emulation) but cover every tile height and width, k-block boundaries, vector
/// tails, misaligned offsets and lengths 0 and 1.
/// </summary>
internal static class KernelChecks
{
    public const string Sgemm = "sgemm";
    public const string Epilogue = "gemm epilogue (bias, activation, residual)";
    public const string Gaussian = "gaussian noise (Box-Muller)";
    public const string RowUpdate = "row update (DDPM/ASD step, x0 conversion)";
    public const string Reductions = "verifier reductions (z.d, |d|^2)";
    public const string Norms = "layer norm, time embedding";
    public const string GroupNorms = "group norm (Mish, FiLM, residual)";

    /// <summary>All checks, one per registry operation.</summary>
    public static IReadOnlyList<KernelCheck> All() => [SgemmCheck(), EpilogueCheck(), GaussianCheck(), RowUpdateCheck(), ReductionsCheck(), NormsCheck(), GroupNormCheck()];

    private static float[] Values(int seed, int count, double scale = 1)
    {
        var rng = new System.Random(seed);
        var v = new float[count];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(((rng.NextDouble() * 2) - 1) * scale);
        }

        return v;
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var d = new double[values.Length];
        for (int i = 0; i < d.Length; i++)
        {
            d[i] = values[i];
        }

        return d;
    }

    // (M, K, N): every tile height up to 12 rows (AVX-512) and 4 (NEON), the multi-panel widths (1-3 rows over 128
    // columns), edge panels, K = 1, K past one 256-deep block, and each axis odd.
    private static readonly (int M, int K, int N)[] GemmShapes =
    [
        (1, 1, 1), (1, 3, 5), (2, 7, 16), (3, 16, 17), (4, 17, 31), (5, 33, 37), (6, 24, 96), (7, 64, 48), (8, 5, 64),
        (9, 100, 70), (11, 31, 129), (12, 24, 64), (13, 257, 33), (1, 24, 130), (2, 24, 130), (3, 40, 257), (16, 300, 20),
        (25, 24, 33), (33, 40, 65), (48, 48, 48),
    ];

    /// <summary>
    /// C = A W through <see cref="Sgemm.Multiply"/> (no epilogue), A and C at misaligned offsets; the same with float16
    /// weights (every class of half: subnormals, both zeros, the largest exponents); and 1-D convolutions packed by
    /// <see cref="Conv1dPacking"/> (two concatenated sources, zero padding at the sequence ends, strides 1 and 2).
    /// </summary>
    private static KernelCheck SgemmCheck()
    {
        var cases = new List<(string Label, Func<double[]> Run)>();
        for (int i = 0; i < GemmShapes.Length; i++)
        {
            (int m, int k, int n) = GemmShapes[i];
            int s = i;
            cases.Add(($"M={m} K={k} N={n} offset {i % 4}", () => Gemm(m, k, n, s, half: false)));
        }

        for (int i = 0; i < GemmShapes.Length; i += 2)
        {
            (int m, int k, int n) = GemmShapes[i];
            int s = i;
            cases.Add(($"float16 weights M={m} K={k} N={n} offset {i % 4}", () => Gemm(m, k, n, s, half: true)));
        }

        // (samples, length, channels of the two sources, output channels, stride, tap offsets)
        (int Samples, int Length, int C0, int C1, int N, int Stride, int[] Taps)[] convs =
        [
            (1, 16, 2, 0, 32, 1, [-2, -1, 0, 1, 2]), (3, 8, 16, 16, 20, 1, [-1, 0, 1]), (2, 8, 32, 0, 40, 2, [-1, 0, 1]),
            (5, 4, 48, 16, 17, 1, [-1, 0]), (2, 4, 16, 0, 33, 1, [0, 1]), (4, 16, 5, 3, 7, 1, [0]), (13, 2, 16, 0, 64, 1, [-2, -1, 0, 1, 2]),
            (6, 4, 192, 64, 40, 1, [-2, -1, 0, 1, 2]),
        ];
        foreach ((int samples, int length, int c0, int c1, int n, int stride, int[] taps) in convs)
        {
            // Each in sample order, and in position order, where tiles skip the taps on the padding (K of the last
            // case, 1280, crosses a K block, so a tile's taps start or end inside one).
            foreach (bool byPosition in new[] { false, true })
            {
                int seed = 600 + cases.Count;
                cases.Add(($"conv1d {samples} x {length} positions, channels {c0}+{c1} -> {n}, stride {stride}, {taps.Length} taps{(byPosition ? ", by position" : "")}", () => Conv(samples, length, c0, c1, n, stride, taps, seed, byPosition)));
            }
        }

        return KernelCheck.SamePath(Sgemm, Tolerance.Exact, [.. cases.Select(c => c.Label)], i => cases[i].Run());
    }

    private static double[] Gemm(int m, int k, int n, int i, bool half)
    {
        int offset = i % 4, lda = k + (i % 3);
        float[] a = Values(100 + i, (m * lda) + offset);
        bool outputMajor = (i & 1) == 1;
        PackedMatrix w = half ? PackedMatrix.PackHalf(HalfBits(200 + i, k * n), k, n, outputMajor) : PackedMatrix.Pack(Values(200 + i, k * n), k, n, outputMajor);
        var c = new float[(m * n) + offset];
        Asd.Simd.Kernels.Gemm.Sgemm.Multiply(a.AsSpan(offset), m, lda, w, default, Activation.Identity, default, 0, c.AsSpan(offset), n);
        return Widen(c.AsSpan(offset));
    }

    /// <summary>Finite half bit patterns: ordinary values, subnormals and zeros of both signs, the largest exponents.</summary>
    private static ushort[] HalfBits(int seed, int count)
    {
        var rng = new System.Random(seed);
        var h = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            int sign = rng.Next(2) << 15;
            h[i] = (ushort)(rng.Next(4) switch
            {
                0 => sign | rng.Next(0x400),
                1 => sign | rng.Next(0x7800, 0x7C00),
                _ => BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() * 2) - 1)),
            });
        }

        return h;
    }

    private static double[] Conv(int samples, int length, int c0, int c1, int n, int stride, int[] taps, int seed, bool byPosition)
    {
        int outLength = length / stride, k = taps.Length * (c0 + c1), m = samples * outLength;
        float[] x0 = Values(seed, samples * length * (c0 + 3)), x1 = Values(seed + 1, samples * length * Math.Max(c1, 1));
        PackedMatrix w = PackedMatrix.Pack(Values(seed + 2, k * n), k, n, outputMajor: false);
        var packed = new float[Asd.Simd.Kernels.Gemm.Sgemm.PackedSize(m, k)];
        var rows = new Conv1dRows(samples, length, outLength, stride, taps, c0 + c1, byPosition);
        Conv1dPacking.Pack(x0, c0 + 3, c0, c1 == 0 ? default : x1, Math.Max(c1, 1), c1, rows, w.Path, packed);
        var c = new float[m * n];
        Asd.Simd.Kernels.Gemm.Sgemm.MultiplyPackedConv(packed, rows, w, 0, w.Panels, Values(seed + 3, n), Activation.Identity, c, n);
        return Widen(c);
    }

    /// <summary>
    /// The fused epilogue: every activation with and without bias and residual inside the GEMM, the same on its own
    /// (<see cref="ActivationMath.ApplyRow"/>, lengths 0-67 and 257), and the next layer's input packed in the epilogue
    /// (unpacked here by the documented layout, so paths with different tile heights compare).
    /// </summary>
    private static KernelCheck EpilogueCheck()
    {
        var cases = new List<(string Label, Func<double[]> Run)>();
        Activation[] activations = Enum.GetValues<Activation>();
        for (int i = 0; i < 12; i++)
        {
            (int m, int k, int n) = GemmShapes[(i * 7) % GemmShapes.Length];
            Activation act = activations[i % activations.Length];
            bool bias = i % 3 != 1, residual = i % 2 == 0;
            int seed = 300 + i;
            cases.Add(($"GEMM M={m} K={k} N={n} {ActivationMath.Name(act)} bias={bias} residual={residual}", () => GemmEpilogue(m, k, n, act, bias, residual, seed)));
        }

        for (int i = 0; i < 6; i++)
        {
            (int m, int k, int n) = GemmShapes[(i * 3) + 2];
            int seed = 400 + i;
            cases.Add(($"GEMM M={m} K={k} N={n} chained packing of the next input", () => ChainedPacking(m, k, n, seed)));
        }

        foreach (int n in (int[])[0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 257])
        {
            Activation act = activations[n % activations.Length];
            int seed = 500 + n;
            cases.Add(($"row n={n} {ActivationMath.Name(act)}", () => ApplyRow(n, act, seed)));
        }

        return KernelCheck.SamePath(Epilogue, Tolerance.Exact, [.. cases.Select(c => c.Label)], i => cases[i].Run());
    }

    private static double[] GemmEpilogue(int m, int k, int n, Activation act, bool withBias, bool withResidual, int seed)
    {
        float[] a = Values(seed, m * k, 2), w = Values(seed + 1, k * n), bias = Values(seed + 2, n, 3), residual = Values(seed + 3, m * n);
        var c = new float[m * n];
        Asd.Simd.Kernels.Gemm.Sgemm.Multiply(a, m, k, PackedMatrix.Pack(w, k, n, outputMajor: false), withBias ? bias : default, act, withResidual ? residual : default, n, c, n);
        return Widen(c);
    }

    private static double[] ChainedPacking(int m, int k, int n, int seed)
    {
        float[] a = Values(seed, m * k), w = Values(seed + 1, k * n), bias = Values(seed + 2, n);
        PackedMatrix packed = PackedMatrix.Pack(w, k, n, outputMajor: false);
        var packedA = new float[Asd.Simd.Kernels.Gemm.Sgemm.PackedSize(m, k)];
        Asd.Simd.Kernels.Gemm.Sgemm.PackA(a, m, k, k, packed.Path, packedA);
        var c = new float[m * n];
        var next = new float[Asd.Simd.Kernels.Gemm.Sgemm.PackedSize(m, n)];
        Asd.Simd.Kernels.Gemm.Sgemm.MultiplyPacked(packedA, m, packed, 0, packed.Panels, bias, Activation.Silu, default, 0, c, n, next);

        // Sgemm.PackA's layout: balanced tiles of at most MaxRows rows; A[row0 + i, 16 g + j] at row0 K16 + g 16 r + 16 i + j.
        int k16 = (n + 15) & ~15, tiles = Asd.Simd.Kernels.Gemm.Sgemm.TileCount(m, packed.Path);
        var unpacked = new float[m * n];
        for (int t = 0, row0 = 0; t < tiles; t++)
        {
            int r = (m / tiles) + (t < m % tiles ? 1 : 0);
            for (int i = 0; i < r; i++)
            {
                for (int col = 0; col < n; col++)
                {
                    unpacked[((row0 + i) * n) + col] = next[(row0 * k16) + ((col & ~15) * r) + (16 * i) + (col & 15)];
                }
            }

            row0 += r;
        }

        return [.. Widen(c), .. Widen(unpacked)];
    }

    private static double[] ApplyRow(int n, Activation act, int seed)
    {
        // Wide inputs reach the clamps of exp (|x| > 87) in Silu, GeluTanh and Mish.
        float[] x = Values(seed, n, 100), bias = Values(seed + 1, n), residual = Values(seed + 2, n);
        var y = new float[n];
        ActivationMath.ApplyRow(x, bias, act, residual, y);
        var z = new float[n];
        ActivationMath.ApplyRow(x, default, act, default, z);
        return [.. Widen(y), .. Widen(z)];
    }

    /// <summary><see cref="CounterRng.Gaussian"/> at lengths around every vector width, odd and even (the sin half is one shorter).</summary>
    private static KernelCheck GaussianCheck()
    {
        int[] lengths = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1025];
        return KernelCheck.SamePath(Gaussian, Tolerance.Exact, [.. lengths.Select(n => $"n={n}")], i =>
        {
            var v = new float[lengths[i]];
            CounterRng.Gaussian(1234 + (ulong)i, (ulong)i << 31, (uint)(7 * i), 2, v);
            return Widen(v);
        });
    }

    private static readonly int[] RowLengths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 100, 257];

    /// <summary>
    /// <see cref="RowOps.LinearCombination"/> (with and without the noise term) and <see cref="RowOps.AffineCombineClamp"/>
    /// (clamped and not), writing at misaligned offsets.
    /// </summary>
    private static KernelCheck RowUpdateCheck()
    {
        string[] labels = [.. RowLengths.Select((n, i) => $"n={n} offset {i % 5}")];
        return KernelCheck.SamePath(RowUpdate, Tolerance.Exact, labels, i =>
        {
            int n = RowLengths[i], offset = i % 5;
            float[] x = Values(600 + i, n, 3), m = Values(700 + i, n, 3), z = Values(800 + i, n, 3);
            var d = new float[(4 * n) + offset];
            RowOps.LinearCombination(0.97f, x, -0.31f, m, 0.173f, z, d.AsSpan(offset, n));
            RowOps.LinearCombination(1.0001f, x, 0.5f, m, 0f, default, d.AsSpan(offset + n, n));
            RowOps.AffineCombineClamp(1.7f, x, -0.8f, m, 1f, d.AsSpan(offset + (2 * n), n));
            RowOps.AffineCombineClamp(1.7f, x, -0.8f, m, float.PositiveInfinity, d.AsSpan(offset + (3 * n), n));
            return Widen(d.AsSpan(offset));
        });
    }

    /// <summary>
    /// <see cref="RowOps.DifferenceDotAndNorm"/> (doubles, compared exactly: the 8-lane order is fixed on every path) and
    /// the reflection that uses them, on rows at misaligned offsets.
    /// </summary>
    private static KernelCheck ReductionsCheck()
    {
        int[] lengths = [.. RowLengths.Where(n => n > 0), 1000];
        string[] labels = [.. lengths.Select((n, i) => $"n={n} offset {i % 7}")];
        return KernelCheck.SamePath(Reductions, Tolerance.Exact, labels, i =>
        {
            int n = lengths[i], offset = i % 7;
            float[] z = Values(900 + i, n + offset, 2), p = Values(1000 + i, n + offset), q = Values(1100 + i, n + offset);
            ReadOnlySpan<float> zs = z.AsSpan(offset), ps = p.AsSpan(offset), qs = q.AsSpan(offset);
            RowOps.DifferenceDotAndNorm(zs, ps, qs, out double zu, out double uu);
            var reflected = new float[n];
            RowOps.ReflectAcrossDifference(zs, ps, qs, zu, uu, reflected);
            return [zu, uu, .. Widen(reflected)];
        });
    }

    /// <summary>
    /// Layer norm and the sinusoidal time embedding, checked against their definitions in double precision (rounding to
    /// float once: 1e-6 absolute + relative is ~16 float ulps). The layer norm's statistics and normalization are the
    /// group norm's (a one-position group), whose bits <see cref="GroupNormCheck"/> compares across paths; the time
    /// embedding is scalar on every path.
    /// </summary>
    private static KernelCheck NormsCheck()
    {
        var labels = new List<string>();
        labels.AddRange(NormWidths.Select(n => $"layer norm n={n}"));
        labels.AddRange(EmbeddingDims.Select(n => $"time embedding dim={n}"));
        return new KernelCheck(Norms, new Tolerance(1e-6, 1e-6), labels, i => NormsCase(i, reference: false), i => NormsCase(i, reference: true));
    }

    private static readonly int[] NormWidths = [1, 2, 3, 8, 17, 32, 64, 129];

    private static readonly int[] EmbeddingDims = [4, 6, 16, 32, 64];

    /// <summary>
    /// <see cref="GroupNorm.Apply"/>: groups whose width is and is not a multiple of 8 (the vector and the lane-by-lane
    /// statistics), with FiLM scale and shift, shift only, a residual, and in place; 1 to 16 positions.
    /// </summary>
    private static KernelCheck GroupNormCheck()
    {
        (int Length, int Channels, int Groups, int Mode)[] shapes =
        [
            (16, 256, 8, 0), (4, 1024, 8, 1), (8, 512, 8, 2), (16, 32, 4, 3), (1, 8, 1, 0), (3, 24, 2, 1), (5, 12, 4, 2),
            (2, 3, 3, 3), (7, 48, 8, 0), (16, 64, 8, 1), (9, 40, 5, 2),
        ];
        string[] labels = [.. shapes.Select(s => $"{s.Length} positions x {s.Channels} channels, {s.Groups} groups, {(s.Mode switch { 0 => "FiLM scale+shift", 1 => "FiLM shift", 2 => "residual", _ => "norm + Mish only" })}")];
        return KernelCheck.SamePath(GroupNorms, Tolerance.Exact, labels, i =>
        {
            (int length, int channels, int groups, int mode) = shapes[i];
            int ld = channels + (i % 3), seed = 1500 + (10 * i);
            float[] x = Values(seed, length * ld, 4), gamma = Values(seed + 1, channels), beta = Values(seed + 2, channels);
            float[] scale = Values(seed + 3, channels, 2), shift = Values(seed + 4, channels), residual = Values(seed + 5, length * ld);
            int width = channels / groups;
            for (int g = 0; g < groups; g++)
            {
                GroupNorm.Apply(
                    x, ld, x, ld, length, g * width, width, gamma, beta, 1e-5, Activation.Mish,
                    mode == 0 ? scale : default, mode is 0 or 1 ? shift : default, mode == 2 ? residual : default, ld);
            }

            return Widen(x);
        });
    }

    private static double[] NormsCase(int i, bool reference)
    {
        int[] widths = NormWidths;
        if (i < widths.Length)
        {
            int n = widths[i];
            float[] x = Values(1200 + i, n, 5), w = Values(1300 + i, n), b = Values(1400 + i, n);
            if (!reference)
            {
                var y = new float[n];
                RowNorm.LayerNorm(x, w, b, 1e-5, y);
                return Widen(y);
            }

            double mean = x.Average(v => (double)v), variance = x.Average(v => (v - mean) * (v - mean));
            return [.. x.Select((v, j) => ((v - mean) / Math.Sqrt(variance + 1e-5) * w[j]) + b[j])];
        }

        int dim = EmbeddingDims[i - widths.Length];
        int half = dim / 2;
        float[] timesteps = [0f, 1f, 37f, 999f];
        var result = new List<double>();
        foreach (float t in timesteps)
        {
            if (!reference)
            {
                var e = new float[dim];
                RowNorm.SinusoidalEmbedding(t, RowNorm.SinusoidalFrequencies(dim, 10000, 1), 1f, flipSinToCos: false, e);
                result.AddRange(Widen(e));
                continue;
            }

            // diffusers' get_timestep_embedding in float32: the frequency and the argument are floats, sin/cos exact.
            var cos = new double[half];
            for (int j = 0; j < half; j++)
            {
                float freq = (float)Math.Exp(-Math.Log(10000) * j / (half - 1.0));
                float arg = t * freq;
                result.Add(Math.Sin(arg));
                cos[j] = Math.Cos(arg);
            }

            result.AddRange(cos);
        }

        return [.. result];
    }
}
