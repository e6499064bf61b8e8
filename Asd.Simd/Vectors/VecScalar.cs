using System.Runtime.CompilerServices;

namespace Asd.Simd.Vectors;

/// <summary>
/// <see cref="IVec{TSelf}"/> with one lane: the scalar reference and the tail of every vector loop.
/// Uses <see cref="MathF.FusedMultiplyAdd"/> so it rounds exactly like the vector widths.
/// </summary>
public readonly struct VecScalar : IVec<VecScalar>
{
    /// <summary>The lane.</summary>
    public readonly float V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private VecScalar(float v) => V = v;

    private uint U => BitConverter.SingleToUInt32Bits(V);

    private static VecScalar FromBits(uint bits) => new(BitConverter.UInt32BitsToSingle(bits));

    /// <inheritdoc/>
    public static int Count => 1;

    /// <inheritdoc/>
    public static bool IsHardwareAccelerated => true;

    /// <inheritdoc/>
    public static VecScalar Broadcast(float value) => new(value);

    /// <inheritdoc/>
    public static VecScalar BroadcastBits(uint bits) => FromBits(bits);

    /// <inheritdoc/>
    public static VecScalar Load(ReadOnlySpan<float> source, int index) => new(source[index]);

    /// <inheritdoc/>
    public static VecScalar LoadBits(ReadOnlySpan<uint> source, int index) => FromBits(source[index]);

    /// <inheritdoc/>
    public static void Store(VecScalar value, Span<float> destination, int index) => destination[index] = value.V;

    /// <inheritdoc/>
    public static VecScalar Add(VecScalar a, VecScalar b) => new(a.V + b.V);

    /// <inheritdoc/>
    public static VecScalar Subtract(VecScalar a, VecScalar b) => new(a.V - b.V);

    /// <inheritdoc/>
    public static VecScalar Multiply(VecScalar a, VecScalar b) => new(a.V * b.V);

    /// <inheritdoc/>
    public static VecScalar Divide(VecScalar a, VecScalar b) => new(a.V / b.V);

    /// <inheritdoc/>
    public static VecScalar MultiplyAdd(VecScalar a, VecScalar b, VecScalar c) => new(MathF.FusedMultiplyAdd(a.V, b.V, c.V));

    /// <inheritdoc/>
    public static VecScalar Sqrt(VecScalar a) => new(MathF.Sqrt(a.V));

    /// <inheritdoc/>
    public static VecScalar Min(VecScalar a, VecScalar b) => new(MathF.Min(a.V, b.V));

    /// <inheritdoc/>
    public static VecScalar Max(VecScalar a, VecScalar b) => new(MathF.Max(a.V, b.V));

    /// <inheritdoc/>
    public static VecScalar LessThan(VecScalar a, VecScalar b) => FromBits(a.V < b.V ? uint.MaxValue : 0u);

    /// <inheritdoc/>
    public static VecScalar Select(VecScalar mask, VecScalar ifTrue, VecScalar ifFalse) =>
        FromBits((mask.U & ifTrue.U) | (~mask.U & ifFalse.U));

    /// <inheritdoc/>
    public static VecScalar AndBits(VecScalar a, VecScalar b) => FromBits(a.U & b.U);

    /// <inheritdoc/>
    public static VecScalar XorBits(VecScalar a, VecScalar b) => FromBits(a.U ^ b.U);

    /// <inheritdoc/>
    public static VecScalar AddBits(VecScalar a, VecScalar b) => FromBits(a.U + b.U);

    /// <inheritdoc/>
    public static VecScalar ShiftLeftBits(VecScalar a, int count) => FromBits(a.U << count);

    /// <inheritdoc/>
    public static VecScalar ShiftRightLogicalBits(VecScalar a, int count) => FromBits(a.U >> count);

    /// <inheritdoc/>
    public static VecScalar ShiftRightArithmeticBits(VecScalar a, int count) => FromBits((uint)((int)a.U >> count));

    /// <inheritdoc/>
    public static VecScalar ConvertInt32ToSingle(VecScalar bits) => new((int)bits.U);

    /// <inheritdoc/>
    public static VecScalar ConvertToInt32Bits(VecScalar value) => FromBits((uint)(int)value.V);

    /// <inheritdoc/>
    public static VecScalar Round(VecScalar value) => new(MathF.Round(value.V, MidpointRounding.ToEven));
}
