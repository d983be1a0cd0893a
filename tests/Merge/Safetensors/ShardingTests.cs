using System.Text.Json;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Safetensors;

public class ShardingTests
{
    private static OutputTensor U8(string name, long bytes) => new(name, Dtype.U8, [bytes]);

    private static string[][] Groups(IReadOnlyList<ShardPlan> plans) => plans.Select(p => p.Tensors.Select(t => t.Name).ToArray()).ToArray();

    [Fact]
    public void TensorsExactlyAtTheLimitShareAShard()
    {
        var plans = ShardLayout.Plan([U8("a", 60), U8("b", 40), U8("c", 100)], 100);
        Assert.Equal([["a", "b"], ["c"]], Groups(plans));
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], plans.Select(p => p.FileName));
        Assert.Equal(100, plans[0].TensorBytes);
    }

    [Fact]
    public void OneByteOverTheLimitStartsANewShard() =>
        Assert.Equal([["a"], ["b"]], Groups(ShardLayout.Plan([U8("a", 60), U8("b", 41)], 100)));

    [Fact]
    public void TensorLargerThanTheLimitStandsAlone() =>
        Assert.Equal([["a"], ["big"], ["b", "c"]], Groups(ShardLayout.Plan([U8("a", 10), U8("big", 150), U8("b", 10), U8("c", 10)], 100)));

    [Fact]
    public void NoLimitOrEverythingFittingMakesOneModelFile()
    {
        var tensors = new[] { U8("a", 10), U8("b", 10) };
        foreach (long limit in new long[] { 0, -1, 20, 1000 })
        {
            var plans = ShardLayout.Plan(tensors, limit);
            Assert.Single(plans);
            Assert.Equal("model.safetensors", plans[0].FileName);
        }
        Assert.Single(ShardLayout.Plan([], 100));
    }

    [Fact]
    public void ShardNamesUseFiveDigits()
    {
        Assert.Equal("model-00003-of-00012.safetensors", ShardLayout.ShardFileName(3, 12));
        Assert.Equal("model.safetensors", ShardLayout.ShardFileName(1, 1));
    }

    [Fact]
    public async Task OneShardWritesNoIndex()
    {
        using var dir = new TempDirectory();
        var tensors = new[] { new OutputTensor("w", Dtype.BF16, [4]) };
        await using (var writer = new ShardedModelWriter(dir.Path, tensors, 0))
        {
            await writer.WriteTensorAsync("w", new byte[8]);
            await writer.CompleteAsync();
        }
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public async Task ThreeShardsWriteAnIndexThatTheCheckpointReaderAccepts()
    {
        using var dir = new TempDirectory();
        var tensors = new[]
        {
            new OutputTensor("model.embed_tokens.weight", Dtype.BF16, [8, 4]), // 64 bytes
            new OutputTensor("model.layers.0.mlp.up_proj.weight", Dtype.F32, [4]), // 16
            new OutputTensor("model.layers.0.input_layernorm.weight", Dtype.F32, [8]), // 32
            new OutputTensor("lm_head.weight", Dtype.BF16, [8, 4]), // 64
        };
        var data = tensors.Select((t, i) => SafetensorsBytes.Sequence((int)t.ByteLength, i)).ToArray();
        await using (var writer = new ShardedModelWriter(dir.Path, tensors, 80, new Dictionary<string, string> { ["mergekit"] = "no" }))
        {
            Assert.Equal(3, writer.Shards.Count);
            for (int i = 0; i < tensors.Length; i++) await writer.WriteTensorAsync(tensors[i].Name, data[i]);
            await writer.CompleteAsync();
        }

        string indexText = File.ReadAllText(Path.Combine(dir.Path, "model.safetensors.index.json"));
        Assert.EndsWith("}\n", indexText);
        Assert.DoesNotContain("\r", indexText);
        Assert.Contains("\n  \"metadata\": {\n    \"total_size\": 176\n  },", indexText);
        using (var doc = JsonDocument.Parse(indexText))
        {
            Assert.Equal(176, doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
            var map = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => (p.Name, p.Value.GetString())).ToArray();
            Assert.Equal(
            [
                ("lm_head.weight", "model-00003-of-00003.safetensors"),
                ("model.embed_tokens.weight", "model-00001-of-00003.safetensors"),
                ("model.layers.0.input_layernorm.weight", "model-00002-of-00003.safetensors"),
                ("model.layers.0.mlp.up_proj.weight", "model-00001-of-00003.safetensors"), // 64 + 16 = exactly the limit
            ], map);
        }

        using var checkpoint = ModelCheckpoint.Open(dir.Path);
        Assert.Equal(3, checkpoint.Shards.Count);
        Assert.Equal(176, checkpoint.TotalTensorBytes);
        for (int i = 0; i < tensors.Length; i++)
        {
            Assert.True(checkpoint.TryGetTensor(tensors[i].Name, out var info, out var file));
            var back = new byte[info.ByteLength];
            file.ReadTensor(info, back);
            Assert.Equal(data[i], back);
            Assert.Equal("no", file.Metadata["mergekit"]);
        }
    }

    [Fact]
    public async Task MissingTensorsAreReportedAndPartialShardsRemoved()
    {
        using var dir = new TempDirectory();
        var tensors = new[] { new OutputTensor("a", Dtype.U8, [10]), new OutputTensor("b", Dtype.U8, [10]) };
        await using (var writer = new ShardedModelWriter(dir.Path, tensors, 10))
        {
            await writer.WriteTensorAsync("a", new byte[10]);
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.CompleteAsync().AsTask());
            Assert.Contains("'b'", ex.Message);
        }
        Assert.Equal(["model-00001-of-00002.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("123", 123L)]
    [InlineData("5B", 5_000_000_000L)]
    [InlineData("5b", 5_000_000_000L)]
    [InlineData("2M", 2_000_000L)]
    [InlineData("7k", 7_000L)]
    [InlineData("5GB", 5_000_000_000L)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("50gb", 50_000_000_000L)]
    [InlineData("10 MB", 10_000_000L)]
    [InlineData("3KB", 3_000L)]
    [InlineData("2TB", 2_000_000_000_000L)]
    [InlineData("1KiB", 1_024L)]
    [InlineData("4MiB", 4_194_304L)]
    [InlineData("2GiB", 2_147_483_648L)]
    [InlineData("1.5GiB", 1_610_612_736L)]
    [InlineData("1TiB", 1_099_511_627_776L)]
    [InlineData(" 0.5K ", 500L)]
    public void ShardSizeParses(string text, long expected) => Assert.Equal(expected, ShardSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("GB")]
    [InlineData("-5GB")]
    [InlineData("5XB")]
    [InlineData("1.5")]
    [InlineData("1,5GB")]
    [InlineData("5 G B")]
    [InlineData(".5GB")]
    [InlineData("1e9")]
    [InlineData("99999999999TB")]
    public void ShardSizeRejectsWithTheAcceptedForms(string text)
    {
        var ex = Assert.Throws<FormatException>(() => ShardSize.Parse(text));
        Assert.Contains("KiB", ex.Message);
    }

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(999L, "999 B")]
    [InlineData(1_500L, "1.50 KB")]
    [InlineData(1_500_000_000L, "1.50 GB")]
    [InlineData(5_000_000_000L, "5.00 GB")]
    public void ShardSizeFormats(long bytes, string expected) => Assert.Equal(expected, ShardSize.Format(bytes));
}
