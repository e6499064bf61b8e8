using Asd.Native.Backends.Mlp;
using Asd.Native.Denoising;
using Asd.Native.Models;
using Asd.Native.Threading;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;

namespace Asd.Bench;

/// <summary>
/// One forward pass of the pinned network (models/mlp_bench: input [x 32, time embedding 128, cond 4] = 164,
/// Linear 164-512-512-512-32 with SiLU between) for a batch of rows: the native MLP (Asd.Simd GEMM on the core pool)
/// against ONNX Runtime CPU running the same weights (exported by tools/export_mlp_onnx.py) with the same thread count.
/// FLOPs = 2 * Batch * 624,640 (= 2 sum(in * out)). <see cref="Weights"/> float16: models/mlp_bench_f16, the same
/// network with its parameters rounded to float16 (tools/make_mlp_models.py): the engine packs and streams them as
/// float16 (widened in the GEMM, as builtin:policy runs), ONNX Runtime computes in float32 on the same values.
/// </summary>
[MemoryDiagnoser]
public class MlpForwardBenchmarks
{
    private MlpModel _model = null!;
    private MlpDenoiser _denoiser = null!;
    private CorePool? _pool;
    private float[] _x = [], _cond = [], _out = [];
    private int[] _t = [];
    private InferenceSession _session = null!;
    private OrtIoBinding _binding = null!;
    private RunOptions _runOptions = null!;
    private OrtValue[] _ortValues = [];
    private long[] _tLong = [];

    [Params(1, 4, 8, 16, 32)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params("float32", "float16")]
    public string Weights { get; set; } = "float32";

    private string ModelName => Weights == "float16" ? "mlp_bench_f16" : "mlp_bench";

    internal static string ModelPath(string file) => Path.Combine(AppContext.BaseDirectory, "models", file);

    [GlobalSetup]
    public void Setup()
    {
        _model = MlpModel.Load(ModelPath(ModelName + ".json"));
        _model.HalfWeights = Weights == "float16" ? HalfPacking.Always : HalfPacking.ByMachine;
        if (_model.WeightPrecisionFor(Threads) != (Weights == "float16" ? "float16" : "float32"))
        {
            throw new InvalidOperationException($"{ModelName}: the engine packed {_model.WeightPrecisionFor(Threads)} weights, not {Weights}");
        }

        if (Environment.GetEnvironmentVariable("ASD_ROW_SPLIT") is { Length: > 0 } split)
        {
            // Development only (loop-mlp, quick-mlp): the row count from which calls give each thread whole rows.
            _model.RowSplitRows = split == "off" ? int.MaxValue : int.Parse(split, System.Globalization.CultureInfo.InvariantCulture);
        }

        _pool = Threads > 1 ? new CorePool(Threads) : null;
        _denoiser = _model.CreateDenoiser(64, _pool);
        var rng = new Random(1);
        _x = [.. Enumerable.Range(0, Batch * 32).Select(_ => (float)rng.NextDouble() - 0.5f)];
        _cond = [.. Enumerable.Range(0, Batch * 4).Select(_ => (float)rng.NextDouble())];
        _t = [.. Enumerable.Range(0, Batch).Select(_ => rng.Next(1000))];
        _tLong = [.. _t.Select(v => (long)v)];
        _out = new float[Batch * 32];

        var options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(ModelPath(ModelName + ".onnx"), options);
        _runOptions = new RunOptions();
        _binding = _session.CreateIoBinding();
        _ortValues =
        [
            OrtValue.CreateTensorValueFromMemory(_x, [Batch, 32]),
            OrtValue.CreateTensorValueFromMemory(_tLong, [Batch]),
            OrtValue.CreateTensorValueFromMemory(_cond, [Batch, 4]),
            OrtValue.CreateTensorValueFromMemory(new float[Batch * 32], [Batch, 32]),
        ];
        _binding.BindInput("sample", _ortValues[0]);
        _binding.BindInput("timestep", _ortValues[1]);
        _binding.BindInput("cond", _ortValues[2]);
        _binding.BindOutput("out", _ortValues[3]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _binding.Dispose();
        foreach (OrtValue v in _ortValues)
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
        _pool?.Dispose();
        _model.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float OnnxRuntime()
    {
        _session.RunWithBinding(_runOptions, _binding);
        return 0;
    }

    [Benchmark]
    public float Asd()
    {
        _denoiser.Denoise(_x, _t, _cond, _out);
        return _out[0];
    }
}
