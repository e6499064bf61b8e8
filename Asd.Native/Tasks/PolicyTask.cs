namespace Asd.Native.Tasks;

/// <summary>
/// The planar reaching task of <c>builtin:policy</c> (models/builtin-policy/README.md): the workspace is the square
/// [-1, 1]^2, the obstacle the open disc of radius 0.3 at the origin. An observation is [start_x, start_y, goal_x,
/// goal_y]; an action is 16 waypoints (x, y) after the start, the last one meant to be the goal. Demonstrations pass
/// the obstacle on the left or on the right, so the policy's law is bimodal.
/// </summary>
public static class PolicyTask
{
    /// <summary>The shapes: values per observation, and waypoints (x, y) per action.</summary>
    public const int ObservationSize = 4, Waypoints = 16;

    /// <summary>The obstacle's radius (its centre is the origin).</summary>
    public const double ObstacleRadius = 0.3;

    /// <summary>The workspace's side: the square [-1, 1]^2.</summary>
    public const double WorkspaceSize = 2.0;

    /// <summary>How close the last waypoint must come to the goal: 0.05 of the workspace size.</summary>
    public const double GoalTolerance = 0.05 * WorkspaceSize;

    /// <summary>The quality bar: share of samples that must reach the goal.</summary>
    public const double MinReachedShare = 0.90;

    /// <summary>The quality bar: share of samples that must never enter the obstacle.</summary>
    public const double MinCollisionFreeShare = 0.95;

    /// <summary>The quality bar: share each way around the obstacle must take on symmetric observations.</summary>
    public const double MinModeShare = 0.20;

    /// <summary>
    /// The quality test: <paramref name="observations"/> observations from the task's distribution (one sample each)
    /// and as many samples over 8 symmetric observations, all with K = <paramref name="steps"/>, in one batched run
    /// each. The policy passes when it meets <see cref="MinReachedShare"/> and <see cref="MinCollisionFreeShare"/> on
    /// the first set and each mode takes <see cref="MinModeShare"/> of the second.
    /// </summary>
    public static PolicyAssessment Assess(
        Denoising.IDiffusionModel model,
        int steps = 100,
        int observations = 200,
        Sampling.SamplerKind kind = Sampling.SamplerKind.Ddpm,
        Sampling.SpecLength? specLength = null,
        Threading.CorePool? pool = null,
        int seed = 20261127)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.ConditionSize != ObservationSize || model.SampleShape.Aggregate(1, (a, b) => a * b) != Waypoints * 2)
        {
            throw new ArgumentException($"'{model.Name}' is not a policy for this task (it needs {ObservationSize} conditioning values and {Waypoints} x 2 outputs).", nameof(model));
        }

        var request = new Sampling.SamplerRequest { Kind = kind, Steps = steps, SpecLength = specLength ?? Sampling.SpecLength.Fixed(8) };
        using Sampling.Sampler sampler = Sampling.SamplerFactory.Create(model, request, pool);
        float[] random = SampleObservations(observations, seed);
        var actions = new float[observations * Waypoints * 2];
        sampler.Sample(observations, (ulong)seed, actions, random);
        PolicyQuality general = Evaluate(random, actions);

        const int symmetricCount = 8;
        float[] symmetric = SymmetricObservations(symmetricCount);
        var symObs = new float[observations * ObservationSize];
        for (int i = 0; i < observations; i++)
        {
            symmetric.AsSpan((i % symmetricCount) * ObservationSize, ObservationSize).CopyTo(symObs.AsSpan(i * ObservationSize));
        }

        sampler.Sample(observations, (ulong)seed + 1, actions, symObs, chainOffset: (ulong)observations);
        PolicyQuality modes = Evaluate(symObs, actions);
        return new PolicyAssessment(general, modes);
    }

    /// <summary>
    /// Draws <paramref name="count"/> observations from the task's distribution: start at angle theta and radius
    /// U(0.65, 0.9), goal at angle theta + pi + U(-0.5, 0.5) and radius U(0.65, 0.9).
    /// </summary>
    public static float[] SampleObservations(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var rng = new Random(seed);
        var obs = new float[count * ObservationSize];
        for (int i = 0; i < count; i++)
        {
            double theta = rng.NextDouble() * 2 * Math.PI;
            double rs = 0.65 + (0.25 * rng.NextDouble());
            double delta = rng.NextDouble() - 0.5;
            double rg = 0.65 + (0.25 * rng.NextDouble());
            Write(obs.AsSpan(i * ObservationSize, ObservationSize), theta, rs, theta + Math.PI + delta, rg);
        }

        return obs;
    }

    /// <summary>
    /// <paramref name="count"/> symmetric observations (the start-goal line through the obstacle's centre, equal
    /// radii), at evenly spaced angles: both ways around the obstacle are equally short.
    /// </summary>
    public static float[] SymmetricObservations(int count, double radius = 0.8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var obs = new float[count * ObservationSize];
        for (int i = 0; i < count; i++)
        {
            double theta = (Math.PI / 2) + (2 * Math.PI * i / count);
            Write(obs.AsSpan(i * ObservationSize, ObservationSize), theta, radius, theta + Math.PI, radius);
        }

        return obs;
    }

    /// <summary>The observations <c>asd sample</c> shows by default: two symmetric ones and two off-centre ones.</summary>
    public static float[] DefaultObservations() =>
    [
        0.0f, -0.8f, 0.0f, 0.8f,
        -0.8f, 0.0f, 0.8f, 0.0f,
        -0.6f, -0.55f, 0.45f, 0.7f,
        0.7f, -0.5f, -0.55f, 0.6f,
    ];

    /// <summary>
    /// Which side of the obstacle a path passes: +1 left of the start-to-goal direction, -1 right
    /// (the sign of sum_i cross(goal - start, w_i - centre)).
    /// </summary>
    public static int Side(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        CheckShapes(observation, action);
        double dx = observation[2] - observation[0], dy = observation[3] - observation[1], sum = 0;
        for (int i = 0; i < Waypoints; i++)
        {
            sum += (dx * action[(2 * i) + 1]) - (dy * action[2 * i]);
        }

        return sum >= 0 ? 1 : -1;
    }

    /// <summary>Whether the last waypoint is within <see cref="GoalTolerance"/> of the goal.</summary>
    public static bool ReachesGoal(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        CheckShapes(observation, action);
        double ex = action[(2 * Waypoints) - 2] - observation[2], ey = action[(2 * Waypoints) - 1] - observation[3];
        return Math.Sqrt((ex * ex) + (ey * ey)) <= GoalTolerance;
    }

    /// <summary>
    /// The index of the first segment (0 = start to w_1) that comes closer than the obstacle's radius to its centre,
    /// or -1 when the polyline start, w_1, ..., w_16 never enters the obstacle.
    /// </summary>
    public static int FirstCollision(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        CheckShapes(observation, action);
        double px = observation[0], py = observation[1];
        for (int i = 0; i < Waypoints; i++)
        {
            double qx = action[2 * i], qy = action[(2 * i) + 1];
            if (SegmentDistanceToOrigin(px, py, qx, qy) < ObstacleRadius)
            {
                return i;
            }

            (px, py) = (qx, qy);
        }

        return -1;
    }

    /// <summary>
    /// Scores actions against observations (both N rows, or one observation shared by all actions).
    /// </summary>
    public static PolicyQuality Evaluate(ReadOnlySpan<float> observations, ReadOnlySpan<float> actions)
    {
        const int a = Waypoints * 2;
        if (actions.Length == 0 || actions.Length % a != 0)
        {
            throw new ArgumentException($"Actions hold {actions.Length} values; expected a multiple of {a}.", nameof(actions));
        }

        int n = actions.Length / a;
        bool shared = observations.Length == ObservationSize;
        if (!shared && observations.Length != n * ObservationSize)
        {
            throw new ArgumentException($"Observations hold {observations.Length} values; expected {ObservationSize} or {n} x {ObservationSize}.", nameof(observations));
        }

        int reached = 0, free = 0, left = 0, nonFinite = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> o = shared ? observations : observations.Slice(i * ObservationSize, ObservationSize);
            ReadOnlySpan<float> act = actions.Slice(i * a, a);
            if (!AllFinite(act))
            {
                nonFinite++;
                continue; // Counts as neither reaching nor collision-free.
            }

            reached += ReachesGoal(o, act) ? 1 : 0;
            free += FirstCollision(o, act) < 0 ? 1 : 0;
            left += Side(o, act) > 0 ? 1 : 0;
        }

        return new PolicyQuality(n, reached, free, left, nonFinite);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    private static double SegmentDistanceToOrigin(double px, double py, double qx, double qy)
    {
        double dx = qx - px, dy = qy - py, len2 = (dx * dx) + (dy * dy);
        double t = len2 > 0 ? Math.Clamp(-((px * dx) + (py * dy)) / len2, 0, 1) : 0;
        double cx = px + (t * dx), cy = py + (t * dy);
        return Math.Sqrt((cx * cx) + (cy * cy));
    }

    private static void Write(Span<float> o, double startAngle, double startRadius, double goalAngle, double goalRadius)
    {
        o[0] = (float)(startRadius * Math.Cos(startAngle));
        o[1] = (float)(startRadius * Math.Sin(startAngle));
        o[2] = (float)(goalRadius * Math.Cos(goalAngle));
        o[3] = (float)(goalRadius * Math.Sin(goalAngle));
    }

    private static void CheckShapes(ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        if (observation.Length != ObservationSize)
        {
            throw new ArgumentException($"An observation has {ObservationSize} values (got {observation.Length}).", nameof(observation));
        }

        if (action.Length != Waypoints * 2)
        {
            throw new ArgumentException($"An action has {Waypoints * 2} values (got {action.Length}).", nameof(action));
        }
    }
}

/// <summary>The outcome of <see cref="PolicyTask.Assess"/>.</summary>
/// <param name="General">Scores on observations from the task's distribution.</param>
/// <param name="Symmetric">Scores on symmetric observations (for the mode split).</param>
public readonly record struct PolicyAssessment(PolicyQuality General, PolicyQuality Symmetric)
{
    /// <summary>Whether every bar of the quality test is met.</summary>
    public bool Passed =>
        General.ReachedShare >= PolicyTask.MinReachedShare
        && General.CollisionFreeShare >= PolicyTask.MinCollisionFreeShare
        && Math.Min(Symmetric.LeftShare, 1 - Symmetric.LeftShare) >= PolicyTask.MinModeShare
        && Symmetric.NonFinite == 0;

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"{General.ReachedShare:0.0%} reach the goal (bar {PolicyTask.MinReachedShare:0%}), {General.CollisionFreeShare:0.0%} avoid the obstacle (bar {PolicyTask.MinCollisionFreeShare:0%}) over {General.Samples} observations; modes on symmetric observations {Symmetric.LeftShare:0%} left / {1 - Symmetric.LeftShare:0%} right (bar {PolicyTask.MinModeShare:0%} each): {(Passed ? "pass" : "FAIL")}");
}

/// <summary>Scores of a set of sampled actions.</summary>
/// <param name="Samples">Actions scored.</param>
/// <param name="ReachedGoal">Actions whose last waypoint is within the tolerance of the goal.</param>
/// <param name="CollisionFree">Actions whose path never enters the obstacle.</param>
/// <param name="Left">Actions passing the obstacle on the left.</param>
/// <param name="NonFinite">Actions with NaN or infinity (counted as failures).</param>
public readonly record struct PolicyQuality(int Samples, int ReachedGoal, int CollisionFree, int Left, int NonFinite)
{
    /// <summary>Share reaching the goal.</summary>
    public double ReachedShare => Samples == 0 ? 0 : (double)ReachedGoal / Samples;

    /// <summary>Share never entering the obstacle.</summary>
    public double CollisionFreeShare => Samples == 0 ? 0 : (double)CollisionFree / Samples;

    /// <summary>Share passing left.</summary>
    public double LeftShare => Samples == 0 ? 0 : (double)Left / Samples;
}
