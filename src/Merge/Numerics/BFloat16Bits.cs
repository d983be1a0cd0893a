namespace DotnetMerge.Numerics;

/// <summary>Scalar bfloat16 conversions on raw 16-bit patterns (the upper half of a float32).</summary>
public static class BFloat16Bits
{
    /// <summary>The bf16 pattern every NaN encodes to (torch's CPU choice: positive quiet NaN).</summary>
    public const ushort CanonicalNaN = 0x7FC0;

    /// <summary>Exact widening: the bf16 bits become the upper 16 bits of the float32.</summary>
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Rounds to nearest, ties to even. ±Inf stays ±Inf, values past the largest finite bf16 round to ±Inf,
    /// any NaN becomes <see cref="CanonicalNaN"/> (as torch does).</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u) return CanonicalNaN;
        uint lsb = (bits >> 16) & 1u;
        return (ushort)((bits + 0x7FFFu + lsb) >> 16);
    }
}
