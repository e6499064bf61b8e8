namespace Asd.Native.Schedules;

/// <summary>How betas are laid out over the training steps (diffusers' <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary><c>linear</c>: betas evenly spaced from beta_start to beta_end.</summary>
    Linear,

    /// <summary><c>scaled_linear</c>: square roots evenly spaced, then squared.</summary>
    ScaledLinear,

    /// <summary><c>squaredcos_cap_v2</c>: the cosine schedule of Nichol and Dhariwal, betas capped at 0.999.</summary>
    SquaredCosCapV2,

    /// <summary><c>sigmoid</c>: sigmoid of linspace(-6, 6) scaled into [beta_start, beta_end].</summary>
    Sigmoid,

    /// <summary>Betas given explicitly (<c>trained_betas</c>).</summary>
    Explicit,
}

/// <summary>How K inference timesteps are picked from T training steps (diffusers' <c>timestep_spacing</c>).</summary>
public enum TimestepSpacing
{
    /// <summary><c>leading</c>: multiples of T // K, plus <c>steps_offset</c>.</summary>
    Leading,

    /// <summary><c>trailing</c>: round(T - i T / K) - 1, so the first step is T - 1.</summary>
    Trailing,

    /// <summary><c>linspace</c>: round(linspace(0, T - 1, K)).</summary>
    Linspace,
}

/// <summary>The variance of each DDPM step (diffusers' <c>variance_type</c>).</summary>
public enum VarianceType
{
    /// <summary><c>fixed_small</c>: the posterior variance; the stochastic-localization form holds exactly.</summary>
    FixedSmall,

    /// <summary><c>fixed_large</c>: 1 - abar / abar'; adds noise at the last step whenever its timestep is above 0.</summary>
    FixedLarge,
}

/// <summary>What the model predicts (diffusers' <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary><c>epsilon</c>: the noise.</summary>
    Epsilon,

    /// <summary><c>v_prediction</c>: v = sqrt(abar) eps - sqrt(1 - abar) x0.</summary>
    VPrediction,

    /// <summary><c>sample</c>: x0 itself.</summary>
    Sample,
}

/// <summary>Converts the enums to and from the strings diffusers writes in <c>scheduler_config.json</c>.</summary>
public static class ScheduleNames
{
    /// <summary>The diffusers name of a beta schedule.</summary>
    public static string Name(BetaSchedule value) => value switch
    {
        BetaSchedule.Linear => "linear",
        BetaSchedule.ScaledLinear => "scaled_linear",
        BetaSchedule.SquaredCosCapV2 => "squaredcos_cap_v2",
        BetaSchedule.Sigmoid => "sigmoid",
        _ => "trained_betas",
    };

    /// <summary>The diffusers name of a timestep spacing.</summary>
    public static string Name(TimestepSpacing value) => value switch
    {
        TimestepSpacing.Leading => "leading",
        TimestepSpacing.Trailing => "trailing",
        _ => "linspace",
    };

    /// <summary>The diffusers name of a variance type.</summary>
    public static string Name(VarianceType value) => value == VarianceType.FixedSmall ? "fixed_small" : "fixed_large";

    /// <summary>The diffusers name of a prediction type.</summary>
    public static string Name(PredictionType value) => value switch
    {
        PredictionType.Epsilon => "epsilon",
        PredictionType.VPrediction => "v_prediction",
        _ => "sample",
    };

    /// <summary>Parses a diffusers beta schedule name.</summary>
    public static BetaSchedule ParseBetaSchedule(string name) => name switch
    {
        "linear" => BetaSchedule.Linear,
        "scaled_linear" => BetaSchedule.ScaledLinear,
        "squaredcos_cap_v2" => BetaSchedule.SquaredCosCapV2,
        "sigmoid" => BetaSchedule.Sigmoid,
        _ => throw Unknown("beta schedule", name, "linear, scaled_linear, squaredcos_cap_v2, sigmoid (or explicit trained_betas)"),
    };

    /// <summary>Parses a diffusers timestep spacing name.</summary>
    public static TimestepSpacing ParseSpacing(string name) => name switch
    {
        "leading" => TimestepSpacing.Leading,
        "trailing" => TimestepSpacing.Trailing,
        "linspace" => TimestepSpacing.Linspace,
        _ => throw Unknown("timestep spacing", name, "leading, trailing, linspace"),
    };

    /// <summary>Parses a diffusers variance type name.</summary>
    public static VarianceType ParseVariance(string name) => name switch
    {
        "fixed_small" => VarianceType.FixedSmall,
        "fixed_large" => VarianceType.FixedLarge,
        _ => throw Unknown("variance type", name, "fixed_small, fixed_large (learned variances are not supported: ASD needs a variance that does not depend on x)"),
    };

    /// <summary>Parses a diffusers prediction type name.</summary>
    public static PredictionType ParsePrediction(string name) => name switch
    {
        "epsilon" => PredictionType.Epsilon,
        "v_prediction" => PredictionType.VPrediction,
        "sample" => PredictionType.Sample,
        _ => throw Unknown("prediction type", name, "epsilon, v_prediction, sample"),
    };

    private static ArgumentException Unknown(string what, string name, string expected) =>
        new($"Unknown {what} '{name}'. Expected one of: {expected}.");
}
