using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DotnetMerge.Numerics;

/// <summary>Bulk conversion between stored element types and float32 (SIMD where the hardware has it).
/// Decodable: F64, F32, F16, BF16, F8_E4M3, F8_E5M2. Encoding rounds to nearest-even; see
/// <see cref="BFloat16Bits"/> and <see cref="Float8"/> for NaN/overflow rules.</summary>
public static class DtypeConversion
{
    /// <summary>Decodes elements [startElement, startElement + destination.Length) of <paramref name="source"/>
    /// (raw little-endian bytes of a whole tensor in <paramref name="dtype"/>) to float32.</summary>
    public static void Decode(Dtype dtype, ReadOnlySpan<byte> source, long startElement, Span<float> destination)
    {
        switch (dtype)
        {
            case Dtype.F32:
                MemoryMarshal.Cast<byte, float>(Slice(source, startElement, 4, destination.Length)).CopyTo(destination);
                break;
            case Dtype.F64:
                DecodeF64(Slice(source, startElement, 8, destination.Length), destination);
                break;
            case Dtype.BF16:
                DecodeBf16(Slice(source, startElement, 2, destination.Length), destination);
                break;
            case Dtype.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(Slice(source, startElement, 2, destination.Length)), destination);
                break;
            case Dtype.F8_E4M3:
                DecodeLookup(Slice(source, startElement, 1, destination.Length), Float8.E4M3Lookup, destination);
                break;
            case Dtype.F8_E5M2:
                DecodeLookup(Slice(source, startElement, 1, destination.Length), Float8.E5M2Lookup, destination);
                break;
            default:
                throw new NotSupportedException($"cannot decode {dtype.HeaderName()} tensors to float32 (decodable: F64, F32, F16, BF16, F8_E4M3, F8_E5M2)");
        }
    }

    /// <summary>Encodes <paramref name="source"/> into <paramref name="destination"/> (raw bytes of a whole tensor)
    /// at element offset <paramref name="startElement"/>, rounding to nearest-even, keeping Inf; NaN stays NaN.</summary>
    public static void Encode(Dtype dtype, ReadOnlySpan<float> source, Span<byte> destination, long startElement)
    {
        switch (dtype)
        {
            case Dtype.F32:
                MemoryMarshal.AsBytes(source).CopyTo(Slice(destination, startElement, 4, source.Length));
                break;
            case Dtype.F64:
                EncodeF64(source, Slice(destination, startElement, 8, source.Length));
                break;
            case Dtype.BF16:
                EncodeBf16(source, Slice(destination, startElement, 2, source.Length));
                break;
            case Dtype.F16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(Slice(destination, startElement, 2, source.Length)));
                break;
            case Dtype.F8_E4M3:
            {
                var d = Slice(destination, startElement, 1, source.Length);
                for (int i = 0; i < source.Length; i++) d[i] = Float8.SingleToE4M3(source[i]);
                break;
            }
            case Dtype.F8_E5M2:
            {
                var d = Slice(destination, startElement, 1, source.Length);
                for (int i = 0; i < source.Length; i++) d[i] = Float8.SingleToE5M2(source[i]);
                break;
            }
            default:
                throw new NotSupportedException($"cannot encode float32 values as {dtype.HeaderName()} (encodable: F64, F32, F16, BF16, F8_E4M3, F8_E5M2)");
        }
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> bytes, long startElement, int elementSize, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startElement);
        return bytes.Slice(checked((int)(startElement * elementSize)), checked(count * elementSize));
    }

    private static Span<byte> Slice(Span<byte> bytes, long startElement, int elementSize, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startElement);
        return bytes.Slice(checked((int)(startElement * elementSize)), checked(count * elementSize));
    }

    // ---- BF16 -------------------------------------------------------------------------------------------------

    /// <summary>bf16 -> f32: zero-extend each 16-bit pattern to 32 bits and shift it into the upper half.</summary>
    internal static void DecodeBf16(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ref ushort s = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(source));
        ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
        nuint n = (nuint)destination.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, i));
                Vector512.ShiftLeft(lo, 16).StoreUnsafe(ref d, i);
                Vector512.ShiftLeft(hi, 16).StoreUnsafe(ref d, i + 16);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, i));
                Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref d, i);
                Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref d, i + 8);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref s, i));
                Vector128.ShiftLeft(lo, 16).StoreUnsafe(ref d, i);
                Vector128.ShiftLeft(hi, 16).StoreUnsafe(ref d, i + 4);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = (uint)Unsafe.ReadUnaligned<ushort>(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref s, i))) << 16;
    }

    /// <summary>f32 -> bf16, round to nearest-even, NaN -> 0x7FC0 (same rule as <see cref="BFloat16Bits.FromSingle"/>).</summary>
    internal static void EncodeBf16(ReadOnlySpan<float> source, Span<byte> destination)
    {
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
        ref ushort d = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(destination));
        nuint n = (nuint)source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= n; i += 32)
                Vector512.Narrow(RoundBf16(Vector512.LoadUnsafe(ref s, i)), RoundBf16(Vector512.LoadUnsafe(ref s, i + 16))).StoreUnsafe(ref d, i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
                Vector256.Narrow(RoundBf16(Vector256.LoadUnsafe(ref s, i)), RoundBf16(Vector256.LoadUnsafe(ref s, i + 8))).StoreUnsafe(ref d, i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
                Vector128.Narrow(RoundBf16(Vector128.LoadUnsafe(ref s, i)), RoundBf16(Vector128.LoadUnsafe(ref s, i + 4))).StoreUnsafe(ref d, i);
        }
        for (; i < n; i++)
            Unsafe.WriteUnaligned(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref d, i)), BFloat16Bits.FromSingle(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref s, i))));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> RoundBf16(Vector512<uint> bits)
    {
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        // magnitudes fit in 31 bits, so a signed compare is exact and cheaper than an unsigned one
        var isNaN = Vector512.GreaterThan((bits & Vector512.Create(0x7FFF_FFFFu)).AsInt32(), Vector512.Create(0x7F80_0000)).AsUInt32();
        return Vector512.ConditionalSelect(isNaN, Vector512.Create((uint)BFloat16Bits.CanonicalNaN), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> RoundBf16(Vector256<uint> bits)
    {
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        var isNaN = Vector256.GreaterThan((bits & Vector256.Create(0x7FFF_FFFFu)).AsInt32(), Vector256.Create(0x7F80_0000)).AsUInt32();
        return Vector256.ConditionalSelect(isNaN, Vector256.Create((uint)BFloat16Bits.CanonicalNaN), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> RoundBf16(Vector128<uint> bits)
    {
        var rounded = (bits + Vector128.Create(0x7FFFu) + ((bits >> 16) & Vector128<uint>.One)) >> 16;
        var isNaN = Vector128.GreaterThan((bits & Vector128.Create(0x7FFF_FFFFu)).AsInt32(), Vector128.Create(0x7F80_0000)).AsUInt32();
        return Vector128.ConditionalSelect(isNaN, Vector128.Create((uint)BFloat16Bits.CanonicalNaN), rounded);
    }

    // ---- F64 --------------------------------------------------------------------------------------------------

    internal static void DecodeF64(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ref double s = ref Unsafe.As<byte, double>(ref MemoryMarshal.GetReference(source));
        ref float d = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
                Vector512.Narrow(Vector512.LoadUnsafe(ref s, i), Vector512.LoadUnsafe(ref s, i + 8)).StoreUnsafe(ref d, i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
                Vector256.Narrow(Vector256.LoadUnsafe(ref s, i), Vector256.LoadUnsafe(ref s, i + 4)).StoreUnsafe(ref d, i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = (float)Unsafe.ReadUnaligned<double>(ref Unsafe.As<double, byte>(ref Unsafe.Add(ref s, i)));
    }

    internal static void EncodeF64(ReadOnlySpan<float> source, Span<byte> destination)
    {
        ref float s = ref MemoryMarshal.GetReference(source);
        ref double d = ref Unsafe.As<byte, double>(ref MemoryMarshal.GetReference(destination));
        nuint n = (nuint)source.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, i));
                lo.StoreUnsafe(ref d, i);
                hi.StoreUnsafe(ref d, i + 8);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, i));
                lo.StoreUnsafe(ref d, i);
                hi.StoreUnsafe(ref d, i + 4);
            }
        }
        for (; i < n; i++)
            Unsafe.WriteUnaligned(ref Unsafe.As<double, byte>(ref Unsafe.Add(ref d, i)), (double)Unsafe.Add(ref s, i));
    }

    // ---- F8 (table decode) -------------------------------------------------------------------------------------

    private static void DecodeLookup(ReadOnlySpan<byte> source, ReadOnlySpan<float> table, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = table[source[i]];
    }
}
