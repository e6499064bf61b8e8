using Asd.Native.Sampling;

namespace Asd.Native.IO;

/// <summary>
/// The fields of a shard's statistics that a merge adds up or compares, read with every field's type and range
/// checked: a manifest comes from another machine or job, and a field of the wrong kind must be refused by name, not
/// surface as a JSON accessor's exception half-way through a merge.
/// </summary>
/// <param name="Sampler">"asd" or "ddpm".</param>
/// <param name="Steps">K.</param>
/// <param name="SpecLen">"8", "inf", "auto" or "-".</param>
/// <param name="SpecLenEffective">What ran: "8", or auto's histogram ("auto 2:4 4:7").</param>
/// <param name="Samples">Chains.</param>
/// <param name="SequentialModelCalls">Mean over the chains.</param>
/// <param name="SequentialModelCallsMax">Maximum over the chains.</param>
/// <param name="DenoiserInvocations">Denoiser calls.</param>
/// <param name="RowsEvaluated">Rows the denoiser evaluated.</param>
/// <param name="Rounds">Rounds.</param>
/// <param name="WallSeconds">Wall-clock seconds.</param>
/// <param name="Acceptance">Attempts and acceptances by draft position.</param>
/// <param name="RoundLengths">Rounds by length.</param>
public sealed record ShardStats(
    string Sampler, int Steps, string SpecLen, string SpecLenEffective, long Samples, double SequentialModelCalls, int SequentialModelCallsMax,
    long DenoiserInvocations, long RowsEvaluated, long Rounds, double WallSeconds,
    IReadOnlyList<PositionAcceptance> Acceptance, IReadOnlyList<RoundLengthCount> RoundLengths)
{
    /// <summary>Reads <paramref name="stats"/>; <paramref name="source"/> names it in messages (a manifest's path).</summary>
    /// <exception cref="InvalidDataException">A field missing, of the wrong kind or out of range, named as stats.FIELD.</exception>
    public static ShardStats Read(JsonElement stats, string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (stats.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{source}: \"stats\" must be an object (got {StrictJson.Show(stats)}).");
        }

        long samples = StrictJson.Long(Get(stats, "samples"), "stats.samples", source, 0);
        int callsMax = StrictJson.Int(Get(stats, "sequential_model_calls_max"), "stats.sequential_model_calls_max", source, 0);
        double calls = StrictJson.Number(Get(stats, "sequential_model_calls"), "stats.sequential_model_calls", source);

        // The mean over chains lies within [0, max]; beyond it the product with the chain count, which a merge
        // rounds to a long, would be meaningless (a mean of 1e300 calls).
        if (calls < 0 || calls > callsMax)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: \"stats.sequential_model_calls\" {calls} must lie between 0 and stats.sequential_model_calls_max ({callsMax})."));
        }

        double wall = StrictJson.Number(Get(stats, "wall_seconds"), "stats.wall_seconds", source);
        if (wall < 0)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: \"stats.wall_seconds\" must be >= 0 (got {wall})."));
        }

        IReadOnlyList<PositionAcceptance> acceptance = ReadAcceptance(Get(stats, "acceptance_by_position"), "stats.acceptance_by_position", source);
        var lengths = new List<RoundLengthCount>();
        int i = 0;
        foreach (JsonElement r in StrictJson.Array(Get(stats, "round_lengths"), "stats.round_lengths", source))
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"stats.round_lengths[{i++}]");
            lengths.Add(new RoundLengthCount(StrictJson.Int(Get(r, "length"), at + ".length", source, 1), StrictJson.Long(Get(r, "rounds"), at + ".rounds", source, 0)));
        }

        return new ShardStats(
            StrictJson.String(Get(stats, "sampler"), "stats.sampler", source),
            StrictJson.Int(Get(stats, "steps"), "stats.steps", source, 1),
            StrictJson.String(Get(stats, "spec_len"), "stats.spec_len", source),
            StrictJson.String(Get(stats, "spec_len_effective"), "stats.spec_len_effective", source),
            samples,
            calls,
            callsMax,
            StrictJson.Long(Get(stats, "denoiser_invocations"), "stats.denoiser_invocations", source, 0),
            StrictJson.Long(Get(stats, "rows_evaluated"), "stats.rows_evaluated", source, 0),
            StrictJson.Long(Get(stats, "rounds"), "stats.rounds", source, 0),
            wall,
            acceptance,
            lengths);
    }

    /// <summary>
    /// An "acceptance_by_position" list as the stats JSON writes it (<see cref="SamplingStats"/>): entries of a
    /// position from 1, attempts from 0 and acceptances at most the attempts, each field named when it is not.
    /// </summary>
    /// <exception cref="InvalidDataException">A field missing, of the wrong kind or out of range.</exception>
    public static IReadOnlyList<PositionAcceptance> ReadAcceptance(JsonElement list, string field, string source)
    {
        var acceptance = new List<PositionAcceptance>();
        int i = 0;
        foreach (JsonElement a in StrictJson.Array(list, field, source))
        {
            string at = string.Create(CultureInfo.InvariantCulture, $"{field}[{i++}]");
            int position = StrictJson.Int(Get(a, "position"), at + ".position", source, 1);
            long attempts = StrictJson.Long(Get(a, "attempts"), at + ".attempts", source, 0);
            long accepted = StrictJson.Long(Get(a, "accepted"), at + ".accepted", source, 0, attempts);
            acceptance.Add(new PositionAcceptance(position, attempts, accepted));
        }

        return acceptance;
    }

    /// <summary>The property, or an undefined element (which every typed getter refuses as "got nothing") when absent.</summary>
    private static JsonElement Get(JsonElement e, string key) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(key, out JsonElement v) ? v : default;
}

/// <summary>How many rounds had length <paramref name="Length"/>.</summary>
/// <param name="Length">Round length (drafts verified in one call).</param>
/// <param name="Rounds">Rounds of that length.</param>
public readonly record struct RoundLengthCount(int Length, long Rounds);
