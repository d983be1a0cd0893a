using DotnetMerge.Execution;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Execution;

/// <summary>The engine's count of NaN/Inf elements against a classification written here from the formats' definitions
/// (decoding through the BCL's Half/float/double, and e4m3fn's single NaN pattern by hand).</summary>
public class NonFiniteCountTests
{
    private static bool IsNonFinite(Dtype dtype, byte[] bytes, int i) => dtype switch
    {
        Dtype.F32 => !float.IsFinite(BitConverter.ToSingle(bytes, 4 * i)),
        Dtype.F64 => !double.IsFinite(BitConverter.ToDouble(bytes, 8 * i)),
        Dtype.F16 => !Half.IsFinite(BitConverter.ToHalf(bytes, 2 * i)),
        Dtype.BF16 => !float.IsFinite(BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(bytes, 2 * i) << 16)),
        Dtype.F8_E5M2 => !Half.IsFinite(BitConverter.UInt16BitsToHalf((ushort)(bytes[i] << 8))), // e5m2 is the top byte of f16
        Dtype.F8_E4M3 => (bytes[i] & 0x7F) == 0x7F, // e4m3fn: no infinity; NaN is S.1111.111
        _ => false,
    };

    [Theory]
    [InlineData(Dtype.F32)]
    [InlineData(Dtype.F64)]
    [InlineData(Dtype.F16)]
    [InlineData(Dtype.BF16)]
    [InlineData(Dtype.F8_E5M2)]
    [InlineData(Dtype.F8_E4M3)]
    public void Counts_nan_and_infinity_elements_of_every_float_dtype(Dtype dtype)
    {
        int size = dtype.BitSize() / 8;
        var random = new Random(7);
        foreach (int n in new[] { 0, 1, 31, 1000, (1 << 20) + 77, 3 << 20 })
        {
            var bytes = new byte[n * size];
            random.NextBytes(bytes);
            // Random bits hit an all-ones exponent rarely for the wide types: plant some.
            for (int i = 0; i < n; i += 97)
            {
                int hi = (i + 1) * size - 1;
                bytes[hi] |= 0x7F;
                if (size > 1) bytes[hi - 1] |= 0xF0;
            }
            int expected = Enumerable.Range(0, n).Count(i => IsNonFinite(dtype, bytes, i));
            Assert.Equal(expected, NonFiniteCheck.Count(dtype, bytes));
            Assert.Equal(expected, NonFiniteCheck.Count(dtype, bytes, threads: 3));
        }
    }

    [Fact]
    public void A_count_beyond_the_lane_width_does_not_wrap()
    {
        // More all-NaN bf16 elements than 65535 vectors of 16-bit lanes hold (the counter flushes before it wraps).
        int n = 65536 * 64 + 5;
        var bytes = new byte[2 * n];
        for (int i = 0; i < n; i++) { bytes[2 * i] = 0xC0; bytes[2 * i + 1] = 0x7F; }
        Assert.Equal(n, NonFiniteCheck.Count(Dtype.BF16, bytes));
    }

    [Fact]
    public void Integer_dtypes_have_no_non_finite_values()
        => Assert.Equal(0, NonFiniteCheck.Count(Dtype.I32, Enumerable.Repeat((byte)0xFF, 64).ToArray()));
}
