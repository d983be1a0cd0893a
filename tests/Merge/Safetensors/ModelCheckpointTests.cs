using DotnetMerge.Safetensors;
using static DotnetMerge.Tests.Safetensors.SafetensorsBytes;

namespace DotnetMerge.Tests.Safetensors;

public class ModelCheckpointTests
{
    private static byte[] OneTensor(string name, int bytes, int seed = 0) =>
        Build(Header(Entry(name, "U8", $"[{bytes}]", 0, bytes)), Sequence(bytes, seed));

    private static string Index(params (string Tensor, string File)[] map) =>
        "{\"metadata\":{\"total_size\":1,\"mergekit_version\":\"0.1.4\"},\"weight_map\":{" +
        string.Join(",", map.Select(m => $"\"{m.Tensor}\":\"{m.File}\"")) + "}}";

    [Fact]
    public void IndexedShards()
    {
        using var dir = new TempDirectory();
        dir.Write("model-00001-of-00002.safetensors", Build(
            Header(Entry("a", "U8", "[2]", 0, 2), Entry("b", "U8", "[3]", 2, 5)), Sequence(5)));
        dir.Write("model-00002-of-00002.safetensors", OneTensor("c", 4, 9));
        dir.Write("stray.safetensors", OneTensor("a", 1)); // not referenced by the index: ignored
        dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(
            ("a", "model-00001-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"))));

        using var checkpoint = ModelCheckpoint.Open(dir.Path);
        Assert.Equal(dir.Path, checkpoint.Directory);
        Assert.Equal(2, checkpoint.Shards.Count);
        Assert.Equal(["a", "b", "c"], checkpoint.TensorNames.Order(StringComparer.Ordinal));
        Assert.Equal(9, checkpoint.TotalTensorBytes);
        Assert.True(checkpoint.TryGetTensor("c", out var c, out var file));
        Assert.EndsWith("model-00002-of-00002.safetensors", file.Path);
        var bytes = new byte[4];
        file.ReadTensor(c, bytes);
        Assert.Equal(Sequence(4, 9), bytes);
        Assert.False(checkpoint.TryGetTensor("d", out _, out _));
    }

    [Fact]
    public void SingleModelFileIsPreferredOverOtherSafetensors()
    {
        using var dir = new TempDirectory();
        dir.Write("model.safetensors", OneTensor("w", 3));
        dir.Write("adapter.safetensors", OneTensor("w", 3));
        using var checkpoint = ModelCheckpoint.Open(dir.Path);
        Assert.Single(checkpoint.Shards);
        Assert.Equal(["w"], checkpoint.TensorNames);
    }

    [Fact]
    public void BareSafetensorsSetIsSortedOrdinally()
    {
        using var dir = new TempDirectory();
        dir.Write("b.safetensors", OneTensor("y", 2));
        dir.Write("a.safetensors", OneTensor("x", 1));
        dir.Write("B.safetensors", OneTensor("z", 1));
        using var checkpoint = ModelCheckpoint.Open(dir.Path);
        Assert.Equal(["B.safetensors", "a.safetensors", "b.safetensors"], checkpoint.Shards.Select(s => Path.GetFileName(s.Path)));
        Assert.Equal(4, checkpoint.TotalTensorBytes);
    }

    [Fact]
    public void IndexPointingAtAMissingTensorNamesIndexTensorAndShard()
    {
        using var dir = new TempDirectory();
        dir.Write("model-00001-of-00001.safetensors", OneTensor("a", 2));
        string index = dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(
            ("a", "model-00001-of-00001.safetensors"), ("ghost", "model-00001-of-00001.safetensors"))));
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains(index, ex.Message);
        Assert.Contains("'ghost'", ex.Message);
        Assert.Contains("model-00001-of-00001.safetensors", ex.Message);
    }

    [Fact]
    public void IndexAssigningATensorToTheWrongShardOrAMissingFileFails()
    {
        using var dir = new TempDirectory();
        dir.Write("s1.safetensors", OneTensor("a", 2));
        dir.Write("s2.safetensors", OneTensor("b", 2));
        dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(("a", "s2.safetensors"), ("b", "s2.safetensors"), ("x", "s1.safetensors"))));
        var wrong = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains("'a'", wrong.Message);

        dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(("a", "s3.safetensors"))));
        var missing = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains("s3.safetensors", missing.Message);

        dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(("a", "../s1.safetensors"))));
        Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
    }

    [Fact]
    public void TensorInTwoShardsNamesBothFiles()
    {
        using var dir = new TempDirectory();
        dir.Write("one.safetensors", OneTensor("w", 2));
        dir.Write("two.safetensors", Build(Header(Entry("v", "U8", "[1]", 0, 1), Entry("w", "U8", "[1]", 1, 2)), [1, 2]));
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains("'w'", ex.Message);
        Assert.Contains("one.safetensors", ex.Message);
        Assert.Contains("two.safetensors", ex.Message);
    }

    [Fact]
    public void NoWeightsNamesTheDirectoryAndTheNamesLookedFor()
    {
        using var dir = new TempDirectory();
        dir.Write("config.json", [(byte)'{', (byte)'}']);
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains(dir.Path, ex.Message);
        Assert.Contains("model.safetensors.index.json", ex.Message);
        Assert.Contains("*.safetensors", ex.Message);
        Assert.Equal(dir.Path, ex.Path);
    }

    [Fact]
    public void BadShardSurfacesItsOwnFormatError()
    {
        using var dir = new TempDirectory();
        string bad = dir.Write("model.safetensors", Build(Header(Entry("w", "U8", "[4]", 0, 4)), [1, 2]));
        var ex = Assert.Throws<SafetensorsFormatException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Equal(bad, ex.FilePath);
    }
    [Fact]
    public void A_tensor_in_a_shard_but_missing_from_the_index_is_an_error_naming_both()
    {
        // Used to be accepted silently (the tensor was merged, or not, depending on the reader).
        using var dir = new TempDirectory();
        dir.Write("model-00001-of-00001.safetensors", Build(Header(Entry("a", "U8", "[2]", 0, 2), Entry("hidden", "U8", "[1]", 2, 3)), Sequence(3)));
        string index = dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(("a", "model-00001-of-00001.safetensors"))));
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains(index, ex.Message);
        Assert.Contains("'hidden'", ex.Message);
        Assert.Contains("missing from the weight_map", ex.Message);
    }

    [Fact]
    public void A_shard_that_is_a_directory_is_called_a_directory()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "model-00001-of-00001.safetensors"));
        dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(Index(("a", "model-00001-of-00001.safetensors"))));
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(dir.Path));
        Assert.Contains("is a directory", ex.Message);
        Assert.DoesNotContain("does not exist", ex.Message);
    }

    [Fact]
    public void A_model_directory_that_is_a_looping_link_says_so()
    {
        using var dir = new TempDirectory();
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        Directory.CreateSymbolicLink(a, b);
        Directory.CreateSymbolicLink(b, a);
        var ex = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(a));
        Assert.Contains("symbolic link that loops", ex.Message);
        File.WriteAllText(Path.Combine(dir.Path, "file"), "x");
        Assert.Contains("is a file", Assert.Throws<CheckpointException>(() => ModelCheckpoint.Open(Path.Combine(dir.Path, "file"))).Message);
    }
}
