namespace Asd.Tests.Cli;

/// <summary>
/// <c>asd sample --chain-offset</c> shards with their manifests, joined by <c>asd merge</c>: the bytes and counts of
/// one run, and a clear refusal (exit 2, nothing written) for every way shards can fail to be one run.
/// </summary>
public sealed class MergeCommandTests : IDisposable
{
    private const string Mixture = "builtin:mixture?dim=4";
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-merge-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) =>
        CliRun.Run(args[0] == "sample" ? [.. args, "--no-plot"] : args);

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>Samples chains [offset, offset + n) into NAME.npy (+ NAME.npy.json); extra flags replace the defaults.</summary>
    private string Shard(string name, ulong offset, int n, params string[] extra)
    {
        var flags = new Dictionary<string, string> { ["--model"] = Mixture, ["--steps"] = "40", ["--spec-len"] = "4", ["--seed"] = "5" };
        for (int i = 0; i < extra.Length; i += 2)
        {
            flags[extra[i]] = extra[i + 1];
        }

        if (flags.GetValueOrDefault("--sampler") == "ddpm")
        {
            flags.Remove("--spec-len"); // DDPM takes none (FirstUserEdgeTests)
        }

        string path = P(name + ".npy");
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var (code, _, err) = Run(["sample", .. flags.SelectMany(kv => new[] { kv.Key, kv.Value }), "--samples", n.ToString(ci), "--chain-offset", offset.ToString(ci), "--out", path]);
        Assert.True(code == 0, err);
        return path;
    }

    /// <summary>Rewrites the manifest of shard <paramref name="npy"/> after <paramref name="edit"/>.</summary>
    private static void EditSidecar(string npy, Action<System.Text.Json.Nodes.JsonNode> edit)
    {
        string path = ShardManifest.SidecarPath(npy);
        System.Text.Json.Nodes.JsonNode m = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        edit(m);
        File.WriteAllText(path, m.ToJsonString());
    }

    private static JsonElement Json(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    [Theory]
    [InlineData("asd", "4")]
    [InlineData("asd", "inf")]
    [InlineData("ddpm", null)] // DDPM takes no --spec-len (FirstUserEdgeTests)
    public void ShardsMergeIntoTheBytesAndCountsOfOneRun(string sampler, string? specLen)
    {
        string[] opts = specLen is null ? ["--sampler", sampler] : ["--sampler", sampler, "--spec-len", specLen];
        string whole = Shard("whole", 0, 12, opts);
        string a = Shard("a", 0, 5, opts), b = Shard("b", 5, 3, opts), c = Shard("c", 8, 4, opts);
        string merged = P("merged.npy");
        var (code, output, err) = Run("merge", "--out", merged, c, a, b, "--samples", "12", "--chain-offset", "0");
        Assert.True(code == 0, err);
        Assert.Contains("merged     3 shards: chains [0, 12) of seed 5", output);
        Assert.Equal(Npy.Read(whole).Data, Npy.Read(merged).Data);
        Assert.Equal([12, 4], Npy.Read(merged).Shape);

        JsonElement m = Json(ShardManifest.SidecarPath(merged)), one = Json(ShardManifest.SidecarPath(whole));
        Assert.Equal(0UL, m.GetProperty("chain_offset").GetUInt64());
        Assert.Equal(12, m.GetProperty("samples").GetInt32());
        Assert.Equal(ShardManifest.DataSha256(Npy.Read(whole).Data), m.GetProperty("data_sha256").GetString());
        Assert.True(JsonElement.DeepEquals(one.GetProperty("run"), m.GetProperty("run")));
        Assert.Equal(["a.npy", "b.npy", "c.npy"], m.GetProperty("shards").EnumerateArray().Select(s => s.GetProperty("file").GetString()));

        // Per-chain counts are those of one run; invocations add up over the shards (one run batches all chains).
        JsonElement ms = m.GetProperty("stats"), os = one.GetProperty("stats");
        foreach (string field in (string[])["samples", "sequential_model_calls", "sequential_model_calls_max", "rows_evaluated", "rounds", "acceptance_by_position", "round_lengths", "spec_len_effective", "sampler", "steps", "spec_len", "rng"])
        {
            Assert.True(JsonElement.DeepEquals(os.GetProperty(field), ms.GetProperty(field)), $"{field}: {os.GetProperty(field)} vs {ms.GetProperty(field)}");
        }

        long invocations = new[] { a, b, c }.Sum(s => Json(ShardManifest.SidecarPath(s)).GetProperty("stats").GetProperty("denoiser_invocations").GetInt64());
        Assert.Equal(invocations, ms.GetProperty("denoiser_invocations").GetInt64());
    }

    [Fact]
    public void FoldersMergeAndAMergedFileIsItselfAShard()
    {
        Directory.CreateDirectory(P("part"));
        string[] common = ["sample", "--model", Mixture, "--steps", "40", "--spec-len", "4", "--seed", "5"];
        Assert.Equal(0, Run([.. common, "--samples", "4", "--out", Path.Combine(P("part"), "x0.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--samples", "4", "--chain-offset", "4", "--out", Path.Combine(P("part"), "x1.npy")]).Code);
        string last = Shard("last", 8, 3);
        string whole = Shard("whole", 0, 11);
        Assert.Equal(0, Run("merge", "--out", P("first8.npy"), P("part")).Code);
        var (code, _, err) = Run("merge", "--out", P("all.npy"), P("first8.npy"), last);
        Assert.True(code == 0, err);
        Assert.Equal(Npy.Read(whole).Data, Npy.Read(P("all.npy")).Data);
    }

    [Fact]
    public void ConditionalShardsMergeWhenTheyShareTheirCondition()
    {
        string mlp = Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small", "mlp_small.json");
        string[] common = ["sample", "--model", mlp, "--steps", "30", "--spec-len", "3", "--seed", "2"];
        Assert.Equal(0, Run([.. common, "--cond", "0.5,-0.25,1", "--samples", "6", "--out", P("whole.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--cond", "0.5,-0.25,1", "--samples", "2", "--out", P("a.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--cond", "0.5,-0.25,1", "--samples", "4", "--chain-offset", "2", "--out", P("b.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--cond", "0.5,-0.25,0", "--samples", "4", "--chain-offset", "2", "--out", P("other.npy")]).Code);
        Assert.StartsWith("shared:", Json(P("a.npy.json")).GetProperty("run").GetProperty("cond").GetString());
        Assert.Equal(0, Run("merge", "--out", P("m.npy"), P("a.npy"), P("b.npy")).Code);
        Assert.Equal(Npy.Read(P("whole.npy")).Data, Npy.Read(P("m.npy")).Data);
        var (code, _, err) = Run("merge", "--out", P("bad.npy"), P("a.npy"), P("other.npy"));
        Assert.Equal(2, code);
        Assert.Contains("different runs (they differ in: cond", err);
    }

    [Fact]
    public void ACopyOfAModelFileHashesAlikeAndAChangedOneDoesNot()
    {
        string src = Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small");
        string copy = P("copy"), changed = P("changed");
        Directory.CreateDirectory(copy);
        Directory.CreateDirectory(changed);
        foreach (string f in (string[])["mlp_small.json", "mlp_small.safetensors"])
        {
            File.Copy(Path.Combine(src, f), Path.Combine(copy, f));
            File.Copy(Path.Combine(src, f), Path.Combine(changed, f));
        }

        // Flip the lowest mantissa byte of the first weight: a different model that still loads.
        string st = Path.Combine(changed, "mlp_small.safetensors");
        byte[] bytes = File.ReadAllBytes(st);
        int dataStart = 8 + (int)BitConverter.ToUInt64(bytes, 0);
        bytes[dataStart] ^= 1;
        File.WriteAllBytes(st, bytes);

        string json = Path.Combine(src, "mlp_small.json");
        string h = ModelDigest.Sha256(json, "mlp_small");
        Assert.Equal(h, ModelDigest.Sha256(Path.Combine(copy, "mlp_small.json"), "mlp_small"));
        Assert.NotEqual(h, ModelDigest.Sha256(Path.Combine(changed, "mlp_small.json"), "mlp_small"));
        Assert.Equal([("json", json), ("weights", Path.Combine(src, "mlp_small.safetensors"))], ModelDigest.Files(json));
        Assert.NotEqual(ModelDigest.Sha256("builtin:mixture", "builtin:mixture"), ModelDigest.Sha256("builtin:mixture?dim=4", "builtin:mixture?dim=4"));

        string[] common = ["sample", "--steps", "20", "--spec-len", "2", "--seed", "1", "--cond", "0,0,0"];
        Assert.Equal(0, Run([.. common, "--model", json, "--samples", "2", "--out", P("s0.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--model", Path.Combine(copy, "mlp_small.json"), "--samples", "2", "--chain-offset", "2", "--out", P("s1.npy")]).Code);
        Assert.Equal(0, Run([.. common, "--model", Path.Combine(changed, "mlp_small.json"), "--samples", "2", "--chain-offset", "2", "--out", P("s2.npy")]).Code);
        Assert.Equal(0, Run("merge", "--out", P("ok.npy"), P("s0.npy"), P("s1.npy")).Code);
        var (code, _, err) = Run("merge", "--out", P("no.npy"), P("s0.npy"), P("s2.npy"));
        Assert.Equal(2, code);
        Assert.Contains("differ in: model_sha256", err);
    }

    [Fact]
    public async Task AFolderDigestHashesItsRegularFilesAndNeverWaitsOnAFifoOrReadsADevice()
    {
        // A model folder's digest (the shard manifest's model_sha256) listed every entry that was not a folder: a FIFO
        // in the folder made `asd sample --chain-offset` wait for a writer for ever, a link to /dev/zero made it read
        // without end, and neither is a file Python's asd.shards.model_sha256 hashes (os.path.isfile). Regular files
        // only, links followed: the same digest with and without them. The control: a regular file does change it.
        string folder = P("model");
        Directory.CreateDirectory(folder);
        foreach (string f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx", "unet16")))
        {
            File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        }

        string before = ModelDigest.Sha256(folder, "unet16");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", Path.Combine(folder, "pipe"))!)
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        File.CreateSymbolicLink(Path.Combine(folder, "zero"), "/dev/zero");
        File.CreateSymbolicLink(Path.Combine(folder, "dangling"), Path.Combine(folder, "nothing-here"));
        File.CreateSymbolicLink(Path.Combine(folder, "linked.onnx"), Path.Combine(folder, "model.onnx"));
        // WaitAsync throws TimeoutException (the test fails) when the digest does not return.
        (string after, string[] roles) = await Task.Run(() => (ModelDigest.Sha256(folder, "unet16"), ModelDigest.Files(folder).Select(f => f.Role).ToArray())).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.DoesNotContain("pipe", roles);
        Assert.DoesNotContain("zero", roles);
        Assert.DoesNotContain("dangling", roles);
        Assert.Contains("linked.onnx", roles);
        Assert.NotEqual(before, after); // the link to a regular file is hashed, as Python's os.path.isfile sees it
        File.Delete(Path.Combine(folder, "linked.onnx"));
        Assert.Equal(before, ModelDigest.Sha256(folder, "unet16"));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "a regular file is part of the folder");
        Assert.NotEqual(before, ModelDigest.Sha256(folder, "unet16"));
    }

    [Fact]
    public void TheModelDigestReadsOnlyFilesTheModelMayRead()
    {
        // The digest is taken before the model opens (shard provenance), and it followed whatever the JSON's "weights"
        // named, and every link in a folder: an absolute path, "..", or a link out of the folder was read in full (a
        // secret's hash into the manifest, or a 100 GB file read before the loader refused it). The loader's rules now
        // bound it; Python's asd.shards.model_files applies the same (tests/distributed).
        string src = Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small");
        string outside = P("outside");
        Directory.CreateDirectory(outside);
        string secret = Path.Combine(outside, "secret.safetensors");
        File.Copy(Path.Combine(src, "mlp_small.safetensors"), secret);
        string model = P("m");
        Directory.CreateDirectory(model);
        string text = File.ReadAllText(Path.Combine(src, "mlp_small.json"));
        string Json(string name, string? weights)
        {
            string path = Path.Combine(model, name);
            File.WriteAllText(path, weights is null ? text : text.Replace("\"format\": \"asd-mlp\",", $"\"format\": \"asd-mlp\", \"weights\": {System.Text.Json.JsonSerializer.Serialize(weights)},", StringComparison.Ordinal));
            return path;
        }

        foreach (string refused in new[] { secret, "../outside/secret.safetensors", "sub/../../outside/secret.safetensors" })
        {
            string json = Json("a.json", refused);
            Assert.Contains(refused, File.ReadAllText(json));
            Assert.Equal([("json", json)], ModelDigest.Files(json));
        }

        File.CreateSymbolicLink(Path.Combine(model, "out.safetensors"), secret);
        string linkedOut = Json("b.json", "out.safetensors");
        Assert.Equal([("json", linkedOut)], ModelDigest.Files(linkedOut));
        string sameStem = Json("out.json", null); // no "weights": the file beside it with the same stem, a link out
        Assert.Equal([("json", sameStem)], ModelDigest.Files(sameStem));

        // The controls: a weights file inside the folder, directly or through a link that stays inside, is hashed.
        File.Copy(Path.Combine(src, "mlp_small.safetensors"), Path.Combine(model, "w.safetensors"));
        File.CreateSymbolicLink(Path.Combine(model, "in.safetensors"), Path.Combine(model, "w.safetensors"));
        string direct = Json("c.json", "w.safetensors"), linkedIn = Json("d.json", "in.safetensors");
        Assert.Equal([("json", direct), ("weights", Path.Combine(model, "w.safetensors"))], ModelDigest.Files(direct));
        Assert.Equal([("json", linkedIn), ("weights", Path.Combine(model, "in.safetensors"))], ModelDigest.Files(linkedIn));
        Assert.Equal(64, ModelDigest.Sha256(direct, "x").Length);

        // A folder: the link out is not part of it, the link in is.
        string[] roles = [.. ModelDigest.Files(model).Select(f => f.Role)];
        Assert.DoesNotContain("out.safetensors", roles);
        Assert.Contains("in.safetensors", roles);
        Assert.Contains("w.safetensors", roles);
    }

    [Fact]
    public void ManagedSha256MatchesTheStandardAndTheSystemHash()
    {
        // FIPS 180-4 test vectors, then sizes around the 64-byte block and a file in several 1 MiB reads against .NET's
        // own (OpenSSL) SHA-256, which the manifests avoid so that the arm64 build needs no libssl.
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Sha256.Hex([]));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Sha256.Hex("abc"u8));
        Assert.Equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", Sha256.Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"u8));
        var rng = new Random(3);
        foreach (int n in (int[])[1, 55, 56, 63, 64, 65, 127, 128, 1000])
        {
            byte[] b = new byte[n];
            rng.NextBytes(b);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(b)), Sha256.Hex(b));
        }

        byte[] big = new byte[(3 << 20) + 17];
        rng.NextBytes(big);
        File.WriteAllBytes(P("big.bin"), big);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(big)), Sha256.HexOfFile(P("big.bin")));
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "seed", "come from different runs (they differ in: seed 6 vs 5)" },
        { "model", "come from different runs (they differ in: model_sha256" },
        { "spec_len", "differ in: spec_len \"8\" vs \"4\"" },
        { "gap", "Chains [5, 6) are missing between a.npy and late.npy" },
        { "overlap", "a.npy and early.npy overlap: both hold chains [4, 5)" },
        { "twice", "is named twice" },
        { "no-sidecar", "b.npy has no shard manifest (b.npy.json beside it" },
        { "tampered", "b.npy does not match its manifest's data_sha256" },
        { "torn-shape", "b.npy has shape [2, 4], but its manifest says [3, 4]" },
        { "malformed", "b.npy.json: 'chain_offset' is missing or not a number" },
        { "hostile-offset", "b.npy.json: chain_offset + samples exceeds the 64-bit chain ids" },
        { "not-json", "b.npy.json: not valid JSON" },
        { "foreign-json", "not an asd shard manifest" },
        { "expect-samples", "The shards hold 8 chains [0, 8), expected 9" },
        { "expect-offset", "The shards start at chain 0, expected 2" },
        { "out-is-input", "is one of the shards to merge" },
        { "out-is-a-manifest", "out.npy.json is the manifest of the shard" }, // it replaced a's manifest with the merged samples

        // Stats and run fields of the wrong kind: the first three crashed asd merge with an unhandled KeyNotFoundException
        // or FormatException (exit 134), the string a bare "requires an element of type 'Number'" naming no field.
        { "stats-string", "b.npy.json: \"stats.samples\" must be an integer from 0 to" },
        { "stats-entry", "b.npy.json: \"stats.acceptance_by_position[0].position\" must be an integer from 1 to 2147483647 (got nothing)" },
        { "stats-huge", "b.npy.json: \"stats.sequential_model_calls_max\" must be an integer from 0 to 2147483647 (got 1" },
        { "run-seed", "b.npy.json: \"run.seed\" must be an integer from 0 to 18446744073709551615 (got nothing)" },
        { "stats-samples", "b.npy.json: \"stats.samples\" is 4, but the shard holds samples = 3 chains" },
        { "stats-accepted", "\"stats.acceptance_by_position[0].accepted\" must be an integer from 0 to" },
        { "stats-overflow", "The shards' stats add up past what a 64-bit count holds" },
        { "missing-input", "Shard '" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void MergeRefusesWhatIsNotOneRun(string scenario, string message)
    {
        string a = Shard("a", 0, 5), b = Shard("b", 5, 3);
        string[] inputs = [a, b];
        string[] extra = [];
        string output = P("out.npy");
        switch (scenario)
        {
            case "seed": inputs = [a, Shard("b6", 5, 3, "--seed", "6")]; break;
            case "model": inputs = [a, Shard("m", 5, 3, "--model", "builtin:mixture")]; break;
            case "spec_len": inputs = [a, Shard("l8", 5, 3, "--spec-len", "8")]; break;
            case "gap": inputs = [a, Shard("late", 6, 2)]; break;
            case "overlap": inputs = [a, Shard("early", 4, 4)]; break;
            case "twice": inputs = [a, b, a]; break;
            case "no-sidecar": File.Delete(ShardManifest.SidecarPath(b)); break;
            case "tampered":
                byte[] bytes = File.ReadAllBytes(b);
                bytes[^1] ^= 0x40;
                File.WriteAllBytes(b, bytes);
                break;
            case "torn-shape": Npy.Write(b, new float[8], [2, 4]); break;
            case "malformed": File.WriteAllText(ShardManifest.SidecarPath(b), File.ReadAllText(ShardManifest.SidecarPath(b)).Replace("\"chain_offset\"", "\"chain_offsets\"", StringComparison.Ordinal)); break;
            case "hostile-offset": File.WriteAllText(ShardManifest.SidecarPath(b), File.ReadAllText(ShardManifest.SidecarPath(b)).Replace("\"chain_offset\": 5", "\"chain_offset\": 18446744073709551614", StringComparison.Ordinal)); break;
            case "not-json": File.WriteAllText(ShardManifest.SidecarPath(b), "{\"format\": "); break;
            case "foreign-json": File.WriteAllText(ShardManifest.SidecarPath(b), "{\"format\": \"asd-cost-curve\", \"version\": 1}"); break;
            case "expect-samples": extra = ["--samples", "9"]; break;
            case "expect-offset": extra = ["--chain-offset", "2"]; break;
            case "out-is-input": output = b; break;
            case "out-is-a-manifest":
                File.Move(a, P("out.npy"));
                File.Move(ShardManifest.SidecarPath(a), P("out.npy.json"));
                inputs = [P("out.npy"), b];
                output = P("out.npy.json");
                break;
            case "missing-input": inputs = [a, P("nope.npy")]; break;
            case "stats-string": EditSidecar(b, m => m["stats"]!["samples"] = "3"); break;
            case "stats-entry": EditSidecar(b, m => m["stats"]!["acceptance_by_position"]![0]!.AsObject().Remove("position")); break;
            case "stats-huge": EditSidecar(b, m => m["stats"]!["sequential_model_calls_max"] = 1e30); break;
            case "run-seed":
                EditSidecar(a, m => m["run"]!.AsObject().Remove("seed"));
                EditSidecar(b, m => m["run"]!.AsObject().Remove("seed"));
                inputs = [b, a];
                break;
            case "stats-samples": EditSidecar(b, m => m["stats"]!["samples"] = 4); break;
            case "stats-accepted": EditSidecar(b, m => m["stats"]!["acceptance_by_position"]![0]!["accepted"] = m["stats"]!["acceptance_by_position"]![0]!["attempts"]!.GetValue<long>() + 1); break;
            case "stats-overflow": EditSidecar(b, m => m["stats"]!["rows_evaluated"] = long.MaxValue); break;
        }

        byte[]? before = File.Exists(output) ? File.ReadAllBytes(output) : null;
        var (code, _, err) = Run(["merge", "--out", output, .. inputs, .. extra]);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        if (before is null)
        {
            Assert.False(File.Exists(output), "a refused merge must not write its output");
            Assert.False(File.Exists(ShardManifest.SidecarPath(output)));
        }
        else
        {
            Assert.Equal(before, File.ReadAllBytes(output));
        }

        Assert.False(File.Exists(output + ".tmp"), "a refused merge must not leave a partial file");
    }

    [Fact]
    public void AModelOrCostCurveChangedDuringTheRunIsNotUsedToLabelItsShard()
    {
        // asd sample --out hashes the model and the cost curve before reading them (InputDigests.AtStart) and again
        // before writing (Confirm). Before this, the hash was taken only after sampling: a checkpoint saved over the
        // model mid-run labelled samples of the old weights with the new file's hash, and asd merge trusts that label.
        string fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small");
        string json = P("mlp_small.json"), weights = P("mlp_small.safetensors"), curve = P("curve.json");
        File.Copy(Path.Combine(fixtures, "mlp_small.json"), json);
        File.Copy(Path.Combine(fixtures, "mlp_small.safetensors"), weights);
        File.WriteAllText(curve, "{}");

        var start = Asd.Cli.Output.ShardSidecar.InputDigests.AtStart(json, curve);
        (string model, string? curveSha) = start.Confirm(json, "mlp_small", curve);
        Assert.Equal(ModelDigest.Sha256(json, "mlp_small"), model);
        Assert.Equal(ShardManifest.FileSha256(curve), curveSha);

        byte[] original = File.ReadAllBytes(weights);
        byte[] changed = (byte[])original.Clone();
        changed[^1] ^= 1; // one bit of the last weight: a retrained checkpoint under the same name
        File.WriteAllBytes(weights, changed);
        IOException e = Assert.Throws<IOException>(() => start.Confirm(json, "mlp_small", curve));
        Assert.Contains($"the model '{json}' changed while this run read it", e.Message);
        Assert.Contains(start.Model!, e.Message);

        File.WriteAllBytes(weights, original);
        Assert.Equal(model, start.Confirm(json, "mlp_small", curve).Model);
        File.WriteAllText(curve, "{ }");
        e = Assert.Throws<IOException>(() => start.Confirm(json, "mlp_small", curve));
        Assert.Contains("the --cost-curve file", e.Message);

        // A built-in has no file to change; its label is its canonical name.
        var builtin = Asd.Cli.Output.ShardSidecar.InputDigests.AtStart(Mixture, null);
        Assert.Null(builtin.Model);
        Assert.Equal(ModelDigest.Sha256(Mixture, "mixture"), builtin.Confirm(Mixture, "mixture", null).Model);

        // The command wires it: a shard written by asd sample carries the hash of the model it read.
        string npy = Shard("shard", 0, 3, "--model", json, "--cond", "0.1,0.2,0.3");
        Assert.Equal(model, Json(ShardManifest.SidecarPath(npy)).GetProperty("run").GetProperty("model_sha256").GetString());
    }
}
