using System.Text;
using System.Text.Json.Nodes;
using Asd.Native.Backends.Mlp;
using Asd.Native.Backends.Unet1d;
using Asd.Native.Validation;

namespace Asd.Tests.Validation;

/// <summary>
/// A model file may declare layers as wide, or horizons as long, as its own limits allow; the denoiser's buffers must
/// still obey the per-buffer ceiling (ResourceLimits.MaxBatchFloats, 2^24 floats) by running fewer rows per pass. A
/// 302 MB asd-mlp file with one 2^24-wide layer crashed `asd sample` (an OverflowException sizing 128 rows of it), and
/// a U-Net fixture with its horizon raised to 32768 allocated 1.6 GB of unfolded convolution input for 64 samples.
/// </summary>
public sealed class WideNetworkTests
{
    /// <summary>Bytes of a safetensors file holding <paramref name="tensors"/> as float16.</summary>
    private static byte[] Safetensors(params (string Name, int[] Shape, Half[] Values)[] tensors)
    {
        var header = new JsonObject();
        long offset = 0;
        foreach (var (name, shape, values) in tensors)
        {
            header[name] = new JsonObject { ["dtype"] = "F16", ["shape"] = new JsonArray([.. shape.Select(s => (JsonNode)s)]), ["data_offsets"] = new JsonArray(offset, offset + (2L * values.Length)) };
            offset += 2L * values.Length;
        }

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        using var stream = new MemoryStream();
        stream.Write(BitConverter.GetBytes((ulong)json.Length));
        stream.Write(json);
        foreach (var (_, _, values) in tensors)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }

        return stream.ToArray();
    }

    private static Half[] Values(int count, int seed, double scale)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (Half)(((rng.NextDouble() * 2) - 1) * scale))];
    }

    [Fact]
    public void AWideMlpLayerLowersTheRowsPerPassNotTheBufferCeiling()
    {
        const int Wide = 1 << 20, In = 4 + 2; // time embedding 4 + sample 2
        string json = """
            {"format": "asd-mlp", "version": 1, "sample_shape": [2], "cond_dim": 0, "prediction_type": "epsilon",
             "time_embedding": {"dim": 4, "max_period": 10000.0, "flip_sin_to_cos": true, "downscale_freq_shift": 1.0, "scale": 1.0},
             "input": ["time", "sample"],
             "layers": [{"type": "linear", "weight": "w0", "bias": "b0", "activation": "relu"},
                        {"type": "linear", "weight": "w1", "bias": "b1", "activation": "identity"}]}
            """;
        byte[] weights = Safetensors(("w0", [Wide, In], Values(Wide * In, 1, 0.5)), ("b0", [Wide], Values(Wide, 2, 0.1)), ("w1", [2, Wide], Values(2 * Wide, 3, 1e-3)), ("b1", [2], Values(2, 4, 0.1)));
        using MlpModel model = MlpModel.Parse(Encoding.UTF8.GetBytes(json), weights, "wide.json");
        model.CreateDenoiser(1, null); // packs the weights (once per model), outside the measurement

        long before = GC.GetAllocatedBytesForCurrentThread();
        MlpDenoiser denoiser = model.CreateDenoiser(1024, null);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Before: 128 rows per pass, 512 MiB per activation buffer (2.5 GiB in all); now 16 rows, 64 MiB each.
        Assert.InRange(allocated, 0, 8L * ResourceLimits.MaxBatchFloats * sizeof(float));

        // Rows are independent, so the passes they are split into do not change a bit.
        const int Rows = 20;
        float[] x = [.. Values(Rows * 2, 5, 1).Select(v => (float)v)];
        int[] t = [.. Enumerable.Range(0, Rows).Select(i => (i * 47) % 1000)];
        var all = new float[Rows * 2];
        denoiser.Denoise(x, t, default, all);
        using MlpModel again = MlpModel.Parse(Encoding.UTF8.GetBytes(json), weights, "wide.json");
        MlpDenoiser one = again.CreateDenoiser(1, null);
        for (int r = 0; r < Rows; r++)
        {
            var row = new float[2];
            one.Denoise(x.AsSpan(r * 2, 2), t.AsSpan(r, 1), default, row);
            Assert.Equal(row, all.AsSpan(r * 2, 2).ToArray());
        }

        Assert.All(all, v => Assert.True(float.IsFinite(v)));
        Assert.NotEqual(all[0], all[2]);
    }

    private static string SmallUnet(Func<string, string> edit) =>
        edit(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "unet1d", "small_local.json")));

    private static byte[] SmallUnetWeights => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "unet1d", "small_local.safetensors"));

    /// <summary>
    /// The convolutions' weights do not depend on the horizon, so the small fixture's weights run a 32768-step horizon:
    /// one sample's unfolded input is 32768 x 3 taps x 64 channels (6.3M floats), and 64 of them were sized at once.
    /// </summary>
    [Fact]
    public void ALongUnetHorizonLowersTheSamplesPerPassNotTheBufferCeiling()
    {
        const int Horizon = 32768;
        string json = SmallUnet(j => j.Replace("\"horizon\": 8,", $"\"horizon\": {Horizon},", StringComparison.Ordinal));
        Assert.Contains($"\"horizon\": {Horizon}", json);
        using Unet1dModel model = Unet1dModel.Parse(Encoding.UTF8.GetBytes(json), SmallUnetWeights, "long.json");
        model.CreateDenoiser(1, null);

        long before = GC.GetAllocatedBytesForCurrentThread();
        Unet1dDenoiser denoiser = model.CreateDenoiser(64, null);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(allocated, 0, 8L * ResourceLimits.MaxBatchFloats * sizeof(float));

        const int Samples = 3;
        int d = denoiser.SampleSize, c = denoiser.ConditionSize;
        var rng = new Random(6);
        float[] x = [.. Enumerable.Range(0, Samples * d).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        float[] cond = [.. Enumerable.Range(0, Samples * c).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
        int[] t = [3, 50, 97];
        var all = new float[Samples * d];
        denoiser.Denoise(x, t, cond, all);
        Unet1dDenoiser one = model.CreateDenoiser(1, null);
        for (int s = 0; s < Samples; s++)
        {
            var alone = new float[d];
            one.Denoise(x.AsSpan(s * d, d), t.AsSpan(s, 1), cond.AsSpan(s * c, c), alone);
            Assert.True(alone.AsSpan().SequenceEqual(all.AsSpan(s * d, d)), $"sample {s} differs when run in a batch");
        }

        Assert.All(all, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>One sample that cannot fit a buffer is refused when the file is read, naming the sizes.</summary>
    [Fact]
    public void AUnetWhoseOneSampleOutgrowsABufferIsRefusedByName()
    {
        string json = SmallUnet(j => j.Replace("\"horizon\": 8,", "\"horizon\": 65536,", StringComparison.Ordinal).Replace("\"kernel_size\": 3,", "\"kernel_size\": 5,", StringComparison.Ordinal));
        var e = Assert.Throws<InvalidDataException>(() => Unet1dModel.Parse(Encoding.UTF8.GetBytes(json), SmallUnetWeights, "long.json"));
        Assert.Contains("horizon x kernel_size x the widest convolution input (65536 x 5 x 64", e.Message, StringComparison.Ordinal);
        Assert.Contains("at most 16777216 values per sample", e.Message, StringComparison.Ordinal);
    }
}
