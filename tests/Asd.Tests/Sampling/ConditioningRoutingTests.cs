using Asd.Native.Backends.Mlp;
using Asd.Native.Threading;

namespace Asd.Tests.Sampling;

/// <summary>
/// Each chain is conditioned on its own row, and guidance combines each row's two halves: exact checks on a conditional
/// network (the mlp_small fixture). Written for the survivors of the mutation study over Sampler.cs and
/// GuidedDenoiser.cs (tools/mutation/RESULTS.md): a row index divided instead of multiplied routed chains to other
/// chains' observations, and no exact test noticed; only a policy's quality could have.
/// </summary>
public sealed class ConditioningRoutingTests : IDisposable
{
    private const int Chains = 5;
    private const float Scale = 2.5f;
    private readonly MlpModel _model = MlpModel.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "mlp_small", "mlp_small.json"));
    private readonly CorePool _pool = new(1);

    public void Dispose()
    {
        _model.Dispose();
        _pool.Dispose();
    }

    private static InferencePlan Plan() => new DiffusionSchedule(new SchedulerConfig()).Plan(20);

    private Sampler Make(string kind, IDenoiser denoiser) => kind == "ddpm"
        ? new DdpmSampler(denoiser, Plan(), new SamplerOptions())
        : new AsdSampler(denoiser, Plan(), new SamplerOptions { SpecLength = SpecLength.Fixed(4) });

    private static float[] Rows(int count, int width, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count * width).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
    }

    [Theory]
    [InlineData("ddpm")]
    [InlineData("asd")]
    public void EachChainIsConditionedOnItsOwnRow(string kind)
    {
        IDenoiser denoiser = _model.CreateDenoiser(64, _pool);
        int d = denoiser.SampleSize, c = denoiser.ConditionSize;
        Assert.True(c > 0);
        float[] cond = Rows(Chains, c, 1);
        var batch = new float[Chains * d];
        using (Sampler s = Make(kind, denoiser))
        {
            s.Sample(Chains, 17, batch, cond);
        }

        // Chain i alone (its id as the chain offset, its row as shared conditioning) gives the batch's row i, bit for bit.
        for (int i = 0; i < Chains; i++)
        {
            var alone = new float[d];
            using Sampler s = Make(kind, denoiser);
            s.Sample(1, 17, alone, cond.AsSpan(i * c, c), chainOffset: (ulong)i);
            Assert.Equal(batch.AsSpan(i * d, d).ToArray(), alone);
        }

        // One row shared by all chains is the same run as that row repeated per chain; and the rows matter.
        float[] repeated = [.. Enumerable.Range(0, Chains).SelectMany(_ => cond.Take(c))];
        var shared = new float[Chains * d];
        var perChain = new float[Chains * d];
        using (Sampler s = Make(kind, denoiser))
        {
            s.Sample(Chains, 17, shared, cond.AsSpan(0, c));
            s.Sample(Chains, 17, perChain, repeated);
        }

        Assert.Equal(shared, perChain);
        Assert.NotEqual(batch.AsSpan(d, d).ToArray(), shared.AsSpan(d, d).ToArray());
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void GuidanceCombinesEachRowsOwnHalves(int rows)
    {
        IDenoiser inner = _model.CreateDenoiser(64, _pool);
        int d = inner.SampleSize, c = inner.ConditionSize;
        float[] nullRow = Rows(1, c, 9);
        var guided = new GuidedDenoiser(inner, new NullCondition.Value(nullRow), Scale);
        Assert.Equal(c, guided.ConditionSize);
        Assert.Equal(inner.MaxRowsPerCall / 2, guided.MaxRowsPerCall);

        float[] x = Rows(rows, d, 2), cond = Rows(rows, c, 3);
        int[] t = [.. Enumerable.Range(0, rows).Select(r => 100 + (300 * r))];
        var output = new float[rows * d];
        guided.Denoise(x, t, cond, output);

        // The reference: each row's conditional and unconditional outputs by single-row calls of the inner network
        // (batch-invariant, so the same bits), then m_u + w (m_c - m_u) as two rounded operations.
        for (int r = 0; r < rows; r++)
        {
            var mc = new float[d];
            var mu = new float[d];
            inner.Denoise(x.AsSpan(r * d, d), t.AsSpan(r, 1), cond.AsSpan(r * c, c), mc);
            inner.Denoise(x.AsSpan(r * d, d), t.AsSpan(r, 1), nullRow, mu);
            float[] expected = [.. Enumerable.Range(0, d).Select(j => ((mc[j] - mu[j]) * Scale) + mu[j])];
            Assert.Equal(expected, output.AsSpan(r * d, d).ToArray());
            Assert.NotEqual(mc, mu);
        }

        // Zeros as the null condition; a larger call after a smaller one (buffers regrown) gives the same rows.
        var zeros = new GuidedDenoiser(inner, new NullCondition.Zeros(), Scale);
        var small = new float[d];
        zeros.Denoise(x.AsSpan(0, d), t.AsSpan(0, 1), cond.AsSpan(0, c), small);
        var all = new float[rows * d];
        zeros.Denoise(x, t, cond, all);
        Assert.Equal(small, all.AsSpan(0, d).ToArray());
        var mc0 = new float[d];
        var mu0 = new float[d];
        inner.Denoise(x.AsSpan(0, d), t.AsSpan(0, 1), cond.AsSpan(0, c), mc0);
        inner.Denoise(x.AsSpan(0, d), t.AsSpan(0, 1), new float[c], mu0);
        Assert.Equal([.. Enumerable.Range(0, d).Select(j => ((mc0[j] - mu0[j]) * Scale) + mu0[j])], small);
    }

    [Fact]
    public void GuidanceRefusesWhatItCannotRun()
    {
        IDenoiser inner = _model.CreateDenoiser(64, _pool);
        Assert.Throws<ArgumentNullException>(() => new GuidedDenoiser(null!, new NullCondition.Zeros(), 2));
        Assert.Throws<ArgumentNullException>(() => new GuidedDenoiser(inner, null!, 2));
        Assert.Contains("must be finite", Assert.Throws<ArgumentOutOfRangeException>(() => new GuidedDenoiser(inner, new NullCondition.Zeros(), double.NaN)).Message);
        Assert.Equal("Guidance needs a conditional model.", Assert.Throws<ArgumentException>(() => new GuidedDenoiser(new SamplerRunChecksTests.FakeDenoiser(2, 0), new NullCondition.Zeros(), 2)).Message);
        Assert.Contains("The null condition has 2 values but a conditioning row has 3", Assert.Throws<ArgumentException>(() => new GuidedDenoiser(inner, new NullCondition.Value([0f, 0f]), 2)).Message);
        var guided = new GuidedDenoiser(inner, new NullCondition.Zeros(), 2);
        Assert.Throws<ArgumentException>(() => guided.Denoise(new float[inner.SampleSize], [10], new float[2], new float[inner.SampleSize]));
    }

    /// <summary>
    /// The buffers are reused across calls: a smaller call after a larger one must not see the larger call's rows (its
    /// null half starts where the larger call's conditional rows were), and the steady state allocates nothing.
    /// </summary>
    [Theory]
    [InlineData("zeros")]
    [InlineData("value")]
    [InlineData("flag")]
    public void GuidanceReusesItsBuffersWithoutLeakingRowsOrAllocating(string kind)
    {
        IDenoiser inner = _model.CreateDenoiser(64, _pool);
        int d = inner.SampleSize;
        GuidedDenoiser Make() => kind switch
        {
            "zeros" => new GuidedDenoiser(inner, new NullCondition.Zeros(), Scale),
            "value" => new GuidedDenoiser(inner, new NullCondition.Value([0.25f, -0.5f, 0.75f]), Scale),
            _ => new GuidedDenoiser(inner, new NullCondition.FlagInput("flag"), Scale),
        };

        GuidedDenoiser reused = Make();
        int c = reused.ConditionSize;
        const int Big = 4, Small = 2;
        float[] x = Rows(Big, d, 7), cond = Rows(Big, c, 8);
        int[] t = [10, 500, 990, 250];
        reused.Denoise(x, t, cond, new float[Big * d]);
        var second = new float[Small * d];
        reused.Denoise(x.AsSpan(0, Small * d), t.AsSpan(0, Small), cond.AsSpan(0, Small * c), second);
        var fresh = new float[Small * d];
        Make().Denoise(x.AsSpan(0, Small * d), t.AsSpan(0, Small), cond.AsSpan(0, Small * c), fresh);
        Assert.Equal(fresh, second);

        long[] bytes = AllocationCheck.PerPass(() =>
        {
            for (int i = 0; i < 5; i++)
            {
                reused.Denoise(x.AsSpan(0, Small * d), t.AsSpan(0, Small), cond.AsSpan(0, Small * c), second);
                reused.Denoise(x, t, cond, new Span<float>(_steady, 0, Big * d));
            }
        });
        Assert.True(bytes.Count(b => b != 0) <= 1, $"bytes per pass: {string.Join(", ", bytes)}");
    }

    /// <summary>
    /// Guidance doubles every row, so its own buffers (and its inner call) held 2 x rows x D floats: with the rows per
    /// call the sampler allows (2^24 / D), twice the batch ceiling every other buffer keeps. Wide samples now run in
    /// passes of pairs that fit (each row's two halves in one inner call), with the same combination per row.
    /// </summary>
    [Fact]
    public void WideGuidedRowsRunInPassesWithinTheBatchCeiling()
    {
        const int D = 1 << 22, Rows4 = 4; // the sampler's rows per call for this width: 2^24 / 2^22
        Assert.Equal(Rows4, new SamplerOptions().RowsFor(D, 1));
        Assert.Equal(2, GuidedDenoiser.PairsPerPass(D, 1));
        Assert.Equal(1, GuidedDenoiser.PairsPerPass(D, 1 << 24));
        Assert.Equal(1 << 23, GuidedDenoiser.PairsPerPass(1, 1));
        var inner = new SamplerRunChecksTests.FakeDenoiser(D, 1);
        float[] x = Rows(Rows4, 1, 5).SelectMany(v => Enumerable.Repeat(v, D)).ToArray();
        float[] cond = [0.5f, -1f, 2f, 0.25f];
        int[] t = [10, 20, 30, 40];
        var output = new float[Rows4 * D];

        long before = GC.GetAllocatedBytesForCurrentThread();
        var guided = new GuidedDenoiser(inner, new NullCondition.Zeros(), Scale);
        guided.Denoise(x, t, cond, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(4, inner.MaxRowsSeen); // 2 guided rows, 2 halves each: 2^24 floats
        Assert.Equal(2, inner.Calls);
        Assert.InRange(allocated, 0, (2L << 26) + (1L << 20)); // sample and output buffers of 2^24 floats, small others
        for (int r = 0; r < Rows4; r++)
        {
            // The fake's m = 0.5 x + c[0]; the null half has c = 0, so m = 0.5 x + w c.
            float mc = (0.5f * x[r * D]) + cond[r], mu = 0.5f * x[r * D], expected = ((mc - mu) * Scale) + mu;
            Assert.Equal(expected, output[r * D]);
            Assert.Equal(expected, output[((r + 1) * D) - 1]);
        }
    }

    private readonly float[] _steady = new float[64];

    /// <summary>
    /// A flag null condition (diffusion models trained with a "drop the condition" input): the conditional half carries
    /// flag 0 after the row's values, the null half the same values with flag 1; the model's last conditioning value is
    /// the flag, so a guided row is one value shorter.
    /// </summary>
    [Fact]
    public void AFlagNullConditionAppendsTheFlagToEachRow()
    {
        IDenoiser inner = _model.CreateDenoiser(64, _pool);
        int d = inner.SampleSize, innerC = inner.ConditionSize;
        var guided = new GuidedDenoiser(inner, new NullCondition.FlagInput("drop"), Scale);
        Assert.Equal(innerC - 1, guided.ConditionSize);
        const int R = 3;
        float[] x = Rows(R, d, 3), cond = Rows(R, innerC - 1, 4);
        int[] t = [5, 400, 900];
        var output = new float[R * d];
        guided.Denoise(x, t, cond, output);
        for (int r = 0; r < R; r++)
        {
            float[] on = [.. cond.AsSpan(r * (innerC - 1), innerC - 1).ToArray(), 0f], off = [.. cond.AsSpan(r * (innerC - 1), innerC - 1).ToArray(), 1f];
            var mc = new float[d];
            var mu = new float[d];
            inner.Denoise(x.AsSpan(r * d, d), t.AsSpan(r, 1), on, mc);
            inner.Denoise(x.AsSpan(r * d, d), t.AsSpan(r, 1), off, mu);
            Assert.NotEqual(mc, mu);
            Assert.Equal([.. Enumerable.Range(0, d).Select(j => ((mc[j] - mu[j]) * Scale) + mu[j])], output.AsSpan(r * d, d).ToArray());
        }

        // A flag needs a conditioning value to live in: a model with none is refused by name, not a negative slice later.
        var unconditional = new SamplerRunChecksTests.FakeDenoiser(2, 0);
        Assert.Contains("'input:drop' needs the model's last conditioning value", Assert.Throws<ArgumentException>(() => new GuidedDenoiser(unconditional, new NullCondition.FlagInput("drop"), 2)).Message);
        Assert.Equal(0, new GuidedDenoiser(new SamplerRunChecksTests.FakeDenoiser(2, 1), new NullCondition.FlagInput("drop"), 2).ConditionSize);
    }

    /// <summary>
    /// Both halves go through one call, so a model with a static batch of B takes B / 2 guided rows per call, and a
    /// sampler never sends it more than B; a static batch of 1 cannot hold both halves and is refused.
    /// </summary>
    [Fact]
    public void GuidanceHalvesAStaticBatch()
    {
        var inner = new StaticBatch(_model.CreateDenoiser(64, _pool), 4);
        var guided = new GuidedDenoiser(inner, new NullCondition.Zeros(), Scale);
        Assert.Equal(2, guided.MaxRowsPerCall);
        Assert.Equal(0, new GuidedDenoiser(_model.CreateDenoiser(64, _pool), new NullCondition.Zeros(), Scale).MaxRowsPerCall);
        using (var s = new DdpmSampler(guided, Plan()))
        {
            s.Sample(Chains, 3, new float[Chains * guided.SampleSize], Rows(Chains, guided.ConditionSize, 5));
        }

        Assert.Equal(4, inner.MaxRowsSeen);
        Assert.Contains("static batch of 1", Assert.Throws<ArgumentException>(() => new GuidedDenoiser(new StaticBatch(inner, 1), new NullCondition.Zeros(), Scale)).Message);
    }

    /// <summary>A denoiser with a static batch: refuses more rows than its cap, and reports the most it was given.</summary>
    private sealed class StaticBatch(IDenoiser inner, int cap) : IDenoiser
    {
        public int MaxRowsSeen { get; private set; }

        public int SampleSize => inner.SampleSize;

        public int ConditionSize => inner.ConditionSize;

        public bool IsBatchInvariant => inner.IsBatchInvariant;

        public int MaxRowsPerCall => cap;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            Assert.InRange(timesteps.Length, 1, cap);
            MaxRowsSeen = Math.Max(MaxRowsSeen, timesteps.Length);
            inner.Denoise(samples, timesteps, conditioning, output);
        }
    }
}
