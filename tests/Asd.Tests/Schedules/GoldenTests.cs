namespace Asd.Tests.Schedules;

/// <summary>
/// The schedules and the DDPM sampler against tests/golden, written by tools/make_golden.py: an independent numpy
/// re-implementation of diffusers' DDPMScheduler.set_timesteps and step, fed recorded noise.
/// </summary>
public sealed class GoldenTests(ITestOutputHelper output)
{
    private static string GoldenDirectory => Path.Combine(AppContext.BaseDirectory, "golden");

    public static TheoryData<string> TrajectoryFiles
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "golden"), "ddpm_*.json").OrderBy(f => f))
            {
                data.Add(Path.GetFileName(f));
            }

            return data;
        }
    }

    [Fact]
    public void ThereAreAtLeastTwelveGoldenConfigurations() => Assert.True(TrajectoryFiles.Count >= 12);

    internal static SchedulerConfig ConfigFrom(JsonElement c) => new()
    {
        NumTrainTimesteps = c.GetProperty("num_train_timesteps").GetInt32(),
        BetaStart = c.GetProperty("beta_start").GetDouble(),
        BetaEnd = c.GetProperty("beta_end").GetDouble(),
        BetaSchedule = c.GetProperty("trained_betas").ValueKind == JsonValueKind.Array
            ? BetaSchedule.Explicit
            : ScheduleNames.ParseBetaSchedule(c.GetProperty("beta_schedule").GetString()!),
        TrainedBetas = c.GetProperty("trained_betas").ValueKind == JsonValueKind.Array
            ? [.. c.GetProperty("trained_betas").EnumerateArray().Select(v => v.GetDouble())]
            : null,
        PredictionType = ScheduleNames.ParsePrediction(c.GetProperty("prediction_type").GetString()!),
        VarianceType = ScheduleNames.ParseVariance(c.GetProperty("variance_type").GetString()!),
        ClipSample = c.GetProperty("clip_sample").GetBoolean(),
        ClipSampleRange = c.GetProperty("clip_sample_range").GetDouble(),
        TimestepSpacing = ScheduleNames.ParseSpacing(c.GetProperty("timestep_spacing").GetString()!),
        StepsOffset = c.GetProperty("steps_offset").GetInt32(),
    };

    private static double[] Vector(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetDouble())];

    private static double[][] Matrix(JsonElement e) => [.. e.EnumerateArray().Select(Vector)];

    [Theory]
    [MemberData(nameof(TrajectoryFiles))]
    public void ScheduleCoefficientsAndTrajectoryMatch(string file)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenDirectory, file)));
        JsonElement root = doc.RootElement;
        SchedulerConfig config = ConfigFrom(root.GetProperty("config"));
        int k = root.GetProperty("num_inference_steps").GetInt32();
        int d = root.GetProperty("dim").GetInt32();
        int n = root.GetProperty("chains").GetInt32();
        var schedule = new DiffusionSchedule(config);

        // Training schedule: abar for every t.
        double[] acp = Vector(root.GetProperty("alphas_cumprod"));
        for (int t = 0; t < acp.Length; t++)
        {
            Assert.True(Math.Abs(schedule.AlphasCumprod[t] - acp[t]) <= 1e-12 * Math.Max(1, acp[t]), $"{file}: abar[{t}] {schedule.AlphasCumprod[t]} vs {acp[t]}");
        }

        // Timesteps and the per-step (a, b, sigma), the last step and sigma = 0 steps included.
        InferencePlan plan = schedule.Plan(k);
        Assert.Equal(root.GetProperty("timesteps").EnumerateArray().Select(v => v.GetInt32()), plan.Timesteps.ToArray());
        int i = 0;
        foreach (JsonElement step in root.GetProperty("steps").EnumerateArray())
        {
            Close(step.GetProperty("a").GetDouble(), plan.A[i], 1e-10, $"{file} a[{i}]");
            Close(step.GetProperty("b").GetDouble(), plan.B[i], 1e-10, $"{file} b[{i}]");

            // diffusers clamps the fixed_small variance to 1e-20 (sigma 1e-10); the engine keeps the exact 0 (docs/math.md section 1).
            Close(step.GetProperty("sigma_unclamped").GetDouble(), plan.Sigma[i], 1e-10, $"{file} sigma[{i}]");
            i++;
        }

        Assert.Equal(k, i);

        // Whole trajectories through the C# DdpmSampler, fed the recorded latents and noise.
        JsonElement m = root.GetProperty("model");
        var denoiser = new GoldenModel(Matrix(m.GetProperty("W")), Vector(m.GetProperty("u")), Vector(m.GetProperty("c")), m.GetProperty("scale").GetDouble(), config.NumTrainTimesteps);
        double[][] init = Matrix(root.GetProperty("init"));
        double[][][] noise = [.. root.GetProperty("noise").EnumerateArray().Select(Matrix)];
        double[][][] trajectory = [.. root.GetProperty("trajectory").EnumerateArray().Select(Matrix)];
        var sampler = new DdpmSampler(denoiser, plan) { NoiseOverride = new RecordedNoise(noise, init) };
        double worst = 0;
        sampler.StepObserver = (step, states) =>
        {
            float[] x = states.ToArray();
            for (int c = 0; c < n; c++)
            {
                for (int j = 0; j < d; j++)
                {
                    double expected = trajectory[step + 1][c][j];
                    double error = Math.Abs(x[(c * d) + j] - expected) / (1 + Math.Abs(expected));
                    worst = Math.Max(worst, error);
                }
            }
        };
        var result = new float[n * d];
        sampler.Sample(n, 0, result);
        output.WriteLine($"{file}: worst relative error along the trajectory {worst:E2}");

        // float32 chain against a float64 reference: rounding of ~1e-7 per step, amplified by 1/sqrt(abar) on the
        // first steps of long chains. The worst case observed is 2.6e-6 (linear, K = 1000); 2e-5 leaves a margin.
        Assert.True(worst < 2e-5, $"{file}: trajectory deviates by {worst:E2} (relative to 1 + |x|)");
    }

    private static void Close(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");

    /// <summary>A case of timesteps.json: the scheduler it configures and its number of inference steps.</summary>
    private static (SchedulerConfig Config, int Steps) TimestepCase(JsonElement c) =>
        (new SchedulerConfig
        {
            NumTrainTimesteps = c.GetProperty("num_train_timesteps").GetInt32(),
            TimestepSpacing = ScheduleNames.ParseSpacing(c.GetProperty("timestep_spacing").GetString()!),
            StepsOffset = c.GetProperty("steps_offset").GetInt32(),
        }, c.GetProperty("num_inference_steps").GetInt32());

    [Fact]
    public void TimestepsMatchSetTimestepsEverywhere()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenDirectory, "timesteps.json")));
        int checkedCases = 0;
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var (config, k) = TimestepCase(c);
            int[] expected = [.. c.GetProperty("timesteps").EnumerateArray().Select(v => v.GetInt32())];
            Assert.Equal(expected, new DiffusionSchedule(config).Timesteps(k));
            checkedCases++;
        }

        int invalid = 0;
        foreach (JsonElement c in doc.RootElement.GetProperty("invalid").EnumerateArray())
        {
            var (config, k) = TimestepCase(c);
            string reason = c.GetProperty("reason").GetString()!;
            var schedule = new DiffusionSchedule(config);
            if (c.TryGetProperty("timesteps", out JsonElement raw) && raw.ValueKind == JsonValueKind.Array && raw.GetArrayLength() == k + 1 && raw[k].GetInt32() == -1)
            {
                // numpy's arange overshoot: diffusers returns K + 1 timesteps ending in -1; the engine returns the first K.
                Assert.Equal(raw.EnumerateArray().Take(k).Select(v => v.GetInt32()), schedule.Timesteps(k));
            }
            else
            {
                Assert.Throws<ArgumentException>(() => schedule.Timesteps(k));
            }

            _ = reason;
            invalid++;
        }

        output.WriteLine($"{checkedCases} valid and {invalid} invalid set_timesteps cases checked");
        Assert.True(checkedCases > 300);
    }

    /// <summary>The golden files' model: scale * tanh(W x + u t / T) + c per row, in double.</summary>
    private sealed class GoldenModel(double[][] w, double[] u, double[] c, double scale, int trainSteps) : IDenoiser
    {
        public int SampleSize => u.Length;

        public int ConditionSize => 0;

        public bool IsBatchInvariant => true;

        public void Denoise(ReadOnlySpan<float> samples, ReadOnlySpan<int> timesteps, ReadOnlySpan<float> conditioning, Span<float> output)
        {
            int d = u.Length;
            for (int r = 0; r < timesteps.Length; r++)
            {
                for (int i = 0; i < d; i++)
                {
                    double acc = u[i] * timesteps[r] / trainSteps;
                    for (int j = 0; j < d; j++)
                    {
                        acc += w[i][j] * samples[(r * d) + j];
                    }

                    output[(r * d) + i] = (float)((scale * Math.Tanh(acc)) + c[i]);
                }
            }
        }
    }
}
