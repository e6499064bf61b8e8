using Asd.Native.Tasks;

namespace Asd.Tests.Denoising;

/// <summary>
/// builtin:policy: the task's geometry, and the quality test (200 observations, K = 100) with its negative control.
/// </summary>
/// <remarks>
/// The quality test is a statistical test with fixed seeds and fixed bars (90% reach the goal, 95% avoid the obstacle,
/// each mode 20% on symmetric observations); the trained policy clears them by a wide margin
/// (models/builtin-policy/QUALITY.md), so its false-alarm rate is negligible at these sample sizes. The control is
/// the same network with its conditioning cut (it sees zeros instead of the observation): it must fail.
/// </remarks>
public sealed class PolicyTests
{
    private static readonly float[] Up = [0f, -0.8f, 0f, 0.8f];

    private static float[] Path(params (float X, float Y)[] points)
    {
        Assert.Equal(PolicyTask.Waypoints, points.Length);
        return [.. points.SelectMany(p => new[] { p.X, p.Y })];
    }

    /// <summary>16 waypoints from the start (0, -0.8) to (0, 0.8) through (x, 0), on straight segments.</summary>
    private static float[] Detour(float x)
    {
        var pts = new (float, float)[PolicyTask.Waypoints];
        for (int i = 1; i <= PolicyTask.Waypoints; i++)
        {
            double t = i / (double)PolicyTask.Waypoints;
            double px = t <= 0.5 ? x * (t / 0.5) : x * ((1 - t) / 0.5);
            pts[i - 1] = ((float)px, (float)(-0.8 + (1.6 * t)));
        }

        return Path(pts);
    }

    [Fact]
    public void GeometryClassifiesHandMadePaths()
    {
        float[] left = Detour(-0.5f), right = Detour(0.5f), straight = Detour(0f);

        // Going up (+y), left is -x.
        Assert.Equal(1, PolicyTask.Side(Up, left));
        Assert.Equal(-1, PolicyTask.Side(Up, right));
        Assert.True(PolicyTask.ReachesGoal(Up, left));
        Assert.Equal(-1, PolicyTask.FirstCollision(Up, left));
        Assert.Equal(-1, PolicyTask.FirstCollision(Up, right));

        // Straight through the centre: the segment crossing y = -0.3 enters the disc.
        int hit = PolicyTask.FirstCollision(Up, straight);
        Assert.InRange(hit, 0, 6);

        // A segment whose end points are both outside the disc but which passes through it counts (point-to-segment).
        float[] jump = Path([.. Enumerable.Range(0, 16).Select(i => i < 8 ? (0f, -0.8f) : (0f, 0.8f))]);
        Assert.Equal(8, PolicyTask.FirstCollision(Up, jump));

        float[] shortOfGoal = Detour(-0.5f);
        shortOfGoal[^1] = 0.65f; // 0.15 from the goal > 0.1.
        Assert.False(PolicyTask.ReachesGoal(Up, shortOfGoal));

        PolicyQuality q = PolicyTask.Evaluate(Up, [.. left, .. right, .. straight, .. shortOfGoal]);
        Assert.Equal(new PolicyQuality(4, 3, 3, 3, 0), q); // The straight path is a tie (sum 0), counted left.
        Assert.Throws<ArgumentException>(() => PolicyTask.Evaluate(Up, new float[31]));
        Assert.Throws<ArgumentException>(() => PolicyTask.Evaluate(new float[8], new float[32]));
        float[] nan = Detour(0.5f);
        nan[3] = float.NaN;
        Assert.Equal(1, PolicyTask.Evaluate(Up, nan).NonFinite);
    }

    [Fact]
    public void ObservationsFollowTheStatedDistribution()
    {
        float[] obs = PolicyTask.SampleObservations(500, 1);
        for (int i = 0; i < 500; i++)
        {
            double rs = Math.Sqrt((obs[4 * i] * obs[4 * i]) + (obs[(4 * i) + 1] * obs[(4 * i) + 1]));
            double rg = Math.Sqrt((obs[(4 * i) + 2] * obs[(4 * i) + 2]) + (obs[(4 * i) + 3] * obs[(4 * i) + 3]));
            Assert.InRange(rs, 0.65 - 1e-6, 0.9 + 1e-6);
            Assert.InRange(rg, 0.65 - 1e-6, 0.9 + 1e-6);
        }

        float[] sym = PolicyTask.SymmetricObservations(8);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(-sym[4 * i], sym[(4 * i) + 2], 5);
            Assert.Equal(-sym[(4 * i) + 1], sym[(4 * i) + 3], 5);
        }

        Assert.Equal(PolicyTask.SampleObservations(10, 3), PolicyTask.SampleObservations(10, 3));
    }

    [Fact]
    public void BuiltinPolicyIsASmallRealPolicy()
    {
        using IDiffusionModel model = ModelCatalog.Open("builtin:policy");
        var mlp = Assert.IsType<MlpModel>(model);
        Assert.Equal([16, 2], model.SampleShape);
        Assert.Equal(4, model.ConditionSize);
        Assert.Equal(100, model.DefaultScheduler.NumTrainTimesteps);
        Assert.Equal(BetaSchedule.SquaredCosCapV2, model.DefaultScheduler.BetaSchedule);
        Assert.Equal(PredictionType.Epsilon, model.DefaultScheduler.PredictionType);

        // 2-4M parameters: the float32 weights (8-16 MB) do not fit in a 2 MB L2.
        Assert.InRange(mlp.Parameters, 2_000_000, 4_000_000);
        Assert.Throws<ArgumentException>(() => ModelCatalog.Open("builtin:policy?dim=3"));
    }

    [Fact]
    public void PolicyPassesItsQualityTestWithDdpmAndAsd()
    {
        using IDiffusionModel model = ModelCatalog.Open("builtin:policy");
        using var pool = new CorePool(0);
        PolicyAssessment ddpm = PolicyTask.Assess(model, 100, pool: pool);
        Assert.True(ddpm.Passed, "DDPM: " + ddpm);

        // ASD has the same law; the same bars hold for its samples (other seeds, so an independent check).
        PolicyAssessment asd = PolicyTask.Assess(model, 100, kind: SamplerKind.Asd, specLength: SpecLength.Fixed(8), pool: pool, seed: 7);
        Assert.True(asd.Passed, "ASD: " + asd);
    }

    [Fact]
    public void NegativeControlAPolicyBlindToItsObservationFails()
    {
        using IDiffusionModel model = ModelCatalog.Open("builtin:policy");
        using var blind = new BlindModel(model);
        using var pool = new CorePool(0);
        PolicyAssessment a = PolicyTask.Assess(blind, 100, pool: pool);
        Assert.False(a.Passed, "a policy that ignores the observation passed: " + a);
        Assert.True(a.General.ReachedShare < 0.5, a.ToString());
    }

    /// <summary>The control: the same network, but every conditioning row is replaced by zeros.</summary>
    internal sealed class BlindModel(IDiffusionModel inner) : IDiffusionModel
    {
        public string Name => inner.Name + " (blind)";

        public IReadOnlyList<int> SampleShape => inner.SampleShape;

        public int ConditionSize => inner.ConditionSize;

        public SchedulerConfig DefaultScheduler => inner.DefaultScheduler;

        public IDenoiser CreateDenoiser(DiffusionSchedule schedule, DenoiserOptions options) => new Blind(inner.CreateDenoiser(schedule, options), options.MaxBatchRows);

        public void Dispose()
        {
        }

        private sealed class Blind(IDenoiser d, int maxRows) : IDenoiser
        {
            private readonly float[] _zeros = new float[maxRows * d.ConditionSize];

            public int SampleSize => d.SampleSize;

            public int ConditionSize => d.ConditionSize;

            public bool IsBatchInvariant => d.IsBatchInvariant;

            public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output) =>
                d.Denoise(samples, timesteps, _zeros.AsSpan(0, conditioning.Length), output);
        }
    }
}
