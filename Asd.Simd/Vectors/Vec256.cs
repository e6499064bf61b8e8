using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Vec = System.Runtime.Intrinsics.Vector256<float>;
using VecU = System.Runtime.Intrinsics.Vector256<uint>;

namespace Asd.Simd.Vectors;

/// <summary><see cref="IVec{TSelf}"/> over <see cref="Vector256{T}"/>.</summary>
public readonly struct Vec256 : IVec<Vec256>
{
    /// <summary>The lanes.</summary>
    public readonly Vec V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec256(Vec v) => V = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec256(VecU bits) => V = bits.AsSingle();

    private VecU U => V.AsUInt32();

    /// <summary>Wraps raw lanes (for kernels that hold <see cref="Vector256{T}"/> registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 From(Vec v) => new(v);

    /// <inheritdoc/>
    public static int Count => Vec.Count;

    /// <inheritdoc/>
    public static bool IsHardwareAccelerated => Vector256.IsHardwareAccelerated;

    /// <inheritdoc/>
    public static Vec256 Broadcast(float value) => new(Vector256.Create(value));

    /// <inheritdoc/>
    public static Vec256 BroadcastBits(uint bits) => new(Vector256.Create(bits));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Load(ReadOnlySpan<float> source, int index) =>
        new(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 LoadBits(ReadOnlySpan<uint> source, int index) =>
        new(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec256 value, Span<float> destination, int index) =>
        value.V.StoreUnsafe(ref MemoryMarshal.GetReference(destination), (nuint)index);

    /// <inheritdoc/>
    public static Vec256 Add(Vec256 a, Vec256 b) => new(a.V + b.V);

    /// <inheritdoc/>
    public static Vec256 Subtract(Vec256 a, Vec256 b) => new(a.V - b.V);

    /// <inheritdoc/>
    public static Vec256 Multiply(Vec256 a, Vec256 b) => new(a.V * b.V);

    /// <inheritdoc/>
    public static Vec256 Divide(Vec256 a, Vec256 b) => new(a.V / b.V);

    /// <inheritdoc/>
    public static Vec256 MultiplyAdd(Vec256 a, Vec256 b, Vec256 c) => new(Vector256.FusedMultiplyAdd(a.V, b.V, c.V));

    /// <inheritdoc/>
    public static Vec256 Sqrt(Vec256 a) => new(Vector256.Sqrt(a.V));

    /// <inheritdoc/>
    public static Vec256 Min(Vec256 a, Vec256 b) => new(Vector256.Min(a.V, b.V));

    /// <inheritdoc/>
    public static Vec256 Max(Vec256 a, Vec256 b) => new(Vector256.Max(a.V, b.V));

    /// <inheritdoc/>
    public static Vec256 LessThan(Vec256 a, Vec256 b) => new(Vector256.LessThan(a.V, b.V));

    /// <inheritdoc/>
    public static Vec256 Select(Vec256 mask, Vec256 ifTrue, Vec256 ifFalse) => new(Vector256.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    /// <inheritdoc/>
    public static Vec256 AndBits(Vec256 a, Vec256 b) => new(a.U & b.U);

    /// <inheritdoc/>
    public static Vec256 XorBits(Vec256 a, Vec256 b) => new(a.U ^ b.U);

    /// <inheritdoc/>
    public static Vec256 AddBits(Vec256 a, Vec256 b) => new(a.U + b.U);

    /// <inheritdoc/>
    public static Vec256 ShiftLeftBits(Vec256 a, int count) => new(Vector256.ShiftLeft(a.U, count));

    /// <inheritdoc/>
    public static Vec256 ShiftRightLogicalBits(Vec256 a, int count) => new(Vector256.ShiftRightLogical(a.U, count));

    /// <inheritdoc/>
    public static Vec256 ShiftRightArithmeticBits(Vec256 a, int count) => new(Vector256.ShiftRightArithmetic(a.V.AsInt32(), count).AsSingle());

    /// <inheritdoc/>
    public static Vec256 ConvertInt32ToSingle(Vec256 bits) => new(Vector256.ConvertToSingle(bits.V.AsInt32()));

    /// <inheritdoc/>
    public static Vec256 ConvertToInt32Bits(Vec256 value) => new(Vector256.ConvertToInt32(value.V).AsSingle());

    /// <inheritdoc/>
    public static Vec256 Round(Vec256 value) => new(Vector256.Round(value.V));
}
