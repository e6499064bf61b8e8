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
        half.HalfWeights = HalfPacking.Always;
        full.HalfWeights = HalfPacking.Never;
        Assert.All(half.PackedFor(path).Values, w => Assert.True(w.HalfWeights));
        Assert.All(full.PackedFor(path).Values, w => Assert.False(w.HalfWeights));
        var schedule = new DiffusionSchedule(half.DefaultScheduler);
        IDenoiser a = half.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 9 });
        IDenoiser b = full.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 9 });
        AssertSameBits(a, b, half.DefaultScheduler.NumTrainTimesteps, seed: 17, [1, 3, 8, 9], $"{path}: float16 packing changed the bits");
    }

    /// <summary>Both denoisers on the same random rows (uniform in [-2, 2), conditions in [0, 1)) give the same bits.</summary>
    private static void AssertSameBits(IDenoiser a, IDenoiser b, int trainSteps, int seed, int[] sizes, string what)
    {
        var rng = new Random(seed);
        foreach (int rows in sizes)
        {
            float[] x = [.. Enumerable.Range(0, rows * a.SampleSize).Select(_ => (float)((rng.NextDouble() * 4) - 2))];
            float[] c = [.. Enumerable.Range(0, rows * a.ConditionSize).Select(_ => (float)rng.NextDouble())];
            int[] t = [.. Enumerable.Range(0, rows).Select(_ => rng.Next(trainSteps))];
            var ya = new float[rows * a.SampleSize];
            var yb = new float[rows * a.SampleSize];
            a.Denoise(x, t, c, ya);
            b.Denoise(x, t, c, yb);
            Assert.True(ya.AsSpan().SequenceEqual(yb), $"{what} ({rows} rows)");
        }
    }

    /// <summary>
    /// The packing rule (WeightPacking.HalfPays), from the measurements in its comment: float32 only on AVX2 with 2+ threads
    /// and a float32 copy within half the last-level cache; float16 wherever else, and where the cache is unknown.
    /// </summary>
    [Theory]
    [InlineData(IsaPath.Avx2, 2, 10_000_000L, 32L << 20, false)]
    [InlineData(IsaPath.Avx2, 16, 10_000_000L, 32L << 20, false)]
    [InlineData(IsaPath.Avx2, 1, 10_000_000L, 32L << 20, true)]
    [InlineData(IsaPath.Avx2, 2, 20_000_000L, 32L << 20, true)]
    [InlineData(IsaPath.Avx2, 2, 10_000_000L, 0L, true)]
    [InlineData(IsaPath.Avx512, 2, 10_000_000L, 32L << 20, true)]
    [InlineData(IsaPath.Neon, 2, 10_000_000L, 32L << 20, true)]
    [InlineData(IsaPath.Scalar, 2, 10_000_000L, 32L << 20, true)]
    public void Float16PackingIsKeptExceptOnAvx2WithThreadsAndRoomInTheCache(IsaPath path, int threads, long floatBytes, long cache, bool half) =>
        Assert.Equal(half, WeightPacking.HalfPays(path, threads, floatBytes, cache));

    /// <summary>
    /// The rule reaches the denoiser: a pool's thread count picks the packing (on this machine's AVX2 path, if it has
    /// one, with its real cache size), and the two packings give the same bits whatever was picked.
    /// </summary>
    [Fact]
    public void ThePoolsThreadCountPicksThePackingAndTheBitsStayTheSame()
    {
        IsaPath path = Isa.IsSupported(IsaPath.Avx2) ? IsaPath.Avx2 : Isa.Active;
        using ForcedIsa forced = ForcedIsa.On(path);
        using MlpModel model = ModelCatalog.OpenPolicy();
        using var pool = new CorePool(2);
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        var one = (MlpDenoiser)model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 8 });
        var two = (MlpDenoiser)model.CreateDenoiser(schedule, new DenoiserOptions { MaxBatchRows = 8, Pool = pool });
        long floatBytes = model.AllLinears().Sum(l => 4L * l.InWidth * l.OutWidth);
        Assert.True(one.ReadsHalfWeights);
        Assert.Equal(WeightPacking.HalfPays(path, 2, floatBytes, MachineLimits.LastLevelCacheBytes), two.ReadsHalfWeights);
        Assert.Equal(two.ReadsHalfWeights ? "float16" : "float32", model.WeightPrecisionFor(2));
        Assert.Equal(floatBytes / (two.ReadsHalfWeights ? 2 : 1), model.StreamedWeightBytesFor(2));
        AssertSameBits(one, two, model.DefaultScheduler.NumTrainTimesteps, seed: 5, [1, 4, 8], $"{path}: 1 and 2 threads gave different bits");
    }

    /// <summary>The last-level cache as sysfs lists it, and every malformed entry read as unknown (0), never an exception.</summary>
    [Fact]
    public void TheLastLevelCacheIsReadFromSysfsAndMalformedEntriesAreUnknown()
    {
        string dir = Directory.CreateTempSubdirectory("asd-cache-").FullName;
        try
        {
            void Entry(int i, string level, string size)
            {
                string index = Path.Combine(dir, $"index{i}");
                Directory.CreateDirectory(index);
                File.WriteAllText(Path.Combine(index, "level"), level + "\n");
                File.WriteAllText(Path.Combine(index, "size"), size + "\n");
            }

            Entry(0, "1", "32K");
            Entry(1, "2", "512K");
            Entry(2, "3", "32768K");
            Assert.Equal(32L << 20, MachineLimits.ReadLastLevelCache(dir));
            Entry(2, "3", "garbage");
            Assert.Equal(512L << 10, MachineLimits.ReadLastLevelCache(dir));
            Assert.Equal(0, MachineLimits.ReadLastLevelCache(Path.Combine(dir, "missing")));
            foreach (string bad in (string[])["", "K", "-5K", "5.5M", "99999999999G", "1e9", " 12K", "12KB", "\u0661\u0662K"])
            {
                Assert.Equal(0, MachineLimits.ParseSize(bad));
            }

            Assert.Equal(3L << 30, MachineLimits.ParseSize("3G"));
            Assert.Equal(8L << 20, MachineLimits.ParseSize("8m"));
            Assert.Equal(4096, MachineLimits.ParseSize("4096"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
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
