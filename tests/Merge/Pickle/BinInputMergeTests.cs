using System.IO.Compression;
using System.Runtime.InteropServices;
using DotnetMerge.Engine;
using DotnetMerge.Pickle;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tests.Pickle;

/// <summary>Three tiny llama-named models written by real torch as .bin (python3-torch): a base with a tied LM head
/// (one storage, two tensors) and a transposed (strided) view, a fine-tune sharded by pytorch_model.bin.index.json, and a
/// fine-tune saved with pickle protocol 4 whose zip is then re-written deflated (compressed records). Beside them torch's
/// own contiguous float32 bytes of one tensor per model (<c>NAME.f32</c>), for a float64 reference.</summary>
public sealed class BinModelsFixture : IDisposable
{
    public const string Script = """
import sys, os, json, collections, torch
out = sys.argv[1]
torch.manual_seed(1)
H, I, V = 8, 12, 10
config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H, "intermediate_size": I,
          "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": V, "tie_word_embeddings": False}
def model(scale):
    sd = collections.OrderedDict()
    emb = torch.randn(V, H).to(torch.bfloat16)
    sd["model.embed_tokens.weight"] = emb
    sd["model.layers.0.self_attn.q_proj.weight"] = torch.randn(H, H) * scale
    sd["model.layers.0.self_attn.k_proj.weight"] = torch.randn(H, H // 2).t()          # a transposed view
    sd["model.layers.0.mlp.up_proj.weight"] = torch.randn(I, H).to(torch.float16)
    sd["model.layers.0.mlp.down_proj.weight"] = torch.randn(H, 2 * I)[:, ::2]         # a strided slice
    sd["model.layers.0.input_layernorm.weight"] = torch.ones(H) + 0.1 * torch.randn(H)
    sd["model.norm.weight"] = torch.ones(H)
    sd["lm_head.weight"] = emb                                                          # tied: the same storage
    return sd
def save_dir(name, sd, shards=1, **kw):
    d = os.path.join(out, name)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f)
    if shards == 1:
        torch.save(sd, os.path.join(d, "pytorch_model.bin"), **kw)
    else:
        names = list(sd.keys())
        half = len(names) // 2
        weight_map = {}
        for i, part in enumerate([names[:half], names[half:]]):
            shard = "pytorch_model-%05d-of-00002.bin" % (i + 1)
            torch.save(collections.OrderedDict((n, sd[n]) for n in part), os.path.join(d, shard), **kw)
            weight_map.update({n: shard for n in part})
        with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
    for short in ["q_proj", "k_proj"]:
        t = sd["model.layers.0.self_attn.%s.weight" % short]
        with open(os.path.join(out, name + "." + short + ".f32"), "wb") as f:
            f.write(t.detach().contiguous().reshape(-1).numpy().tobytes())
    with open(os.path.join(out, name + ".down_proj.f32"), "wb") as f:
        f.write(sd["model.layers.0.mlp.down_proj.weight"].detach().contiguous().reshape(-1).numpy().tobytes())
save_dir("base", model(1.0))
save_dir("sharded", model(2.0), shards=2)
save_dir("deflated", model(3.0), pickle_protocol=4)
""";

    public BinModelsFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-bin-inputs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        SkipReason = Python.Run(Root, Script, Root);
        if (SkipReason is null) Deflate(Path.Combine(Root, "deflated", "pytorch_model.bin"));
    }

    public string Root { get; }
    public string? SkipReason { get; }
    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>torch's contiguous float32 values of one projection (q_proj, k_proj: transposed, down_proj: sliced).</summary>
    public float[] Values(string model, string projection) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(PathOf(model + "." + projection + ".f32"))).ToArray();

    /// <summary>Re-writes a torch zip with every record deflated (as a zip tool would), same record names and order.</summary>
    public static void Deflate(string path)
    {
        var records = new List<(string Name, byte[] Data)>();
        using (var zip = ZipFile.OpenRead(path))
            foreach (var entry in zip.Entries)
            {
                using var s = entry.Open();
                var ms = new MemoryStream();
                s.CopyTo(ms);
                records.Add((entry.FullName, ms.ToArray()));
            }
        File.Delete(path);
        using var output = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in records)
        {
            using var s = output.CreateEntry(name, CompressionLevel.Optimal).Open();
            s.Write(data);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

public sealed class BinInputMergeTests(BinModelsFixture fx) : IClassFixture<BinModelsFixture>
{
    private static readonly string[] Models = ["base", "sharded", "deflated"];

    private static string Definition(Func<string, string> path) => $"""
        merge_method: task_arithmetic
        base_model: {path("base")}
        models:
          - model: {path("sharded")}
            parameters: {"{"}weight: 0.75{"}"}
          - model: {path("deflated")}
            parameters: {"{"}weight: -0.5{"}"}
        dtype: float32
        """;

    private async Task<string> MergeAsync(string name, Func<string, string> path)
    {
        var yamlPath = fx.PathOf(name + ".yaml");
        var definition = MergeRunner.ParseDefinition(Definition(path), yamlPath, out var diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.Severity == DotnetMerge.Definitions.DiagnosticSeverity.Error);
        var output = fx.PathOf(name);
        await MergeRunner.RunAsync(definition, output, new MergeOptions());
        return output;
    }

    [SkippableFact]
    public async Task MergingBinInputs_GivesTheBytesOfMergingTheirSafetensorsConversions_AndTheFloat64Reference()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        // The inputs as they are: three shapes of .bin (single with tied and strided views, sharded, deflated).
        using (var deflated = ModelCheckpoint.Open(fx.PathOf("deflated")))
        {
            Assert.Equal(WeightsFormat.PyTorchBin, deflated.Format);
            Assert.All(Assert.IsType<TorchBinFile>(Assert.Single(deflated.Shards)).Views, v => Assert.True(v.Storage.Deflated, v.Name));
        }
        using (var single = ModelCheckpoint.Open(fx.PathOf("base")))
        {
            var views = Assert.IsType<TorchBinFile>(Assert.Single(single.Shards)).Views;
            Assert.False(views.Single(v => v.Name.Contains("k_proj")).IsContiguous);
            Assert.False(views.Single(v => v.Name.Contains("down_proj")).IsContiguous);
            Assert.True(single.Shards[0].TryGetFileRange(single.Shards[0].Find("model.norm.weight")!, out _)); // mapped in place
        }
        using (var sharded = ModelCheckpoint.Open(fx.PathOf("sharded")))
            Assert.Equal(2, sharded.Shards.Count);
        var fromBin = await MergeAsync("merged-from-bin", m => fx.PathOf(m));

        foreach (var m in Models)
            await TorchBinConverter.ConvertAsync(fx.PathOf(m), fx.PathOf(m + "-st"), force: false, maxShardBytes: 5_000_000_000);
        var fromSafetensors = await MergeAsync("merged-from-st", m => fx.PathOf(m + "-st"));

        using var a = ModelCheckpoint.Open(fromBin);
        using var b = ModelCheckpoint.Open(fromSafetensors);
        Assert.Equal(b.TensorNames.Order(), a.TensorNames.Order());
        Assert.Equal(8, a.TensorNames.Count);
        foreach (var name in a.TensorNames)
            Assert.Equal(Bytes(b, name), Bytes(a, name));

        // task arithmetic in float64 from torch's own bytes: base + 0.75·(sharded − base) − 0.5·(deflated − base).
        foreach (var (projection, name) in new[] { ("q_proj", "model.layers.0.self_attn.q_proj.weight"),
                     ("k_proj", "model.layers.0.self_attn.k_proj.weight"), ("down_proj", "model.layers.0.mlp.down_proj.weight") })
        {
            float[] w0 = fx.Values("base", projection), w1 = fx.Values("sharded", projection), w2 = fx.Values("deflated", projection);
            var got = MemoryMarshal.Cast<byte, float>(Bytes(a, name)).ToArray();
            Assert.Equal(w0.Length, got.Length);
            for (int e = 0; e < got.Length; e++)
            {
                double expected = w0[e] + 0.75 * ((double)w1[e] - w0[e]) - 0.5 * ((double)w2[e] - w0[e]);
                Assert.True(Math.Abs(got[e] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{name}[{e}]: {got[e]} vs {expected}");
            }
        }
    }

    [SkippableFact]
    public async Task SafetensorsBesideBin_Wins()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        var both = fx.PathOf("both-" + Guid.NewGuid().ToString("N"));
        await TorchBinConverter.ConvertAsync(fx.PathOf("base"), both, force: false, maxShardBytes: 5_000_000_000);
        // A .bin beside the safetensors, with other tensors: transformers loads the safetensors, and so do we.
        File.Copy(Path.Combine(fx.PathOf("sharded"), "pytorch_model-00001-of-00002.bin"), Path.Combine(both, "pytorch_model.bin"));
        using var checkpoint = ModelCheckpoint.Open(both);
        Assert.Equal(WeightsFormat.Safetensors, checkpoint.Format);
        Assert.All(checkpoint.Shards, s => Assert.EndsWith(".safetensors", s.Path));
        Assert.Equal(8, checkpoint.TensorNames.Count);
    }

    [SkippableFact]
    public void StridedAndDeflatedTensors_ReadInRanges_EqualTheirWholeBytes()
    {
        Skip.If(fx.SkipReason is not null, fx.SkipReason);
        foreach (var model in new[] { "base", "deflated" })
        {
            using var checkpoint = ModelCheckpoint.Open(fx.PathOf(model));
            foreach (var name in checkpoint.TensorNames)
            {
                var whole = Bytes(checkpoint, name);
                checkpoint.TryGetTensor(name, out var info, out var file);
                // Pieces in reverse order (a deflated record starts over), some cutting elements in two.
                var pieces = new byte[whole.Length];
                for (long end = whole.Length; end > 0;)
                {
                    long start = Math.Max(0, end - 7);
                    file.ReadTensorRange(info, start, pieces.AsSpan((int)start, (int)(end - start)));
                    end = start;
                }
                Assert.Equal(whole, pieces);
            }
        }
    }

    private static byte[] Bytes(ModelCheckpoint checkpoint, string name)
    {
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file), name);
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        return bytes;
    }
}
