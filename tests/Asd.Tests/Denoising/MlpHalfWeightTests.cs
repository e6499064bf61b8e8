using Asd.Tests.Simd;

namespace Asd.Tests.Denoising;

/// <summary>
/// builtin:policy ships float16 weights; the MLP keeps them float16 in the packed GEMM (half the weight bytes per call)
/// and, since widening float16 to float32 is exact, gives the bits of float32 packing on every ISA path.
/// </summary>
[Collection(IsaCollection.Name)]
public sealed class MlpHalfWeightTests
{
    public static TheoryData<IsaPath> Paths => GemmTests.Paths;

    [Theory]
    [MemberData(nameof(Paths))]
    public void PolicyWithFloat16WeightsGivesTheBitsOfFloat32Packing(IsaPath path)
    {
        using ForcedIsa forced = ForcedIsa.On(path);
        using MlpModel half = ModelCatalog.OpenPolicy();
        using MlpModel full = ModelCatalog.OpenPolicy();
        full.KeepHalfWeights = false;
        Assert.All(half.PackedFor(path).Values, w => Assert.True(w.HalfWeights));
        Assert.All(full.PackedFor(path).Values, w => Assert.False(w.HalfWeights));
        var schedule = new DiffusionSchedule(half.DefaultScheduler);
        IDenoiser a = half.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 9 });
        IDenoiser b = full.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 9 });
        var rng = new Random(17);
        foreach (int rows in (int[])[1, 3, 8, 9])
        {
            float[] x = [.. Enumerable.Range(0, rows * a.SampleSize).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
            float[] c = [.. Enumerable.Range(0, rows * a.ConditionSize).Select(_ => (float)rng.NextDouble())];
            int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(half.DefaultScheduler.NumTrainTimesteps))];
            var ya = new float[rows * a.SampleSize];
            var yb = new float[rows * a.SampleSize];
            a.Denoise(x, t, c, ya);
            b.Denoise(x, t, c, yb);
            Assert.True(ya.AsSpan().SequenceEqual(yb), $"{path}, {rows} rows: float16 packing changed the bits");
        }
    }

    [Fact]
    public void OnlyExactFloat16ValuesArePackedAsFloat16()
    {
        Assert.NotNull(MlpModel.HalfBits([0f, -0f, 1.5f, 65504f, 5.9604645e-8f]));
        Assert.Null(MlpModel.HalfBits([0.1f]));
        Assert.Null(MlpModel.HalfBits([1e6f]));
        Assert.Null(MlpModel.HalfBits([float.NaN]));
    }
}
