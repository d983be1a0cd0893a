using System.Buffers.Binary;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Numerics;

public class DtypeConversionTests
{
    private static readonly Dtype[] Decodable = [Dtype.F64, Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F8_E4M3, Dtype.F8_E5M2];

    /// <summary>Per-element reference decode written from the format definitions (little-endian bytes).</summary>
    private static float ReferenceDecode(Dtype dtype, ReadOnlySpan<byte> b, int i) => dtype switch
    {
        Dtype.F64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b.Slice(i * 8)),
        Dtype.F32 => BinaryPrimitives.ReadSingleLittleEndian(b.Slice(i * 4)),
        Dtype.F16 => (float)FloatReference.Half.Decode(BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(i * 2))),
        Dtype.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(i * 2)) << 16),
        Dtype.F8_E4M3 => (float)FloatReference.E4M3.Decode(b[i]),
        Dtype.F8_E5M2 => (float)FloatReference.E5M2.Decode(b[i]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void BulkDecodeOfEveryBf16AndF16PatternMatchesReference()
    {
        var bytes = new byte[65536 * 2];
        for (int i = 0; i < 65536; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)i);
        foreach (var dtype in new[] { Dtype.BF16, Dtype.F16 })
        {
            var decoded = new float[65536];
            DtypeConversion.Decode(dtype, bytes, 0, decoded);
            var reencoded = new byte[bytes.Length];
            DtypeConversion.Encode(dtype, decoded, reencoded, 0);
            for (int i = 0; i < 65536; i++)
            {
                float expected = ReferenceDecode(dtype, bytes, i);
                if (float.IsNaN(expected))
                {
                    Assert.True(float.IsNaN(decoded[i]));
                    Assert.True(float.IsNaN(ReferenceDecode(dtype, reencoded, i)), $"{dtype} 0x{i:X4} re-encoded NaN");
                    continue;
                }
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(decoded[i]));
                Assert.Equal((ushort)i, BinaryPrimitives.ReadUInt16LittleEndian(reencoded.AsSpan(i * 2)));
            }
        }
    }

    [Fact]
    public void DecodeMatchesReferenceForEveryLengthAndOffset()
    {
        foreach (var dtype in Decodable)
        {
            int size = dtype.BitSize() / 8;
            byte[] bytes = RandomBytes(140 * size + 3, (int)dtype);
            foreach (int byteShift in new[] { 0, 1, 3 }) // unaligned views of the tensor bytes
            {
                var view = bytes.AsSpan(byteShift, 136 * size);
                for (int start = 0; start <= 3; start++)
                {
                    for (int length = 0; length <= 67; length++)
                    {
                        var dst = new float[length];
                        DtypeConversion.Decode(dtype, view, start, dst);
                        for (int i = 0; i < length; i++)
                        {
                            float expected = ReferenceDecode(dtype, view, start + i);
                            bool same = float.IsNaN(expected) ? float.IsNaN(dst[i]) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(dst[i]);
                            Assert.True(same,
                                $"{dtype} shift {byteShift} start {start} len {length} i {i}: {expected:R} vs {dst[i]:R}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void EncodeMatchesScalarReferenceForEveryLengthAndOffset()
    {
        var rng = new Random(7);
        var values = new float[80];
        for (int i = 0; i < values.Length; i++)
            values[i] = i % 9 == 0 ? BitConverter.Int32BitsToSingle(rng.Next()) : (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-20, 20)));
        values[5] = float.NaN; values[17] = float.NegativeInfinity; values[33] = -0f; values[40] = 3.3961776e38f; values[41] = 1.00390625f;
        foreach (var dtype in Decodable)
        {
            int size = dtype.BitSize() / 8;
            foreach (int byteShift in new[] { 0, 1, 2 })
            {
                for (int start = 0; start <= 2; start++)
                {
                    for (int length = 0; length <= 67; length++)
                    {
                        var buffer = new byte[(80 + 4) * size + 4];
                        var view = buffer.AsSpan(byteShift, 80 * size);
                        DtypeConversion.Encode(dtype, values.AsSpan(0, length), view, start);
                        for (int i = 0; i < start * size; i++) Assert.Equal(0, view[i]);
                        for (int i = (start + length) * size; i < view.Length; i++) Assert.Equal(0, view[i]);
                        for (int i = 0; i < length; i++) AssertEncodedElement(dtype, values[i], view, start + i);
                    }
                }
            }
        }
    }

    private static void AssertEncodedElement(Dtype dtype, float v, ReadOnlySpan<byte> b, int index)
    {
        switch (dtype)
        {
            case Dtype.F64:
                double d = BinaryPrimitives.ReadDoubleLittleEndian(b.Slice(index * 8));
                Assert.True(((double)v).Equals(d) && double.IsNegative(d) == float.IsNegative(v));
                break;
            case Dtype.F32:
                float f = BinaryPrimitives.ReadSingleLittleEndian(b.Slice(index * 4));
                Assert.Equal(BitConverter.SingleToInt32Bits(v), BitConverter.SingleToInt32Bits(f));
                break;
            case Dtype.F16:
                ScalarConversionTests.AssertEncoded(FloatReference.Half, v, BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(index * 2)), "f16");
                break;
            case Dtype.BF16:
                ScalarConversionTests.AssertEncoded(FloatReference.BFloat16, v, BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(index * 2)), "bf16");
                break;
            case Dtype.F8_E4M3:
                ScalarConversionTests.AssertEncoded(FloatReference.E4M3, v, b[index], "e4m3");
                break;
            case Dtype.F8_E5M2:
                ScalarConversionTests.AssertEncoded(FloatReference.E5M2, v, b[index], "e5m2");
                break;
        }
    }

    [Fact]
    public void Bf16BulkEncodeEqualsScalarOnRandomBitPatterns()
    {
        var rng = new Random(99);
        var values = new float[4099];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31));
        var bytes = new byte[values.Length * 2 + 1];
        DtypeConversion.Encode(Dtype.BF16, values, bytes.AsSpan(1), 0);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(BFloat16Bits.FromSingle(values[i]), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(1 + i * 2)));
    }

    [Theory]
    [InlineData(Dtype.F16)]
    [InlineData(Dtype.BF16)]
    [InlineData(Dtype.F8_E4M3)]
    [InlineData(Dtype.F8_E5M2)]
    public void BulkEncodeMatchesReferenceOnRandomValues(Dtype dtype)
    {
        var rng = new Random((int)dtype * 31);
        var values = new float[60_000];
        for (int i = 0; i < values.Length; i++)
            values[i] = i % 2 == 0
                ? BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31))
                : (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-26, 18)));
        int size = dtype.BitSize() / 8;
        var bytes = new byte[values.Length * size];
        DtypeConversion.Encode(dtype, values, bytes, 0);
        for (int i = 0; i < values.Length; i++) AssertEncodedElement(dtype, values[i], bytes, i);
    }

    [Theory]
    [InlineData(Dtype.I32)]
    [InlineData(Dtype.I64)]
    [InlineData(Dtype.BOOL)]
    [InlineData(Dtype.U8)]
    [InlineData(Dtype.F4)]
    [InlineData(Dtype.C64)]
    public void NonFloatTypesAreRefusedByName(Dtype dtype)
    {
        var decode = Assert.Throws<NotSupportedException>(() => DtypeConversion.Decode(dtype, new byte[64], 0, new float[2]));
        Assert.Contains(dtype.HeaderName(), decode.Message);
        var encode = Assert.Throws<NotSupportedException>(() => DtypeConversion.Encode(dtype, new float[2], new byte[64], 0));
        Assert.Contains(dtype.HeaderName(), encode.Message);
    }

    [Fact]
    public void OutOfRangeRequestsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DtypeConversion.Decode(Dtype.BF16, new byte[8], 3, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => DtypeConversion.Encode(Dtype.F32, new float[3], new byte[8], 0));
    }
}
