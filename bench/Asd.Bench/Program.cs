using BenchmarkDotNet.Running;

namespace Asd.Bench;

/// <summary>BenchmarkDotNet entry point: <c>dotnet run -c Release --project bench/Asd.Bench -- --filter '*Sampler*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "quick-act")
        {
            QuickAct.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "loop-mlp")
        {
            LoopMlp.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick-onnx-shapes")
        {
            QuickOnnxShapes.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick-onnx-calls")
        {
            QuickOnnxCalls.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick-onnx-after")
        {
            QuickOnnxAfter.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick-pool")
        {
            QuickPool.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "cost-curve")
        {
            CostCurveReport.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "quick-stream")
        {
            QuickStream.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "quick-policy-half")
        {
            QuickPolicyHalf.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "quick-mlp")
        {
            QuickMlp.Run();
            return;
        }

        if (args.Length > 0 && args[0] == "quick-unet")
        {
            QuickUnet.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick-gemm")
        {
            QuickGemm.Run();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
