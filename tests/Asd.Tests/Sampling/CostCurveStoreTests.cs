namespace Asd.Tests.Sampling;

/// <summary>
/// The remembered cost curve (issue 16): saved per key in a cache folder, reused by a later "process" (a new model
/// object), re-measured on request, and a corrupt or foreign file ignored with a warning. Each test uses its own
/// folder; warnings are captured (one test class, so its tests never run at once).
/// </summary>
public sealed class CostCurveStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-store-").FullName;
    private readonly List<string> _warnings = [];
    private readonly Action<string> _previousWarn = CostCurveStore.Warn;

    public CostCurveStoreTests()
    {
        CostCurveStore.Warn = m =>
        {
            lock (_warnings)
            {
                _warnings.Add(m);
            }
        };
    }

    public void Dispose()
    {
        CostCurveStore.Warn = _previousWarn;
        Directory.Delete(_dir, recursive: true);
    }

    private static CostCurveKey Key(IDiffusionModel model, int threads = 1)
    {
        var schedule = new DiffusionSchedule(model.DefaultScheduler);
        IDenoiser denoiser = model.CreateDenoiser(schedule, new DenoiserOptions());
        return CostCurveKey.For(model, denoiser, threads, guided: false, rows: 16, device: "cpu");
    }

    [Fact]
    public void KeyFollowsTheModelsContentNotTheObject()
    {
        using IDiffusionModel a = ModelCatalog.Open("builtin:mixture"), b = ModelCatalog.Open("builtin:mixture");
        using IDiffusionModel c = ModelCatalog.Open("builtin:mixture?dim=4");
        Assert.Equal(Key(a), Key(b));
        Assert.NotEqual(Key(a).ModelHash, Key(c).ModelHash);
        Assert.NotEqual(Key(a).FileName, Key(a, threads: 2).FileName);

        // Same name and shapes, different parameters: a different content hash.
        var m1 = new MixtureModel(GaussianMixture.Builtin(2), "same-name");
        var m2 = new MixtureModel(new GaussianMixture([0.5, 0.5], [1.0, 1, -1, -2], [0.05, 0.05]), "same-name");
        Assert.NotEqual(Key(m1).ModelHash, Key(m2).ModelHash);
    }

    [Fact]
    public void ACurveIsRememberedAcrossModelObjectsAndRemeasuredOnRequest()
    {
        var store = new CostCurveStore(_dir);
        int measured = 0;
        CostCurve Measure()
        {
            measured++;
            return new CostCurve([1e-4, 1.2e-4 + (measured * 1e-6)], "m") { Learns = true };
        }

        // Two model objects stand for two processes: the in-memory cache is per object, the store is shared.
        using IDiffusionModel first = ModelCatalog.Open("builtin:mixture"), second = ModelCatalog.Open("builtin:mixture");
        CostCurve a = CostCurveCache.GetOrMeasure(first, 1, false, Measure, () => Key(first), store: store);
        Assert.Equal(1, measured);
        Assert.True(File.Exists(store.PathOf(Key(first))));
        CostCurve b = CostCurveCache.GetOrMeasure(second, 1, false, Measure, () => Key(second), store: store);
        Assert.Equal(1, measured);
        Assert.Equal(a.Seconds(2), b.Seconds(2), 15);
        Assert.True(b.Learns, "a remembered curve is the engine's own: it keeps learning");
        Assert.True(b.Remembered, "read from the store: its first run is not timed");
        Assert.False(a.Remembered, "measured in this process");

        CostCurve c = CostCurveCache.GetOrMeasure(second, 1, false, Measure, () => Key(second), refresh: true, store: store);
        Assert.Equal(2, measured);
        Assert.NotEqual(a.Seconds(2), c.Seconds(2));
        Assert.Single(store.List().Curves);
        Assert.Empty(_warnings);
    }

    [Fact]
    public void ACorruptOrForeignFileIsIgnoredWithAWarning()
    {
        var store = new CostCurveStore(_dir);
        using IDiffusionModel model = ModelCatalog.Open("builtin:mixture");
        CostCurveKey key = Key(model);
        Directory.CreateDirectory(store.Directory);

        foreach (string bad in (string[])["{", "[]", "{\"format\": \"asd-cost-curve-cache\", \"version\": 1}", "{\"format\": \"asd-cost-curve\", \"seconds\": [1]}", "\0\0\0"])
        {
            File.WriteAllText(store.PathOf(key), bad);
            Assert.Null(store.TryLoad(key));
        }

        Assert.Equal(5, _warnings.Count);
        Assert.All(_warnings, w => Assert.Contains("ignoring the remembered cost curve", w, StringComparison.Ordinal));

        // A valid file saved for another key (another thread count), copied under this key's name: foreign.
        CostCurveKey other = key with { Threads = 7 };
        store.Save(other, new CostCurve([1.0, 1.0]) { Learns = true });
        File.Copy(store.PathOf(other), store.PathOf(key), overwrite: true);
        _warnings.Clear();
        Assert.Null(store.TryLoad(key));
        Assert.Contains("another model or machine", Assert.Single(_warnings), StringComparison.Ordinal);

        // And GetOrMeasure then measures (never trusts it), replacing the file.
        int measured = 0;
        CostCurve got = CostCurveCache.GetOrMeasure(model, 1, false, () => { measured++; return new CostCurve([2e-4, 3e-4]) { Learns = true }; }, () => key, store: store);
        Assert.Equal(1, measured);
        Assert.Equal(2e-4, got.Seconds(1), 15);
        Assert.NotNull(store.TryLoad(key));

        // The listing names unreadable files instead of failing.
        File.WriteAllText(Path.Combine(store.Directory, "junk.json"), "not json");
        (IReadOnlyList<StoredCostCurve> curves, IReadOnlyList<(string Path, string Why)> unreadable) = store.List();
        Assert.Equal(2, curves.Count);
        Assert.Single(unreadable);
    }
}
