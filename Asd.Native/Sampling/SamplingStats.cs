using System.Text;

namespace Asd.Native.Sampling;

/// <summary>Attempts and acceptances of the draft at one position of a round (position 0 is always accepted and not listed).</summary>
/// <param name="Position">j &gt;= 1, the step's index within its round.</param>
/// <param name="Attempts">How often a draft at that position was verified.</param>
/// <param name="Accepted">How often it was accepted.</param>
public readonly record struct PositionAcceptance(int Position, long Attempts, long Accepted);

/// <summary>
/// What one sampling run did, with the meanings of docs/math.md section 7. The sampler owns and reuses the
/// instance: it is valid until the sampler's next run (copy what you keep).
/// </summary>
public sealed class SamplingStats
{
    private long[] _attempts = [];
    private long[] _roundLengths = [];
    private string _specLengthEffective = "-";
    private long[] _accepted = [];
    private int[] _callsPerChain = [];

    /// <summary>"asd" or "ddpm".</summary>
    public string Sampler { get; internal set; } = "";

    /// <summary>K, the inference steps.</summary>
    public int Steps { get; internal set; }

    /// <summary>N, the chains sampled.</summary>
    public int Samples { get; internal set; }

    /// <summary>The speculation length as asked ("8", "inf", "auto"; "-" for DDPM).</summary>
    public string SpecLength { get; internal set; } = "-";

    /// <summary>What ran: the fixed value, or for auto a histogram of the L used per round.</summary>
    public string SpecLengthEffective
    {
        get => ChosenLengths is { } chosen ? FormatHistogram(chosen) : _specLengthEffective;
        internal set => _specLengthEffective = value;
    }

    /// <summary>
    /// Rounds by drafted length L' (after the end of the chain cuts L), for L' = 1 .. K-1; empty for DDPM.
    /// </summary>
    public IReadOnlyList<(int Length, long Rounds)> RoundLengths
    {
        get
        {
            var list = new List<(int, long)>();
            for (int l = 1; l < _roundLengths.Length; l++)
            {
                if (_roundLengths[l] > 0)
                {
                    list.Add((l, _roundLengths[l]));
                }
            }

            return list;
        }
    }

    /// <summary>For the automatic speculation length, rounds by the L it chose (index L); null otherwise.</summary>
    internal long[]? ChosenLengths { get; set; }

    internal Span<long> RoundLengthsRaw => _roundLengths;

    /// <summary>Mean over chains of the denoiser invocations that carried at least one of the chain's rows.</summary>
    public double SequentialModelCalls { get; private set; }

    /// <summary>Maximum over chains of the same count.</summary>
    public int SequentialModelCallsMax { get; private set; }

    /// <summary>Batched denoiser calls actually made.</summary>
    public long DenoiserInvocations { get; internal set; }

    /// <summary>Rows evaluated, all chains together.</summary>
    public long RowsEvaluated { get; internal set; }

    /// <summary>Draft-and-verify rounds, all chains together (DDPM: K - 1 per chain, one per random step).</summary>
    public long Rounds { get; internal set; }

    /// <summary>Wall-clock seconds of the run.</summary>
    public double WallSeconds { get; internal set; }

    /// <summary>K / <see cref="SequentialModelCalls"/>.</summary>
    public double AlgorithmicSpeedup => SequentialModelCalls > 0 ? Steps / SequentialModelCalls : 0;

    /// <summary>The random-number scheme (see CounterRng).</summary>
    public string RngScheme => Simd.Random.CounterRng.SchemeName;

    /// <summary>Per-chain sequential call counts of the last run.</summary>
    public ReadOnlySpan<int> CallsPerChain => _callsPerChain;

    /// <summary>Acceptance by draft position j &gt;= 1, for positions that were attempted.</summary>
    public IReadOnlyList<PositionAcceptance> AcceptanceByPosition
    {
        get
        {
            var list = new List<PositionAcceptance>();
            for (int j = 1; j < _attempts.Length; j++)
            {
                if (_attempts[j] > 0)
                {
                    list.Add(new PositionAcceptance(j, _attempts[j], _accepted[j]));
                }
            }

            return list;
        }
    }

    internal Span<long> AttemptsRaw => _attempts;

    internal Span<long> AcceptedRaw => _accepted;

    internal Span<int> CallsRaw => _callsPerChain;

    internal void Reset(string sampler, int steps, int samples, string specLength, string effective)
    {
        ChosenLengths = null;
        if (_roundLengths.Length < steps + 1)
        {
            _roundLengths = new long[steps + 1];
        }
        else
        {
            Array.Clear(_roundLengths);
        }

        Sampler = sampler;
        Steps = steps;
        Samples = samples;
        SpecLength = specLength;
        SpecLengthEffective = effective;
        DenoiserInvocations = 0;
        RowsEvaluated = 0;
        Rounds = 0;
        WallSeconds = 0;
        if (_attempts.Length < steps + 1)
        {
            _attempts = new long[steps + 1];
            _accepted = new long[steps + 1];
        }
        else
        {
            Array.Clear(_attempts);
            Array.Clear(_accepted);
        }

        if (_callsPerChain.Length != samples)
        {
            _callsPerChain = new int[samples];
        }
        else
        {
            Array.Clear(_callsPerChain);
        }
    }

    internal void FinishCalls()
    {
        long total = 0;
        int max = 0;
        foreach (int c in _callsPerChain)
        {
            total += c;
            max = Math.Max(max, c);
        }

        SequentialModelCalls = _callsPerChain.Length == 0 ? 0 : (double)total / _callsPerChain.Length;
        SequentialModelCallsMax = max;
    }

    /// <summary>A copy that the sampler's next run does not overwrite.</summary>
    public SamplingStats Clone() => Merge([this]);

    /// <summary>
    /// The stats of several runs of one configuration taken together, as if their chains had run in one call:
    /// counts and wall time add up, per-chain call counts are concatenated (so the means and maxima are over all
    /// chains), acceptance and round lengths are pooled. Used for runs made one chain at a time.
    /// </summary>
    /// <exception cref="ArgumentException">No runs, or runs of different samplers, step counts or lengths.</exception>
    public static SamplingStats Merge(IReadOnlyList<SamplingStats> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            throw new ArgumentException("Merge needs at least one run.", nameof(runs));
        }

        SamplingStats first = runs[0];
        if (runs.Any(r => r.Sampler != first.Sampler || r.Steps != first.Steps || r.SpecLength != first.SpecLength))
        {
            throw new ArgumentException("Only runs of one sampler, step count and speculation length can be merged.", nameof(runs));
        }

        var merged = new SamplingStats();
        merged.Reset(first.Sampler, first.Steps, runs.Sum(r => r.Samples), first.SpecLength, first._specLengthEffective);
        int offset = 0;
        foreach (SamplingStats r in runs)
        {
            Add(merged._attempts, r._attempts);
            Add(merged._accepted, r._accepted);
            Add(merged._roundLengths, r._roundLengths);
            if (r.ChosenLengths is { } chosen)
            {
                merged.ChosenLengths ??= new long[chosen.Length];
                if (merged.ChosenLengths.Length < chosen.Length)
                {
                    long[] grown = new long[chosen.Length];
                    merged.ChosenLengths.CopyTo(grown, 0);
                    merged.ChosenLengths = grown;
                }

                Add(merged.ChosenLengths, chosen);
            }

            r._callsPerChain.AsSpan(0, r.Samples).CopyTo(merged._callsPerChain.AsSpan(offset));
            offset += r.Samples;
            merged.DenoiserInvocations += r.DenoiserInvocations;
            merged.RowsEvaluated += r.RowsEvaluated;
            merged.Rounds += r.Rounds;
            merged.WallSeconds += r.WallSeconds;
        }

        merged.FinishCalls();
        return merged;

        static void Add(long[] into, long[] from)
        {
            for (int i = 0; i < Math.Min(into.Length, from.Length); i++)
            {
                into[i] += from[i];
            }
        }
    }

    /// <summary>
    /// The stats JSON (the same fields and meanings as the CLI's <c>--stats</c> file and asd_sampler_stats_json),
    /// with the model's name first when <paramref name="model"/> is given.
    /// </summary>
    public string ToJson(bool indented = true, string? model = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            WriteJson(w, model);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the stats as one JSON object, with <c>"model"</c> first when <paramref name="model"/> is given.</summary>
    /// <remarks>
    /// Written field by field with the writer (from the field tables below), not by System.Text.Json's serializer, on
    /// purpose: libasd serves this JSON (asd_sampler_stats_json), and the serializer, even source-generated, leaves a
    /// small native allocation behind in the Native AOT library on first use (8 bytes, "definitely lost" under valgrind,
    /// tests/interop/run.sh), where the writer leaves none.
    /// </remarks>
    public void WriteJson(Utf8JsonWriter w, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        if (model is not null)
        {
            w.WriteString("model", model);
        }

        WriteFields(w, FieldsBeforeCounts);
        WriteCounts(w, AcceptanceByPosition, RoundLengths);
        WriteFields(w, FieldsAfterCounts);
        w.WriteEndObject();
    }

    /// <summary>
    /// The scalar fields of the stats JSON in their order, around the two arrays: the list is data, so a field is
    /// added in one place. The getters are static lambdas (created once) and <see cref="JsonScalar"/> is a struct, so
    /// writing them allocates nothing.
    /// </summary>
    private static readonly (string Name, Func<SamplingStats, JsonScalar> Value)[] FieldsBeforeCounts =
    [
        ("sampler", s => s.Sampler),
        ("steps", s => s.Steps),
        ("spec_len", s => s.SpecLength),
        ("spec_len_effective", s => s.SpecLengthEffective),
        ("samples", s => s.Samples),
        ("sequential_model_calls", s => s.SequentialModelCalls),
        ("sequential_model_calls_max", s => s.SequentialModelCallsMax),
        ("algorithmic_speedup", s => s.AlgorithmicSpeedup),
        ("denoiser_invocations", s => s.DenoiserInvocations),
        ("rows_evaluated", s => s.RowsEvaluated),
        ("rounds", s => s.Rounds),
    ];

    private static readonly (string Name, Func<SamplingStats, JsonScalar> Value)[] FieldsAfterCounts =
    [
        ("wall_seconds", s => s.WallSeconds),
        ("rng", s => s.RngScheme),
    ];

    private void WriteFields(Utf8JsonWriter w, (string Name, Func<SamplingStats, JsonScalar> Value)[] fields)
    {
        foreach ((string name, Func<SamplingStats, JsonScalar> value) in fields)
        {
            value(this).Write(w, name);
        }
    }

    /// <summary>
    /// One scalar of the stats JSON, written as its own type writes it: an integer (int or long) as an integer, a
    /// double by Utf8JsonWriter's double format, a string as a string.
    /// </summary>
    private readonly struct JsonScalar
    {
        private readonly string? _text;
        private readonly long _integer;
        private readonly double _real;
        private readonly Kind _kind;

        private JsonScalar(Kind kind, string? text = null, long integer = 0, double real = 0) => (_kind, _text, _integer, _real) = (kind, text, integer, real);

        private enum Kind : byte { Text, Integer, Real }

        public static implicit operator JsonScalar(string text) => new(Kind.Text, text: text);

        public static implicit operator JsonScalar(long integer) => new(Kind.Integer, integer: integer);

        public static implicit operator JsonScalar(double real) => new(Kind.Real, real: real);

        public void Write(Utf8JsonWriter w, string name)
        {
            switch (_kind)
            {
                case Kind.Text:
                    w.WriteString(name, _text);
                    break;
                case Kind.Integer:
                    w.WriteNumber(name, _integer);
                    break;
                default:
                    w.WriteNumber(name, _real);
                    break;
            }
        }
    }

    /// <summary>The "acceptance_by_position" and "round_lengths" arrays of the stats JSON (also written by shard merges).</summary>
    internal static void WriteCounts(Utf8JsonWriter w, IEnumerable<PositionAcceptance> acceptance, IEnumerable<(int Length, long Rounds)> roundLengths)
    {
        WriteAcceptance(w, acceptance);
        w.WriteStartArray("round_lengths");
        foreach ((int length, long rounds) in roundLengths)
        {
            w.WriteStartObject();
            w.WriteNumber("length", length);
            w.WriteNumber("rounds", rounds);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>The "acceptance_by_position" array of the stats JSON (also in asd bench's JSON, which --acceptance-from reads back).</summary>
    internal static void WriteAcceptance(Utf8JsonWriter w, IEnumerable<PositionAcceptance> acceptance)
    {
        w.WriteStartArray("acceptance_by_position");
        foreach (PositionAcceptance p in acceptance)
        {
            w.WriteStartObject();
            w.WriteNumber("position", p.Position);
            w.WriteNumber("attempts", p.Attempts);
            w.WriteNumber("accepted", p.Accepted);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>"auto" followed by L:rounds for each L chosen, for example "auto 4:3 8:12".</summary>
    private static string FormatHistogram(long[] chosen)
    {
        var sb = new StringBuilder("auto");
        for (int l = 1; l < chosen.Length; l++)
        {
            if (chosen[l] > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $" {l}:{chosen[l]}");
            }
        }

        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Sampler} K={Steps} L={SpecLength}: {SequentialModelCalls:F2} sequential calls ({AlgorithmicSpeedup:F2}x), {DenoiserInvocations} invocations, {RowsEvaluated} rows, {WallSeconds:F3}s");
}
