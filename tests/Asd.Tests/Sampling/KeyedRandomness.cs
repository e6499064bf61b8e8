namespace Asd.Tests.Sampling;

/// <summary>What a random draw is: Gaussians (a whole row of D values) or one uniform.</summary>
internal enum DrawKind
{
    Gaussian,
    Uniform,
}

/// <summary>The identity of a random draw as the sampler asked for it: (chain, index, purpose), its kind and length.</summary>
internal readonly record struct Draw(DrawKind Kind, ulong Chain, int Index, NoisePurpose Purpose, int Length)
{
    public override string ToString() => $"{(Kind == DrawKind.Uniform ? "U" : "G")}(chain {Chain}, index {Index}, {Purpose}{(Kind == DrawKind.Gaussian ? $", {Length} values" : "")})";
}

/// <summary>One denoiser call as the model saw it: per row, the chain (from its conditioning) and the step (from its timestep).</summary>
internal sealed record Call((ulong Chain, int Step)[] Rows);

/// <summary>Everything a run asked of its noise and its model, in order.</summary>
internal sealed class RunTrace
{
    public List<object> Events { get; } = [];
}

/// <summary>The engine's counter-based noise, with every draw recorded (and each identity's values checked to repeat).</summary>
internal sealed class RecordingNoise(ulong seed) : INoiseSource
{
    /// <summary>Where draws are recorded.</summary>
    public RunTrace Trace { get; set; } = new();

    private readonly CounterNoise _inner = new(seed);
    private readonly Dictionary<Draw, float[]> _values = [];

    public ulong Seed => seed;

    public List<string> Inconsistencies { get; } = [];

    public void Gaussian(ulong chain, int step, NoisePurpose purpose, Span<float> destination)
    {
        var draw = new Draw(DrawKind.Gaussian, chain, step, purpose, destination.Length);
        Trace.Events.Add(draw);
        _inner.Gaussian(chain, step, purpose, destination);
        if (_values.TryGetValue(draw, out float[]? earlier))
        {
            if (!earlier.AsSpan().SequenceEqual(destination))
            {
                Inconsistencies.Add($"{draw} gave other values when read again");
            }
        }
        else
        {
            _values[draw] = destination.ToArray();
        }
    }

    public double Uniform(ulong chain, int step, NoisePurpose purpose)
    {
        Trace.Events.Add(new Draw(DrawKind.Uniform, chain, step, purpose, 1));
        return _inner.Uniform(chain, step, purpose);
    }
}

/// <summary>
/// Wraps an unconditional denoiser as a conditional one whose single conditioning value is the chain's local index, so
/// every call can be recorded row by row with its chain; the timestep gives the step. The output is the inner model's.
/// </summary>
internal sealed class ChainTaggingDenoiser(IDenoiser inner, InferencePlan plan) : IDenoiser
{
    /// <summary>Where calls are recorded.</summary>
    public RunTrace Trace { get; set; } = new();

    private readonly Dictionary<int, int> _stepOfTimestep = Enumerable.Range(0, plan.Steps).ToDictionary(i => plan.Timesteps[i]);

    /// <summary>The global id of local chain 0 of the next run.</summary>
    public ulong ChainOffset { get; set; }

    public int SampleSize => inner.SampleSize;

    public int ConditionSize => 1;

    public bool IsBatchInvariant => inner.IsBatchInvariant;

    public int MaxRowsPerCall => inner.MaxRowsPerCall;

    public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
    {
        var rows = new (ulong, int)[timesteps.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = (ChainOffset + (ulong)conditioning[r], _stepOfTimestep[timesteps[r]]);
        }

        Trace.Events.Add(new Call(rows));
        inner.Denoise(samples, timesteps, default, output);
    }

    /// <summary>Conditioning that tags <paramref name="n"/> chains 0..n-1.</summary>
    public static float[] Tags(int n) => [.. Enumerable.Range(0, n).Select(i => (float)i)];
}

/// <summary>
/// The reproducibility contract of asd-math section 6 for one run, checked from the outside: what the sampler asked of
/// its noise, against what its model was asked. Every random value must be identified by (seed, chain, absolute step,
/// purpose, element); the identity must be the one the algorithm (asd-math section 3) assigns to its use; no two
/// different identities may read the same counter block; each purpose has its own stream.
/// </summary>
internal static class KeyedRandomness
{
    /// <summary>The counter blocks of scheme asd-rng-1 (Asd.Simd/Random/CounterRng.cs, its documentation) that a draw reads.</summary>
    public static IEnumerable<(uint K0, uint K1, uint C0, uint C1, uint C2, uint C3)> Blocks(ulong seed, Draw draw)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32) ^ ((uint)(draw.Chain >> 32) * 0x5851F42Du);
        int words = draw.Kind == DrawKind.Uniform ? 1 : 2 * ((draw.Length + 1) / 2);
        for (uint block = 0; block < (words + 3) / 4; block++)
        {
            yield return (k0, k1, block, (uint)draw.Index, (uint)draw.Purpose, (uint)draw.Chain);
        }
    }

    /// <summary>
    /// Checks a run of <paramref name="chains"/> chains (global ids from <paramref name="offset"/>) of sample size
    /// <paramref name="d"/>; returns the violations (empty when the contract holds).
    /// </summary>
    public static List<string> Check(RunTrace trace, ulong seed, InferencePlan plan, ulong offset, int chains, int d)
    {
        var violations = new List<string>();
        int k = plan.Steps;

        // Each purpose has its own stream: Gaussians are initial noise (index 0) or step noise (index = a step),
        // a whole row each; uniforms are acceptance uniforms of a step.
        foreach (Draw draw in trace.Events.OfType<Draw>())
        {
            bool wellFormed = draw.Kind == DrawKind.Uniform
                ? draw.Purpose == NoisePurpose.Accept && draw.Index >= 1 && draw.Index < k
                : draw.Length == d && ((draw.Purpose == NoisePurpose.Initial && draw.Index == 0) || (draw.Purpose == NoisePurpose.Step && draw.Index >= 0 && draw.Index < k));
            if (!wellFormed || draw.Chain < offset || draw.Chain >= offset + (ulong)chains)
            {
                violations.Add($"{draw}: no such identity (purpose, index, length or chain out of place)");
            }
        }

        // No two different identities read the same counter block.
        var owner = new Dictionary<(uint, uint, uint, uint, uint, uint), Draw>();
        foreach (Draw draw in trace.Events.OfType<Draw>().Distinct())
        {
            foreach (var block in Blocks(seed, draw))
            {
                if (owner.TryGetValue(block, out Draw other) && other != draw)
                {
                    violations.Add($"{draw} and {other} read the same counter block {block}");
                }

                owner[block] = draw;
            }
        }

        // A uniform decides one step once.
        foreach (var repeated in trace.Events.OfType<Draw>().Where(x => x.Kind == DrawKind.Uniform).GroupBy(x => x).Where(g => g.Count() > 1))
        {
            violations.Add($"{repeated.Key} was read {repeated.Count()} times: two decisions share one uniform");
        }

        for (int local = 0; local < chains; local++)
        {
            CheckChain(trace, plan, offset + (ulong)local, violations);
        }

        return violations;
    }

    /// <summary>
    /// One chain's draws against its model rows. Between two calls that carry the chain, the uniforms decide the
    /// earlier call's rows and the step noise drafts the later call's: U_s decides step s, whose drafted state
    /// x_{s+1} was a row of the earlier call; z_s moves a state to step s + 1, a row of the later call (or, after the
    /// last call, the output). A call's rows are either exactly the rows its step noise drafted, or one row at the
    /// chain's own state: step 0, or the step after a rejection (the last uniform decided step r, the row is r + 1).
    /// </summary>
    private static void CheckChain(RunTrace trace, InferencePlan plan, ulong chain, List<string> violations)
    {
        int k = plan.Steps;
        var gaps = new List<(List<int> Noise, List<int> Uniforms)> { ([], []) };
        var rows = new List<int[]>();
        bool initial = false;
        foreach (object e in trace.Events)
        {
            if (e is Call call)
            {
                int[] mine = [.. call.Rows.Where(r => r.Chain == chain).Select(r => r.Step)];
                if (mine.Length > 0)
                {
                    rows.Add(mine);
                    gaps.Add(([], []));
                }
            }
            else if (e is Draw draw && draw.Chain == chain)
            {
                if (draw.Purpose == NoisePurpose.Initial)
                {
                    if (initial || rows.Count > 0)
                    {
                        violations.Add($"chain {chain}: initial noise drawn twice or after a model call");
                    }

                    initial = true;
                }
                else if (draw.Kind == DrawKind.Uniform)
                {
                    gaps[^1].Uniforms.Add(draw.Index);
                }
                else
                {
                    gaps[^1].Noise.Add(draw.Index);
                }
            }
        }

        if (!initial)
        {
            violations.Add($"chain {chain}: no initial noise");
        }

        int lastDecided = -1;
        for (int g = 0; g < gaps.Count; g++)
        {
            (List<int> noise, List<int> uniforms) = gaps[g];
            if (uniforms.Count > 0)
            {
                int[] decidedRows = g > 0 ? rows[g - 1] : [];
                for (int u = 0; u < uniforms.Count; u++)
                {
                    int s = uniforms[u];
                    if (!decidedRows.Contains(s + 1) || (u > 0 && s != uniforms[u - 1] + 1))
                    {
                        violations.Add($"chain {chain}: U of step {s} read after a call with rows [{string.Join(", ", decidedRows)}] (decisions so far: [{string.Join(", ", uniforms.Take(u))}])");
                    }
                }

                lastDecided = uniforms[^1];
            }

            if (g == rows.Count)
            {
                // After the chain's last call: only the last step's noise (when that step is random), once.
                bool lastRandom = plan.SigmaF[k - 1] != 0f;
                if (rows.Count == 0 || rows[^1].Max() != k - 1 || !noise.SequenceEqual(lastRandom ? [k - 1] : []))
                {
                    violations.Add($"chain {chain}: ends with step noise [{string.Join(", ", noise)}] after rows [{string.Join(", ", rows.LastOrDefault() ?? [])}]");
                }

                continue;
            }

            int[] next = rows[g];
            int[] drafted = [.. noise.Select(s => s + 1)];
            bool stateRow = noise.Count == 0 && next.Length == 1 && (g == 0 ? next[0] == 0 : next[0] == lastDecided + 1);
            bool draftRows = next.All(r => r >= 1 && (plan.SigmaF[r - 1] == 0f || drafted.Contains(r))) && drafted.All(next.Contains) && drafted.Distinct().Count() == drafted.Length;
            if (!stateRow && !(draftRows && (g > 0 || next.Length == 0)))
            {
                violations.Add($"chain {chain}: a call with rows [{string.Join(", ", next)}] after step noise [{string.Join(", ", noise)}] (last decided step {lastDecided})");
            }
        }
    }
}

