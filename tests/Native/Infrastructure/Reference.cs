using System.Text;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>Independent reference code for the tests, written from the specifications (helper-common's random stream,
/// IEEE-style narrow formats) with double arithmetic rather than the kernels' bit manipulation.</summary>
internal static class Reference
{
    // ---- Philox4x32-10, straight from the paper's description ----
    public static uint[] Philox(uint[] counter, uint[] key)
    {
        uint c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3], k0 = key[0], k1 = key[1];
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = 0xD2511F53UL * c0, p1 = 0xCD9E8D57UL * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0, n1 = (uint)p1, n2 = (uint)(p0 >> 32) ^ c3 ^ k1, n3 = (uint)p0;
            (c0, c1, c2, c3) = (n0, n1, n2, n3);
            k0 += 0x9E3779B9; k1 += 0xBB67AE85;
        }
        return [c0, c1, c2, c3];
    }

    public static uint Fnv1a(string text)
    {
        uint h = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(text)) { h ^= b; h *= 16777619; }
        return h;
    }

    /// <summary>The random bits of element e, model m, tensor name hash, seed s (helper-common.md).</summary>
    public static uint RandomBits(ulong seed, uint model, uint nameHash, ulong element)
    {
        ulong block = element / 4;
        return Philox([(uint)block, (uint)(block >> 32), model, nameHash], [(uint)seed, (uint)(seed >> 32)])[(int)(element % 4)];
    }

    public static double Uniform(uint bits) => (bits >> 8) / 16777216.0;

    public static bool Keep(ulong seed, uint model, uint nameHash, ulong element, double p) => Uniform(RandomBits(seed, model, nameHash, element)) < p;

    // ---- narrow binary floats ----
    public sealed record Format(string Name, int ExponentBits, int MantissaBits, int Bias, bool Ieee, int Bytes)
    {
        public int AllOnes => (1 << ExponentBits) - 1;
        /// <summary>Largest finite value.</summary>
        public double MaxFinite => Ieee
            ? (2 - Math.ScaleB(1, -MantissaBits)) * Math.ScaleB(1, AllOnes - 1 - Bias)
            : (2 - Math.ScaleB(1, 1 - MantissaBits)) * Math.ScaleB(1, AllOnes - Bias);
        public int SignBit => ExponentBits + MantissaBits;
    }

    public static readonly Format Bf16 = new("bf16", 8, 7, 127, true, 2);
    public static readonly Format F16 = new("f16", 5, 10, 15, true, 2);
    public static readonly Format F8E5M2 = new("f8e5m2", 5, 2, 15, true, 1);
    public static readonly Format F8E4M3 = new("f8e4m3", 4, 3, 7, false, 1);

    public static bool IsNaNCode(Format f, uint code)
    {
        uint e = (code >> f.MantissaBits) & (uint)f.AllOnes, m = code & ((1u << f.MantissaBits) - 1);
        return f.Ieee ? e == f.AllOnes && m != 0 : e == f.AllOnes && m == (1u << f.MantissaBits) - 1;
    }

    /// <summary>The value of a code, by the textbook formula.</summary>
    public static double Decode(Format f, uint code)
    {
        int sign = ((code >> f.SignBit) & 1) != 0 ? -1 : 1;
        int e = (int)((code >> f.MantissaBits) & (uint)f.AllOnes);
        int m = (int)(code & ((1u << f.MantissaBits) - 1));
        if (IsNaNCode(f, code)) return double.NaN;
        if (f.Ieee && e == f.AllOnes) return sign * double.PositiveInfinity;
        if (e == 0) return sign * m * Math.ScaleB(1, 1 - f.Bias - f.MantissaBits);
        return sign * (1 + m * Math.ScaleB(1, -f.MantissaBits)) * Math.ScaleB(1, e - f.Bias);
    }

    /// <summary>Rounds <paramref name="value"/> to the nearest code, ties to even; overflow gives infinity (IEEE formats)
    /// or NaN (e4m3fn). NaN inputs give null (the caller checks NaN-ness).</summary>
    public static uint? Encode(Format f, double value)
    {
        if (double.IsNaN(value)) return null;
        uint sign = double.IsNegative(value) ? 1u << f.SignBit : 0;
        double a = Math.Abs(value);
        uint overflow = f.Ieee ? (uint)f.AllOnes << f.MantissaBits : ((uint)f.AllOnes << f.MantissaBits) | ((1u << f.MantissaBits) - 1);
        if (double.IsInfinity(a)) return sign | overflow;
        if (a == 0) return sign;
        int minExponent = 1 - f.Bias;
        int exponent = Math.Max(Math.ILogB(a), minExponent);
        double quantum = Math.ScaleB(1, exponent - f.MantissaBits);
        double rounded = Math.Round(a / quantum, MidpointRounding.ToEven) * quantum;
        if (rounded > f.MaxFinite) return sign | overflow;
        if (rounded == 0) return sign;
        int e = Math.ILogB(rounded);
        if (e < minExponent) return sign | (uint)(rounded / Math.ScaleB(1, minExponent - f.MantissaBits));
        uint mantissa = (uint)(rounded / Math.ScaleB(1, e - f.MantissaBits)) - (1u << f.MantissaBits);
        return sign | ((uint)(e + f.Bias) << f.MantissaBits) | mantissa;
    }

    /// <summary>The code a NaN float32 stores as: bf16 the positive quiet NaN 0x7fc0 and the 8-bit formats S.all-ones
    /// with the sign kept (both as torch's conversions: c10's round_to_nearest_even and fp8*_from_fp32_value), f16 the
    /// quiet NaN with the sign and the top payload bits kept (IEEE 754's recommendation, as .NET's Half).</summary>
    public static uint NaNCode(Format f, float nan)
    {
        uint bits = BitConverter.SingleToUInt32Bits(nan);
        if (f == Bf16) return 0x7fc0;
        uint sign = (bits >> 31) << f.SignBit, allOnes = (uint)f.AllOnes << f.MantissaBits;
        if (f == F16) return sign | allOnes | (1u << (f.MantissaBits - 1)) | ((bits & 0x7fffff) >> (23 - f.MantissaBits));
        return sign | allOnes | ((1u << f.MantissaBits) - 1);
    }

    /// <summary>The code a float32 stores as, NaN included: <see cref="Encode"/> or <see cref="NaNCode"/>.</summary>
    public static uint EncodeExactly(Format f, float value) => float.IsNaN(value) ? NaNCode(f, value) : Encode(f, value)!.Value;

    /// <summary>True when codes <paramref name="a"/> and <paramref name="b"/> are neighbours of one sign and
    /// <paramref name="x"/> lies within 2^-40 (relative) of their midpoint: the only place where a float64 reference that
    /// adds in another order than the kernel may round to the other code. Double rounding through float32 shows up to
    /// 2^-25 away from a midpoint, so a comparer that allows only this still sees it.</summary>
    public static bool NeighboursAroundMidpoint(Format f, uint a, uint b, double x)
    {
        if (Math.Abs((int)a - (int)b) != 1 || (a >> f.SignBit) != (b >> f.SignBit)) return false;
        double midpoint = (Decode(f, a) + Decode(f, b)) / 2;
        return Math.Abs(x - midpoint) <= Math.ScaleB(Math.Abs(x), -40);
    }

    public static uint ReadCode(Format f, byte[] data, int index)
        => f.Bytes == 1 ? data[index] : BitConverter.ToUInt16(data, index * 2);

    public static byte[] WriteCodes(Format f, IReadOnlyList<uint> codes)
    {
        var bytes = new byte[codes.Count * f.Bytes];
        for (int i = 0; i < codes.Count; i++)
            if (f.Bytes == 1) bytes[i] = (byte)codes[i];
            else BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), (ushort)codes[i]);
        return bytes;
    }

    public static byte[] FloatBytes(IReadOnlyList<float> values)
    {
        var bytes = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static float[] Floats(byte[] bytes)
    {
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.ToSingle(bytes, i * 4);
        return values;
    }
}
