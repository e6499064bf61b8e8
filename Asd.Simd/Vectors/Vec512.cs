using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Vec = System.Runtime.Intrinsics.Vector512<float>;
using VecU = System.Runtime.Intrinsics.Vector512<uint>;

namespace Asd.Simd.Vectors;

/// <summary><see cref="IVec{TSelf}"/> over <see cref="Vector512{T}"/>.</summary>
public readonly struct Vec512 : IVec<Vec512>
{
    /// <summary>The lanes.</summary>
    public readonly Vec V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec512(Vec v) => V = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec512(VecU bits) => V = bits.AsSingle();

    private VecU U => V.AsUInt32();

    /// <summary>Wraps raw lanes (for kernels that hold <see cref="Vector512{T}"/> registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 From(Vec v) => new(v);

    /// <inheritdoc/>
    public static int Count => Vec.Count;

    /// <inheritdoc/>
    public static bool IsHardwareAccelerated => Vector512.IsHardwareAccelerated;

    /// <inheritdoc/>
    public static Vec512 Broadcast(float value) => new(Vector512.Create(value));

    /// <inheritdoc/>
    public static Vec512 BroadcastBits(uint bits) => new(Vector512.Create(bits));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Load(ReadOnlySpan<float> source, int index) =>
        new(Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 LoadBits(ReadOnlySpan<uint> source, int index) =>
        new(Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec512 value, Span<float> destination, int index) =>
        value.V.StoreUnsafe(ref MemoryMarshal.GetReference(destination), (nuint)index);

    /// <inheritdoc/>
    public static Vec512 Add(Vec512 a, Vec512 b) => new(a.V + b.V);

    /// <inheritdoc/>
    public static Vec512 Subtract(Vec512 a, Vec512 b) => new(a.V - b.V);

    /// <inheritdoc/>
    public static Vec512 Multiply(Vec512 a, Vec512 b) => new(a.V * b.V);

    /// <inheritdoc/>
    public static Vec512 Divide(Vec512 a, Vec512 b) => new(a.V / b.V);

    /// <inheritdoc/>
    public static Vec512 MultiplyAdd(Vec512 a, Vec512 b, Vec512 c) => new(Vector512.FusedMultiplyAdd(a.V, b.V, c.V));

    /// <inheritdoc/>
    public static Vec512 Sqrt(Vec512 a) => new(Vector512.Sqrt(a.V));

    /// <inheritdoc/>
    public static Vec512 Min(Vec512 a, Vec512 b) => new(Vector512.Min(a.V, b.V));

    /// <inheritdoc/>
    public static Vec512 Max(Vec512 a, Vec512 b) => new(Vector512.Max(a.V, b.V));

    /// <inheritdoc/>
    public static Vec512 LessThan(Vec512 a, Vec512 b) => new(Vector512.LessThan(a.V, b.V));

    /// <inheritdoc/>
    public static Vec512 Select(Vec512 mask, Vec512 ifTrue, Vec512 ifFalse) => new(Vector512.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    /// <inheritdoc/>
    public static Vec512 AndBits(Vec512 a, Vec512 b) => new(a.U & b.U);

    /// <inheritdoc/>
    public static Vec512 XorBits(Vec512 a, Vec512 b) => new(a.U ^ b.U);

    /// <inheritdoc/>
    public static Vec512 AddBits(Vec512 a, Vec512 b) => new(a.U + b.U);

    /// <inheritdoc/>
    public static Vec512 ShiftLeftBits(Vec512 a, int count) => new(Vector512.ShiftLeft(a.U, count));

    /// <inheritdoc/>
    public static Vec512 ShiftRightLogicalBits(Vec512 a, int count) => new(Vector512.ShiftRightLogical(a.U, count));

    /// <inheritdoc/>
    public static Vec512 ShiftRightArithmeticBits(Vec512 a, int count) => new(Vector512.ShiftRightArithmetic(a.V.AsInt32(), count).AsSingle());

    /// <inheritdoc/>
    public static Vec512 ConvertInt32ToSingle(Vec512 bits) => new(Vector512.ConvertToSingle(bits.V.AsInt32()));

    /// <inheritdoc/>
    public static Vec512 ConvertToInt32Bits(Vec512 value) => new(Vector512.ConvertToInt32(value.V).AsSingle());

    /// <inheritdoc/>
    public static Vec512 Round(Vec512 value) => new(Vector512.Round(value.V));
}
