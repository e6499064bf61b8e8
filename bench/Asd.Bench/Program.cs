using BenchmarkDotNet.Running;

namespace Asd.Bench;

/// <summary>BenchmarkDotNet entry point: <c>dotnet run -c Release --project bench/Asd.Bench -- --filter '*Sampler*'</c>.</summary>
public static class Program
{
    /// <summary>
    /// The quick hand-rolled measurements, named by the first argument (they bypass BenchmarkDotNet); each gets the
    /// whole argument list.
    /// </summary>
    private static readonly Dictionary<string, Action<string[]>> QuickRuns = new(StringComparer.Ordinal)
    {
        ["quick-act"] = _ => QuickAct.Run(),
        ["loop-mlp"] = LoopMlp.Run,
        ["quick-onnx-shapes"] = QuickOnnxShapes.Run,
        ["quick-onnx-calls"] = QuickOnnxCalls.Run,
        ["quick-onnx-after"] = QuickOnnxAfter.Run,
        ["quick-pool"] = _ => QuickPool.Run(),
        ["cost-curve"] = _ => CostCurveReport.Run(),
        ["quick-stream"] = _ => QuickStream.Run(),
        ["quick-policy-half"] = _ => QuickPolicyHalf.Run(),
        ["quick-mlp"] = _ => QuickMlp.Run(),
        ["loop-policy"] = QuickPolicyHalf.Loop,
        ["first-calls"] = _ => QuickPolicyHalf.FirstCalls(),
        ["quick-layernorm"] = _ => QuickPolicyHalf.LayerNormRow(),
        ["quick-unet"] = QuickUnet.Run,
        ["quick-bw"] = QuickBandwidth.Run,
        ["quick-m4"] = QuickM4.Run,
        ["quick-gemm"] = _ => QuickGemm.Run(),
        ["quick-convgemm"] = QuickConvGemm.Run,
        ["quick-split"] = QuickConvGemm.Split,
        ["quick-sampling-calls"] = QuickSamplingCalls.Run,
        ["quick-halves"] = QuickHalves.Run,
        ["quick-widen"] = QuickWiden.Run,
        ["quick-acceptance"] = QuickAcceptance.Run,
        ["quick-auto-curve"] = QuickAutoCurve.Run,
        ["quick-auto-ddpm"] = QuickAutoDdpm.Run,
    };

    public static void Main(string[] args)
    {
        if (args.Length > 0 && QuickRuns.TryGetValue(args[0], out Action<string[]>? run))
        {
            run(args);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
