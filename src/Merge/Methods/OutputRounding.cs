using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Numerics;

namespace DotnetMerge.Methods;

/// <summary>Turns a float64 result into the float32 that the output encoder rounds to the output dtype, so that
/// the stored value is the float64 result rounded ONCE. For outputs narrower than float32 (bf16, f16, f8) the
/// float32 is rounded to odd (the sticky-bit trick: with ≥ 2 extra bits, round-to-odd then round-to-nearest-even
/// equals a direct round-to-nearest-even); for float32 outputs it is the ordinary nearest float.</summary>
internal static class OutputRounding
{
    public static bool NeedsRoundToOdd(Dtype output) => output is not (Dtype.F32 or Dtype.F64);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Narrow(double value, bool roundToOdd)
    {
        float nearest = (float)value;
        if (!roundToOdd || nearest == value || double.IsNaN(value)) return nearest;
        uint bits = BitConverter.SingleToUInt32Bits(nearest);
        if (Math.Abs((double)nearest) > Math.Abs(value)) bits--; // the neighbour toward zero
        return BitConverter.UInt32BitsToSingle(bits | 1);
    }

    /// <summary><see cref="Narrow(double, bool)"/> on the lanes of two double vectors (low lanes first), bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Narrow(Vector<double> low, Vector<double> high, bool roundToOdd)
    {
        if (!roundToOdd) return Vector.Narrow(low, high);
        if (Vector<double>.Count == Vector512<double>.Count && Avx512F.IsSupported)
            return NarrowToOdd512(low.AsVector512(), high.AsVector512()).AsVector();
        var nearest = Vector.Narrow(low, high);
        Vector.Widen(nearest, out var nearestLow, out var nearestHigh);
        // inexact (and not NaN: NaN == NaN is false, so "x == x" is the not-NaN test)
        var inexact = Vector.Narrow(
            Vector.AndNot(Vector.Equals(low, low), Vector.Equals(nearestLow, low)),
            Vector.AndNot(Vector.Equals(high, high), Vector.Equals(nearestHigh, high)));
        var awayFromZero = Vector.Narrow(
            Vector.GreaterThan(Vector.Abs(nearestLow), Vector.Abs(low)),
            Vector.GreaterThan(Vector.Abs(nearestHigh), Vector.Abs(high)));
        var bits = Vector.AsVectorInt32(nearest);
        var odd = (bits + awayFromZero) | Vector<int>.One; // awayFromZero lanes are −1: the neighbour toward zero
        return Vector.AsVectorSingle(Vector.ConditionalSelect(inexact, odd, bits));
    }

    /// <summary>Round to odd with AVX-512's embedded rounding: truncate toward zero, then set the last bit where that
    /// lost something. The same bits as the portable form: truncation toward zero is the neighbour toward zero, a
    /// finite value beyond float's range truncates to ±MaxValue (odd already), and NaN lanes (not "inexact", since
    /// NaN ≠ NaN) convert as the round-to-nearest conversion does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> NarrowToOdd512(Vector512<double> low, Vector512<double> high)
        => Avx512F.InsertVector256(ToOdd(low).ToVector512Unsafe(), ToOdd(high), 1);

    /// <summary>Eight lanes of <see cref="NarrowToOdd512"/>: truncate, then OR in 1 where the truncation is inexact.
    /// Inexact ⟺ rounding down gives less than rounding up (equal when exact, never less for NaN, and MaxValue &lt; ∞
    /// beyond float's range). Comparing the two floats gives the mask in float lanes, so the OR is one masked
    /// instruction, with no widening back to double and no mask vector narrowed from 64-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ToOdd(Vector512<double> value)
    {
        var truncated = Avx512F.ConvertToVector256Single(value, FloatRoundingMode.ToZero).AsInt32();
        var inexact = Vector256.LessThan(Avx512F.ConvertToVector256Single(value, FloatRoundingMode.ToNegativeInfinity),
            Avx512F.ConvertToVector256Single(value, FloatRoundingMode.ToPositiveInfinity)).AsInt32();
        return Avx512F.VL.BlendVariable(truncated, truncated | Vector256<int>.One, inexact).AsSingle();
    }
}
