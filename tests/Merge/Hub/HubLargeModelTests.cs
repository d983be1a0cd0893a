using System.Text;
using System.Text.Json;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Hub;

/// <summary>Check before download at real scale: two 70B-shaped llama repos (80 layers, 33 shards of up to 5 GB each,
/// about 157 GB apiece) served by the loopback hub as virtual files (header, then zeros, never held). A bad definition
/// fails, and a good one is checked and planned, having transferred only the small files and the shard headers.</summary>
public sealed class HubLargeModelTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Layers = 80, Hidden = 8192, Intermediate = 28672, Vocab = 32000;
    private const long MaxShard = 5_000_000_000;

    /// <summary>A llama-70B-shaped repo: config.json, the index and virtual shards whose headers list bf16 tensors.</summary>
    private static (long WeightBytes, long HeaderBytes) Publish(LoopbackHub hub, string id)
    {
        var tensors = new List<(string Name, long[] Shape)> { ("model.embed_tokens.weight", [Vocab, Hidden]) };
        for (int l = 0; l < Layers; l++)
        {
            var p = $"model.layers.{l}.";
            tensors.Add((p + "input_layernorm.weight", [Hidden]));
            foreach (var proj in new[] { "q", "k", "v", "o" }) tensors.Add((p + $"self_attn.{proj}_proj.weight", [Hidden, Hidden]));
            tensors.Add((p + "post_attention_layernorm.weight", [Hidden]));
            tensors.Add((p + "mlp.gate_proj.weight", [Intermediate, Hidden]));
            tensors.Add((p + "mlp.up_proj.weight", [Intermediate, Hidden]));
            tensors.Add((p + "mlp.down_proj.weight", [Hidden, Intermediate]));
        }
        tensors.Add(("model.norm.weight", [Hidden]));
        tensors.Add(("lm_head.weight", [Vocab, Hidden]));

        // Greedy shards of at most 5 GB, as transformers writes them.
        var shards = new List<List<(string Name, long[] Shape)>> { new() };
        long inShard = 0;
        foreach (var t in tensors)
        {
            long bytes = 2 * t.Shape.Aggregate(1L, (a, b) => a * b);
            if (inShard + bytes > MaxShard && shards[^1].Count > 0) { shards.Add(new()); inShard = 0; }
            shards[^1].Add(t);
            inShard += bytes;
        }
        var repo = hub.PublishFiles(id, new Dictionary<string, byte[]>
        {
            ["config.json"] = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["hidden_size"] = Hidden,
                ["intermediate_size"] = Intermediate, ["num_hidden_layers"] = Layers, ["num_attention_heads"] = 64,
                ["num_key_value_heads"] = 64, ["vocab_size"] = Vocab, ["torch_dtype"] = "bfloat16",
            }),
        });
        var weightMap = new Dictionary<string, string>();
        long weightBytes = 0, headerBytes = 0;
        for (int s = 0; s < shards.Count; s++)
        {
            var file = $"model-{s + 1:00000}-of-{shards.Count:00000}.safetensors";
            var header = new Dictionary<string, object>();
            long offset = 0;
            foreach (var (name, shape) in shards[s])
            {
                long bytes = 2 * shape.Aggregate(1L, (a, b) => a * b);
                header[name] = new { dtype = "BF16", shape, data_offsets = new[] { offset, offset + bytes } };
                offset += bytes;
                weightMap[name] = file;
            }
            var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
            int padded = (json.Length + 7) / 8 * 8;
            var prefix = new byte[8 + padded];
            BitConverter.TryWriteBytes(prefix.AsSpan(0, 8), (ulong)padded);
            json.CopyTo(prefix, 8);
            prefix.AsSpan(8 + json.Length).Fill((byte)' ');
            repo.Virtual[file] = (prefix, prefix.Length + offset);
            weightBytes += prefix.Length + offset;
            headerBytes += prefix.Length;
        }
        repo.Files["model.safetensors.index.json"] = JsonSerializer.SerializeToUtf8Bytes(new { metadata = new { total_size = weightBytes }, weight_map = weightMap });
        return (weightBytes, headerBytes);
    }

    [Fact]
    public async Task ABadDefinitionOverTwo70BModelsFailsHavingTransferredUnder1MB()
    {
        await using var t = await HubTestContext.StartAsync();
        var (weightsA, headersA) = Publish(t.Hub, "big/base");
        var (weightsB, headersB) = Publish(t.Hub, "big/tune");
        Assert.True(weightsA > 100_000_000_000, weightsA.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // 80 layers each: [0, 90) is out of range, which only the shard headers and the config can tell.
        var bad = MergeRunner.ParseDefinition("merge_method: slerp\nbase_model: big/base\nslices:\n  - sources:\n      - model: big/base\n        layer_range: [0, 90]\n      - model: big/tune\n        layer_range: [0, 90]\nparameters:\n  t: 0.5\n",
            Path.Combine(t.Work, "bad.yaml"), out _);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<PlanningException>(() => MergeRunner.RunAsync(bad, Path.Combine(t.Work, "out"), new MergeOptions { Hub = t.Settings() }));
        Assert.Contains("layer_range", e.Message, StringComparison.Ordinal);
        long sent = t.Hub.TotalBytesSent;
        output.WriteLine($"bad definition: failed in {clock.ElapsedMilliseconds} ms, {sent} bytes sent ({headersA + headersB} of shard headers) for {weightsA + weightsB} bytes of weights");
        Assert.True(sent < 1_000_000, $"{sent} bytes sent");
        Assert.Equal(headersA + headersB, sent - SmallFileBytes(t, "big/base") - SmallFileBytes(t, "big/tune"));
        Assert.False(Directory.Exists(Path.Combine(t.Work, "out")));

        // A good definition is checked and planned on the same bytes (the stand-ins are reused: only HEAD requests),
        // and the plan knows what the run would download.
        t.Hub.ResetCounts();
        var good = MergeRunner.ParseDefinition("merge_method: slerp\nbase_model: big/base\nslices:\n  - sources:\n      - model: big/base\n        layer_range: [0, 80]\n      - model: big/tune\n        layer_range: [0, 80]\nparameters:\n  t: 0.5\n",
            Path.Combine(t.Work, "good.yaml"), out _);
        clock.Restart();
        var checking = HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() });
        using var plan = MergeRunner.Plan(good, checking);
        output.WriteLine($"good definition: planned in {clock.ElapsedMilliseconds} ms, {plan.Jobs.Count} jobs, {t.Hub.TotalBytesSent} bytes sent");
        Assert.Equal(Layers * 9 + 3, plan.Jobs.Count);
        Assert.Equal(weightsA + weightsB, checking.Hub!.Downloads!.Among(plan.Models).Sum(d => d.Bytes));
        Assert.Equal(0, t.Hub.TotalBytesSent);
    }

    private static long SmallFileBytes(HubTestContext t, string repo)
        => new[] { "config.json", "model.safetensors.index.json" }.Sum(f => t.Hub.BytesSent(repo, f));
}
