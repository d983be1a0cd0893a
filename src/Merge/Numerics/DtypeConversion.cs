using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DotnetMerge.Numerics;

/// <summary>Bulk conversion between stored element types and float32.
/// (Scalar baseline: the numerics work replaces the loops with SIMD and adds the F8 types.)</summary>
public static class DtypeConversion
{
    /// <summary>Decodes elements [startElement, startElement + destination.Length) of <paramref name="source"/>
    /// (raw little-endian bytes of a whole tensor in <paramref name="dtype"/>) to float32.</summary>
    public static void Decode(Dtype dtype, ReadOnlySpan<byte> source, long startElement, Span<float> destination)
    {
        switch (dtype)
        {
            case Dtype.F32:
                MemoryMarshal.Cast<byte, float>(source.Slice(checked((int)(startElement * 4)), destination.Length * 4)).CopyTo(destination);
                break;
            case Dtype.F64:
            {
                var s = MemoryMarshal.Cast<byte, double>(source.Slice(checked((int)(startElement * 8)), destination.Length * 8));
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)s[i];
                break;
            }
            case Dtype.BF16:
            {
                var s = MemoryMarshal.Cast<byte, ushort>(source.Slice(checked((int)(startElement * 2)), destination.Length * 2));
                for (int i = 0; i < destination.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(s[i] << 16);
                break;
            }
            case Dtype.F16:
            {
                var s = MemoryMarshal.Cast<byte, Half>(source.Slice(checked((int)(startElement * 2)), destination.Length * 2));
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)s[i];
                break;
            }
            default:
                throw new NotSupportedException($"cannot decode {dtype} tensors to float32");
        }
    }

    /// <summary>Encodes <paramref name="source"/> into <paramref name="destination"/> (raw bytes of a whole tensor)
    /// at element offset <paramref name="startElement"/>, rounding to nearest-even, keeping NaN/Inf.</summary>
    public static void Encode(Dtype dtype, ReadOnlySpan<float> source, Span<byte> destination, long startElement)
    {
        switch (dtype)
        {
            case Dtype.F32:
                MemoryMarshal.AsBytes(source).CopyTo(destination.Slice(checked((int)(startElement * 4))));
                break;
            case Dtype.F64:
            {
                var d = MemoryMarshal.Cast<byte, double>(destination.Slice(checked((int)(startElement * 8)), source.Length * 8));
                for (int i = 0; i < source.Length; i++) d[i] = source[i];
                break;
            }
            case Dtype.BF16:
            {
                var d = MemoryMarshal.Cast<byte, ushort>(destination.Slice(checked((int)(startElement * 2)), source.Length * 2));
                for (int i = 0; i < source.Length; i++) d[i] = FloatToBf16(source[i]);
                break;
            }
            case Dtype.F16:
            {
                var d = MemoryMarshal.Cast<byte, Half>(destination.Slice(checked((int)(startElement * 2)), source.Length * 2));
                for (int i = 0; i < source.Length; i++) d[i] = (Half)source[i];
                break;
            }
            default:
                throw new NotSupportedException($"cannot encode float32 values as {dtype}");
        }
    }

    private static ushort FloatToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040); // quiet NaN, sign kept
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
