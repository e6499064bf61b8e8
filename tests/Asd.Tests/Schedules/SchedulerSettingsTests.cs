using System.Text;

namespace Asd.Tests.Schedules;

/// <summary>
/// The scheduler's settings, which fix DDPM's law as much as the network does: diffusers' scheduler_config.json as
/// diffusers writes it, its defaults, explicit betas, the override flags, and a refusal naming the setting for every
/// bad value. Written for the survivors of the mutation study over Asd.Native/Schedules (tools/mutation/RESULTS.md):
/// before them no test noticed a scheduler_config.json whose trained_betas were ignored, a missing clip_sample read as
/// false, or a bad value in one swallowed.
/// </summary>
public sealed class SchedulerSettingsTests
{
    private static SchedulerConfig Json(string text) => SchedulerConfigJson.Parse(Encoding.UTF8.GetBytes(text), "scheduler_config.json");

    private static string JsonError(string text) => Assert.Throws<InvalidDataException>(() => Json(text)).Message;

    private static string Refusal(SchedulerConfig config) => Assert.Throws<ArgumentException>(() => config.Validate()).Message;

    [Fact]
    public void ADiffusersConfigWithEveryKeyDiffusersWritesIsRead()
    {
        // DDPMScheduler.save_config's keys (diffusers 0.2x), values changed from the defaults where a value can be.
        SchedulerConfig c = Json("""
            {
              "_class_name": "DDPMScheduler", "_diffusers_version": "0.27.2", "_use_default_values": ["timestep_type"],
              "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
              "clip_sample_range": 2.5, "dynamic_thresholding_ratio": 0.995, "num_train_timesteps": 500,
              "prediction_type": "v_prediction", "rescale_betas_zero_snr": false, "sample_max_value": 1.0, "steps_offset": 1,
              "thresholding": false, "timestep_spacing": "trailing", "timestep_type": "discrete", "trained_betas": null,
              "variance_type": "fixed_large"
            }
            """);
        Assert.Equal(500, c.NumTrainTimesteps);
        Assert.Equal(BetaSchedule.ScaledLinear, c.BetaSchedule);
        Assert.Equal(0.00085, c.BetaStart);
        Assert.Equal(0.012, c.BetaEnd);
        Assert.False(c.ClipSample);
        Assert.Equal(2.5, c.ClipSampleRange);
        Assert.Equal(PredictionType.VPrediction, c.PredictionType);
        Assert.Equal(VarianceType.FixedLarge, c.VarianceType);
        Assert.Equal(TimestepSpacing.Trailing, c.TimestepSpacing);
        Assert.Equal(1, c.StepsOffset);
        Assert.Null(c.TrainedBetas);
    }

    [Fact]
    public void MissingKeysTakeDiffusersDefaultsWithClipSampleOn()
    {
        // DDPMScheduler clips the x0 estimate unless told not to; the engine's own default (no file) does not.
        SchedulerConfig c = Json("{}");
        Assert.True(c.ClipSample);
        Assert.Equal(1.0, c.ClipSampleRange);
        Assert.Equal(1000, c.NumTrainTimesteps);
        Assert.Equal((BetaSchedule.Linear, 0.0001, 0.02), (c.BetaSchedule, c.BetaStart, c.BetaEnd));
        Assert.Equal((PredictionType.Epsilon, VarianceType.FixedSmall, TimestepSpacing.Leading, 0), (c.PredictionType, c.VarianceType, c.TimestepSpacing, c.StepsOffset));
        Assert.False(new SchedulerConfig().ClipSample);
    }

    [Fact]
    public void TrainedBetasInAConfigAreTheBetasThatRun()
    {
        // diffusers uses trained_betas whenever they are given, whatever beta_schedule says, and so do the keys here
        // in either order (a beta_schedule after them once left the settings naming "linear" while the betas ran).
        foreach (string text in (string[])["""{ "num_train_timesteps": 4, "trained_betas": [0.1, 0.2, 0.3, 0.4], "beta_schedule": "linear" }""",
                                           """{ "beta_schedule": "linear", "num_train_timesteps": 4, "trained_betas": [0.1, 0.2, 0.3, 0.4] }"""])
        {
            SchedulerConfig c = Json(text);
            Assert.Equal(BetaSchedule.Explicit, c.BetaSchedule);
            Assert.Equal("trained_betas", ScheduleNames.Name(c.BetaSchedule));
            var schedule = new DiffusionSchedule(c);
            Assert.Equal([0.1, 0.2, 0.3, 0.4], schedule.Betas.ToArray());
            Assert.Equal(0.9 * 0.8 * 0.7 * 0.6, schedule.AlphasCumprod[3], 15);
        }

        Assert.Null(Json("""{ "trained_betas": null }""").TrainedBetas);
    }

    public static TheoryData<string, string> BadConfigs => new()
    {
        { """{ "beta_schedule": "cosine" }""", "scheduler key 'beta_schedule': Unknown beta schedule 'cosine'. Expected one of: linear, scaled_linear, squaredcos_cap_v2, sigmoid" },
        { """{ "timestep_spacing": "uniform" }""", "scheduler key 'timestep_spacing': Unknown timestep spacing 'uniform'. Expected one of: leading, trailing, linspace." },
        { """{ "variance_type": "learned" }""", "scheduler key 'variance_type': Unknown variance type 'learned'. Expected one of: fixed_small, fixed_large (learned variances" },
        { """{ "prediction_type": "x0" }""", "scheduler key 'prediction_type': Unknown prediction type 'x0'. Expected one of: epsilon, v_prediction, sample." },
        { """{ "beta_start": 2.0 }""", "scheduler_config.json: beta_start and beta_end must lie in (0, 1) (got 2, 0.02)." },
        { """{ "beta_end": 0 }""", "beta_start and beta_end must lie in (0, 1) (got 0.0001, 0)." },
        { """{ "clip_sample_range": 0 }""", "clip_sample_range must be > 0 (got 0)." },
        { """{ "trained_betas": [0.1, 1.5], "num_train_timesteps": 2 }""", "trained_betas[1] = 1.5 is outside (0, 1)." },
        { """{ "trained_betas": [0.1, 0.2], "num_train_timesteps": 3 }""", "trained_betas has 2 values but num_train_timesteps is 3." },
        { """{ "thresholding": true }""", "'thresholding: true' is not supported" },
        { """{ "rescale_betas_zero_snr": true }""", "'rescale_betas_zero_snr: true' is not supported" },
        { """{ "eta": 0.0 }""", "unknown scheduler key 'eta'" },
        { "[]", "scheduler_config.json: the scheduler configuration must be a JSON object." },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void ABadSettingIsRefusedNamingIt(string json, string message) =>
        Assert.Contains(message, JsonError(json), StringComparison.Ordinal);

    [Fact]
    public void AFileThatIsNotAConfigIsNamedAsTheSchedulerConfig()
    {
        string dir = Directory.CreateTempSubdirectory("asd-sched-").FullName;
        try
        {
            string path = Path.Combine(dir, "sched.json");
            Assert.Contains("scheduler_config.json", Assert.ThrowsAny<IOException>(() => SchedulerConfigJson.ParseFile(path)).Message);
            File.WriteAllText(path, """{ "beta_end": 0.03, "clip_sample": false }""");
            Assert.Equal((0.03, false), (SchedulerConfigJson.ParseFile(path).BetaEnd, SchedulerConfigJson.ParseFile(path).ClipSample));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void EveryRangeIsCheckedAtItsEnds()
    {
        Assert.Contains("beta_start and beta_end", Refusal(new SchedulerConfig { BetaStart = 1 }));
        Assert.Contains("beta_start and beta_end", Refusal(new SchedulerConfig { BetaEnd = 1 }));
        Assert.Contains("beta_start and beta_end", Refusal(new SchedulerConfig { BetaEnd = 0 }));
        Assert.Contains("beta_start and beta_end", Refusal(new SchedulerConfig { BetaEnd = double.NaN }));
        Assert.Contains("trained_betas[0] = 0 is outside (0, 1)", Refusal(new SchedulerConfig { NumTrainTimesteps = 1, TrainedBetas = [0.0] }));
        Assert.Contains("trained_betas[0] = 1 is outside (0, 1)", Refusal(new SchedulerConfig { NumTrainTimesteps = 1, TrainedBetas = [1.0] }));
        Assert.Contains("needs explicit betas", Refusal(new SchedulerConfig { BetaSchedule = BetaSchedule.Explicit }));
        Assert.Contains("clip_sample_range must be > 0 (got 0)", Refusal(new SchedulerConfig { ClipSample = true, ClipSampleRange = 0 }));
        new SchedulerConfig { ClipSample = false, ClipSampleRange = 0 }.Validate(); // unused without clipping
        int max = Asd.Native.Validation.ResourceLimits.MaxTrainSteps;
        Assert.Contains($"steps_offset must be from 0 to {max} (got -1)", Refusal(new SchedulerConfig { StepsOffset = -1 }));
        Assert.Contains($"(got {max + 1})", Refusal(new SchedulerConfig { StepsOffset = max + 1 }));
        Assert.Equal(max, new SchedulerConfig { StepsOffset = max }.Validate().StepsOffset);
    }

    [Fact]
    public void EveryNameReadsBackAsItsValue()
    {
        // The names print in notes and errors (and the converter writes them): each must parse back to its value.
        foreach (BetaSchedule b in Enum.GetValues<BetaSchedule>().Where(b => b != BetaSchedule.Explicit))
        {
            Assert.Equal(b, ScheduleNames.ParseBetaSchedule(ScheduleNames.Name(b)));
        }

        Assert.Equal("trained_betas", ScheduleNames.Name(BetaSchedule.Explicit));
        foreach (TimestepSpacing s in Enum.GetValues<TimestepSpacing>())
        {
            Assert.Equal(s, ScheduleNames.ParseSpacing(ScheduleNames.Name(s)));
        }

        foreach (VarianceType v in Enum.GetValues<VarianceType>())
        {
            Assert.Equal(v, ScheduleNames.ParseVariance(ScheduleNames.Name(v)));
        }

        foreach (PredictionType p in Enum.GetValues<PredictionType>())
        {
            Assert.Equal(p, ScheduleNames.ParsePrediction(ScheduleNames.Name(p)));
        }

        Assert.Equal(["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "leading", "trailing", "linspace", "fixed_small", "fixed_large", "epsilon", "v_prediction", "sample"],
            [ScheduleNames.Name(BetaSchedule.Linear), ScheduleNames.Name(BetaSchedule.ScaledLinear), ScheduleNames.Name(BetaSchedule.SquaredCosCapV2), ScheduleNames.Name(BetaSchedule.Sigmoid),
             ScheduleNames.Name(TimestepSpacing.Leading), ScheduleNames.Name(TimestepSpacing.Trailing), ScheduleNames.Name(TimestepSpacing.Linspace),
             ScheduleNames.Name(VarianceType.FixedSmall), ScheduleNames.Name(VarianceType.FixedLarge),
             ScheduleNames.Name(PredictionType.Epsilon), ScheduleNames.Name(PredictionType.VPrediction), ScheduleNames.Name(PredictionType.Sample)]);
    }

    [Fact]
    public void EachOverrideSetsItsSettingAndRefusesABadValueNamingIt()
    {
        var base_ = new SchedulerConfig();
        SchedulerConfig c = new ScheduleOverrides
        {
            TrainSteps = 200, BetaSchedule = "squaredcos_cap_v2", BetaStart = 0.001, BetaEnd = 0.03, PredictionType = "sample",
            VarianceType = "fixed_large", TimestepSpacing = "linspace", StepsOffset = 2, ClipSample = true, ClipSampleRange = 3,
        }.Apply(base_);
        Assert.Equal((200, BetaSchedule.SquaredCosCapV2, 0.001, 0.03), (c.NumTrainTimesteps, c.BetaSchedule, c.BetaStart, c.BetaEnd));
        Assert.Equal((PredictionType.Sample, VarianceType.FixedLarge, TimestepSpacing.Linspace, 2, true, 3.0),
            (c.PredictionType, c.VarianceType, c.TimestepSpacing, c.StepsOffset, c.ClipSample, c.ClipSampleRange));
        Assert.Equal(base_, ScheduleOverrides.None.Apply(base_));
        Assert.Throws<ArgumentNullException>(() => ScheduleOverrides.None.Apply(null!));

        // A beta schedule given by name replaces explicit betas.
        var explicitBetas = new SchedulerConfig { NumTrainTimesteps = 2, TrainedBetas = [0.1, 0.2], BetaSchedule = BetaSchedule.Explicit };
        Assert.Null(new ScheduleOverrides { BetaSchedule = "linear" }.Apply(explicitBetas).TrainedBetas);

        int max = Asd.Native.Validation.ResourceLimits.MaxTrainSteps;
        (ScheduleOverrides Overrides, string Message)[] bad =
        [
            (new() { TrainSteps = 0 }, $"train_steps = 0 is invalid: use 1 to {max}."),
            (new() { TrainSteps = max + 1 }, $"train_steps = {max + 1} is invalid"),
            (new() { BetaStart = 0 }, "beta_start = 0 is invalid: use a value in (0, 1)."),
            (new() { BetaStart = 1 }, "beta_start = 1 is invalid"),
            (new() { BetaEnd = 0 }, "beta_end = 0 is invalid: use a value in (0, 1)."),
            (new() { BetaEnd = 1 }, "beta_end = 1 is invalid"),
            (new() { PredictionType = "x0" }, "prediction_type = x0: Unknown prediction type"),
            (new() { VarianceType = "learned_range" }, "variance_type = learned_range: Unknown variance type"),
            (new() { TimestepSpacing = "uniform" }, "timestep_spacing = uniform: Unknown timestep spacing"),
            (new() { StepsOffset = -1 }, "steps_offset = -1 is invalid: use >= 0."),
            (new() { ClipSampleRange = 0 }, "clip_sample_range = 0 is invalid: use a finite value > 0."),
            (new() { ClipSampleRange = double.PositiveInfinity }, "clip_sample_range = Infinity is invalid"),
        ];
        foreach ((ScheduleOverrides o, string message) in bad)
        {
            Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => o.Apply(base_)).Message, StringComparison.Ordinal);
        }

        Assert.Equal(max, new ScheduleOverrides { TrainSteps = max }.Apply(base_).NumTrainTimesteps);
        Assert.Equal(1, new ScheduleOverrides { TrainSteps = 1 }.Apply(base_).NumTrainTimesteps);
        Assert.Equal(0, new ScheduleOverrides { StepsOffset = 0 }.Apply(base_ with { StepsOffset = 3 }).StepsOffset);
    }

    [Fact]
    public void ScheduleEdgesFollowDiffusersAndNumpy()
    {
        // numpy.linspace(start, stop, 1) is [start]: one training step has beta_start.
        Assert.Equal([0.0001], new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 1 }).Betas.ToArray());

        // diffusers' linspace spacing with one step: numpy.linspace(0, T - 1, 1).round() = [0].
        var linspace = new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 1000, TimestepSpacing = TimestepSpacing.Linspace });
        Assert.Equal([0], linspace.Timesteps(1));
        Assert.Equal([999, 0], linspace.Timesteps(2));

        // abar(-1) = 1: the clean data after the last step.
        Assert.Equal(1.0, linspace.AlphaBar(-1));
        Assert.Equal(linspace.AlphasCumprod[0], linspace.AlphaBar(0));

        // A schedule whose abar underflows to 0 has no finite signal-to-noise ratio at its end: refused, not run.
        string message = Assert.Throws<ArgumentException>(() => new DiffusionSchedule(new SchedulerConfig { NumTrainTimesteps = 100_000, BetaStart = 0.5, BetaEnd = 0.9 })).Message;
        Assert.Contains("drives abar to 0", message);
    }
}
