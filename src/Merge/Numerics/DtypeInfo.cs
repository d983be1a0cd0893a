namespace DotnetMerge.Numerics;

/// <summary>Facts about each <see cref="Dtype"/>: bit width, safetensors header spelling, torch name, decodability.</summary>
public static class DtypeInfo
{
    // Indexed by (int)Dtype; the enum is declared in safetensors order.
    private static readonly int[] Bits = [8, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64];

    private static readonly string[] HeaderNames =
    [
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64",
    ];

    // torch dtype names (without the "torch." prefix); null where torch has no equivalent.
    private static readonly string?[] TorchNames =
    [
        "bool", "float4_e2m1fn_x2", null, null, "uint8", "int8", "float8_e5m2", "float8_e4m3fn", "float8_e8m0fnu",
        "float8_e4m3fnuz", "float8_e5m2fnuz", "int16", "uint16", "float16", "bfloat16", "int32", "uint32", "float32",
        "complex64", "float64", "int64", "uint64",
    ];

    private static readonly Dictionary<string, Dtype> ByHeaderName = BuildHeaderLookup();
    private static readonly Dictionary<string, Dtype> ByTorchName = BuildTorchLookup();

    /// <summary>Bits per element (4 for F4, 6 for the F6 types).</summary>
    public static int BitSize(this Dtype dtype) => Bits[Index(dtype)];

    /// <summary>True for the types <see cref="DtypeConversion"/> can decode to and encode from float32.</summary>
    public static bool CanDecode(this Dtype dtype) =>
        dtype is Dtype.F64 or Dtype.F32 or Dtype.F16 or Dtype.BF16 or Dtype.F8_E4M3 or Dtype.F8_E5M2;

    /// <summary>The dtype's spelling in a safetensors header, e.g. <c>BF16</c>.</summary>
    public static string HeaderName(this Dtype dtype) => HeaderNames[Index(dtype)];

    /// <summary>Parses a safetensors header dtype (exact, case-sensitive spelling).</summary>
    public static bool TryParseHeaderName(string name, out Dtype dtype) => ByHeaderName.TryGetValue(name, out dtype);

    /// <summary>Bytes occupied by <paramref name="elements"/> elements; throws <see cref="OverflowException"/> on overflow
    /// and <see cref="ArgumentException"/> when sub-byte elements do not fill whole bytes.</summary>
    public static long ByteCount(this Dtype dtype, long elements)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elements);
        long bits = checked(elements * dtype.BitSize());
        if (bits % 8 != 0)
            throw new ArgumentException($"{elements} {dtype.HeaderName()} elements do not fill a whole number of bytes", nameof(elements));
        return bits / 8;
    }

    /// <summary>Maps a torch / mergekit dtype name (<c>bfloat16</c>, <c>float16</c>, <c>half</c>, <c>float</c>,
    /// <c>float32</c>, <c>float64</c>, <c>int64</c>, ..., optionally prefixed with <c>torch.</c>; case-insensitive).</summary>
    public static bool TryFromTorchName(string name, out Dtype dtype)
    {
        ArgumentNullException.ThrowIfNull(name);
        var trimmed = name.Trim();
        if (trimmed.StartsWith("torch.", StringComparison.OrdinalIgnoreCase)) trimmed = trimmed.Substring(6);
        return ByTorchName.TryGetValue(trimmed, out dtype);
    }

    /// <summary>The torch name used for config.json <c>torch_dtype</c> (<c>bfloat16</c>, <c>float16</c>, <c>float32</c>, ...).</summary>
    public static string TorchName(this Dtype dtype) =>
        TorchNames[Index(dtype)] ?? throw new NotSupportedException($"{dtype.HeaderName()} has no torch dtype name");

    private static int Index(Dtype dtype)
    {
        int i = (int)dtype;
        if ((uint)i >= (uint)Bits.Length) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype");
        return i;
    }

    private static Dictionary<string, Dtype> BuildHeaderLookup()
    {
        var map = new Dictionary<string, Dtype>(StringComparer.Ordinal);
        for (int i = 0; i < HeaderNames.Length; i++) map.Add(HeaderNames[i], (Dtype)i);
        return map;
    }

    private static Dictionary<string, Dtype> BuildTorchLookup()
    {
        var map = new Dictionary<string, Dtype>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < TorchNames.Length; i++)
            if (TorchNames[i] is { } n) map.Add(n, (Dtype)i);
        // torch aliases
        map.Add("half", Dtype.F16);
        map.Add("float", Dtype.F32);
        map.Add("double", Dtype.F64);
        map.Add("long", Dtype.I64);
        map.Add("int", Dtype.I32);
        map.Add("short", Dtype.I16);
        map.Add("cfloat", Dtype.C64);
        return map;
    }
}
