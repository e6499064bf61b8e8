using System.Runtime.CompilerServices;
using Asd.Simd.Vectors;

namespace Asd.Simd.Kernels;

/// <summary>The activations a fused GEMM epilogue applies.</summary>
public enum Activation
{
    /// <summary>y = x.</summary>
    Identity,

    /// <summary>y = max(x, 0).</summary>
    Relu,

    /// <summary>y = x sigmoid(x) (SiLU, swish).</summary>
    Silu,

    /// <summary>y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as x sigmoid(2 u).</summary>
    GeluTanh,

    /// <summary>y = x tanh(softplus(x)), computed as x n / (n + 2) with n = e^x (e^x + 2).</summary>
    Mish,
}

/// <summary>
/// Activations and exp written once over <see cref="IVec{TSelf}"/> from exactly rounded operations, so a value gets
/// the same bits on every vector width: a row's output cannot depend on where in a tile it landed.
/// </summary>
public static class ActivationMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.428606765330187e-06f;

    /// <summary>Parses the names used in model files: identity, relu, silu, gelu_tanh, mish.</summary>
    public static Activation Parse(string name) => name switch
    {
        "identity" or "none" or "linear" => Activation.Identity,
        "relu" => Activation.Relu,
        "silu" or "swish" => Activation.Silu,
        "gelu_tanh" or "gelu_pytorch_tanh" => Activation.GeluTanh,
        "mish" => Activation.Mish,
        _ => throw new ArgumentException($"Unknown activation '{name}'. Expected identity, relu, silu, gelu_tanh or mish."),
    };

    /// <summary>The name as model files spell it.</summary>
    public static string Name(Activation a) => a switch
    {
        Activation.Relu => "relu",
        Activation.Silu => "silu",
        Activation.GeluTanh => "gelu_tanh",
        Activation.Mish => "mish",
        _ => "identity",
    };

    /// <summary>e^x with about 1 ulp error; inputs are clamped to [-87.3, 88.3], so the result is finite and normal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV>(TV x) where TV : struct, IVec<TV>
    {
        // Compare-and-select clamps and the platform's own conversion of k (an integer in [-126, 127]): the same bits
        // as IEEE min/max and the saturating conversion for every input (a NaN passes the clamps, and either conversion
        // of it gives the scale 1), in about half the operations on x64, where the activations took 1.0 ns an element
        // (SiLU, AVX2 on a Zen 3: 8% of a 4-row MLP forward).
        x = TV.Greater(TV.Broadcast(-87.3f), TV.Lesser(TV.Broadcast(88.3f), x));
        TV k = TV.Round(TV.Multiply(x, TV.Broadcast(Log2E)));
        TV r = TV.MultiplyAdd(k, TV.Broadcast(-Ln2Hi), x);
        r = TV.MultiplyAdd(k, TV.Broadcast(-Ln2Lo), r);

        // e^r on |r| <= ln2 / 2 by its Taylor series to r^7 (truncation below 6e-8 relative).
        TV p = TV.MultiplyAdd(r, TV.Broadcast(1f / 5040f), TV.Broadcast(1f / 720f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 120f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 24f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f / 6f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(0.5f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f));
        p = TV.MultiplyAdd(r, p, TV.Broadcast(1f));

        TV scale = TV.ShiftLeftBits(TV.AddBits(TV.ConvertToInt32NativeBits(k), TV.BroadcastBits(127u)), 23);
        return TV.Multiply(p, scale);
    }

    /// <summary>Applies <paramref name="activation"/> to x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TV>(Activation activation, TV x) where TV : struct, IVec<TV> => activation switch
    {
        Activation.Relu => ReluOp.Apply(x),
        Activation.Silu => SiluOp.Apply(x),
        Activation.GeluTanh => GeluTanhOp.Apply(x),
        Activation.Mish => MishOp.Apply(x),
        _ => x,
    };

    /// <summary>
    /// destination = act(source + bias) (+ residual) per element, for an edge tile or a row; the same arithmetic as
    /// the fused GEMM epilogue. <paramref name="bias"/> and <paramref name="residual"/> may be empty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyRow(ReadOnlySpan<float> source, ReadOnlySpan<float> bias, Activation activation, ReadOnlySpan<float> residual, Span<float> destination)
    {
        int n = destination.Length;
        if (source.Length != n || (!bias.IsEmpty && bias.Length < n) || (!residual.IsEmpty && residual.Length < n))
        {
            throw new ArgumentException($"ApplyRow spans disagree in length: destination {n}, source {source.Length}, bias {bias.Length}, residual {residual.Length}.");
        }

        var row = new Row(source, bias, residual, destination);
        switch (activation)
        {
            case Activation.Relu:
                row.Run<ReluOp>();
                break;
            case Activation.Silu:
                row.Run<SiluOp>();
                break;
            case Activation.GeluTanh:
                row.Run<GeluTanhOp>();
                break;
            case Activation.Mish:
                row.Run<MishOp>();
                break;
            default:
                row.Run<IdentityOp>();
                break;
        }
    }

    /// <summary>One activation as a type, so that a loop is compiled for it alone (here and in <see cref="GroupNorm"/>).</summary>
    internal interface IActivationOp
    {
        static abstract TV Apply<TV>(TV x)
            where TV : struct, IVec<TV>;
    }

    internal readonly struct IdentityOp : IActivationOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TV>(TV x)
            where TV : struct, IVec<TV> => x;
    }

    internal readonly struct ReluOp : IActivationOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TV>(TV x)
            where TV : struct, IVec<TV> => TV.Max(x, TV.Broadcast(0f));
    }

    internal readonly struct SiluOp : IActivationOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TV>(TV x)
            where TV : struct, IVec<TV>
        {
            TV y = TV.Divide(x, TV.Add(TV.Broadcast(1f), Exp(TV.Subtract(TV.Broadcast(0f), x))));
            return BeyondExp(TV.LessThan(x, TV.Broadcast(-88.3f)), x, y);
        }
    }

    internal readonly struct GeluTanhOp : IActivationOp
    {
        /// <summary>x sigmoid(2u) with u = sqrt(2/pi) (x + 0.044715 x^3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TV>(TV x)
            where TV : struct, IVec<TV>
        {
            TV x2 = TV.Multiply(x, x);
            TV u = TV.Multiply(TV.Multiply(x, TV.MultiplyAdd(x2, TV.Broadcast(0.044715f), TV.Broadcast(1f))), TV.Broadcast(-1.5957691216057308f));
            TV y = TV.Divide(x, TV.Add(TV.Broadcast(1f), Exp(u)));
            return BeyondExp(TV.LessThan(TV.Broadcast(88.3f), u), x, y);
        }
    }

    internal readonly struct MishOp : IActivationOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TV>(TV x)
            where TV : struct, IVec<TV>
        {
            TV e = Exp(TV.Lesser(TV.Broadcast(20f), x));
            TV n = TV.Multiply(e, TV.Add(e, TV.Broadcast(2f)));
            TV y = TV.Multiply(x, TV.Divide(n, TV.Add(n, TV.Broadcast(2f))));
            return BeyondExp(TV.LessThan(x, TV.Broadcast(-87.3f)), x, y);
        }
    }

    /// <summary>
    /// x 0 where <paramref name="clamped"/>: the lanes whose exp argument passed the clamp, where the activation is x
    /// times a factor below e^-87 (under 1e-35 for any float x up to 88). The clamped form x / (1 + e^88.3) is that
    /// small only while |x| is: at x = -1e38 it gave -0.5 for SiLU, GELU and Mish alike, a finite wrong value from a
    /// network that had overflowed. x 0 is -0 there, and NaN for x = -inf, as x sigmoid(x) gives in PyTorch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV BeyondExp<TV>(TV clamped, TV x, TV y)
        where TV : struct, IVec<TV> => TV.Select(clamped, TV.Multiply(x, TV.Broadcast(0f)), y);

    /// <summary>The operands of <see cref="ApplyRow"/>, so that each vector width's loop takes them at once.</summary>
    private readonly ref struct Row(ReadOnlySpan<float> source, ReadOnlySpan<float> bias, ReadOnlySpan<float> residual, Span<float> destination)
    {
        private readonly ReadOnlySpan<float> _source = source, _bias = bias, _residual = residual;
        private readonly Span<float> _destination = destination;

        /// <summary>
        /// The whole row: two vectors at a time first (<see cref="VecPair{TV}"/>: two chains of the exp's ~30 dependent
        /// operations interleaved, where one vector at a time left SiLU latency-bound), then one, then lanes. Each
        /// element gets the same operations whichever loop takes it.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Run<TA>()
            where TA : struct, IActivationOp
        {
            int i = Isa.Active switch
            {
                IsaPath.Avx512 => From<Vec512, TA>(From<VecPair<Vec512>, TA>(0)),
                IsaPath.Avx2 => From<Vec256, TA>(From<VecPair<Vec256>, TA>(0)),
                IsaPath.Neon or IsaPath.Vector128 => From<Vec128, TA>(From<VecPair<Vec128>, TA>(0)),
                _ => 0,
            };
            From<VecScalar, TA>(i);
        }

        /// <summary>
        /// Whole vectors of <typeparamref name="TV"/> from element <paramref name="i"/>; returns where it stopped. Its own
        /// method per width and activation: with every activation in one loop the JIT's inlining budget ran out on the
        /// two-vector width and left the vector operations as calls (GELU and Mish 30x slower).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        private int From<TV, TA>(int i)
            where TV : struct, IVec<TV>
            where TA : struct, IActivationOp
        {
            for (; i + TV.Count <= _destination.Length; i += TV.Count)
            {
                TV v = TV.Load(_source, i);
                v = _bias.IsEmpty ? v : TV.Add(v, TV.Load(_bias, i));
                v = TA.Apply(v);
                v = _residual.IsEmpty ? v : TV.Add(v, TV.Load(_residual, i));
                TV.Store(v, _destination, i);
            }

            return i;
        }
    }
}
