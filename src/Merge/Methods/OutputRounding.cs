using System.Runtime.CompilerServices;
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
}
