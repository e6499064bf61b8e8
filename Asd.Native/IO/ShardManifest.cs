using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using Asd.Native.Sampling;

namespace Asd.Native.IO;

/// <summary>
/// What every shard of one run shares; shards merge only when these are equal (docs/distributed.md). Python's
/// <c>asd.shards.run_record</c> writes the same object.
/// </summary>
/// <param name="Engine">The engine's version (built-ins and the random-number scheme are pinned by it).</param>
/// <param name="ModelSha256">The model's content hash (<see cref="Models.ModelDigest"/>).</param>
/// <param name="SampleShape">The shape of one sample.</param>
/// <param name="Sampler">"asd" or "ddpm".</param>
/// <param name="Steps">K.</param>
/// <param name="SpecLen">"8", "inf", "auto", or "-" for DDPM.</param>
/// <param name="CostCurveSha256">sha256 of the cost-curve file auto used, or null (measured).</param>
/// <param name="Seed">The run's seed.</param>
/// <param name="GuidanceScale">The guidance scale asked for, or null (the model's).</param>
/// <param name="GuidanceNull">The null condition asked for (CLI <c>--guidance-null</c>), or null.</param>
/// <param name="Schedule">Scheduler overrides, diffusers' names to string, integer, double or bool values.</param>
/// <param name="Cond">"none", "shared:SHA256" or "per-chain" (<see cref="ShardManifest.CondDigest"/>).</param>
public sealed record ShardRun(
    string Engine, string ModelSha256, int[] SampleShape, string Sampler, int Steps, string SpecLen, string? CostCurveSha256,
    ulong Seed, double? GuidanceScale, string? GuidanceNull, IReadOnlyDictionary<string, object> Schedule, string Cond);

/// <summary>One shard as its sidecar manifest describes it.</summary>
/// <param name="NpyPath">The shard's .npy file.</param>
/// <param name="ChainOffset">Its first chain id.</param>
/// <param name="Samples">Its number of chains.</param>
/// <param name="Shape">The .npy's shape, [samples, ...sample shape].</param>
/// <param name="DataSha256">sha256 of the samples as little-endian float32.</param>
/// <param name="Model">The model spec as given where it was sampled (paths differ between machines: informational).</param>
/// <param name="Run">The run object (compared as JSON).</param>
/// <param name="Stats">The shard's statistics (the stats JSON).</param>
/// <param name="Counts">The stats' fields a merge adds up, checked.</param>
/// <param name="Seed">The run's seed (run.seed).</param>
/// <param name="ModelSha256">The model's content hash (run.model_sha256: 64 hex digits).</param>
public sealed record Shard(string NpyPath, ulong ChainOffset, int Samples, int[] Shape, string DataSha256, string? Model, JsonElement Run, JsonElement Stats, ShardStats Counts, ulong Seed, string ModelSha256);

/// <summary>
/// The sidecar manifest beside each shard of a split run (<c>X.npy</c> -> <c>X.npy.json</c>), written by
/// <c>asd sample --out</c>, <c>asd merge</c> and Python's <c>asd.distributed.to_npy</c>, read by <c>asd merge</c>:
/// format "asd-shard", version 1 (docs/distributed.md has the fields).
/// </summary>
public static class ShardManifest
{
    /// <summary>The sidecar's "format".</summary>
    public const string Format = "asd-shard";

    /// <summary>The sidecar's "version".</summary>
    public const int Version = 1;

    /// <summary>The sidecar of a shard: X.npy -> X.npy.json.</summary>
    public static string SidecarPath(string npyPath) => npyPath + ".json";

    /// <summary>sha256 (hex) of float32 values as little-endian bytes: the data section of their .npy.</summary>
    public static string DataSha256(ReadOnlySpan<float> data)
    {
        var hash = new Sha256();
        AppendLittleEndian(hash, data);
        return hash.HexAndReset();
    }

    /// <summary>sha256 (hex) of a file's bytes.</summary>
    public static string FileSha256(string path) => Sha256.HexOfFile(path);

    private static void AppendLittleEndian(Sha256 hash, ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            hash.Append(MemoryMarshal.AsBytes(data));
            return;
        }

        Span<byte> b = stackalloc byte[4];
        foreach (float v in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(b, v);
            hash.Append(b);
        }
    }

    /// <summary>
    /// The run's conditioning as the manifest records it: "none"; "shared:SHA256" when one row of
    /// <paramref name="conditionSize"/> values serves every chain (hashed as float32); "per-chain" otherwise (each
    /// shard has its own rows, which a merge cannot compare).
    /// </summary>
    public static string CondDigest(ReadOnlySpan<float> cond, int conditionSize) =>
        conditionSize == 0 || cond.IsEmpty ? "none" : cond.Length == conditionSize ? "shared:" + DataSha256(cond) : "per-chain";

    /// <summary>The statistics object of a run with the model's name in front (the CLI's <c>--stats</c> JSON).</summary>
    public static string StatsJson(SamplingStats stats, string model, bool indented)
    {
        ArgumentNullException.ThrowIfNull(stats);
        using var doc = JsonDocument.Parse(stats.ToJson(indented: false));
        return Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            foreach (JsonProperty prop in doc.RootElement.EnumerateObject())
            {
                prop.WriteTo(w);
            }

            w.WriteEndObject();
        }, indented);
    }

    /// <summary>
    /// Writes a shard: <paramref name="samples"/> as the .npy at <paramref name="npyPath"/> and its sidecar, moved into
    /// place together (<see cref="AtomicFile.CommitTogether"/>): a failed or interrupted write leaves neither, and never
    /// a new .npy beside an old manifest.
    /// </summary>
    public static void Write(string npyPath, ReadOnlySpan<float> samples, ReadOnlySpan<int> shape, ShardRun run, ulong chainOffset, string statsJson, string? model)
    {
        ArgumentNullException.ThrowIfNull(run);
        using var stats = JsonDocument.Parse(statsJson);
        int[] dims = shape.ToArray();
        string dataSha256 = DataSha256(samples);
        using AtomicFile.Pending npy = Npy.Begin(npyPath, samples, shape);
        using AtomicFile.Pending sidecar = WriteSidecar(npyPath, w => WriteRun(w, run), chainOffset, dims, dataSha256, stats.RootElement, model, parts: null);
        AtomicFile.CommitTogether(npy, sidecar);
    }

    /// <summary>The sidecar of the .npy at <paramref name="npyPath"/>, written and not yet moved into place.</summary>
    private static AtomicFile.Pending WriteSidecar(string npyPath, Action<Utf8JsonWriter> run, ulong chainOffset, int[] shape, string dataSha256, JsonElement stats, string? model, IReadOnlyList<Shard>? parts)
    {
        string text = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", Version);
            w.WriteString("file", Path.GetFileName(npyPath));
            w.WriteNumber("chain_offset", chainOffset);
            w.WriteNumber("samples", shape[0]);
            WriteInts(w, "shape", shape);
            w.WriteString("dtype", "<f4");
            w.WriteString("data_sha256", dataSha256);
            w.WriteString("model", model);
            w.WritePropertyName("run");
            run(w);
            w.WritePropertyName("stats");
            stats.WriteTo(w);
            if (parts is not null)
            {
                w.WriteStartArray("shards");
                foreach (Shard p in parts)
                {
                    w.WriteStartObject();
                    w.WriteString("file", Path.GetFileName(p.NpyPath));
                    w.WriteNumber("chain_offset", p.ChainOffset);
                    w.WriteNumber("samples", p.Samples);
                    WriteInts(w, "shape", p.Shape);
                    w.WriteString("data_sha256", p.DataSha256);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }, indented: true);
        return AtomicFile.Begin(SidecarPath(npyPath), text, static (stream, t) => stream.Write(Encoding.UTF8.GetBytes(t + "\n")));
    }

    private static void WriteRun(Utf8JsonWriter w, ShardRun run)
    {
        w.WriteStartObject();
        w.WriteString("engine", run.Engine);
        w.WriteString("model_sha256", run.ModelSha256);
        WriteInts(w, "sample_shape", run.SampleShape);
        w.WriteString("sampler", run.Sampler);
        w.WriteNumber("steps", run.Steps);
        w.WriteString("spec_len", run.SpecLen);
        w.WriteString("cost_curve_sha256", run.CostCurveSha256);
        w.WriteNumber("seed", run.Seed);
        if (run.GuidanceScale is double g)
        {
            w.WriteNumber("guidance_scale", g);
        }
        else
        {
            w.WriteNull("guidance_scale");
        }

        w.WriteString("guidance_null", run.GuidanceNull);
        w.WriteStartObject("schedule");
        foreach ((string key, object value) in run.Schedule.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            switch (value)
            {
                case bool b: w.WriteBoolean(key, b); break;
                case int i: w.WriteNumber(key, i); break;
                case double d: w.WriteNumber(key, d); break;
                default: w.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture)); break;
            }
        }

        w.WriteEndObject();
        w.WriteString("cond", run.Cond);
        w.WriteEndObject();
    }

    /// <summary>Reads the sidecar of <paramref name="npyPath"/>.</summary>
    /// <exception cref="InvalidDataException">Missing, not an asd-shard manifest, or a field missing or malformed (named).</exception>
    public static Shard Read(string npyPath)
    {
        string path = SidecarPath(npyPath);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{npyPath} has no shard manifest ({Path.GetFileName(path)} beside it; asd sample --out and asd.distributed.to_npy write one).");
        }

        using JsonDocument doc = StrictJson.ReadFile(path, "shard manifest"); // a regular file of bounded size: a FIFO is refused, not waited on
        return Parse(doc.RootElement, npyPath, path);
    }

    /// <summary>Reads a manifest's bytes (<paramref name="path"/> names it in messages) as the sidecar of <paramref name="npyPath"/>.</summary>
    /// <exception cref="InvalidDataException">Not an asd-shard manifest, or a field missing or malformed (named).</exception>
    public static Shard Parse(ReadOnlyMemory<byte> json, string npyPath, string path)
    {
        using JsonDocument doc = StrictJson.Parse(json, path);
        return Parse(doc.RootElement, npyPath, path);
    }

    private static Shard Parse(JsonElement root, string npyPath, string path)
    {
        root = root.Clone();
        if (root.ValueKind != JsonValueKind.Object || Field(root, path, "format", JsonValueKind.String).GetString() != Format)
        {
            throw new InvalidDataException($"{path}: not an asd shard manifest (format must be \"{Format}\").");
        }

        if (!Field(root, path, "version", JsonValueKind.Number).TryGetInt32(out int version) || version != Version)
        {
            throw new InvalidDataException($"{path}: version {root.GetProperty("version")} is not supported (this asd reads version {Version}).");
        }

        if (!Field(root, path, "chain_offset", JsonValueKind.Number).TryGetUInt64(out ulong offset))
        {
            throw new InvalidDataException($"{path}: chain_offset must be an integer >= 0.");
        }

        if (!Field(root, path, "samples", JsonValueKind.Number).TryGetInt32(out int samples) || samples < 1)
        {
            throw new InvalidDataException($"{path}: samples must be an integer >= 1.");
        }

        if (offset > ulong.MaxValue - (ulong)samples)
        {
            throw new InvalidDataException($"{path}: chain_offset + samples exceeds the 64-bit chain ids.");
        }

        int[] shape = Ints(Field(root, path, "shape", JsonValueKind.Array), path, "shape");
        if (shape.Length < 1 || shape[0] != samples)
        {
            throw new InvalidDataException($"{path}: shape [{string.Join(", ", shape)}] does not start with samples = {samples}.");
        }

        if (Field(root, path, "dtype", JsonValueKind.String).GetString() != "<f4")
        {
            throw new InvalidDataException($"{path}: dtype must be \"<f4\" (float32).");
        }

        string data = Field(root, path, "data_sha256", JsonValueKind.String).GetString()!;
        JsonElement run = Field(root, path, "run", JsonValueKind.Object);
        int[] sampleShape = Ints(Field(run, path, "sample_shape", JsonValueKind.Array), path, "run.sample_shape");
        if (!shape.AsSpan(1).SequenceEqual(sampleShape))
        {
            throw new InvalidDataException($"{path}: shape [{string.Join(", ", shape)}] does not hold samples of run.sample_shape [{string.Join(", ", sampleShape)}].");
        }

        // What asd merge prints and compares, checked here so that a malformed run object is refused by name.
        ulong seed = StrictJson.ULong(run.TryGetProperty("seed", out JsonElement sd) ? sd : default, "run.seed", path);
        string modelSha = StrictJson.String(run.TryGetProperty("model_sha256", out JsonElement ms) ? ms : default, "run.model_sha256", path);
        if (modelSha.Length != 64 || !modelSha.All(char.IsAsciiHexDigitLower))
        {
            throw new InvalidDataException($"{path}: \"run.model_sha256\" must be 64 lowercase hex digits (got {StrictJson.Show(ms)}).");
        }

        JsonElement stats = Field(root, path, "stats", JsonValueKind.Object);
        ShardStats counts = ShardStats.Read(stats, path);
        if (counts.Samples != samples)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{path}: \"stats.samples\" is {counts.Samples}, but the shard holds samples = {samples} chains."));
        }

        string? model = root.TryGetProperty("model", out JsonElement m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        return new Shard(npyPath, offset, samples, shape, data, model, run, stats, counts, seed, modelSha);
    }

    /// <summary>
    /// Sorts shards by chain offset and checks that they are one run: equal run objects, contiguous chain ranges
    /// with no overlap, and, when given, the expected first chain and number of chains.
    /// </summary>
    /// <exception cref="InvalidDataException">Which shards disagree, overlap or leave a gap, with the chains at fault.</exception>
    public static IReadOnlyList<Shard> CheckTiling(IEnumerable<Shard> shards, ulong? expectOffset = null, long? expectSamples = null)
    {
        var list = shards.OrderBy(s => s.ChainOffset).ThenBy(s => s.Samples).ToList();
        if (list.Count == 0)
        {
            throw new InvalidDataException("No shards to merge.");
        }

        Shard first = list[0];
        foreach (Shard s in list.Skip(1))
        {
            if (!JsonElement.DeepEquals(s.Run, first.Run))
            {
                throw new InvalidDataException($"{Name(s)} and {Name(first)} come from different runs (they differ in: {string.Join(", ", RunDifferences(s.Run, first.Run))}).");
            }
        }

        for (int i = 1; i < list.Count; i++)
        {
            Shard a = list[i - 1], b = list[i];
            ulong end = a.ChainOffset + (ulong)a.Samples;
            if (b.ChainOffset < end)
            {
                ulong stop = Math.Min(end, b.ChainOffset + (ulong)b.Samples);
                throw new InvalidDataException($"{Name(a)} and {Name(b)} overlap: both hold chains [{b.ChainOffset}, {stop}).");
            }

            if (b.ChainOffset > end)
            {
                throw new InvalidDataException($"Chains [{end}, {b.ChainOffset}) are missing between {Name(a)} and {Name(b)}.");
            }
        }

        long total = list.Sum(s => (long)s.Samples);
        if (expectOffset is ulong o && first.ChainOffset != o)
        {
            throw new InvalidDataException($"The shards start at chain {first.ChainOffset}, expected {o}: chains [{Math.Min(o, first.ChainOffset)}, {Math.Max(o, first.ChainOffset)}) are {(first.ChainOffset > o ? "missing" : "extra")}.");
        }

        if (expectSamples is long n && total != n)
        {
            throw new InvalidDataException($"The shards hold {total} chains [{first.ChainOffset}, {first.ChainOffset + (ulong)total}), expected {n}.");
        }

        return list;
    }

    /// <summary>
    /// Merges shards into one .npy at <paramref name="outPath"/> with its own sidecar (a shard of the whole range,
    /// listing its parts): streams one shard at a time, checking each against its manifest (shape and data hash).
    /// </summary>
    /// <returns>The merged shards in chain order and the merged stats JSON.</returns>
    public static (IReadOnlyList<Shard> Parts, string StatsJson) Merge(IReadOnlyList<string> npyPaths, string outPath, ulong? expectOffset = null, long? expectSamples = null)
    {
        ArgumentNullException.ThrowIfNull(npyPaths);
        string outFull = Path.GetFullPath(outPath);
        foreach (string shard in npyPaths)
        {
            string npy = Path.GetFullPath(shard);
            if (npy == outFull)
            {
                throw new ArgumentException($"--out {outPath} is one of the shards to merge; write the merged file elsewhere.");
            }

            // A shard's manifest is read too: --out a.npy.json replaced a.npy's manifest with the merged samples.
            if (Path.GetFullPath(SidecarPath(shard)) == outFull)
            {
                throw new ArgumentException($"--out {outPath} is the manifest of the shard {shard}; write the merged file elsewhere.");
            }
        }

        // After the checks above, whose messages say more: --out x.csv had written .npy bytes under a CSV name.
        if (!outPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--out {outPath}: the merged samples are a float32 .npy array; give a file name ending in .npy.");
        }

        IReadOnlyList<Shard> parts = CheckTiling(npyPaths.Select(Read).ToList(), expectOffset, expectSamples);
        string stats = MergeStats([.. parts.Select(p => p.Stats)]);
        long chains = parts.Sum(p => (long)p.Samples);
        int total = chains <= int.MaxValue ? (int)chains : throw new InvalidDataException($"The shards hold {chains} chains; one .npy holds at most {int.MaxValue}.");
        int[] shape = [total, .. parts[0].Shape.AsSpan(1)];
        var hash = new Sha256();
        using (AtomicFile.Pending file = AtomicFile.Create(outPath))
        {
            Npy.WriteHeader(file.Stream, shape);
            foreach (Shard p in parts)
            {
                (float[] data, int[] got) = Npy.Read(p.NpyPath);
                if (!got.AsSpan().SequenceEqual(p.Shape))
                {
                    throw new InvalidDataException($"{p.NpyPath} has shape [{string.Join(", ", got)}], but its manifest says [{string.Join(", ", p.Shape)}].");
                }

                if (DataSha256(data) != p.DataSha256)
                {
                    throw new InvalidDataException($"{p.NpyPath} does not match its manifest's data_sha256 (changed or torn after it was written): sample chains [{p.ChainOffset}, {p.ChainOffset + (ulong)p.Samples}) again.");
                }

                AppendLittleEndian(hash, data);
                Npy.WriteValues(file.Stream, data);
            }

            // The merged .npy and its sidecar land together, as a shard's do.
            using var merged = JsonDocument.Parse(stats);
            using AtomicFile.Pending sidecar = WriteSidecar(outPath, w => parts[0].Run.WriteTo(w), parts[0].ChainOffset, shape, hash.HexAndReset(), merged.RootElement, parts[0].Model, parts);
            AtomicFile.CommitTogether(file, sidecar);
        }

        return (parts, stats);
    }

    /// <summary>
    /// The statistics of shards taken together (Python's <c>asd.shards.merge_stats</c> computes the same):
    /// invocations, rows, rounds and wall seconds add up (wall: compute time summed over shards); sequential
    /// model calls are the mean and maximum over all chains; acceptance and round lengths add up by position and
    /// length; auto's length histograms add up.
    /// </summary>
    /// <exception cref="InvalidDataException">Stats of different samplers, step counts or lengths, or a field missing.</exception>
    public static string MergeStats(IReadOnlyList<JsonElement> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return MergeStats(parts, [.. parts.Select((p, i) => ShardStats.Read(p, string.Create(CultureInfo.InvariantCulture, $"stats {i + 1} of {parts.Count}")))]);
    }

    private static string MergeStats(IReadOnlyList<JsonElement> parts, IReadOnlyList<ShardStats> counts)
    {
        if (parts.Count == 0)
        {
            throw new InvalidDataException("No stats to merge.");
        }

        JsonElement first = parts[0];
        ShardStats head = counts[0];
        string? differs =
            counts.Any(c => c.Sampler != head.Sampler) ? "sampler"
            : counts.Any(c => c.Steps != head.Steps) ? "steps"
            : counts.Any(c => c.SpecLen != head.SpecLen) ? "spec_len"
            : parts.Any(p => !JsonElement.DeepEquals(Get(p, "rng"), Get(first, "rng"))) ? "rng"
            : null;
        if (differs is not null)
        {
            throw new InvalidDataException($"Stats of different runs cannot be merged: their '{differs}' differs.");
        }

        long samples = 0, calls = 0, invocations = 0, rows = 0, rounds = 0;
        int callsMax = 0;
        double wall = 0;
        var acceptance = new SortedDictionary<int, (long Attempts, long Accepted)>();
        var lengths = new SortedDictionary<int, long>();
        try
        {
            // Checked: counts from other machines' files may be large enough to wrap a long when added up.
            checked
            {
                foreach (ShardStats p in counts)
                {
                    samples += p.Samples;

                    // A product past a long throws here as the sums do (a checked conversion).
                    calls += (long)Math.Round(p.SequentialModelCalls * p.Samples);
                    callsMax = Math.Max(callsMax, p.SequentialModelCallsMax);
                    invocations += p.DenoiserInvocations;
                    rows += p.RowsEvaluated;
                    rounds += p.Rounds;
                    wall += p.WallSeconds;
                    foreach (PositionAcceptance a in p.Acceptance)
                    {
                        (long at, long ac) = acceptance.GetValueOrDefault(a.Position);
                        acceptance[a.Position] = (at + a.Attempts, ac + a.Accepted);
                    }

                    foreach (RoundLengthCount r in p.RoundLengths)
                    {
                        lengths[r.Length] = lengths.GetValueOrDefault(r.Length) + r.Rounds;
                    }
                }
            }
        }
        catch (OverflowException)
        {
            throw new InvalidDataException("The shards' stats add up past what a 64-bit count holds: they are not the counts of real runs.");
        }

        if (!double.IsFinite(wall))
        {
            throw new InvalidDataException("The shards' wall_seconds add up past what a double holds.");
        }

        int steps = head.Steps;
        double mean = samples == 0 ? 0 : (double)calls / samples;
        return Json(w =>
        {
            w.WriteStartObject();
            if (first.TryGetProperty("model", out JsonElement model))
            {
                w.WritePropertyName("model");
                model.WriteTo(w);
            }

            w.WriteString("sampler", head.Sampler);
            w.WriteNumber("steps", steps);
            w.WriteString("spec_len", head.SpecLen);
            w.WriteString("spec_len_effective", MergeEffective([.. counts.Select(p => p.SpecLenEffective)]));
            w.WriteNumber("samples", samples);
            w.WriteNumber("sequential_model_calls", mean);
            w.WriteNumber("sequential_model_calls_max", callsMax);
            w.WriteNumber("algorithmic_speedup", mean > 0 ? steps / mean : 0);
            w.WriteNumber("denoiser_invocations", invocations);
            w.WriteNumber("rows_evaluated", rows);
            w.WriteNumber("rounds", rounds);
            SamplingStats.WriteCounts(w, acceptance.Select(kv => new PositionAcceptance(kv.Key, kv.Value.Attempts, kv.Value.Accepted)), lengths.Select(kv => (kv.Key, kv.Value)));
            w.WriteNumber("wall_seconds", wall);
            w.WritePropertyName("rng");
            Get(first, "rng").WriteTo(w);
            w.WriteEndObject();
        }, indented: true);
    }

    /// <summary>"8" stays "8"; auto histograms ("auto 4:3 8:12") add up length by length.</summary>
    private static string MergeEffective(string[] values)
    {
        if (values.All(v => v == values[0]) && !values[0].StartsWith("auto ", StringComparison.Ordinal))
        {
            return values[0];
        }

        var counts = new SortedDictionary<int, long>();
        foreach (string v in values)
        {
            string[] parts = v.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0] != "auto")
            {
                throw new InvalidDataException($"spec_len_effective values cannot be merged: '{values[0]}' and '{v}'.");
            }

            foreach (string pair in parts.Skip(1))
            {
                string[] lr = pair.Split(':');
                if (lr.Length != 2 || !int.TryParse(lr[0], NumberStyles.None, CultureInfo.InvariantCulture, out int l) || !long.TryParse(lr[1], NumberStyles.None, CultureInfo.InvariantCulture, out long r))
                {
                    throw new InvalidDataException($"spec_len_effective '{v}' is malformed.");
                }

                long sum = counts.GetValueOrDefault(l);
                counts[l] = sum <= long.MaxValue - r ? sum + r : throw new InvalidDataException($"spec_len_effective: the rounds of length {l} add up past what a 64-bit count holds.");
            }
        }

        return string.Join(' ', counts.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}:{kv.Value}")).Prepend("auto"));
    }

    private static IEnumerable<string> RunDifferences(JsonElement a, JsonElement b)
    {
        var names = a.EnumerateObject().Select(p => p.Name).Union(b.EnumerateObject().Select(p => p.Name)).Order(StringComparer.Ordinal);
        foreach (string name in names)
        {
            bool inA = a.TryGetProperty(name, out JsonElement x), inB = b.TryGetProperty(name, out JsonElement y);
            if (inA != inB || !JsonElement.DeepEquals(x, y))
            {
                yield return inA && inB ? $"{name} {Short(x)} vs {Short(y)}" : name;
            }
        }

        static string Short(JsonElement e)
        {
            string t = Json(e.WriteTo, indented: false);
            return t.Length > 24 ? t[..24] + "..." : t;
        }
    }

    private static string Name(Shard s) => Path.GetFileName(s.NpyPath);

    private static JsonElement Get(JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) ? v : throw new InvalidDataException($"The stats lack '{key}'.");

    private static JsonElement Field(JsonElement e, string path, string key, JsonValueKind kind) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind == kind
            ? v
            : throw new InvalidDataException($"{path}: '{key}' is missing or not a{(kind == JsonValueKind.Array || kind == JsonValueKind.Object ? "n" : "")} {kind.ToString().ToLowerInvariant()}.");

    private static int[] Ints(JsonElement array, string path, string what)
    {
        var list = new List<int>();
        foreach (JsonElement e in array.EnumerateArray())
        {
            list.Add(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) && v >= 0 ? v : throw new InvalidDataException($"{path}: {what} must hold integers >= 0."));
        }

        return [.. list];
    }

    private static void WriteInts(Utf8JsonWriter w, string name, ReadOnlySpan<int> values)
    {
        w.WriteStartArray(name);
        foreach (int v in values)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    private static string Json(Action<Utf8JsonWriter> write, bool indented)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(w);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
