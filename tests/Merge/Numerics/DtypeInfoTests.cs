using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Numerics;

public class DtypeInfoTests
{
    [Theory]
    [InlineData(Dtype.BOOL, "BOOL", 8)]
    [InlineData(Dtype.F4, "F4", 4)]
    [InlineData(Dtype.F6_E2M3, "F6_E2M3", 6)]
    [InlineData(Dtype.F6_E3M2, "F6_E3M2", 6)]
    [InlineData(Dtype.U8, "U8", 8)]
    [InlineData(Dtype.F8_E4M3FNUZ, "F8_E4M3FNUZ", 8)]
    [InlineData(Dtype.F8_E8M0, "F8_E8M0", 8)]
    [InlineData(Dtype.I16, "I16", 16)]
    [InlineData(Dtype.BF16, "BF16", 16)]
    [InlineData(Dtype.F16, "F16", 16)]
    [InlineData(Dtype.U32, "U32", 32)]
    [InlineData(Dtype.F32, "F32", 32)]
    [InlineData(Dtype.C64, "C64", 64)]
    [InlineData(Dtype.F64, "F64", 64)]
    [InlineData(Dtype.U64, "U64", 64)]
    public void HeaderNamesAndBitSizes(Dtype dtype, string name, int bits)
    {
        Assert.Equal(name, dtype.HeaderName());
        Assert.Equal(bits, dtype.BitSize());
        Assert.True(DtypeInfo.TryParseHeaderName(name, out var parsed));
        Assert.Equal(dtype, parsed);
    }

    [Fact]
    public void EveryDtypeRoundTripsThroughItsHeaderName()
    {
        foreach (var dtype in Enum.GetValues<Dtype>())
        {
            Assert.Equal(dtype.ToString(), dtype.HeaderName());
            Assert.True(DtypeInfo.TryParseHeaderName(dtype.HeaderName(), out var back));
            Assert.Equal(dtype, back);
        }
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("float32")]
    [InlineData("")]
    [InlineData("F32 ")]
    public void HeaderNamesAreExact(string name) => Assert.False(DtypeInfo.TryParseHeaderName(name, out _));

    [Theory]
    [InlineData("bfloat16", Dtype.BF16)]
    [InlineData("torch.bfloat16", Dtype.BF16)]
    [InlineData("float16", Dtype.F16)]
    [InlineData("half", Dtype.F16)]
    [InlineData("torch.float16", Dtype.F16)]
    [InlineData("float32", Dtype.F32)]
    [InlineData("float", Dtype.F32)]
    [InlineData("float64", Dtype.F64)]
    [InlineData("int64", Dtype.I64)]
    [InlineData("Float16", Dtype.F16)]
    public void TorchNamesParse(string name, Dtype expected)
    {
        Assert.True(DtypeInfo.TryFromTorchName(name, out var dtype));
        Assert.Equal(expected, dtype);
    }

    [Theory]
    [InlineData("bf16x")]
    [InlineData("torch.")]
    [InlineData("BF16x")]
    public void UnknownTorchNamesFail(string name) => Assert.False(DtypeInfo.TryFromTorchName(name, out _));

    [Theory]
    [InlineData(Dtype.BF16, "bfloat16")]
    [InlineData(Dtype.F16, "float16")]
    [InlineData(Dtype.F32, "float32")]
    [InlineData(Dtype.F64, "float64")]
    [InlineData(Dtype.I64, "int64")]
    public void TorchNames(Dtype dtype, string expected)
    {
        Assert.Equal(expected, dtype.TorchName());
        Assert.True(DtypeInfo.TryFromTorchName(expected, out var back));
        Assert.Equal(dtype, back);
    }

    [Fact]
    public void ByteCountIsCheckedAndHandlesSubByteTypes()
    {
        Assert.Equal(6, Dtype.BF16.ByteCount(3));
        Assert.Equal(0, Dtype.F64.ByteCount(0));
        Assert.Equal(3, Dtype.F4.ByteCount(6));
        Assert.Equal(3, Dtype.F6_E2M3.ByteCount(4));
        Assert.Throws<ArgumentException>(() => Dtype.F4.ByteCount(3));
        Assert.Throws<ArgumentException>(() => Dtype.F6_E3M2.ByteCount(2));
        Assert.Throws<OverflowException>(() => Dtype.F64.ByteCount(long.MaxValue / 4));
    }

    [Fact]
    public void CanDecodeListsExactlyTheFloatTypes()
    {
        var decodable = Enum.GetValues<Dtype>().Where(d => d.CanDecode()).ToArray();
        Assert.Equal([Dtype.F8_E5M2, Dtype.F8_E4M3, Dtype.F16, Dtype.BF16, Dtype.F32, Dtype.F64], decodable);
    }
}
