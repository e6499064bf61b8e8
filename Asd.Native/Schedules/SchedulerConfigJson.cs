namespace Asd.Native.Schedules;

/// <summary>Reads diffusers' <c>scheduler_config.json</c> keys, with diffusers' defaults for missing keys.</summary>
public static class SchedulerConfigJson
{
    // Keys diffusers writes that do not change a DDPM step as this engine runs it.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "_class_name", "_diffusers_version", "dynamic_thresholding_ratio", "sample_max_value", "timestep_type", "_use_default_values",
    };

    /// <summary>Reads a <c>scheduler_config.json</c> file (a regular file of bounded size; see <see cref="IO.ModelFiles"/>).</summary>
    /// <exception cref="InvalidDataException">Malformed JSON or an invalid or unsupported setting; the message names the key.</exception>
    public static SchedulerConfig ParseFile(string path)
    {
        using JsonDocument doc = IO.StrictJson.ReadFile(path, "scheduler_config.json");
        return Parse(doc.RootElement, path);
    }

    /// <summary>Parses the bytes of a <c>scheduler_config.json</c>.</summary>
    /// <exception cref="InvalidDataException">As <see cref="ParseFile"/>.</exception>
    public static SchedulerConfig Parse(ReadOnlyMemory<byte> utf8, string source)
    {
        using JsonDocument doc = IO.StrictJson.Parse(utf8, source);
        return Parse(doc.RootElement, source);
    }

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
            string k = p.Name;
            try
            {
                switch (k)
                {
                    case "num_train_timesteps": c = c with { NumTrainTimesteps = IO.StrictJson.Int(v, k, source, 1, Validation.ResourceLimits.MaxTrainSteps) }; break;
                    case "beta_start": c = c with { BetaStart = IO.StrictJson.Number(v, k, source) }; break;
                    case "beta_end": c = c with { BetaEnd = IO.StrictJson.Number(v, k, source) }; break;
                    case "beta_schedule": c = c with { BetaSchedule = ScheduleNames.ParseBetaSchedule(IO.StrictJson.String(v, k, source)) }; break;
                    case "trained_betas":
                        c = v.ValueKind == JsonValueKind.Null ? c : c with { TrainedBetas = [.. IO.StrictJson.Array(v, k, source).Select(x => IO.StrictJson.Number(x, k, source))], BetaSchedule = BetaSchedule.Explicit };
                        break;
                    case "prediction_type": c = c with { PredictionType = ScheduleNames.ParsePrediction(IO.StrictJson.String(v, k, source)) }; break;
                    case "variance_type": c = c with { VarianceType = ScheduleNames.ParseVariance(IO.StrictJson.String(v, k, source)) }; break;
                    case "clip_sample": c = c with { ClipSample = IO.StrictJson.Bool(v, k, source) }; break;
                    case "clip_sample_range": c = c with { ClipSampleRange = IO.StrictJson.Number(v, k, source) }; break;
                    case "timestep_spacing": c = c with { TimestepSpacing = ScheduleNames.ParseSpacing(IO.StrictJson.String(v, k, source)) }; break;
                    case "steps_offset": c = c with { StepsOffset = IO.StrictJson.Int(v, k, source, 0, Validation.ResourceLimits.MaxTrainSteps) }; break;
                    case "thresholding" or "rescale_betas_zero_snr":
                        if (IO.StrictJson.Bool(v, k, source))
                        {
                            throw new InvalidDataException($"{source}: '{k}: true' is not supported (it changes the sampler in ways ASD's exactness argument does not cover).");
                        }

                        break;
                    default:
                        if (!Ignored.Contains(k))
                        {
                            throw new InvalidDataException($"{source}: unknown scheduler key '{k}'.");
                        }

                        break;
                }
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"{source}: scheduler key '{k}': {ex.Message}", ex);
            }
        }

        if (c.TrainedBetas is not null)
        {
            // diffusers runs trained_betas whenever they are given, whatever beta_schedule says (in any key order).
            c = c with { BetaSchedule = BetaSchedule.Explicit };
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
