namespace DotnetMerge.Numerics;

/// <summary>Scalar conversions for the two OCP 8-bit float formats safetensors calls F8_E4M3 (torch float8_e4m3fn:
/// bias 7, no infinities, 0x7F/0xFF are NaN, largest finite 448) and F8_E5M2 (torch float8_e5m2: bias 15, IEEE-like
/// with infinities, largest finite 57344).</summary>
public static class Float8
{
    /// <summary>NaN pattern produced by both encoders (sign bit clear).</summary>
    public const byte NaN = 0x7F;

    private static readonly float[] E4M3Table = BuildTable(E4M3ToSingleCore);
    private static readonly float[] E5M2Table = BuildTable(E5M2ToSingleCore);

    internal static ReadOnlySpan<float> E4M3Lookup => E4M3Table;
    internal static ReadOnlySpan<float> E5M2Lookup => E5M2Table;

    public static float E4M3ToSingle(byte bits) => E4M3Table[bits];

    public static float E5M2ToSingle(byte bits) => E5M2Table[bits];

    /// <summary>Rounds to nearest-even and saturates: finite values and ±Inf beyond ±448 become ±448 (0x7E/0xFE);
    /// NaN becomes 0x7F.</summary>
    public static byte SingleToE4M3(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80u;
        uint a = bits & 0x7FFF_FFFFu;
        if (a > 0x7F80_0000u) return NaN;
        if (a >= 0x43E0_0000u) return (byte)(sign | 0x7Eu); // |x| >= 448 (incl. Inf): saturate
        if (a < 0x3C80_0000u) // below 2^-6, the smallest normal: subnormal step is 2^-9
            return (byte)(sign | RoundSubnormal(a, 512f));
        uint lsb = (a >> 20) & 1u;
        uint r = ((a + 0x7_FFFFu + lsb) >> 20) - ((127u - 7u) << 3);
        return (byte)(sign | r);
    }

    /// <summary>Rounds to nearest-even; values that round past 57344 become ±Inf (0x7C/0xFC); NaN becomes 0x7F.</summary>
    public static byte SingleToE5M2(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80u;
        uint a = bits & 0x7FFF_FFFFu;
        if (a > 0x7F80_0000u) return NaN;
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
        if (exp == 0xF && mant == 7) return float.NaN;
        if (exp == 0) return sign * mant * (1f / 512f);
        return sign * BitConverter.Int32BitsToSingle(((exp - 7 + 127) << 23) | (mant << 20));
    }

    private static float E5M2ToSingleCore(byte b)
    {
        int exp = (b >> 2) & 0x1F, mant = b & 3;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        if (exp == 0x1F) return mant == 0 ? sign * float.PositiveInfinity : float.NaN;
        if (exp == 0) return sign * mant * (1f / 65536f);
        return sign * BitConverter.Int32BitsToSingle(((exp - 15 + 127) << 23) | (mant << 21));
    }

    private static float[] BuildTable(Func<byte, float> decode)
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++) table[i] = decode((byte)i);
        return table;
    }
}
