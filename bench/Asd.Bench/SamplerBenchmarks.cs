using Asd.Native.Models;
using Asd.Native.Sampling;
using BenchmarkDotNet.Attributes;

namespace Asd.Bench;

/// <summary>
/// Whole sampling runs on builtin:mixture?dim=32 (K = 100). The sampler is built once, so the Allocated column is
/// what a run costs after the first: it must be 0 B, i.e. nothing per round or per step.
/// </summary>
[MemoryDiagnoser]
public class SamplerBenchmarks
{
    private Sampler _ddpm = null!;
    private Sampler _asd8 = null!;
    private Sampler _asdInf = null!;
    private float[] _output = [];

    [Params(1, 16)]
    public int Chains { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var model = ModelCatalog.Open("builtin:mixture?dim=32");
        _ddpm = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Ddpm, Steps = 100, Threads = 1 });
        _asd8 = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 100, Threads = 1, SpecLength = SpecLength.Fixed(8) });
        _asdInf = SamplerFactory.Create(model, new SamplerRequest { Kind = SamplerKind.Asd, Steps = 100, Threads = 1, SpecLength = SpecLength.Unbounded });
        _output = new float[Chains * 32];
    }

    [Benchmark(Baseline = true)]
    public double Ddpm() => _ddpm.Sample(Chains, 1, _output).SequentialModelCalls;

    [Benchmark]
    public double AsdL8() => _asd8.Sample(Chains, 1, _output).SequentialModelCalls;

    [Benchmark]
    public double AsdUnbounded() => _asdInf.Sample(Chains, 1, _output).SequentialModelCalls;
}
