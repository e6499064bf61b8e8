using Asd.Native.IO;

namespace Asd.Native.Backends.Unet1d;

/// <summary>
/// A weight tensor as the file stores it: float32 (F32, or BF16 widened at load) or float16 bits (F16, kept as they are:
/// the GEMM widens them in registers, so they stream at half the bytes).
/// </summary>
internal sealed class Unet1dWeight
{
    private float[] _values;
    private ushort[] _half;

    private Unet1dWeight(float[] values, ushort[] half)
    {
        _values = values;
        _half = half;
        IsHalf = half.Length > 0;
        Count = IsHalf ? half.Length : values.Length;
    }

    /// <summary>float16 bits (F16 tensors) rather than float32 values.</summary>
    public bool IsHalf { get; }

    /// <summary>Elements of the tensor (also after <see cref="Release"/>).</summary>
    public long Count { get; }

    /// <summary>The float16 bits (F16 tensors).</summary>
    /// <exception cref="InvalidOperationException">The tensor was released.</exception>
    public ushort[] Half => Held(_half);

    public static Unet1dWeight Read(SafeTensorsFile file, string name, int[] shape)
    {
        bool half = file.Tensors.TryGetValue(name, out TensorInfo? info) && info.DType == "F16";
        var w = half ? new Unet1dWeight([], file.ReadFloat16Bits(name, shape)) : new Unet1dWeight(file.ReadFloat32(name, shape), []);
        w.CheckFinite(file.Source, name);
        return w;
    }

    public void CheckFinite(string source, string name)
    {
        // Fast: a float sum is finite only if every term is (a NaN or an infinity stays); a half is finite unless its
        // exponent bits are all set. Only a tensor that fails the fast test is walked element by element, which also
        // clears one whose float sum merely overflowed.
        if (IsHalf ? !AnyExponentAllOnes(_half) : float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(_values)))
        {
            return;
        }

        for (int i = 0; i < Count; i++)
        {
            bool finite = IsHalf ? (_half[i] & 0x7C00) != 0x7C00 : float.IsFinite(_values[i]);
            if (!finite)
            {
                float v = this[i];
                throw new InvalidDataException($"{source}: tensor '{name}' holds {v} at element {i}; weights must be finite.");
            }
        }
    }

    private static bool AnyExponentAllOnes(ushort[] half)
    {
        var mask = System.Runtime.Intrinsics.Vector128.Create((ushort)0x7C00);
        int i = 0;
        for (; i + 8 <= half.Length; i += 8)
        {
            if (System.Runtime.Intrinsics.Vector128.EqualsAny(System.Runtime.Intrinsics.Vector128.Create(half, i) & mask, mask))
            {
                return true;
            }
        }

        for (; i < half.Length; i++)
        {
            if ((half[i] & 0x7C00) == 0x7C00)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Packs W[k, n] = this[Index(k, n)] (an element permutation of the tensor into a row-major K x N matrix) for
    /// <paramref name="path"/>, in the tensor's own precision.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor was released.</exception>
    public PackedMatrix Pack<TIndex>(int k, int n, TIndex index, IsaPath path)
        where TIndex : struct, IElementIndex =>
        IsHalf && PackHalfAsFloat ? PackedMatrix.PackPermuted(Array.ConvertAll(Held(_half), h => (float)BitConverter.UInt16BitsToHalf(h)), k, n, index, path)
        : IsHalf ? PackedMatrix.PackPermuted(Held(_half), k, n, index, path) : PackedMatrix.PackPermuted(Held(_values), k, n, index, path);

    /// <summary>
    /// Packs float16 tensors as float32 (the same values, so the same bits): for the A/B probe of
    /// <c>Asd.Bench quick-unet</c> (<c>ASD_AB_F32=1</c>), which weighs the two packings side by side; models pack float16
    /// (docs/bench/avx2/policy-half.md has why).
    /// </summary>
    internal static bool PackHalfAsFloat { get; set; }

    /// <summary>
    /// Drops the tensor's values once its model holds them packed (<see cref="Unet1dModel"/>: other paths are packed
    /// from that copy), so a model keeps its weights once rather than twice.
    /// </summary>
    public void Release()
    {
        _values = [];
        _half = [];
    }

    /// <summary>The value of element <paramref name="i"/> as float.</summary>
    /// <exception cref="InvalidOperationException">The tensor was released.</exception>
    public float this[int i] => IsHalf ? (float)BitConverter.UInt16BitsToHalf(Held(_half)[i]) : Held(_values)[i];

    private T[] Held<T>(T[] data) => data.Length == Count || Count == 0
        ? data
        : throw new InvalidOperationException("The tensor's values were released after packing (a bug: pack from the packed weights).");
}

/// <summary>nn.Conv1d(In, Out, Taps) with bias: weight [Out, In, Taps].</summary>
internal sealed record Unet1dConv(string Name, int In, int Out, int Taps, Unet1dWeight Weight, float[] Bias)
{
    public static Unet1dConv Read(SafeTensorsFile file, string name, int inChannels, int outChannels, int taps) =>
        new(name, inChannels, outChannels, taps,
            Unet1dWeight.Read(file, name + ".weight", [outChannels, inChannels, taps]),
            Unet1dModel.ReadFloats(file, name + ".bias", outChannels));

    /// <summary>The GEMM weights: W[j * In + c, o] = weight[o, c, j] (tap-major rows, as Conv1dPacking orders A's columns).</summary>
    public PackedMatrix Pack(IsaPath path)
    {
        return Weight.Pack(Taps * In, Out, new TapMajor(In, Taps), path);
    }

    /// <summary>W[j * In + c, o] = weight[o, c, j].</summary>
    private readonly record struct TapMajor(int In, int Taps) : IElementIndex
    {
        public int Of(int row, int col) => (((col * In) + (row % In)) * Taps) + (row / In);
    }

    public long Parameters => Weight.Count + Bias.Length;
}

/// <summary>nn.ConvTranspose1d(C, C, 4, stride 2, padding 1) with bias: weight [In, Out, 4].</summary>
internal sealed record Unet1dUpsample(string Name, int Channels, Unet1dWeight Weight, float[] Bias)
{
    /// <summary>
    /// Output 2m takes input m - 1 through kernel tap 3 and input m through tap 1; output 2m + 1 takes input m through
    /// tap 2 and input m + 1 through tap 0 (o = 2 i - 1 + tap). Each parity is a 2-tap convolution.
    /// </summary>
    public static readonly int[] EvenOffsets = [-1, 0], OddOffsets = [0, 1];

    private static readonly int[] EvenTaps = [3, 1], OddTaps = [2, 0];

    public static Unet1dUpsample Read(SafeTensorsFile file, string name, int channels) =>
        new(name, channels, Unet1dWeight.Read(file, name + ".weight", [channels, channels, 4]), Unet1dModel.ReadFloats(file, name + ".bias", channels));

    /// <summary>The GEMM weights of one output parity: W[j * C + c, o] = weight[c, o, tap_j].</summary>
    public PackedMatrix Pack(bool odd, IsaPath path)
    {
        int[] taps = odd ? OddTaps : EvenTaps;
        return Weight.Pack(2 * Channels, Channels, new Parity(Channels, taps[0], taps[1]), path);
    }

    /// <summary>W[j * C + c, o] = weight[c, o, tap j] for the parity's two taps.</summary>
    private readonly record struct Parity(int Channels, int Tap0, int Tap1) : IElementIndex
    {
        public int Of(int row, int col) => ((((row % Channels) * Channels) + col) * 4) + (row < Channels ? Tap0 : Tap1);
    }

    public long Parameters => Weight.Count + Bias.Length;
}

/// <summary>nn.Linear(In, Out): weight [Out, In].</summary>
internal sealed record Unet1dLinear(string Name, int In, int Out, Unet1dWeight Weight, float[] Bias)
{
    public static Unet1dLinear Read(SafeTensorsFile file, string name, int inWidth, int outWidth) =>
        new(name, inWidth, outWidth, Unet1dWeight.Read(file, name + ".weight", [outWidth, inWidth]), Unet1dModel.ReadFloats(file, name + ".bias", outWidth));

    public PackedMatrix Pack(IsaPath path)
    {
        return Weight.Pack(In, Out, new OutputMajor(In), path);
    }

    /// <summary>W[k, o] = weight[o, k] (nn.Linear's [Out, In]).</summary>
    private readonly record struct OutputMajor(int In) : IElementIndex
    {
        public int Of(int row, int col) => (col * In) + row;
    }

    public long Parameters => Weight.Count + Bias.Length;
}

/// <summary>nn.GroupNorm(Groups, Channels): per-channel gamma and beta.</summary>
internal sealed record Unet1dNorm(string Name, int Channels, int Groups, float[] Gamma, float[] Beta)
{
    public static Unet1dNorm Read(SafeTensorsFile file, string name, int channels, int groups) =>
        new(name, channels, groups, Unet1dModel.ReadFloats(file, name + ".weight", channels), Unet1dModel.ReadFloats(file, name + ".bias", channels));

    public long Parameters => 2L * Channels;
}

/// <summary>
/// ConditionalResidualBlock1D: out = Block2(FiLM(Block1(x), cond)) + Residual(x), each Block a convolution, group norm
/// and Mish; FiLM is scale * h + shift (or h + shift) from a Mish-then-Linear of the conditioning.
/// </summary>
internal sealed record Unet1dBlock(
    string Name, int In, int Out, Unet1dConv Conv1, Unet1dNorm Norm1, Unet1dConv Conv2, Unet1dNorm Norm2, Unet1dLinear Cond, Unet1dConv? Residual)
{
    /// <summary>The first column of this block's FiLM parameters in the concatenated conditioning GEMM's output.</summary>
    public int CondOffset { get; set; }

    public static Unet1dBlock Read(SafeTensorsFile file, string name, int inChannels, int outChannels, Unet1dConfig c) => new(
        name, inChannels, outChannels,
        Unet1dConv.Read(file, name + ".blocks.0.block.0", inChannels, outChannels, c.KernelSize),
        Unet1dNorm.Read(file, name + ".blocks.0.block.1", outChannels, c.Groups),
        Unet1dConv.Read(file, name + ".blocks.1.block.0", outChannels, outChannels, c.KernelSize),
        Unet1dNorm.Read(file, name + ".blocks.1.block.1", outChannels, c.Groups),
        Unet1dLinear.Read(file, name + ".cond_encoder.1", c.CondDim, c.CondPredictScale ? 2 * outChannels : outChannels),
        inChannels != outChannels ? Unet1dConv.Read(file, name + ".residual_conv", inChannels, outChannels, 1) : null);

    public long Parameters => Conv1.Parameters + Norm1.Parameters + Conv2.Parameters + Norm2.Parameters + Cond.Parameters + (Residual?.Parameters ?? 0);
}

/// <summary>One level of the down path: two residual blocks and, except at the coarsest level, a stride-2 convolution.</summary>
internal sealed record Unet1dDown(Unet1dBlock First, Unet1dBlock Second, Unet1dConv? Downsample);

/// <summary>One level of the up path: two residual blocks on the concatenation with the skip, then a transposed convolution.</summary>
internal sealed record Unet1dUp(Unet1dBlock First, Unet1dBlock Second, Unet1dUpsample Upsample);
