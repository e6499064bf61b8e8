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
        WithControls("7a acceptance rate", RejectionSamplerProperty.RunRate, AsdFault.NoHalfInLogRatio, AsdFault.BNotSquared),
        WithControls("7c same law", (s, f) => SameLawProperty.Run(s, f), AsdFault.AlwaysAccept, AsdFault.StaleModelAfterRejection),
        WithControls("7c same law (hard cases)", (s, f) => SameLawProperty.Run(s, f, hard: true), AsdFault.NoHalfInLogRatio),
        WithControls("7d closed form", ClosedFormProperty.Run, AsdFault.AlwaysAccept, AsdFault.StaleModelAfterRejection),
        WithControls("7h subtle defects", SubtleDefectsProperty.Run, SubtleDefectsProperty.Controls),
        new("7e exchangeability", [
            ("null", s => ExchangeabilityProperty.Run(s, wrongPosterior: false)),
            ("control: posterior without s^2 v_k", s => ExchangeabilityProperty.Run(s, wrongPosterior: true)),
        ]),
        new("noise Gaussians", [
            ("null", s => GaussianNoiseProperty.Run(s, duplicateHalf: false)),
            ("control: sine half repeats cosine half", s => GaussianNoiseProperty.Run(s, duplicateHalf: true)),
        ]),
        WithControls("onnx same law", OnnxLawProperty.Run, AsdFault.AlwaysAccept),
    ];

    /// <summary>A property run under a fault: its null variant (no fault) and a control per fault, named after it.</summary>
    private static PropertyStudy WithControls(string name, Func<ulong, AsdFault, PropertyOutcome> run, params AsdFault[] controls) =>
        new(name, [("null", s => run(s, AsdFault.None)), .. controls.Select(f => ($"control: {Faults.Describe(f)}", (Func<ulong, PropertyOutcome>)(s => run(s, f))))]);
}
