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
        return CostCurveKey.For(model, denoiser, model.DefaultScheduler.NumTrainTimesteps, threads, guided: false, rows: 16, device: "cpu");
    }

    [Fact]
    public void AModelRunOnAnotherSchedulesTrainingStepsIsProbedWithinThem()
    {
        // builtin:mixture with 10 training steps (--train-steps 10): its denoiser knows timesteps 0..9 only, and the
        // analytic models refuse any other, so the key's probe must lie within them. It took the model's default
        // (1000) and asked for timestep 333: every such run with a store failed ("Row 0 has timestep 333").
        using IDiffusionModel model = ModelCatalog.Open("builtin:mixture");
        IDenoiser denoiser = model.CreateDenoiser(new DiffusionSchedule(model.DefaultScheduler with { NumTrainTimesteps = 10 }), new DenoiserOptions());
        CostCurveKey key = CostCurveKey.For(model, denoiser, 10, 1, guided: false, rows: 16, device: "cpu");
        Assert.Equal(key, CostCurveKey.For(model, denoiser, 10, 1, guided: false, rows: 16, device: "cpu"));
        Assert.NotEqual(Key(model).ModelHash, key.ModelHash); // another schedule: another answer to the probe
        Assert.Equal("trainSteps", Assert.Throws<ArgumentOutOfRangeException>(() => CostCurveKey.For(model, denoiser, 0, 1, false, 16, "cpu")).ParamName);
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

        // The listing names unreadable files instead of failing, in file-name order (asd info's), and leaves out what
        // is not a store file: a writer's leftover temporary file (Save's NAME.json.PID-N.tmp) is neither.
        File.WriteAllText(Path.Combine(store.Directory, "junk.json"), "not json");
        File.WriteAllText(Path.Combine(store.Directory, "0000.json.123-1.tmp"), "half a file");
        foreach (char c in "qwertyuiop") // more names than a directory's own order keeps sorted by chance
        {
            File.Copy(store.PathOf(key), Path.Combine(store.Directory, $"{c}.json"));
        }

        (IReadOnlyList<StoredCostCurve> curves, IReadOnlyList<(string Path, string Why)> unreadable) = store.List();
        Assert.Equal(12, curves.Count);
        Assert.Equal(Path.Combine(store.Directory, "junk.json"), Assert.Single(unreadable).Path);
        Assert.Equal([.. curves.Select(c => c.Path).Order(StringComparer.Ordinal)], curves.Select(c => c.Path));
    }

    /// <summary>
    /// Every field of a key is written and read back (a guided run's file read back as unguided would never match its
    /// key, so guided runs would calibrate every time), and each one changes the file name.
    /// </summary>
    [Fact]
    public void EveryFieldOfAKeySurvivesTheRoundTripAndNamesItsFile()
    {
        var store = new CostCurveStore(_dir);
        var key = new CostCurveKey("m", "h", "cuda", 3, true, 7, "cpu x", "build y");
        var curve = new CostCurve([1e-3, 1.5e-3, 2e-3]) { Learns = true };
        store.Save(key, curve);
        StoredCostCurve read = CostCurveStore.Read(store.PathOf(key));
        Assert.Equal(key, read.Key);
        Assert.Equal(curve.Seconds(3), read.Curve.Seconds(3), 15);
        Assert.InRange((DateTime.UtcNow - read.Saved).TotalMinutes, -1, 10);
        Assert.Equal(DateTimeKind.Utc, read.Saved.Kind);
        Assert.NotNull(store.TryLoad(key));
        Assert.Contains("\"version\": 1", File.ReadAllText(store.PathOf(key)), StringComparison.Ordinal);

        CostCurveKey[] others = [key with { Model = "n" }, key with { ModelHash = "i" }, key with { Device = "cpu" }, key with { Threads = 4 },
            key with { Guided = false }, key with { Rows = 8 }, key with { Cpu = "cpu z" }, key with { Build = "build z" }];
        Assert.Equal(others.Length + 1, others.Select(k => k.FileName).Append(key.FileName).Distinct().Count());
        foreach (CostCurveKey other in others)
        {
            Assert.Null(store.TryLoad(other)); // no file under its name
            store.Save(other, curve);
            Assert.Equal(other, CostCurveStore.Read(store.PathOf(other)).Key);
        }

        Assert.Empty(_warnings);
    }

    /// <summary>A store file is read strictly: each malformed part is refused with a message naming it.</summary>
    [Fact]
    public void AMalformedStoreFileIsRefusedNamingThePart()
    {
        var store = new CostCurveStore(_dir);
        var key = new CostCurveKey("m", "h", "cpu", 2, false, 16, "c", "b");
        store.Save(key, new CostCurve([1e-3, 2e-3]) { Learns = true });
        string path = store.PathOf(key), good = File.ReadAllText(path);
        // Each edit of the file as written, and the words its refusal must contain.
        void Refused(Action<System.Text.Json.Nodes.JsonObject> edit, string expected)
        {
            var doc = System.Text.Json.Nodes.JsonNode.Parse(good)!.AsObject();
            edit(doc);
            File.WriteAllText(path, doc.ToJsonString());
            Assert.Contains(expected, Assert.Throws<InvalidDataException>(() => CostCurveStore.Read(path)).Message, StringComparison.Ordinal);
        }

        Refused(d => d.Remove("key"), "\"key\" is missing");
        Refused(d => d.Remove("curve"), "\"curve\" is missing");
        Refused(d => d["key"] = 5, "\"key\" must be an object");
        Refused(d => d["saved"] = "yesterday", "\"saved\" is not a date");
        Refused(d => d["version"] = 2, "version");
        Refused(d => d["format"] = "asd-cost-curve", "not a remembered asd cost curve");
        Refused(d => d["extra"] = 1, "unknown key 'extra'");
        Refused(d => d["key"]!["extra"] = 1, "unknown key 'key.extra'");
        Refused(d => d["key"]!["guided"] = "yes", "\"key.guided\" must be true or false");
        foreach (string field in (string[])["model", "model_hash", "device", "threads", "rows", "cpu", "build"])
        {
            Refused(d => d["key"]![field] = field is "threads" or "rows" ? "many" : 5, $"key.{field}");
        }

        Refused(d => d["key"]!["threads"] = 0, "key.threads");
        Refused(d => d["curve"] = 5, "(curve)");

        // The control: the file as written reads.
        File.WriteAllText(path, good);
        Assert.Equal(key, CostCurveStore.Read(path).Key);
    }

    /// <summary>Where the store lives: $ASD_CACHE_DIR, else $XDG_CACHE_HOME/asd (absolute only), else ~/.cache/asd; ASD_NO_CACHE=1/true/yes/on turns it off.</summary>
    [Theory]
    [InlineData(null, "/d", "/x", "/h", "/d/cost-curves")]
    [InlineData(null, "  ", "/x", "/h", "/x/asd/cost-curves")]
    [InlineData(null, null, "relative", "/h", "/h/.cache/asd/cost-curves")]
    [InlineData(null, null, " ", "/h", "/h/.cache/asd/cost-curves")]
    [InlineData(null, null, null, null, null)]
    [InlineData(null, null, null, " ", null)]
    [InlineData("1", "/d", "/x", "/h", null)]
    [InlineData(" TRUE ", "/d", "/x", "/h", null)]
    [InlineData("yes", "/d", "/x", "/h", null)]
    [InlineData("on", "/d", "/x", "/h", null)]
    [InlineData("0", "/d", "/x", "/h", "/d/cost-curves")]
    [InlineData("off", "/d", "/x", "/h", "/d/cost-curves")]
    [InlineData("", "/d", "/x", "/h", "/d/cost-curves")]
    [InlineData("maybe", "/d", "/x", "/h", "/d/cost-curves")]
    public void TheEnvironmentPicksTheStoreFolder(string? off, string? dir, string? xdg, string? home, string? expected)
    {
        var vars = new Dictionary<string, string?> { ["ASD_NO_CACHE"] = off, ["ASD_CACHE_DIR"] = dir, ["XDG_CACHE_HOME"] = xdg, ["HOME"] = home };
        Assert.Equal(expected, CostCurveStore.FromEnvironment(name => vars.GetValueOrDefault(name))?.Directory);

        // A value not understood is said (ASD_NO_CACHE=on had kept remembering without a word); the others are not.
        if (off == "maybe")
        {
            Assert.Equal("ASD_NO_CACHE=maybe: expected 1, true, yes or on to stop remembering cost curves (0, false, no or off keep it); remembering stays on.", Assert.Single(_warnings));
        }
        else
        {
            Assert.Empty(_warnings);
        }
    }

    /// <summary>A store that cannot be written or cleaned warns and goes on: remembering is an optimisation, never a failure.</summary>
    [Fact]
    public void AStoreThatCannotBeWrittenWarnsAndGoesOn()
    {
        File.WriteAllText(Path.Combine(_dir, "file"), "a file where the cache folder should be");
        var blocked = new CostCurveStore(Path.Combine(_dir, "file"));
        var key = new CostCurveKey("m", "h", "cpu", 1, false, 16, "c", "b");
        blocked.Save(key, new CostCurve([1e-3, 2e-3]) { Learns = true });
        Assert.Contains("could not remember the cost curve", Assert.Single(_warnings), StringComparison.Ordinal);
        Assert.Null(blocked.TryLoad(key));

        // A folder where the curve's file should be cannot be removed as a file.
        var store = new CostCurveStore(_dir);
        Directory.CreateDirectory(Path.Combine(store.PathOf(key), "inside"));
        _warnings.Clear();
        store.Save(key, new CostCurve([1e-3, 2e-3]) { Learns = true }); // written, then cannot be moved into place
        Assert.Contains("could not remember the cost curve", Assert.Single(_warnings), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(store.Directory, "*.tmp")); // the temporary file is cleaned up
        _warnings.Clear();
        store.Remove(key);
        Assert.Contains("could not remove", Assert.Single(_warnings), StringComparison.Ordinal);
        Assert.True(Directory.Exists(store.PathOf(key)));

        // The control: a file there is removed without a word.
        Directory.Delete(store.PathOf(key), recursive: true);
        store.Save(key, new CostCurve([1e-3, 2e-3]) { Learns = true });
        store.Remove(key);
        Assert.False(File.Exists(store.PathOf(key)));
        Assert.Single(_warnings);
        Assert.Empty(Directory.GetFiles(store.Directory, "*.tmp"));
    }

    /// <summary>The CPU and build parts of a key: the CPU's own model name, and the runtime, kernel path and platform.</summary>
    [Fact]
    public void TheKeyNamesThisCpuAndBuild()
    {
        string cpu = CostCurveKey.CpuModel();
        string? line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        if (line is not null)
        {
            Assert.StartsWith(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), cpu, StringComparison.Ordinal);
        }

        if (File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("cpu family", StringComparison.Ordinal)))
        {
            Assert.Contains("cpu family ", cpu, StringComparison.Ordinal);
        }

        Assert.False(string.IsNullOrWhiteSpace(cpu));
        Assert.DoesNotContain(":", cpu, StringComparison.Ordinal);
        string build = CostCurveKey.BuildFlavour();
        Assert.Contains(" jit ", build, StringComparison.Ordinal); // the tests run on the JIT
        Assert.Contains(Asd.Simd.Isa.Name(Asd.Simd.Isa.Active), build, StringComparison.Ordinal);
        Assert.EndsWith(System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, build, StringComparison.Ordinal);
        Assert.StartsWith(typeof(CostCurveKey).Assembly.GetName().Version!.ToString(), build, StringComparison.Ordinal);
    }
    /// <summary>
    /// CPUs that share a model name are told apart by their numbers: the project's VM read "AMD EPYC" on a Zen 3 and a
    /// Zen 4 whose curves differ, and a curve of one reused on the other is a wrong choice of L until corrected.
    /// </summary>
    [Fact]
    public void CpusSharingAModelNameHaveDifferentKeys()
    {
        static string[] X86(int model, int stepping) =>
        [
            "processor\t: 0", "vendor_id\t: AuthenticAMD", "cpu family\t: 25", $"model\t\t: {model}", "model name\t: AMD EPYC",
            $"stepping\t: {stepping}", "flags\t\t: fpu avx2", string.Empty,
            "processor\t: 1", "cpu family\t: 26", "model\t\t: 2", "model name\t: AMD EPYC 9B45", string.Empty,
        ];

        string? zen3 = CostCurveKey.CpuModel(X86(1, 1)), zen4 = CostCurveKey.CpuModel(X86(17, 1));
        Assert.Equal("AMD EPYC (cpu family 25 model 1 stepping 1)", zen3); // the first processor's block only
        Assert.Equal("AMD EPYC (cpu family 25 model 17 stepping 1)", zen4);
        Assert.NotEqual(CostCurveKey.CpuModel(X86(17, 2)), zen4);
        Assert.Equal(
            "CPU implementer 0x41 CPU part 0xd0c CPU variant 0x3 CPU revision 1",
            CostCurveKey.CpuModel(["processor\t: 0", "BogoMIPS\t: 50.00", "CPU implementer\t: 0x41", "CPU architecture: 8", "CPU variant\t: 0x3", "CPU part\t: 0xd0c", "CPU revision\t: 1"]));
        Assert.Equal("Virtual CPU a b", CostCurveKey.CpuModel(["model name : Virtual CPU a:b"])); // no colon survives
        Assert.Null(CostCurveKey.CpuModel([]));
        Assert.Null(CostCurveKey.CpuModel(["processor : 0", "flags : fpu"]));

        CostCurveKey Key(string cpu) => new("m", "h", "cpu", 2, false, 8, cpu, "b");
        Assert.NotEqual(Key(zen3!).FileName, Key(zen4!).FileName);
    }
}
