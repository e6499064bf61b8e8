using Asd.Simd.Kernels;

namespace Asd.Native.Sampling;

/// <summary>
/// Deliberately broken variants of ASD, used only by the test suite's negative controls: each must make the
/// statistical tests fail. Production code never sets one.
/// </summary>
internal enum AsdFault
{
    None,

    /// <summary>Accept every draft.</summary>
    AlwaysAccept,

    /// <summary>Drop the factor 1/2 from the acceptance log-ratio.</summary>
    NoHalfInLogRatio,

    /// <summary>On rejection, draw a fresh value from the draft law instead of reflecting into the target.</summary>
    ResampleFromDraft,

    /// <summary>Reflect about an axis orthogonal to the right one.</summary>
    ReflectWrongAxis,

    /// <summary>After a rejection, skip the extra model call and reuse the stale m_i at the corrected state.</summary>
    StaleModelAfterRejection,
}

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
    /// <param name="fault">Negative-control variant; <see cref="AsdFault.None"/> in production.</param>
    /// <param name="zDotU">z . (md - m_i) in double (for callers that record it).</param>
    public static CouplingDecision Decide<TUniform>(
        ReadOnlySpan<float> z,
        ReadOnlySpan<float> targetModel,
        ReadOnlySpan<float> draftModel,
        double b,
        double sigma,
        ref TUniform uniform,
        Span<float> correctedNoise,
        AsdFault fault,
        out double zDotU)
        where TUniform : struct, IUniformDraw
    {
        RowOps.DifferenceDotAndNorm(z, targetModel, draftModel, out zDotU, out double uDotU);
        if (uDotU == 0 || b == 0 || fault == AsdFault.AlwaysAccept)
        {
            return CouplingDecision.Accept;
        }

        if (sigma == 0)
        {
            return CouplingDecision.Reject;
        }

        // With d = b u: z.d / sigma - |d|^2 / (2 sigma^2).
        double zd = b * zDotU, dd = b * b * uDotU;
        double half = fault == AsdFault.NoHalfInLogRatio ? 1.0 : 0.5;
        double logRatio = (zd / sigma) - (half * dd / (sigma * sigma));
        if (Math.Log(uniform.Next()) < logRatio)
        {
            return CouplingDecision.Accept;
        }

        if (fault == AsdFault.ReflectWrongAxis)
        {
            ReflectAboutWrongAxis(z, targetModel, draftModel, correctedNoise);
        }
        else
        {
            RowOps.ReflectAcrossDifference(z, targetModel, draftModel, zDotU, uDotU, correctedNoise);
        }

        return CouplingDecision.Reject;
    }

    /// <summary>Negative control: reflects across w, a vector orthogonal to u (pairs rotated by 90 degrees).</summary>
    private static void ReflectAboutWrongAxis(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> destination)
    {
        int n = z.Length;
        Span<double> w = n <= 512 ? stackalloc double[n] : new double[n];
        w.Clear();
        for (int i = 0; i + 1 < n; i += 2)
        {
            w[i] = -((double)p[i + 1] - q[i + 1]);
            w[i + 1] = (double)p[i] - q[i];
        }

        double zw = 0, ww = 0;
        for (int i = 0; i < n; i++)
        {
            zw += z[i] * w[i];
            ww += w[i] * w[i];
        }

        double scale = ww > 0 ? 2 * zw / ww : 0;
        for (int i = 0; i < n; i++)
        {
            destination[i] = (float)(z[i] - (scale * w[i]));
        }
    }
}

/// <summary>A lazily drawn uniform, as a struct so the hot path stays allocation-free.</summary>
internal interface IUniformDraw
{
    /// <summary>U in (0, 1).</summary>
    double Next();
}
