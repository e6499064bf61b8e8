using System.Text.Json;

namespace Asd.Cli.Commands;

/// <summary>
/// <c>asd merge</c>: joins the shards of one run split by chain offsets (array jobs running <c>asd sample
/// --chain-offset</c>, or <c>asd.distributed.to_npy</c>) into one .npy in chain order, after checking their manifests:
/// same run (seed, model content hash, sampler, steps, length, schedule, conditioning), contiguous chains, no overlap,
/// and every shard's data against its hash. Any refusal exits 2 with one line and writes nothing.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(TextWriter stdout)
    {
        var inputs = new Argument<string[]>("shards") { Description = "Shard .npy files (each with its X.npy.json manifest) or folders holding them.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "The merged float32 .npy (its manifest X.npy.json is written beside it).", Required = true };
        var offset = new Option<ulong?>("--chain-offset") { Description = "Refuse unless the shards start at this chain id (catches a missing first shard)." };
        var samples = new Option<long?>("--samples") { Description = "Refuse unless the shards hold this many chains in all (catches missing last shards)." };
        var command = new Command("merge", "Check the shards of a split run (same seed and model, contiguous chain offsets, no overlap) and concatenate them in chain order.")
        {
            inputs, output, offset, samples,
        };
        command.SetAction(parse =>
        {
            string outPath = parse.GetValue(output)!;
            List<string> files = Collect(parse.GetValue(inputs)!, outPath);
            (IReadOnlyList<Shard> parts, string stats) = ShardManifest.Merge(files, outPath, parse.GetValue(offset), parse.GetValue(samples));
            Shard first = parts[0];
            long total = parts.Sum(p => (long)p.Samples);
            using var doc = JsonDocument.Parse(stats);
            JsonElement s = doc.RootElement;
            var ci = CultureInfo.InvariantCulture;
            stdout.WriteLine(string.Create(ci, $"merged     {parts.Count} shards: chains [{first.ChainOffset}, {first.ChainOffset + (ulong)total}) of seed {first.Seed}, model sha256 {first.ModelSha256[..16]}..."));
            stdout.WriteLine(string.Create(ci, $"sampler    {s.GetProperty("sampler").GetString()}  steps K={s.GetProperty("steps").GetInt32()}  spec_len={s.GetProperty("spec_len").GetString()} (ran {s.GetProperty("spec_len_effective").GetString()})"));
            stdout.WriteLine(string.Create(ci, $"sequential model calls per chain: {s.GetProperty("sequential_model_calls").GetDouble():F2} (max {s.GetProperty("sequential_model_calls_max").GetInt32()}); summed over shards: denoiser invocations {s.GetProperty("denoiser_invocations").GetInt64()}, rows {s.GetProperty("rows_evaluated").GetInt64()}, rounds {s.GetProperty("rounds").GetInt64()}"));
            stdout.WriteLine($"wrote      {outPath} [{total}, {string.Join(", ", first.Shape.Skip(1))}] and {Path.GetFileName(ShardManifest.SidecarPath(outPath))}");
            return 0;
        });
        return command;
    }

    /// <summary>The .npy files named, and those directly inside named folders (except the output itself).</summary>
    private static List<string> Collect(string[] inputs, string outPath)
    {
        string outFull = Path.GetFullPath(outPath);
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                string[] found = [.. Directory.EnumerateFiles(input, "*.npy").Where(f => Path.GetFullPath(f) != outFull).Order(StringComparer.Ordinal)];
                if (found.Length == 0)
                {
                    throw new ArgumentException($"{input}: no .npy shards in this folder.");
                }

                files.AddRange(found);
            }
            else if (File.Exists(input))
            {
                files.Add(input.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? input : throw new ArgumentException($"{input}: not a .npy shard."));
            }
            else
            {
                throw new FileNotFoundException($"Shard '{input}' does not exist.", input);
            }
        }

        var seen = new HashSet<string>();
        foreach (string f in files)
        {
            if (!seen.Add(Path.GetFullPath(f)))
            {
                throw new ArgumentException($"{f} is named twice.");
            }
        }

        return files;
    }
}
