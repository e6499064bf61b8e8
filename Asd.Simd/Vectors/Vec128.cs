using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Vec = System.Runtime.Intrinsics.Vector128<float>;
using VecU = System.Runtime.Intrinsics.Vector128<uint>;

namespace Asd.Simd.Vectors;

/// <summary><see cref="IVec{TSelf}"/> over <see cref="Vector128{T}"/>.</summary>
public readonly struct Vec128 : IVec<Vec128>
{
    /// <summary>The lanes.</summary>
    public readonly Vec V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec128(Vec v) => V = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec128(VecU bits) => V = bits.AsSingle();

    private VecU U => V.AsUInt32();

    /// <summary>Wraps raw lanes (for kernels that hold <see cref="Vector128{T}"/> registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 From(Vec v) => new(v);

    /// <inheritdoc/>
    public static int Count => Vec.Count;

    /// <inheritdoc/>
    public static bool IsHardwareAccelerated => Vector128.IsHardwareAccelerated;

    /// <inheritdoc/>
    public static Vec128 Broadcast(float value) => new(Vector128.Create(value));

    /// <inheritdoc/>
    public static Vec128 BroadcastBits(uint bits) => new(Vector128.Create(bits));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Load(ReadOnlySpan<float> source, int index) =>
        new(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 LoadBits(ReadOnlySpan<uint> source, int index) =>
        new(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)index));

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec128 value, Span<float> destination, int index) =>
        value.V.StoreUnsafe(ref MemoryMarshal.GetReference(destination), (nuint)index);

    /// <inheritdoc/>
    public static Vec128 Add(Vec128 a, Vec128 b) => new(a.V + b.V);

    /// <inheritdoc/>
    public static Vec128 Subtract(Vec128 a, Vec128 b) => new(a.V - b.V);

    /// <inheritdoc/>
    public static Vec128 Multiply(Vec128 a, Vec128 b) => new(a.V * b.V);

    /// <inheritdoc/>
    public static Vec128 Divide(Vec128 a, Vec128 b) => new(a.V / b.V);

    /// <inheritdoc/>
    public static Vec128 MultiplyAdd(Vec128 a, Vec128 b, Vec128 c) => new(Vector128.FusedMultiplyAdd(a.V, b.V, c.V));

    /// <inheritdoc/>
    public static Vec128 Sqrt(Vec128 a) => new(Vector128.Sqrt(a.V));

    /// <inheritdoc/>
    public static Vec128 Min(Vec128 a, Vec128 b) => new(Vector128.Min(a.V, b.V));

    /// <inheritdoc/>
    public static Vec128 Max(Vec128 a, Vec128 b) => new(Vector128.Max(a.V, b.V));

    /// <inheritdoc/>
    public static Vec128 LessThan(Vec128 a, Vec128 b) => new(Vector128.LessThan(a.V, b.V));

    /// <inheritdoc/>
    public static Vec128 Select(Vec128 mask, Vec128 ifTrue, Vec128 ifFalse) => new(Vector128.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    /// <inheritdoc/>
    public static Vec128 AndBits(Vec128 a, Vec128 b) => new(a.U & b.U);

    /// <inheritdoc/>
    public static Vec128 XorBits(Vec128 a, Vec128 b) => new(a.U ^ b.U);

    /// <inheritdoc/>
    public static Vec128 AddBits(Vec128 a, Vec128 b) => new(a.U + b.U);

    /// <inheritdoc/>
    public static Vec128 ShiftLeftBits(Vec128 a, int count) => new(Vector128.ShiftLeft(a.U, count));

    /// <inheritdoc/>
    public static Vec128 ShiftRightLogicalBits(Vec128 a, int count) => new(Vector128.ShiftRightLogical(a.U, count));

    /// <inheritdoc/>
    public static Vec128 ShiftRightArithmeticBits(Vec128 a, int count) => new(Vector128.ShiftRightArithmetic(a.V.AsInt32(), count).AsSingle());

    /// <inheritdoc/>
    public static Vec128 ConvertInt32ToSingle(Vec128 bits) => new(Vector128.ConvertToSingle(bits.V.AsInt32()));

    /// <inheritdoc/>
    public static Vec128 ConvertToInt32Bits(Vec128 value) => new(Vector128.ConvertToInt32(value.V).AsSingle());

    /// <inheritdoc/>
    public static Vec128 Round(Vec128 value) => new(Vector128.Round(value.V));
}
