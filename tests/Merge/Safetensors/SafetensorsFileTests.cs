using System.Buffers;
using System.IO.Pipelines;
using DotnetMerge.Safetensors;
using static DotnetMerge.Tests.Safetensors.SafetensorsBytes;

namespace DotnetMerge.Tests.Safetensors;

public class SafetensorsFileTests
{
    [Fact]
    public async Task ReadsTensorsByPositionAndSequentially()
    {
        using var dir = new TempDirectory();
        var data = Sequence(4 * 6 + 2 * 3 + 8);
        string path = dir.Write("m.safetensors", Build(
            "  " + Header(Entry("b", "BF16", "[3]", 24, 30), Entry("a", "F32", "[2,3]", 0, 24), Entry("c", "I64", "[]", 30, 38)) + "  ", data));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(path, file.Path);
        Assert.Equal(new FileInfo(path).Length, file.Length);
        Assert.Equal(["a", "b", "c"], file.Header.Tensors.Select(t => t.Name));

        var b = file.Header.Find("b")!;
        var buffer = new byte[6];
        file.ReadTensor(b, buffer);
        Assert.Equal(data[24..30], buffer);

        var c = file.Header.Find("c")!;
        var asyncBuffer = new byte[8];
        await file.ReadTensorAsync(c, asyncBuffer, CancellationToken.None);
        Assert.Equal(data[30..38], asyncBuffer);

        var part = new byte[5];
        file.ReadTensorRange(file.Header.Find("a")!, 3, part);
        Assert.Equal(data[3..8], part);

        Assert.Throws<ArgumentException>(() => file.ReadTensor(b, new byte[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => file.ReadTensorRange(b, 4, new byte[3]));
        Assert.Throws<ArgumentException>(() => file.ReadTensor(b with { Name = "zz" }, buffer));

        var reader = file.OpenSequentialReader();
        var all = new List<byte>();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer) all.AddRange(segment.ToArray());
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await reader.CompleteAsync();
        Assert.Equal(data, all);
    }

    [Fact]
    public void OpenValidatesAndNamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("bad.safetensors", Build(Header(Entry("w", "F32", "[4]", 0, 16)), new byte[12]));
        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));
        Assert.Equal(SafetensorsError.MetadataIncompleteBuffer, ex.Error);
        Assert.Contains(path, ex.Message);
        Assert.Contains("truncated", ex.Message);

        string tiny = dir.Write("tiny.safetensors", [1, 2, 3]);
        Assert.Equal(SafetensorsError.HeaderTooSmall, Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(tiny)).Error);
        string past = dir.Write("past.safetensors", Build("{}", declaredLength: 50));
        Assert.Equal(SafetensorsError.InvalidHeaderLength, Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(past)).Error);

        var missing = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(dir.File("nope.safetensors")));
        Assert.Equal(SafetensorsError.Io, missing.Error);
    }

    [Fact]
    public async Task FileTruncatedAfterOpenIsAnIoErrorNamingTheTensor()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("m.safetensors", Build(Header(Entry("a", "U8", "[4]", 0, 4), Entry("b", "U8", "[8]", 4, 12)), Sequence(12)));
        using var file = SafetensorsFile.Open(path);
        using (var shrink = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            shrink.SetLength(file.Length - 3);
        var b = file.Header.Find("b")!;
        var ex = Assert.Throws<SafetensorsFormatException>(() => file.ReadTensor(b, new byte[8]));
        Assert.Equal(SafetensorsError.Io, ex.Error);
        Assert.Equal("b", ex.TensorName);
        Assert.Contains("truncated", ex.Message);
        var asyncEx = await Assert.ThrowsAsync<SafetensorsFormatException>(() => file.ReadTensorAsync(b, new byte[8]).AsTask());
        Assert.Equal(SafetensorsError.Io, asyncEx.Error);
        var a = new byte[4];
        file.ReadTensor(file.Header.Find("a")!, a); // the intact part is still readable
        Assert.Equal(Sequence(4), a);
    }

    [Fact]
    public void FileOpenedForReadingCanBeOpenedAgain()
    {
        using var dir = new TempDirectory();
        string path = dir.Write("m.safetensors", Build(Header(Entry("w", "U8", "[3]", 0, 3)), [1, 2, 3]));
        using var first = SafetensorsFile.Open(path);
        using var second = SafetensorsFile.Open(path);
        var bytes = new byte[3];
        second.ReadTensor(second.Header.Tensors[0], bytes);
        Assert.Equal([1, 2, 3], bytes);
    }
}
