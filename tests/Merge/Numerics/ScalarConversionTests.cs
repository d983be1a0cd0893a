using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Numerics;

public class ScalarConversionTests
{
    [Fact]
    public void EveryBFloat16PatternDecodesExactlyAndReencodes()
    {
        for (int b = 0; b < 65536; b++)
        {
            float expected = BitConverter.Int32BitsToSingle(b << 16);
            float actual = BFloat16Bits.ToSingle((ushort)b);
            double byHand = FloatReference.BFloat16.Decode(b);
            if (double.IsNaN(byHand))
            {
                Assert.True(float.IsNaN(actual), $"0x{b:X4}");
                Assert.True(float.IsNaN(BFloat16Bits.ToSingle(BFloat16Bits.FromSingle(actual))));
                continue;
            }
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));
            Assert.Equal(byHand, (double)actual);
            Assert.Equal((ushort)b, BFloat16Bits.FromSingle(actual));
        }
    }

    [Fact]
    public void EveryHalfPatternDecodesExactlyAndReencodes()
    {
        for (int b = 0; b < 65536; b++)
        {
            double byHand = FloatReference.Half.Decode(b);
            float actual = (float)BitConverter.UInt16BitsToHalf((ushort)b);
            if (double.IsNaN(byHand)) { Assert.True(float.IsNaN(actual)); continue; }
            Assert.Equal(byHand, (double)actual);
            Assert.Equal(double.IsNegative(byHand), float.IsNegative(actual));
            Assert.Equal((ushort)b, BitConverter.HalfToUInt16Bits((Half)actual));
        }
    }

    [Fact]
    public void EveryF8PatternOfBothFormatsDecodesExactly()
    {
        for (int b = 0; b < 256; b++)
        {
            AssertSameValue(FloatReference.E4M3.Decode(b), Float8.E4M3ToSingle((byte)b), $"E4M3 0x{b:X2}");
            AssertSameValue(FloatReference.E5M2.Decode(b), Float8.E5M2ToSingle((byte)b), $"E5M2 0x{b:X2}");
        }
        Assert.Equal(448f, Float8.E4M3ToSingle(0x7E));
        Assert.True(float.IsNaN(Float8.E4M3ToSingle(0xFF)));
        Assert.Equal(57344f, Float8.E5M2ToSingle(0x7B));
        Assert.Equal(float.NegativeInfinity, Float8.E5M2ToSingle(0xFC));
    }

    [Fact]
    public void EveryF8PatternReencodesToItself()
    {
        for (int b = 0; b < 256; b++)
        {
            // every code is itself after a round trip, but NaN codes of E5M2 (payloads 01, 10, 11) all come back as 11
            Assert.Equal((byte)b, Float8.SingleToE4M3(Float8.E4M3ToSingle((byte)b)));
            float e5 = Float8.E5M2ToSingle((byte)b);
            Assert.Equal(float.IsNaN(e5) ? (byte)(b | Float8.NaN) : (byte)b, Float8.SingleToE5M2(e5));
        }
    }

    // passed as bit patterns so that distinct NaNs and -0 are distinct test cases
    public static TheoryData<uint> EdgeValues()
    {
        var data = new TheoryData<uint>();
        foreach (var v in EdgeValueList()) data.Add(BitConverter.SingleToUInt32Bits(v));
        return data;
    }

    internal static IEnumerable<float> EdgeValueList()
    {
        float[] fixedValues =
        [
            0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity,
            float.NegativeInfinity, float.NaN, 1.00390625f /* bf16 tie, even down */, 1.01171875f /* bf16 tie, odd up */,
            3.3895314e38f /* bf16 max finite */, 3.3961776e38f /* just below bf16 overflow tie */,
            65504f, 65519.996f, 65520f /* f16 overflow tie */, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f /* f16 half of min subnormal: tie to 0 */,
            2.9802326e-08f, 448f, 464f, 464.00003f, 480f, 57344f, 61439.996f, 61440f, 0.001953125f /* e4m3 min subnormal */,
            0.0009765625f, 0.00097656256f, 1.5258789e-05f /* e5m2 min subnormal */, 7.6293945e-06f, 1e-40f, -1e-40f,
            BitConverter.Int32BitsToSingle(0x7F800001), BitConverter.Int32BitsToSingle(0x7FC00001) /* positive quiet NaN with payload (float.NaN is 0xFFC00000) */,
        ];
        return fixedValues;
    }

    [Theory]
    [MemberData(nameof(EdgeValues))]
    public void EncodersMatchTheReferenceOnEdgeValues(uint bits) => AssertAllEncodersMatchReference(BitConverter.UInt32BitsToSingle(bits));

    [Fact]
    public void EncodersMatchTheReferenceOnRandomValues()
    {
        var rng = new Random(20240611);
        for (int i = 0; i < 100_000; i++)
        {
            float v = BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31));
            AssertAllEncodersMatchReference(v);
            // values near the small formats' ranges, where random bit patterns rarely land
            AssertAllEncodersMatchReference((float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-26, 18))));
        }
    }

    [Fact]
    public void BFloat16RoundsTiesToEvenAndOverflowsToInfinity()
    {
        Assert.Equal(0x3F80, BFloat16Bits.FromSingle(BitConverter.Int32BitsToSingle(0x3F80_8000))); // tie, even stays
        Assert.Equal(0x3F82, BFloat16Bits.FromSingle(BitConverter.Int32BitsToSingle(0x3F81_8000))); // tie, odd goes up
        Assert.Equal(0x3F81, BFloat16Bits.FromSingle(BitConverter.Int32BitsToSingle(0x3F80_8001)));
        Assert.Equal(0x7F80, BFloat16Bits.FromSingle(float.MaxValue));
        Assert.Equal(0xFF80, BFloat16Bits.FromSingle(float.NegativeInfinity));
        Assert.Equal(0x8000, BFloat16Bits.FromSingle(-0f));
        Assert.Equal(BFloat16Bits.CanonicalNaN, BFloat16Bits.FromSingle(BitConverter.Int32BitsToSingle(unchecked((int)0xFF800001))));
    }

    /// <summary>torch's rule (c10's fp8e4m3fn_from_fp32_value / fp8e5m2_from_fp32_value), by hand: no saturation. E4M3
    /// has no Inf, so what rounds past 448 is NaN; E5M2 overflows to Inf; NaN is the all-ones pattern, sign kept.</summary>
    [Fact]
    public void E4M3OverflowsToNaNAndE5M2ToInfinityAsTorchDoes()
    {
        Assert.Equal(0x7E, Float8.SingleToE4M3(448f));
        Assert.Equal(0x7E, Float8.SingleToE4M3(464f)); // tie between 448 (even mantissa 110) and the code 0x7F (would be 480)
        Assert.Equal(0x7F, Float8.SingleToE4M3(464.00003f)); // just past the tie: rounds to 0x7F, which is NaN
        Assert.Equal(0x7F, Float8.SingleToE4M3(470f));
        Assert.Equal(0xFF, Float8.SingleToE4M3(-470f));
        Assert.Equal(0x7F, Float8.SingleToE4M3(1e6f));
        Assert.Equal(0x7F, Float8.SingleToE4M3(float.PositiveInfinity));
        Assert.Equal(0xFF, Float8.SingleToE4M3(float.NegativeInfinity));
        Assert.Equal(0xFF, Float8.SingleToE4M3(float.NaN)); // .NET's float.NaN has the sign bit set (0xFFC00000)
        Assert.Equal(0x7F, Float8.SingleToE4M3(BitConverter.UInt32BitsToSingle(0x7FC0_0000)));
        Assert.Equal(0x7C, Float8.SingleToE5M2(61440f)); // tie between 57344 (odd mantissa) and Inf
        Assert.Equal(0x7B, Float8.SingleToE5M2(61439f));
        Assert.Equal(0xFC, Float8.SingleToE5M2(-1e6f));
        Assert.Equal(0x7C, Float8.SingleToE5M2(float.PositiveInfinity));
        Assert.Equal(0x7F, Float8.SingleToE5M2(BitConverter.UInt32BitsToSingle(0x7FC0_0000)));
        Assert.Equal(0x7F, Float8.SingleToE5M2(BitConverter.UInt32BitsToSingle(0x7F80_0001))); // signalling, low payload
        Assert.Equal(0xFF, Float8.SingleToE5M2(float.NaN));
        Assert.Equal(0x80, Float8.SingleToE4M3(-1e-9f));
    }

    private static void AssertAllEncodersMatchReference(float v)
    {
        AssertEncoded(FloatReference.BFloat16, v, BFloat16Bits.FromSingle(v), "bf16");
        AssertEncoded(FloatReference.Half, v, BitConverter.HalfToUInt16Bits((Half)v), "f16");
        AssertEncoded(FloatReference.E4M3, v, Float8.SingleToE4M3(v), "e4m3");
        AssertEncoded(FloatReference.E5M2, v, Float8.SingleToE5M2(v), "e5m2");
    }

    internal static void AssertEncoded(FloatReference format, float v, int actual, string what)
    {
        int expected = float.IsNaN(v) ? format.NaNCode(v) : format.Encode(v);
        Assert.True(expected == actual, $"{what}: {v:R} (0x{BitConverter.SingleToUInt32Bits(v):X8}) expected 0x{expected:X} got 0x{actual:X}");
    }

    private static void AssertSameValue(double expected, float actual, string what)
    {
        if (double.IsNaN(expected)) { Assert.True(float.IsNaN(actual), what); return; }
        Assert.True(expected == actual && double.IsNegative(expected) == float.IsNegative(actual), $"{what}: expected {expected:R} got {actual:R}");
    }
}
