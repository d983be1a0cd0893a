using DotnetMerge.Numerics;
using DotnetMerge.Pickle;

namespace DotnetMerge.Tests.Pickle;

public sealed class TorchBinReaderTests(TorchFixture fx) : IClassFixture<TorchFixture>
{
    private static readonly string[] Names =
    [
        "model.embed_tokens.weight", "lm_head.weight", "view.columns", "view.row", "base.full", "transposed", "bf16",
        "f16.transposed", "int64", "scalar", "param",
    ];

    private byte[] Read(TorchBinFile file, string name)
    {
        var t = file.Find(name) ?? throw new Xunit.Sdk.XunitException($"tensor {name} not found");
        var bytes = new byte[t.ByteLength];
        file.ReadTensor(t, bytes);
        return bytes;
    }

    [SkippableTheory]
    [InlineData("pytorch_model.bin")]
    [InlineData("proto4.bin")]
    public void EveryTensor_EqualsTorchsContiguousBytes(string fileName)
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        using var file = TorchBinFile.Open(fx.PathOf(fileName));
        Assert.Equal(Names, file.Tensors.Select(t => t.Name));
        foreach (var name in Names) Assert.Equal(fx.Raw(name), Read(file, name));
    }

    [SkippableFact]
    public void Views_KeepTheirShapesDtypesAndStorages()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        using var file = TorchBinFile.Open(fx.PathOf("pytorch_model.bin"));
        var tied = file.FindView("lm_head.weight")!;
        Assert.Equal(file.FindView("model.embed_tokens.weight")!.Storage, tied.Storage); // one storage, two tensors
        var columns = file.FindView("view.columns")!;
        Assert.Equal([3L, 2], columns.Shape);
        Assert.Equal([4L, 1], columns.Strides);
        Assert.Equal(1, columns.Offset);
        Assert.False(columns.IsContiguous);
        // base[:, 1:3] of arange(12).reshape(3, 4): an independent reference computed here.
        var values = new float[6];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Read(file, "view.columns")).CopyTo(values);
        Assert.Equal([1f, 2, 5, 6, 9, 10], values);
        var row = file.FindView("view.row")!;
        Assert.True(row.IsContiguous);
        Assert.Equal(4, row.Offset);
        Assert.Equal(file.FindView("base.full")!.Storage, row.Storage);
        Assert.Equal(Dtype.BF16, file.FindView("bf16")!.Dtype);
        Assert.Equal(Dtype.F16, file.FindView("f16.transposed")!.Dtype);
        Assert.Equal(Dtype.I64, file.FindView("int64")!.Dtype);
        Assert.Empty(file.FindView("scalar")!.Shape);
        Assert.Equal([1L, 3], file.FindView("transposed")!.Strides);
    }

    [SkippableFact]
    public void LegacyFormat_IsRefusedWithHowToConvert()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        var e = Assert.Throws<TorchCheckpointException>(() => TorchBinFile.Open(fx.PathOf("legacy.bin")));
        Assert.Equal(TorchCheckpointException.NotZipFormat, e.Id);
        Assert.Contains("legacy.bin", e.Message);
        Assert.Contains("legacy PyTorch pickle-stream", e.Message);
        Assert.Contains("torch.save", e.Message);
        Assert.Equal(DotnetMerge.Engine.MergeErrorKind.Input, e.Kind);
    }

    [SkippableFact]
    public void TruncatedCheckpoint_FailsCleanly()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        var bytes = File.ReadAllBytes(fx.PathOf("pytorch_model.bin"));
        foreach (int keep in new[] { 4, 100, bytes.Length / 2, bytes.Length - 30 })
        {
            var path = fx.PathOf($"truncated-{keep}.bin");
            File.WriteAllBytes(path, bytes[..keep]);
            var e = Assert.Throws<TorchCheckpointException>(() => TorchBinFile.Open(path));
            Assert.Contains(path, e.Message);
        }
    }
}
