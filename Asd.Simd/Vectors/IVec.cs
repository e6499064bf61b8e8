using System.Runtime.Intrinsics;

namespace Asd.Simd.Vectors;

/// <summary>
/// The operations one vector width offers, so a kernel is written once and instantiated per width
/// (<see cref="Vec512"/>, <see cref="Vec256"/>, <see cref="Vec128"/>, <see cref="VecScalar"/>).
/// Every operation here is exactly rounded (IEEE add, mul, div, sqrt, fused multiply-add), so a kernel built
/// only from them gives the same bits on every width and every architecture.
/// </summary>
/// <typeparam name="TSelf">The implementing width.</typeparam>
/// <remarks>
/// "Bits" operations treat the lanes as 32-bit integers (the float's bit pattern).
/// The JIT specializes generic code per struct type argument, so these calls inline to single instructions.
/// </remarks>
public interface IVec<TSelf> where TSelf : struct, IVec<TSelf>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Whether this width runs on hardware instructions here.</summary>
    static abstract bool IsHardwareAccelerated { get; }

    static abstract TSelf Broadcast(float value);
    static abstract TSelf BroadcastBits(uint bits);
    static abstract TSelf Load(ReadOnlySpan<float> source, int index);
    static abstract TSelf LoadBits(ReadOnlySpan<uint> source, int index);
    static abstract void Store(TSelf value, Span<float> destination, int index);

    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Subtract(TSelf a, TSelf b);
    static abstract TSelf Multiply(TSelf a, TSelf b);
    static abstract TSelf Divide(TSelf a, TSelf b);

    /// <summary>a * b + c with one rounding.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Sqrt(TSelf a);
    static abstract TSelf Min(TSelf a, TSelf b);
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>
    /// a &lt; b ? a : b per lane, so b where either is NaN: one compare and one select on every path, where
    /// <see cref="Min"/>'s IEEE rules for NaN and signed zeros take about five operations on x64. For a clamp to a
    /// constant c, Lesser(c, x) passes a NaN x through.
    /// </summary>
    static abstract TSelf Lesser(TSelf a, TSelf b);

    /// <summary>a &gt; b ? a : b per lane, so b where either is NaN (see <see cref="Lesser"/>).</summary>
    static abstract TSelf Greater(TSelf a, TSelf b);

    /// <summary>All-ones lanes where a &lt; b.</summary>
    static abstract TSelf LessThan(TSelf a, TSelf b);

    /// <summary>Lanes of <paramref name="ifTrue"/> where the mask's bits are set, else of <paramref name="ifFalse"/>.</summary>
    static abstract TSelf Select(TSelf mask, TSelf ifTrue, TSelf ifFalse);

    static abstract TSelf AndBits(TSelf a, TSelf b);
    static abstract TSelf XorBits(TSelf a, TSelf b);
    static abstract TSelf AddBits(TSelf a, TSelf b);
    static abstract TSelf ShiftLeftBits(TSelf a, int count);
    static abstract TSelf ShiftRightLogicalBits(TSelf a, int count);
    static abstract TSelf ShiftRightArithmeticBits(TSelf a, int count);

    /// <summary>Converts lanes holding signed 32-bit integers to float (round to nearest even).</summary>
    static abstract TSelf ConvertInt32ToSingle(TSelf bits);

    /// <summary>Converts floats holding integral values to signed 32-bit integer lanes (bits).</summary>
    static abstract TSelf ConvertToInt32Bits(TSelf value);

    /// <summary>
    /// <see cref="ConvertToInt32Bits"/> with the platform's own conversion: one instruction, where the saturating one
    /// takes five on x64. Only for values known to be integral and within int's range: the paths differ for NaN and
    /// beyond it.
    /// </summary>
    static abstract TSelf ConvertToInt32NativeBits(TSelf value);

    /// <summary>Rounds to the nearest integral value, ties to even.</summary>
    static abstract TSelf Round(TSelf value);
}
