using System.Runtime.InteropServices;
using Asd.Simd;

namespace Asd.Cli.Commands;

/// <summary><c>asd info</c>: what this build and machine will run.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter stdout)
    {
        var command = new Command("info", "Show the CPU features and the kernel path this build runs.");
        command.SetAction(_ =>
        {
            stdout.WriteLine($"asd {BuildInfo.Version}");
            bool aot = !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;
            stdout.WriteLine($"build      {(aot ? $"Native AOT, instruction set {BuildInfo.IsaLevel}" : "JIT (./asd, dotnet run or dotnet asd.dll): kernels compiled for this CPU at start")}, {RuntimeInformation.RuntimeIdentifier}, ONNX Runtime package: {OnnxRuntimeInfo.Package}");
            stdout.WriteLine($"runtime    {RuntimeInformation.FrameworkDescription} {RuntimeInformation.ProcessArchitecture}");
            stdout.WriteLine($"machine    {Bench.BenchOutput.DescribeMachine()}");
            stdout.WriteLine($"cpu        {string.Join(" ", CpuFeatures())}");
            stdout.WriteLine($"kernels    {Isa.Name(Isa.Active)} (supported: {string.Join(", ", Array.ConvertAll(Isa.Supported(), Isa.Name))}; preference {string.Join(" > ", Isa.PreferenceOrder.ToArray().Select(Isa.Name))}; force with {Isa.ForceVariable})");
            foreach (KernelChoice k in KernelRegistry.Describe())
            {
                stdout.WriteLine($"  {k.Operation,-44} {Isa.Name(k.Path),-9} {k.Implementation}");
            }

            stdout.WriteLine($"rng        {Asd.Simd.Random.CounterRng.SchemeName}, version {Asd.Simd.Random.CounterRng.SchemeVersion}");
            (string? version, IReadOnlyList<string> providers, string? error) = OnnxRuntimeInfo.Probe();
            stdout.WriteLine(error is null ? $"onnxruntime {version}, providers: {string.Join(", ", providers)}" : $"onnxruntime unavailable: {error}");
            stdout.WriteLine($"models     {string.Join(", ", ModelCatalog.BuiltinNames)} (built in), ONNX folders or .onnx files, asd-mlp .json");
            WriteRememberedCurves(stdout);
            return 0;
        });
        return command;
    }

    /// <summary>The cost curves remembered for auto (CostCurveStore): where, and one line per curve.</summary>
    private static void WriteRememberedCurves(TextWriter stdout)
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        if (Asd.Native.Sampling.CostCurveStore.FromEnvironment() is not { } store)
        {
            stdout.WriteLine($"curves     not remembered ({Asd.Native.Sampling.CostCurveStore.DisableVariable} is set, or no cache folder)");
            return;
        }

        (IReadOnlyList<Asd.Native.Sampling.StoredCostCurve> curves, IReadOnlyList<(string Path, string Why)> unreadable) = store.List();
        stdout.WriteLine($"curves     {curves.Count} remembered cost curve(s) in {store.Directory} (asd sample --recalibrate measures again)");
        foreach (Asd.Native.Sampling.StoredCostCurve c in curves)
        {
            var curve = c.Curve;
            string ratios = string.Join(" ", new[] { 2, 4, 8, 16 }.Where(b => b <= curve.MaxRows).Select(b => string.Create(ci, $"{b}:{curve.Ratio(b):F2}")));
            stdout.WriteLine(string.Create(ci, $"  {c.Key.Model}  {c.Key.Device}, {c.Key.Threads} thread(s){(c.Key.Guided ? ", guided" : "")}  T(1) = {curve.Seconds(1) * 1e3:F3} ms  T(B)/T(1) {ratios}  noise {curve.Noise:P0}  saved {c.Saved:yyyy-MM-dd HH:mm}Z  model {c.Key.ModelHash[..12]}"));
        }

        foreach ((string path, string why) in unreadable)
        {
            stdout.WriteLine($"  unreadable (ignored): {path}: {why}");
        }
    }

    private static IEnumerable<string> CpuFeatures()
    {
        (string Name, bool On)[] features =
        [
            ("sse4.2", System.Runtime.Intrinsics.X86.Sse42.IsSupported),
            ("avx2", System.Runtime.Intrinsics.X86.Avx2.IsSupported),
            ("fma", System.Runtime.Intrinsics.X86.Fma.IsSupported),
            ("avx512f", System.Runtime.Intrinsics.X86.Avx512F.IsSupported),
            ("avx512bw", System.Runtime.Intrinsics.X86.Avx512BW.IsSupported),
            ("avx512-accelerated", System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated),
            ("advsimd", System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported),
        ];
        return features.Where(f => f.On).Select(f => f.Name).DefaultIfEmpty("(no SIMD extensions)");
    }
}
