using System.Text;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using static DotnetMerge.Tests.Safetensors.SafetensorsBytes;

namespace DotnetMerge.Tests.Safetensors;

public class HeaderParseTests
{
    private const string FilePath = "/models/x/model.safetensors";

    private static SafetensorsHeader Parse(byte[] file) => SafetensorsHeader.Parse(file, file.Length, FilePath);

    private static SafetensorsFormatException Fails(byte[] file, SafetensorsError expected)
    {
        var ex = Assert.Throws<SafetensorsFormatException>(() => Parse(file));
        Assert.Equal(expected, ex.Error);
        Assert.StartsWith(FilePath + ": ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Equal(FilePath, ex.FilePath);
        return ex;
    }

    [Fact]
    public void FileShorterThanThePrefixIsHeaderTooSmall() => Fails([1, 0, 0, 0, 0], SafetensorsError.HeaderTooSmall);

    [Fact]
    public void HeaderOverTheLimitIsHeaderTooLarge()
    {
        Fails(Build("{}", declaredLength: 100_000_001), SafetensorsError.HeaderTooLarge);
        Fails(Build("{}", declaredLength: ulong.MaxValue), SafetensorsError.HeaderTooLarge);
    }

    [Fact]
    public void HeaderPastTheEndOfTheFileIsInvalidHeaderLength()
    {
        var ex = Fails(Build("", declaredLength: 60), SafetensorsError.InvalidHeaderLength); // 8-byte file claiming N=60
        Assert.Contains("60", ex.Message);
    }

    [Fact]
    public void InvalidUtf8InTheHeader()
    {
        var header = Encoding.UTF8.GetBytes(Header(Entry("w", "F32", "[1]", 0, 4)));
        header[3] = 0xFF; // inside the tensor name
        Fails(Build(header, new byte[4]), SafetensorsError.InvalidUtf8);
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "malformed")] // truncated JSON
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\0\0\0", "malformed")] // NUL padding
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", "malformed")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "non-negative")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "non-negative")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", "non-negative")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "exactly 2")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", "exactly 2")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing field 'shape'")]
    [InlineData("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "'dtype' must be a string")]
    [InlineData("{\"w\":[1,2]}", "must be an object")]
    [InlineData("{\"__metadata__\":{\"a\":1},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "must be a string")]
    [InlineData("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", "appears twice")]
    [InlineData("{\"__metadata__\":[],\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "__metadata__")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,4]}}", "appears twice")]
    public void MalformedJsonIsInvalidJson(string header, string hint)
    {
        var ex = Fails(Build(header, new byte[4]), SafetensorsError.InvalidJson);
        Assert.Contains(hint, ex.Message);
    }

    [Theory]
    [InlineData("{\"lm_head.\\ud800weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"format\":\"pt\\udc00\"}}")]
    [InlineData("{\"w\":{\"dt\\udbffype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    public void A_lone_surrogate_escape_is_invalid_json_naming_the_file(string header)
    {
        // Used to escape as InvalidOperationException from Utf8JsonReader.GetString ("unexpected error", exit 1).
        var ex = Fails(Build(header, new byte[4]), SafetensorsError.InvalidJson);
        Assert.Contains("surrogate", ex.Message);
    }

    [Fact]
    public void UnknownDtypeHasItsOwnError()
    {
        var ex = Fails(Build(Header(Entry("w", "F33", "[1]", 0, 4)), new byte[4]), SafetensorsError.UnknownDtype);
        Assert.Equal("w", ex.TensorName);
        Assert.Contains("'F33'", ex.Message);
        Fails(Build(Header(Entry("w", "bf16", "[1]", 0, 2)), new byte[2]), SafetensorsError.UnknownDtype); // spelling is exact
    }

    [Fact]
    public void DuplicateNameIsDetectedWhileReading()
    {
        // identical duplicate entries would collapse to one in a hash map; they must still be refused
        var ex = Fails(Build(Header(Entry("w", "F32", "[1]", 0, 4), Entry("w", "F32", "[1]", 0, 4)), new byte[4]), SafetensorsError.DuplicateName);
        Assert.Equal("w", ex.TensorName);
        Fails(Build("{\"__metadata__\":{},\"__metadata__\":{}}"), SafetensorsError.DuplicateName);
    }

    [Fact]
    public void TensorNamedMetadataIsReservedName()
    {
        var ex = Fails(Build(Header(Entry("__metadata__", "F32", "[1]", 0, 4)), new byte[4]), SafetensorsError.ReservedName);
        Assert.Contains("reserved", ex.Message);
    }

    [Fact]
    public void OverlappingOffsetsAreInvalidOffset()
    {
        var ex = Fails(Build(Header(Entry("a", "F32", "[1]", 0, 4), Entry("b", "F32", "[1]", 0, 4)), new byte[4]), SafetensorsError.InvalidOffset);
        Assert.Contains("overlap", ex.Message);
        // ten tensors claiming the same bytes (the reference implementation's "json attack" test)
        var entries = Enumerable.Range(0, 10).Select(i => Entry($"t{i}", "F32", "[4]", 0, 16)).ToArray();
        Fails(Build(Header(entries), new byte[16]), SafetensorsError.InvalidOffset);
    }

    [Fact]
    public void HoleBetweenTensorsIsInvalidOffset()
    {
        var ex = Fails(Build(Header(Entry("a", "F32", "[1]", 0, 4), Entry("b", "F32", "[1]", 8, 12)), new byte[12]), SafetensorsError.InvalidOffset);
        Assert.Equal("b", ex.TensorName);
        Assert.Contains("hole", ex.Message);
        Fails(Build(Header(Entry("a", "F32", "[1]", 4, 8)), new byte[8]), SafetensorsError.InvalidOffset); // does not start at 0
        Fails(Build(Header(Entry("a", "F32", "[1]", 0, 0), Entry("b", "F32", "[1]", 0, 4)), new byte[4]), SafetensorsError.TensorInvalidInfo);
    }

    [Fact]
    public void EndBeforeBeginIsInvalidOffset() =>
        Fails(Build(Header(Entry("a", "F32", "[0]", 0, 0), Entry("b", "F32", "[1]", 4, 0)), new byte[4]), SafetensorsError.InvalidOffset);

    [Fact]
    public void ShapeOverflowIsValidationOverflow()
    {
        Fails(Build(Header(Entry("w", "F32", "[4611686018427387904,4]", 0, 4)), new byte[4]), SafetensorsError.ValidationOverflow);
        Fails(Build(Header(Entry("w", "F64", "[2305843009213693952]", 0, 4)), new byte[4]), SafetensorsError.ValidationOverflow); // bits overflow
        Fails(Build(Header(Entry("w", "U8", "[18446744073709551615]", 0, 4)), new byte[4]), SafetensorsError.ValidationOverflow); // > long
    }

    [Fact]
    public void SubByteTensorThatIsNotWholeBytesIsMisaligned()
    {
        Fails(Build(Header(Entry("w", "F4", "[3]", 0, 2)), new byte[2]), SafetensorsError.MisalignedSlice);
        var ok = Parse(Build(Header(Entry("w", "F6_E2M3", "[4]", 0, 3)), new byte[3]));
        Assert.Equal(3, ok.Tensors[0].ByteLength);
    }

    [Fact]
    public void WrongByteSizeIsTensorInvalidInfo()
    {
        var ex = Fails(Build(Header(Entry("w", "I32", "[2,2]", 0, 4)), new byte[4]), SafetensorsError.TensorInvalidInfo);
        Assert.Contains("needs 16 bytes", ex.Message);
    }

    [Fact]
    public void TrailingBytesAreMetadataIncompleteBuffer()
    {
        var ex = Fails(Build(Header(Entry("w", "F32", "[1]", 0, 4)), new byte[5]), SafetensorsError.MetadataIncompleteBuffer);
        Assert.Contains("1 unexpected bytes", ex.Message);
    }

    [Fact]
    public void TruncatedDataIsMetadataIncompleteBuffer()
    {
        var file = Build(Header(Entry("w", "F32", "[4]", 0, 16)), new byte[10]);
        var ex = Fails(file, SafetensorsError.MetadataIncompleteBuffer);
        Assert.Contains($"truncated: expected {file.Length + 6} bytes, found {file.Length}", ex.Message);
    }

    [Fact]
    public void ZeroTensorFileIsValid()
    {
        var header = Parse(Build("{}"));
        Assert.Empty(header.Tensors);
        Assert.Empty(header.Metadata);
        Assert.Equal(2, header.HeaderLength);
        Assert.Equal(10, header.DataStart);
    }

    [Fact]
    public void ScalarAndZeroSizedTensors()
    {
        var header = Parse(Build(Header(Entry("empty", "BF16", "[0,3]", 0, 0), Entry("scalar", "F64", "[]", 0, 8), Entry("e2", "F32", "[4,0]", 8, 8)), new byte[8]));
        var scalar = header.Find("scalar")!;
        Assert.Empty(scalar.Shape);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal(8, scalar.ByteLength);
        Assert.Equal(0, header.Find("empty")!.ElementCount);
        Assert.Equal(0, header.Find("e2")!.ByteLength);
        Assert.Equal(8, header.Tensors[^1].End);
    }

    [Fact]
    public void WhitespaceAroundTheObjectIsAccepted()
    {
        string body = Header(Entry("w", "BF16", "[2]", 0, 4));
        var header = Parse(Build(" \t\r\n" + body + "       ", new byte[4]));
        Assert.Equal(Dtype.BF16, header.Tensors[0].Dtype);
        Assert.Equal(body.Length + 11, header.HeaderLength);
    }

    [Fact]
    public void MetadataAndUnknownFieldsAndOrder()
    {
        string json = "{\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6],\"extra\":{\"x\":[1,2]}}," +
                      "\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9llo \\\"q\\\"\"}," +
                      "\"a\":{\"data_offsets\":[0,4],\"shape\":[2],\"dtype\":\"U16\"}}";
        var header = Parse(Build(json, new byte[6]));
        Assert.Equal(["a", "b"], header.Tensors.Select(t => t.Name));
        Assert.Equal("pt", header.Metadata["format"]);
        Assert.Equal("héllo \"q\"", header.Metadata["note"]);
        Assert.Equal([1L], header.Find("b")!.Shape);
        Assert.Null(header.Find("c"));
        Assert.Empty(Parse(Build("{\"__metadata__\":null}")).Metadata);
    }
}
