namespace Asd.Native.Sampling;

/// <summary>What the Gaussian rejection sampler decided for one draft.</summary>
internal enum CouplingDecision
{
    /// <summary>Keep the draft.</summary>
    Accept,

    /// <summary>Replace it: target mean plus sigma times the corrected noise.</summary>
    Reject,
}

/// <summary>
/// The Gaussian rejection sampler with reflection (docs/math.md section 3, step 3), in noise coordinates.
/// The draft of a step is N(mu_d, sigma^2 I) with noise z, the target N(mu_t, sigma^2 I), and
/// d = mu_t - mu_d = b (md - m_i). Accept iff log U &lt; z.d / sigma - |d|^2 / (2 sigma^2); on rejection the
/// value is mu_t + sigma z' with z' = z reflected across the hyperplane orthogonal to d. Given the prefix, the
/// result has exactly the target law (reflection maximal coupling).
/// </summary>
internal static class ReflectionCoupling
{
    /// <summary>
    /// Decides one draft. <paramref name="uniform"/> is called only when a random decision is needed
    /// (d != 0 and sigma &gt; 0): with d = 0 the draft is exact, with sigma = 0 a different mean is always rejected.
    /// </summary>
    /// <param name="z">The draft's noise.</param>
    /// <param name="targetModel">md, the model at the draft's state.</param>
    /// <param name="draftModel">m_i, the value the draft reused.</param>
    /// <param name="b">The step's x0 coefficient (d = b (md - m_i)).</param>
    /// <param name="sigma">The step's noise scale.</param>
    /// <param name="uniform">Draws U in (0, 1) for this step.</param>
    /// <param name="correctedNoise">On rejection, receives z' (unused when sigma = 0).</param>
    public static CouplingDecision Decide<TUniform>(
        ReadOnlySpan<float> z,
        ReadOnlySpan<float> targetModel,
        ReadOnlySpan<float> draftModel,
        double b,
        double sigma,
        ref TUniform uniform,
        Span<float> correctedNoise)
        where TUniform : struct, IUniformDraw
    {
        RowOps.DifferenceDotAndNorm(z, targetModel, draftModel, out double zDotU, out double uDotU);
        if (uDotU == 0 || b == 0)
        {
            return CouplingDecision.Accept;
        }

        if (sigma == 0)
        {
            return CouplingDecision.Reject;
        }

        // With d = b u: z.d / sigma - |d|^2 / (2 sigma^2).
        double zd = b * zDotU, dd = b * b * uDotU;
        double logRatio = (zd / sigma) - (0.5 * dd / (sigma * sigma));
        if (Math.Log(uniform.Next()) < logRatio)
        {
            return CouplingDecision.Accept;
        }

        RowOps.ReflectAcrossDifference(z, targetModel, draftModel, zDotU, uDotU, correctedNoise);
        return CouplingDecision.Reject;
    }
}

/// <summary>A lazily drawn uniform, as a struct so the hot path stays allocation-free.</summary>
internal interface IUniformDraw
{
    /// <summary>U in (0, 1).</summary>
    double Next();
}

/// <summary>
/// One draft decision of a round, as the sampler hands it to its variant: draft position <see cref="Position"/> of
/// the round decides absolute step <see cref="Step"/> of chain <see cref="Chain"/>.
/// </summary>
internal readonly ref struct DraftDecision
{
    /// <summary>The draft's noise z (the step noise of <see cref="Step"/>).</summary>
    public required ReadOnlySpan<float> Z { get; init; }

    /// <summary>md, the model at the draft's state.</summary>
    public required ReadOnlySpan<float> TargetModel { get; init; }

    /// <summary>m_i, the model value the round's drafts reused.</summary>
    public required ReadOnlySpan<float> DraftModel { get; init; }

    /// <summary>The run's steps and coefficients.</summary>
    public required InferencePlan Plan { get; init; }

    /// <summary>The absolute step index i + j being decided.</summary>
    public required int Step { get; init; }

    /// <summary>The draft position j within the round (j &gt;= 1).</summary>
    public required int Position { get; init; }

    /// <summary>The run's random numbers.</summary>
    public required INoiseSource Noise { get; init; }

    /// <summary>The global chain id (the noise key).</summary>
    public required ulong Chain { get; init; }
}

/// <summary>
/// The algorithm an <see cref="AsdSampler"/> runs, as a struct type argument of its round loop: the JIT compiles one
/// copy of the loop per variant, so the production variant (<see cref="ExactAsd"/>) carries no branch for anything
/// else. The test suite's negative controls are other implementations (deliberately broken), switched on only there.
/// </summary>
internal interface IAsdVariant
{
    /// <summary>Decides one draft; on rejection writes the corrected noise z'.</summary>
    CouplingDecision Decide(in DraftDecision draft, Span<float> correctedNoise);

    /// <summary>Whether a round that ended in a rejection evaluates the model at the corrected state (asd-math 3, step 4).</summary>
    bool EvaluatesModelAfterRejection { get; }

    /// <summary>Whether a fully accepted round takes the last verified model value as m at its new state.</summary>
    bool AdoptsVerifiedModelAfterFullAcceptance { get; }
}

/// <summary>Exact ASD (asd-math section 3): the step's own coefficients, U keyed by (chain, absolute step, Accept).</summary>
internal readonly struct ExactAsd : IAsdVariant
{
    /// <inheritdoc/>
    public bool EvaluatesModelAfterRejection => true;

    /// <inheritdoc/>
    public bool AdoptsVerifiedModelAfterFullAcceptance => true;

    /// <inheritdoc/>
    public CouplingDecision Decide(in DraftDecision draft, Span<float> correctedNoise)
    {
        var uniform = new AcceptanceUniform(draft.Noise, draft.Chain, draft.Step);
        return ReflectionCoupling.Decide(
            draft.Z, draft.TargetModel, draft.DraftModel, draft.Plan.B[draft.Step], draft.Plan.Sigma[draft.Step], ref uniform, correctedNoise);
    }
}

/// <summary>U_i of asd-math section 3: the uniform of (chain, absolute step i, purpose Accept).</summary>
internal readonly struct AcceptanceUniform(INoiseSource noise, ulong chain, int step) : IUniformDraw
{
    /// <inheritdoc/>
    public double Next() => noise.Uniform(chain, step, NoisePurpose.Accept);
}
