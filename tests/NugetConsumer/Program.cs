// Uses the asd engine from its NuGet package: samples the built-in mixture with ASD and DDPM and checks what
// a user would check. Exit code 0 when everything holds.
using Asd.Native.Models;
using Asd.Native.Sampling;

using var model = ModelCatalog.Open("builtin:mixture?dim=32");
var request = new SamplerRequest { Steps = 100, SpecLength = SpecLength.Fixed(8) };
Sampler asd = SamplerFactory.Create(model, request);
Sampler ddpm = SamplerFactory.Create(model, request with { Kind = SamplerKind.Ddpm });

var x = new float[16 * 32];
SamplingStats stats = asd.Sample(16, seed: 7, x);
Console.WriteLine(stats);
Console.WriteLine(stats.ToJson(indented: false));

var again = new float[16 * 32];
asd.Sample(16, seed: 7, again);
var y = new float[16 * 32];
SamplingStats ddpmStats = ddpm.Sample(16, seed: 7, y);
Console.WriteLine(ddpmStats);

int failures = 0;
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")}  {what}");
    failures += ok ? 0 : 1;
}

Check(x.AsSpan().SequenceEqual(again), "the same seed gives the same samples");
Check(stats.AlgorithmicSpeedup > 2, $"ASD needs fewer sequential model calls than DDPM ({stats.AlgorithmicSpeedup:F2}x)");
Check(ddpmStats.SequentialModelCalls == 100, "DDPM makes K sequential model calls");
Check(x.All(float.IsFinite), "all samples are finite");
return failures == 0 ? 0 : 1;
