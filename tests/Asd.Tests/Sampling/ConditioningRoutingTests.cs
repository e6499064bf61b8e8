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
        const float Scale = 2.5f;
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
        Assert.Contains("The null condition has 2 values but a conditioning row has 3", Assert.Throws<ArgumentException>(() => new GuidedDenoiser(inner, new NullCondition.Value([0f, 0f]), 2)).Message);
        var guided = new GuidedDenoiser(inner, new NullCondition.Zeros(), 2);
        Assert.Throws<ArgumentException>(() => guided.Denoise(new float[inner.SampleSize], [10], new float[2], new float[inner.SampleSize]));
    }
}
