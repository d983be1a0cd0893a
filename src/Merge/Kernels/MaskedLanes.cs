using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DotnetMerge.Kernels;

/// <summary>Lane-wise conditional updates, the one place where the kernels use AVX-512 mask registers. Each primitive
/// has a portable form (any <see cref="Vector{T}"/> width) and, at 512-bit vectors with AVX-512, a form whose compare
/// feeds a masked instruction directly (.NET emits masked instructions for <c>Avx512F.BlendVariable</c> of a compare,
/// not for <see cref="Vector.ConditionalSelect{T}(Vector{T}, Vector{T}, Vector{T})"/>). Both forms give the same bits,
/// as each primitive's summary says.</summary>
internal static class MaskedLanes
{
    /// <summary><paramref name="sum"/> + <paramref name="addend"/> in the lanes where <paramref name="left"/> &gt;
    /// <paramref name="right"/>, <paramref name="sum"/> elsewhere. The portable form adds +0.0 in the other lanes, which
    /// is the same bits as long as <paramref name="sum"/> is never -0.0 (x + 0.0 is x for every other x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> AddWhereGreater(Vector<double> sum, Vector<double> addend, Vector<double> left, Vector<double> right)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(sum.AsVector512(), sum.AsVector512() + addend.AsVector512(),
                Vector512.GreaterThan(left.AsVector512(), right.AsVector512())).AsVector();
        return sum + (addend & Vector.AsVectorDouble(Vector.GreaterThan(left, right)));
    }

    /// <summary><paramref name="value"/> in the lanes where <paramref name="left"/> &gt;= <paramref name="right"/> is false
    /// (NaN lanes included), +0.0 where it is true.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> ZeroWhereGreaterOrEqual(Vector<double> value, Vector<double> left, Vector<double> right)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(value.AsVector512(), Vector512<double>.Zero,
                Vector512.GreaterThanOrEqual(left.AsVector512(), right.AsVector512())).AsVector();
        return Vector.AndNot(value, Vector.AsVectorDouble(Vector.GreaterThanOrEqual(left, right)));
    }

    /// <summary><paramref name="value"/> where <paramref name="mask"/> is all ones, +0.0 where it is zero (a zero-masked
    /// move at 512 bits, an AND elsewhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> KeepWhere(Vector<float> value, Vector<int> mask)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(Vector512<float>.Zero, value.AsVector512(), mask.AsVector512().AsSingle()).AsVector();
        return Vector.AsVectorSingle(Vector.AsVectorInt32(value) & mask);
    }

    /// <summary><paramref name="value"/> where <paramref name="mask"/> is zero, +0.0 where it is all ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> ZeroWhere(Vector<float> value, Vector<int> mask)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(value.AsVector512(), Vector512<float>.Zero, mask.AsVector512().AsSingle()).AsVector();
        return Vector.AsVectorSingle(Vector.AndNot(Vector.AsVectorInt32(value), mask));
    }

    /// <summary><paramref name="count"/> + 1 in the lanes where <paramref name="left"/> &gt; <paramref name="right"/>
    /// (the portable form subtracts the all-ones compare).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> IncrementWhereGreater(Vector<uint> count, Vector<uint> left, Vector<uint> right)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(count.AsVector512(), count.AsVector512() + Vector512<uint>.One,
                Vector512.GreaterThan(left.AsVector512(), right.AsVector512())).AsVector();
        return count - Vector.GreaterThan(left, right);
    }

    /// <summary><paramref name="count"/> + 1 in the lanes where <paramref name="left"/> equals <paramref name="right"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> IncrementWhereEqual(Vector<uint> count, Vector<uint> left, Vector<uint> right)
    {
        if (Vector<byte>.Count == Vector512<byte>.Count && Avx512F.IsSupported) // a JIT-time constant
            return Avx512F.BlendVariable(count.AsVector512(), count.AsVector512() + Vector512<uint>.One,
                Vector512.Equals(left.AsVector512(), right.AsVector512())).AsVector();
        return count - Vector.Equals(left, right);
    }
}
