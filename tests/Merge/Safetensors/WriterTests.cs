using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Safetensors;

public class WriterTests
{
    private static async Task WriteAllAsync(string path, IReadOnlyList<OutputTensor> tensors, IReadOnlyList<byte[]> data,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        await using var writer = SafetensorsWriter.Create(path, tensors, metadata);
        for (int i = 0; i < tensors.Count; i++) await writer.WriteTensorAsync(tensors[i].Name, data[i], CancellationToken.None);
        await writer.CompleteAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RoundTripsEveryDecodableDtypeAndSomeIntegerTypes()
    {
        using var dir = new TempDirectory();
        Dtype[] dtypes = [Dtype.F64, Dtype.F32, Dtype.F16, Dtype.BF16, Dtype.F8_E4M3, Dtype.F8_E5M2, Dtype.I8, Dtype.U8, Dtype.I32, Dtype.I64, Dtype.BOOL, Dtype.F4];
        var rng = new Random(3);
        var tensors = new List<OutputTensor>();
        var data = new List<byte[]>();
        foreach (var dtype in dtypes)
        {
            var t = new OutputTensor($"model.layers.0.{dtype.HeaderName().ToLowerInvariant()}.weight", dtype, [3, 2]);
            tensors.Add(t);
            var bytes = new byte[t.ByteLength];
            rng.NextBytes(bytes);
            data.Add(bytes);
        }
        tensors.Add(new OutputTensor("scalar", Dtype.F32, []));
        data.Add(BitConverter.GetBytes(1.5f));
        tensors.Add(new OutputTensor("empty", Dtype.BF16, [0, 4]));
        data.Add([]);

        string path = dir.File("out.safetensors");
        await WriteAllAsync(path, tensors, data);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(0, file.Header.DataStart % 8);
        for (int i = 0; i < tensors.Count; i++)
        {
            var info = file.Header.Find(tensors[i].Name)!;
            Assert.Equal(tensors[i].Dtype, info.Dtype);
            Assert.Equal(tensors[i].Shape, info.Shape);
            var back = new byte[info.ByteLength];
            file.ReadTensor(info, back);
            Assert.Equal(data[i], back);
        }
        // declared order is kept in the data section
        Assert.Equal(tensors.Select(t => t.Name).Where(n => n != "empty"), file.Header.Tensors.Select(t => t.Name).Where(n => n != "empty"));
    }

    [Fact]
    public async Task MixOfSmallAndLargeTensorsKeepsEveryByteInPlace()
    {
        using var dir = new TempDirectory();
        var rng = new Random(11);
        var tensors = new List<OutputTensor>();
        var data = new List<byte[]>();
        for (int i = 0; i < 60; i++)
        {
            int bytes = i % 7 == 3 ? 300_000 + i : 1 + rng.Next(120_000); // crosses the direct-write and flush thresholds
            tensors.Add(new OutputTensor($"t{i}", Dtype.U8, [bytes]));
            var b = new byte[bytes];
            rng.NextBytes(b);
            data.Add(b);
        }
        string path = dir.File("mix.safetensors");
        await WriteAllAsync(path, tensors, data);

        var file = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        long offset = 8 + n;
        for (int i = 0; i < data.Count; i++)
        {
            Assert.True(file.AsSpan((int)offset, data[i].Length).SequenceEqual(data[i]), $"tensor t{i}");
            offset += data[i].Length;
        }
        Assert.Equal(file.Length, offset);
    }

    [Fact]
    public async Task HeaderIsCompactPaddedJsonWithMetadataFirst()
    {
        using var dir = new TempDirectory();
        string path = dir.File("h.safetensors");
        var tensors = new[] { new OutputTensor("w", Dtype.F32, [2]), new OutputTensor("b", Dtype.F16, [1]) };
        await WriteAllAsync(path, tensors, [new byte[8], new byte[2]], new Dictionary<string, string> { ["merge_method"] = "ties", ["z"] = "é" });

        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(8 + n + 10, bytes.Length);
        string text = Encoding.UTF8.GetString(bytes, 8, (int)n);
        string trimmed = text.TrimEnd(' ');
        Assert.True(text.Length - trimmed.Length < 8);
        Assert.Equal(
            "{\"__metadata__\":{\"format\":\"pt\",\"merge_method\":\"ties\",\"z\":\"é\"}," +
            "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}",
            trimmed);
        using var doc = JsonDocument.Parse(trimmed);
        Assert.Equal(3, doc.RootElement.EnumerateObject().Count());

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("ties", file.Header.Metadata["merge_method"]);
        Assert.Equal("pt", file.Header.Metadata["format"]);
        Assert.Equal("é", file.Header.Metadata["z"]);
    }

    [Fact]
    public async Task ZeroTensorFileIsReadable()
    {
        using var dir = new TempDirectory();
        string path = dir.File("empty.safetensors");
        await WriteAllAsync(path, [], []);
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Header.Tensors);
        Assert.Equal("pt", file.Header.Metadata["format"]);
    }

    [Fact]
    public async Task MisuseIsReportedWithTheTensorName()
    {
        using var dir = new TempDirectory();
        var tensors = new[] { new OutputTensor("first", Dtype.F32, [1]), new OutputTensor("second", Dtype.F32, [2]) };
        string path = dir.File("m.safetensors");
        await using (var writer = SafetensorsWriter.Create(path, tensors))
        {
            var order = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteTensorAsync("second", new byte[8]).AsTask());
            Assert.Contains("'second'", order.Message);
            Assert.Contains("'first'", order.Message);
            var size = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteTensorAsync("first", new byte[3]).AsTask());
            Assert.Contains("'first'", size.Message);
            await writer.WriteTensorAsync("first", new byte[4]);
            var incomplete = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.CompleteAsync().AsTask());
            Assert.Contains("'second'", incomplete.Message);
        }
        Assert.False(File.Exists(path)); // an unfinished file is removed

        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(dir.File("r.safetensors"), [new OutputTensor("__metadata__", Dtype.F32, [1])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(dir.File("d.safetensors"), [new OutputTensor("a", Dtype.F32, [1]), new OutputTensor("a", Dtype.F32, [1])]));
        Assert.False(File.Exists(dir.File("r.safetensors")));
    }

    [Fact]
    public async Task ExistingFileIsNeverOverwritten()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("keep.safetensors", [42]);
        Assert.Throws<IOException>(() => SafetensorsWriter.Create(path, []));
        Assert.Equal([42], await File.ReadAllBytesAsync(path));
    }
}
