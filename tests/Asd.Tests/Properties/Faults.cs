namespace Asd.Tests.Properties;

/// <summary>
/// Deliberately broken variants of ASD: the negative controls of the statistical properties and of the randomness
/// contract. Each is a one-line change of exact ASD that a careful person could still write. They live in the test
/// suite only; the sampler runs them through its variant seam (<c>AsdSampler.UseVariant</c>), whose production
/// instantiation carries no branch for them.
/// </summary>
internal enum AsdFault
{
    /// <summary>Exact ASD (the production code path).</summary>
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

    /// <summary>The log-ratio uses sigma of step s - 1 instead of step s.</summary>
    SigmaOfPreviousStep,

    /// <summary>The log-ratio uses sigma of step s + 1 instead of step s.</summary>
    SigmaOfNextStep,

    /// <summary>d = b (md - m_i) uses b of step s + 1.</summary>
    BOfNextStep,

    /// <summary>|d|^2 is computed as b |u|^2 instead of b^2 |u|^2.</summary>
    BNotSquared,

    /// <summary>U keyed by the draft position j instead of the absolute step i + j (the same U repeats every round).</summary>
    UniformByDraftPosition,

    /// <summary>U drawn under the step-noise purpose: it reads the counter block of z's Box-Muller radius.</summary>
    UniformFromStepNoise,

    /// <summary>On rejection, the target mean plus sigma times the unreflected z.</summary>
    UnreflectedNoiseAfterRejection,

    /// <summary>After a fully accepted round, the next round keeps drafting with the stale m_i.</summary>
    StaleModelAfterFullAcceptance,
}

/// <summary>ASD with a fault: exact ASD's decision step written out once more, each fault changing one line of it.</summary>
internal readonly struct FaultyAsd(AsdFault fault) : IAsdVariant
{
    public bool EvaluatesModelAfterRejection => fault != AsdFault.StaleModelAfterRejection;

    public bool AdoptsVerifiedModelAfterFullAcceptance => fault != AsdFault.StaleModelAfterFullAcceptance;

    public CouplingDecision Decide(in DraftDecision draft, Span<float> correctedNoise)
    {
        int s = draft.Step;
        double b = draft.Plan.B[fault == AsdFault.BOfNextStep ? s + 1 : s];
        double sigma = draft.Plan.Sigma[fault switch
        {
            AsdFault.SigmaOfPreviousStep => s - 1,
            AsdFault.SigmaOfNextStep => s + 1,
            _ => s,
        }];
        (int index, NoisePurpose purpose) = fault switch
        {
            AsdFault.UniformByDraftPosition => (draft.Position, NoisePurpose.Accept),
            AsdFault.UniformFromStepNoise => (s, NoisePurpose.Step),
            _ => (s, NoisePurpose.Accept),
        };

        RowOps.DifferenceDotAndNorm(draft.Z, draft.TargetModel, draft.DraftModel, out double zDotU, out double uDotU);
        if (uDotU == 0 || b == 0 || fault == AsdFault.AlwaysAccept)
        {
            return CouplingDecision.Accept;
        }

        if (sigma == 0)
        {
            return CouplingDecision.Reject;
        }

        double zd = b * zDotU, dd = (fault == AsdFault.BNotSquared ? b : b * b) * uDotU;
        double half = fault == AsdFault.NoHalfInLogRatio ? 1.0 : 0.5;
        if (Math.Log(draft.Noise.Uniform(draft.Chain, index, purpose)) < (zd / sigma) - (half * dd / (sigma * sigma)))
        {
            return CouplingDecision.Accept;
        }

        switch (fault)
        {
            case AsdFault.ReflectWrongAxis:
                ReflectAboutWrongAxis(draft.Z, draft.TargetModel, draft.DraftModel, correctedNoise);
                break;
            case AsdFault.UnreflectedNoiseAfterRejection:
                draft.Z.CopyTo(correctedNoise);
                break;
            case AsdFault.ResampleFromDraft:
                // mu_t + sigma z' = mu_d + sigma w with fresh w: z' = w - d / sigma.
                draft.Noise.Gaussian(draft.Chain, s, NoisePurpose.FaultResample, correctedNoise);
                for (int k = 0; k < correctedNoise.Length; k++)
                {
                    correctedNoise[k] = (float)(correctedNoise[k] - (b * ((double)draft.TargetModel[k] - draft.DraftModel[k]) / sigma));
                }

                break;
            default:
                RowOps.ReflectAcrossDifference(draft.Z, draft.TargetModel, draft.DraftModel, zDotU, uDotU, correctedNoise);
                break;
        }

        return CouplingDecision.Reject;
    }

    /// <summary>Reflects across w, a vector orthogonal to u = p - q (pairs rotated by 90 degrees).</summary>
    private static void ReflectAboutWrongAxis(ReadOnlySpan<float> z, ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> destination)
    {
        int n = z.Length;
        var w = new double[n];
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

/// <summary>Switching a sampler to a fault.</summary>
internal static class Faults
{
    /// <summary>The fault in words, for reports.</summary>
    public static string Describe(AsdFault fault) => fault switch
    {
        AsdFault.AlwaysAccept => "always accept",
        AsdFault.NoHalfInLogRatio => "no 1/2 in log-ratio",
        AsdFault.ResampleFromDraft => "resample from draft",
        AsdFault.ReflectWrongAxis => "reflect about wrong axis",
        AsdFault.StaleModelAfterRejection => "stale m after rejection",
        AsdFault.SigmaOfPreviousStep => "sigma of step s-1 in log-ratio",
        AsdFault.SigmaOfNextStep => "sigma of step s+1 in log-ratio",
        AsdFault.BOfNextStep => "b of step s+1",
        AsdFault.BNotSquared => "b not squared in |d|^2",
        AsdFault.UniformByDraftPosition => "U keyed by draft position",
        AsdFault.UniformFromStepNoise => "U from the step-noise purpose",
        AsdFault.UnreflectedNoiseAfterRejection => "unreflected z after rejection",
        AsdFault.StaleModelAfterFullAcceptance => "stale m after a fully accepted round",
        _ => "none",
    };

    /// <summary>Makes <paramref name="sampler"/> run <paramref name="fault"/>; <see cref="AsdFault.None"/> leaves the production path.</summary>
    public static AsdSampler WithFault(this AsdSampler sampler, AsdFault fault)
    {
        if (fault != AsdFault.None)
        {
            sampler.UseVariant(new FaultyAsd(fault));
        }

        return sampler;
    }
}
