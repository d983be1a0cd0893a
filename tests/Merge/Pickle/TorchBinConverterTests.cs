using DotnetMerge.Engine;
using DotnetMerge.Pickle;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Pickle;

public sealed class TorchBinConverterTests(TorchFixture fx) : IClassFixture<TorchFixture>
{
    [SkippableFact]
    public async Task ShardedBin_BecomesSafetensors_WithTorchsBytesNamesAndFiles()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        var output = fx.PathOf("converted-" + Guid.NewGuid().ToString("N"));
        var result = await TorchBinConverter.ConvertAsync(fx.PathOf("sharded"), output, force: false, maxShardBytes: 5_000_000_000);
        Assert.Equal(11, result.TensorCount);
        Assert.Equal(["config.json", "tokenizer.json"], result.CopiedFiles);
        Assert.Equal(File.ReadAllText(fx.PathOf("sharded/config.json")), File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.Empty(Directory.EnumerateFiles(output, "*.bin"));
        using var checkpoint = ModelCheckpoint.Open(output);
        using var bin = TorchBinFile.Open(fx.PathOf("pytorch_model.bin"));
        foreach (var t in bin.Tensors)
        {
            Assert.True(checkpoint.TryGetTensor(t.Name, out var info, out var file), t.Name);
            Assert.Equal(t.Dtype, info.Dtype);
            Assert.Equal(t.Shape, info.Shape);
            var bytes = new byte[info.ByteLength];
            file.ReadTensor(info, bytes);
            Assert.Equal(fx.Raw(t.Name), bytes);
        }
        Assert.Equal("pt", checkpoint.Shards[0].Metadata["format"]);
    }

    [SkippableFact]
    public async Task IndexNamingAMissingTensor_IsInputError()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        var dir = fx.PathOf("bad-index-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.Copy(fx.PathOf("pytorch_model.bin"), Path.Combine(dir, "pytorch_model.bin"));
        File.WriteAllText(Path.Combine(dir, ModelCheckpoint.BinIndexFileName), """{"weight_map": {"ghost": "pytorch_model.bin"}}""");
        var e = await Assert.ThrowsAsync<MergeException>(() => TorchBinConverter.ConvertAsync(dir, dir + "-out", false, 5_000_000_000));
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains("'ghost'", e.Message);
        Assert.False(Directory.Exists(dir + "-out"));
    }
}
