namespace Asd.Tests.Properties;

/// <summary>
/// A statistical property: its null variant (the correct sampler, which must hold), its negative controls (broken
/// variants, which must be rejected) and the seed CI runs them all at. The suite's tests and the offline power study
/// both take their variants from here, so a property's controls are listed once.
/// </summary>
/// <param name="Name">The property as the tests' display names and the power study's rows name it.</param>
/// <param name="CiSeed">The fixed seed of the suite's tests (the power study draws its own seeds).</param>
/// <param name="Null">The property run on the correct sampler.</param>
/// <param name="Controls">Each negative control, named after its defect, run on its broken variant.</param>
/// <param name="ControlMargin">
/// How many times the critical count of rejecting cases each control must reach in CI: 1 is plain rejection; 7h asks
/// for 2, so its subtle defects stay visible with room to spare.
/// </param>
internal sealed record PropertyStudy(
    string Name, ulong CiSeed, Func<ulong, PropertyOutcome> Null, IReadOnlyList<(string Name, Func<ulong, PropertyOutcome> Run)> Controls, int ControlMargin = 1)
{
    /// <summary>The null variant, then each control as "control: NAME", as the power study lists them.</summary>
    public IEnumerable<(string Variant, Func<ulong, PropertyOutcome> Run)> Variants =>
        [("null", Null), .. Controls.Select(c => ($"control: {c.Name}", c.Run))];

    /// <summary>The control named <paramref name="name"/>.</summary>
    public Func<ulong, PropertyOutcome> Control(string name) =>
        Controls.SingleOrDefault(c => c.Name == name).Run ?? throw new ArgumentException($"{Name} has no control '{name}'", nameof(name));
}

/// <summary>Every statistical property of the suite, as its tests and the power study run them (the same code).</summary>
internal static class PropertyCatalog
{
    public static IReadOnlyList<PropertyStudy> All { get; } =
    [
        new("7a law", 0x7A01, s => RejectionSamplerProperty.RunLaw(s, AsdFault.None), [
            (Faults.Describe(AsdFault.ResampleFromDraft), s => RejectionSamplerProperty.RunLaw(s, AsdFault.ResampleFromDraft)),
            (Faults.Describe(AsdFault.ReflectWrongAxis), s => RejectionSamplerProperty.RunLaw(s, AsdFault.ReflectWrongAxis, minDimension: 2)),
        ]),
        WithControls("7a acceptance rate", 0x7A01, RejectionSamplerProperty.RunRate, AsdFault.NoHalfInLogRatio, AsdFault.BNotSquared),
        WithControls("7c same law", 0x7C01, (s, f) => SameLawProperty.Run(s, f), AsdFault.AlwaysAccept, AsdFault.StaleModelAfterRejection),
        WithControls("7c same law (hard cases)", 0x7C01, (s, f) => SameLawProperty.Run(s, f, hard: true), AsdFault.NoHalfInLogRatio),
        WithControls("7d closed form", 0x7D01, ClosedFormProperty.Run, AsdFault.AlwaysAccept, AsdFault.StaleModelAfterRejection),
        WithControls("7h subtle defects", 0x7B01, SubtleDefectsProperty.Run, SubtleDefectsProperty.Controls) with { ControlMargin = 2 },
        new("7e exchangeability", 0x7E01, s => ExchangeabilityProperty.Run(s, wrongPosterior: false), [
            ("posterior without s^2 v_k", s => ExchangeabilityProperty.Run(s, wrongPosterior: true)),
        ]),
        new("noise Gaussians", 0x6A55, s => GaussianNoiseProperty.Run(s, duplicateHalf: false), [
            ("sine half repeats cosine half", s => GaussianNoiseProperty.Run(s, duplicateHalf: true)),
        ]),
        WithControls("onnx same law", 0x0AA1, OnnxLawProperty.Run, AsdFault.AlwaysAccept),
    ];

    /// <summary>The property named <paramref name="name"/>.</summary>
    public static PropertyStudy Find(string name) =>
        All.SingleOrDefault(p => p.Name == name) ?? throw new ArgumentException($"no statistical property '{name}' in the catalogue", nameof(name));

    /// <summary>A property run under a fault: its null variant (no fault) and a control per fault, named after it.</summary>
    private static PropertyStudy WithControls(string name, ulong ciSeed, Func<ulong, AsdFault, PropertyOutcome> run, params AsdFault[] controls) =>
        new(name, ciSeed, s => run(s, AsdFault.None), [.. controls.Select(f => (Faults.Describe(f), (Func<ulong, PropertyOutcome>)(s => run(s, f))))]);
}
