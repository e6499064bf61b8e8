namespace Asd.Tests.Properties;

/// <summary>A statistical property with its null variant and its negative controls, for the offline power study.</summary>
internal sealed record PropertyStudy(string Name, IReadOnlyList<(string Variant, Func<ulong, PropertyOutcome> Run)> Variants);

/// <summary>Every statistical property of the suite, as the power study runs them (the same code the tests call).</summary>
internal static class PropertyCatalog
{
    public static IReadOnlyList<PropertyStudy> All { get; } =
    [
        new("7a law", [
            ("null", s => RejectionSamplerProperty.RunLaw(s, AsdFault.None)),
            ("control: resample from draft", s => RejectionSamplerProperty.RunLaw(s, AsdFault.ResampleFromDraft)),
            ("control: reflect about wrong axis", s => RejectionSamplerProperty.RunLaw(s, AsdFault.ReflectWrongAxis, minDimension: 2)),
        ]),
        new("7a acceptance rate", [
            ("null", s => RejectionSamplerProperty.RunRate(s, AsdFault.None)),
            ("control: no 1/2 in log-ratio", s => RejectionSamplerProperty.RunRate(s, AsdFault.NoHalfInLogRatio)),
            ("control: b not squared in |d|^2", s => RejectionSamplerProperty.RunRate(s, AsdFault.BNotSquared)),
        ]),
        new("7c same law", [
            ("null", s => SameLawProperty.Run(s, AsdFault.None)),
            ("control: always accept", s => SameLawProperty.Run(s, AsdFault.AlwaysAccept)),
            ("control: stale m after rejection", s => SameLawProperty.Run(s, AsdFault.StaleModelAfterRejection)),
        ]),
        new("7c same law (hard cases)", [
            ("null", s => SameLawProperty.Run(s, AsdFault.None, hard: true)),
            ("control: no 1/2 in log-ratio", s => SameLawProperty.Run(s, AsdFault.NoHalfInLogRatio, hard: true)),
        ]),
        new("7d closed form", [
            ("null", s => ClosedFormProperty.Run(s, AsdFault.None)),
            ("control: always accept", s => ClosedFormProperty.Run(s, AsdFault.AlwaysAccept)),
            ("control: stale m after rejection", s => ClosedFormProperty.Run(s, AsdFault.StaleModelAfterRejection)),
        ]),
        new("7h subtle defects", [
            ("null", s => SubtleDefectsProperty.Run(s, AsdFault.None)),
            .. SubtleDefectsProperty.Controls.Select(f => ($"control: {Faults.Describe(f)}", (Func<ulong, PropertyOutcome>)(s => SubtleDefectsProperty.Run(s, f)))),
        ]),
        new("7e exchangeability", [
            ("null", s => ExchangeabilityProperty.Run(s, wrongPosterior: false)),
            ("control: posterior without s^2 v_k", s => ExchangeabilityProperty.Run(s, wrongPosterior: true)),
        ]),
        new("noise Gaussians", [
            ("null", s => GaussianNoiseProperty.Run(s, duplicateHalf: false)),
            ("control: sine half repeats cosine half", s => GaussianNoiseProperty.Run(s, duplicateHalf: true)),
        ]),
        new("onnx same law", [
            ("null", s => OnnxLawProperty.Run(s, AsdFault.None)),
            ("control: always accept", s => OnnxLawProperty.Run(s, AsdFault.AlwaysAccept)),
        ]),
    ];
}
