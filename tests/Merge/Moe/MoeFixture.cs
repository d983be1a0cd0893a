using System.Text.Json.Nodes;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Moe;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Moe;

/// <summary>A generated llama base and MLP fine-tunes of it, and helpers to run <c>moe</c> on a config written here and
/// read what it wrote.</summary>
public sealed class MoeFixture : IDisposable
{
    public MoeFixture() => Directory.CreateDirectory(Root);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "dotnet-merge-moe", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    public static readonly LlamaSpec Spec = new(Layers: 2, Hidden: 8, Intermediate: 12, Vocab: 16, Heads: 2, KvHeads: 1);

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>The base ("base") and fine-tunes whose MLPs differ ("e0", "e1", ...).</summary>
    public async Task WriteModelsAsync(int experts, LlamaSpec? spec = null)
    {
        spec ??= Spec;
        await SyntheticModels.WriteBaseAsync(PathOf("base"), spec);
        for (int e = 0; e < experts; e++)
            await SyntheticModels.WriteFineTuneAsync(PathOf("e" + e), spec, new FineTune("e" + e, "mlp", 0, 0.2, 1.0, (ulong)(100 + e)));
    }

    public string WriteConfig(string yaml, string name = "moe.yml")
    {
        var path = PathOf(name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public sealed class Progress : IMergeProgress
    {
        public List<string> Warnings { get; } = [];
        public void Started(int tensorCount, long bytesToRead, long bytesToWrite) { }
        public void TensorWritten(string name, long bytesRead, long bytesWritten) { }
        public void Stage(string description) { }
        public void Warning(string message) { lock (Warnings) Warnings.Add(message); }
    }

    public async Task<(MoeResult Result, Progress Progress)> BuildAsync(string yaml, string output = "out", MergeOptions? options = null)
    {
        var path = WriteConfig(yaml);
        var (config, _) = MoeConfigReader.Load(path, allowIdenticalExperts: false);
        var progress = new Progress();
        var result = await MoeBuilder.BuildAsync(config, PathOf(output), options ?? new MergeOptions(), progress);
        return (result, progress);
    }

    /// <summary>Every tensor of a model directory: name → (dtype header name, shape, bytes).</summary>
    public static Dictionary<string, (string Dtype, long[] Shape, byte[] Bytes)> ReadAll(string directory)
    {
        using var checkpoint = ModelCheckpoint.Open(directory);
        var all = new Dictionary<string, (string, long[], byte[])>(StringComparer.Ordinal);
        foreach (var file in checkpoint.Shards)
            foreach (var t in file.Tensors)
            {
                var bytes = new byte[t.ByteLength];
                file.ReadTensor(t, bytes);
                all[t.Name] = (DotnetMerge.Numerics.DtypeInfo.HeaderName(t.Dtype), t.Shape, bytes);
            }
        return all;
    }

    public static JsonObject Config(string directory) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!;

    /// <summary>bfloat16 bytes to float64 (the upper half of a float32), written here, not the product's decoder.</summary>
    public static double[] Bf16(byte[] bytes)
    {
        var values = new double[bytes.Length / 2];
        for (int i = 0; i < values.Length; i++)
            values[i] = BitConverter.Int32BitsToSingle((bytes[2 * i] | bytes[2 * i + 1] << 8) << 16);
        return values;
    }
}
