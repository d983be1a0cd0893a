namespace DotnetMerge.Numerics;

/// <summary>Scalar conversions for the two OCP 8-bit float formats safetensors calls F8_E4M3 (torch float8_e4m3fn:
/// bias 7, no infinities, S.1111.111 is NaN, largest finite 448) and F8_E5M2 (torch float8_e5m2: bias 15, IEEE-like
/// with infinities, largest finite 57344).</summary>
/// <remarks>Encoding follows torch's <c>tensor.to(torch.float8_*)</c> (c10's fp8 conversions), which does not
/// saturate: round to nearest, ties to even; a value that rounds past the largest finite one becomes ±Inf in E5M2
/// and NaN in E4M3 (which has no infinity), ±Inf included; every NaN becomes S.1111.111 / S.11111.11 with its sign
/// kept. kernels/dtype.cuh implements the same rule for the CUDA backend (docs/configuration.md, "Output dtypes").</remarks>
public static class Float8
{
    /// <summary>The positive NaN pattern of both formats (S.1111.111 and S.11111.11 with S clear); a negative NaN
    /// encodes with the sign bit set (0xFF).</summary>
    public const byte NaN = 0x7F;

    private static readonly float[] E4M3Table = BuildTable(E4M3ToSingleCore);
    private static readonly float[] E5M2Table = BuildTable(E5M2ToSingleCore);

    internal static ReadOnlySpan<float> E4M3Lookup => E4M3Table;
    internal static ReadOnlySpan<float> E5M2Lookup => E5M2Table;

    public static float E4M3ToSingle(byte bits) => E4M3Table[bits];

    public static float E5M2ToSingle(byte bits) => E5M2Table[bits];

    /// <summary>Rounds to nearest-even. |x| above 464 (the tie between 448 and 480, which goes to 448), ±Inf and NaN
    /// become NaN with the sign kept (0x7F/0xFF), as torch's float8_e4m3fn conversion does.</summary>
    public static byte SingleToE4M3(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80u;
        uint a = bits & 0x7FFF_FFFFu;
        // 480 (0x43F0_0000) would be the next code after 448; values in (464, 480) also round to that code below
        if (a >= 0x43F0_0000u) return (byte)(sign | NaN);
        if (a < 0x3C80_0000u) // below 2^-6, the smallest normal: subnormal step is 2^-9
            return (byte)(sign | RoundSubnormal(a, 512f));
        uint lsb = (a >> 20) & 1u;
        uint r = ((a + 0x7_FFFFu + lsb) >> 20) - ((127u - 7u) << 3);
        return (byte)(sign | r); // r == 0x7F (NaN) when |x| is in (464, 480)
    }

    /// <summary>Rounds to nearest-even; values that round past 57344 become ±Inf (0x7C/0xFC); NaN becomes 0x7F/0xFF
    /// (sign kept), as torch's float8_e5m2 conversion does.</summary>
    public static byte SingleToE5M2(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80u;
        uint a = bits & 0x7FFF_FFFFu;
        if (a > 0x7F80_0000u) return (byte)(sign | NaN);
        if (a == 0x7F80_0000u) return (byte)(sign | 0x7Cu);
        if (a < 0x3880_0000u) // below 2^-14, the smallest normal: subnormal step is 2^-16
            return (byte)(sign | RoundSubnormal(a, 65536f));
        uint lsb = (a >> 21) & 1u;
        uint r = ((a + 0xF_FFFFu + lsb) >> 21) - ((127u - 15u) << 2);
        if (r > 0x7Cu) r = 0x7Cu;
        return (byte)(sign | r);
    }

    // |x| / step rounded half-to-even; the scaling is by a power of two, so it is exact. A result equal to the
    // subnormal count (8 or 4) is exactly the encoding of the smallest normal, so no special case is needed.
    private static uint RoundSubnormal(uint magnitudeBits, float inverseStep) =>
        (uint)MathF.Round(BitConverter.UInt32BitsToSingle(magnitudeBits) * inverseStep, MidpointRounding.ToEven);

    private static float E4M3ToSingleCore(byte b)
    {
        int exp = (b >> 3) & 0xF, mant = b & 7;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        if (exp == 0xF && mant == 7) return QuietNaN(b, 0u);
        if (exp == 0) return sign * mant * (1f / 512f);
        return sign * BitConverter.Int32BitsToSingle(((exp - 7 + 127) << 23) | (mant << 20));
    }

    private static float E5M2ToSingleCore(byte b)
    {
        int exp = (b >> 2) & 0x1F, mant = b & 3;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        if (exp == 0x1F) return mant == 0 ? sign * float.PositiveInfinity : QuietNaN(b, (uint)mant << 21);
        if (exp == 0) return sign * mant * (1f / 65536f);
        return sign * BitConverter.Int32BitsToSingle(((exp - 15 + 127) << 23) | (mant << 21));
    }

    /// <summary>A NaN code widened to float32 as kernels/dtype.cuh widens it: the sign kept, quiet, the payload kept.</summary>
    private static float QuietNaN(byte code, uint payload) =>
        BitConverter.UInt32BitsToSingle(((uint)(code & 0x80) << 24) | 0x7FC0_0000u | payload);

    private static float[] BuildTable(Func<byte, float> decode)
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++) table[i] = decode((byte)i);
        return table;
    }
}
