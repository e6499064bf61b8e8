using System.Text.Json;

namespace Asd.Native.Schedules;

/// <summary>Reads diffusers' <c>scheduler_config.json</c> keys, with diffusers' defaults for missing keys.</summary>
public static class SchedulerConfigJson
{
    // Keys diffusers writes that do not change a DDPM step as this engine runs it.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "_class_name", "_diffusers_version", "dynamic_thresholding_ratio", "sample_max_value", "timestep_type", "_use_default_values",
    };

    /// <summary>
    /// Parses the object. Missing keys take diffusers' DDPMScheduler defaults (note: <c>clip_sample</c> defaults to true).
    /// Features that would change the sampler and are not supported (thresholding, zero-terminal-SNR rescaling,
    /// learned variances) are errors, as are unknown keys.
    /// </summary>
    public static SchedulerConfig Parse(JsonElement e, string source)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{source}: the scheduler configuration must be a JSON object.");
        }

        var c = new SchedulerConfig { ClipSample = true };
        foreach (JsonProperty p in e.EnumerateObject())
        {
            JsonElement v = p.Value;
            try
            {
                switch (p.Name)
                {
                    case "num_train_timesteps": c = c with { NumTrainTimesteps = v.GetInt32() }; break;
                    case "beta_start": c = c with { BetaStart = v.GetDouble() }; break;
                    case "beta_end": c = c with { BetaEnd = v.GetDouble() }; break;
                    case "beta_schedule": c = c with { BetaSchedule = ScheduleNames.ParseBetaSchedule(v.GetString()!) }; break;
                    case "trained_betas":
                        c = v.ValueKind == JsonValueKind.Null ? c : c with { TrainedBetas = [.. v.EnumerateArray().Select(x => x.GetDouble())], BetaSchedule = BetaSchedule.Explicit };
                        break;
                    case "prediction_type": c = c with { PredictionType = ScheduleNames.ParsePrediction(v.GetString()!) }; break;
                    case "variance_type": c = c with { VarianceType = ScheduleNames.ParseVariance(v.GetString()!) }; break;
                    case "clip_sample": c = c with { ClipSample = v.GetBoolean() }; break;
                    case "clip_sample_range": c = c with { ClipSampleRange = v.GetDouble() }; break;
                    case "timestep_spacing": c = c with { TimestepSpacing = ScheduleNames.ParseSpacing(v.GetString()!) }; break;
                    case "steps_offset": c = c with { StepsOffset = v.GetInt32() }; break;
                    case "thresholding" or "rescale_betas_zero_snr":
                        if (v.GetBoolean())
                        {
                            throw new InvalidDataException($"{source}: '{p.Name}: true' is not supported (it changes the sampler in ways ASD's exactness argument does not cover).");
                        }

                        break;
                    default:
                        if (!Ignored.Contains(p.Name))
                        {
                            throw new InvalidDataException($"{source}: unknown scheduler key '{p.Name}'.");
                        }

                        break;
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException)
            {
                throw new InvalidDataException($"{source}: scheduler key '{p.Name}': {ex.Message}", ex);
            }
        }

        try
        {
            return c.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{source}: {ex.Message}", ex);
        }
    }
}
