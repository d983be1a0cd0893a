using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using DotnetMerge.Tests.Adapters;

namespace DotnetMerge.Tests.Tokenizers;

/// <summary>Tiny llama-named models whose vocabularies the test chooses: a word-level tokenizer.json (split on spaces only, so
/// every token text, "<s>" included, encodes to its one id) with
/// <c>base</c> words, then added (chat-marker) tokens, and embedding / LM-head rows with distinct values per model,
/// written with the repo's safetensors writer (float32, so every value is exact).</summary>
public sealed class VocabularyFixture : IDisposable
{
    public const int Hidden = 4;

    public VocabularyFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", "vocab-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>The words of a base vocabulary of <paramref name="count"/> tokens.</summary>
    public static string[] Words(int count) => Enumerable.Range(0, count).Select(i => i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => "w" + i }).ToArray();

    /// <summary>Writes model <paramref name="name"/>: <paramref name="words"/> as model.vocab (ids 0..), then
    /// <paramref name="added"/> as special added tokens, and <paramref name="padding"/> extra embedding rows.
    /// Row r of the embedding holds <see cref="Row"/>(seed, r), of the LM head Row(seed + 100, r).</summary>
    public async Task<string> ModelAsync(string name, int seed, string[] words, string[] added, int padding = 0, bool tied = false)
    {
        var dir = PathOf(name);
        Directory.CreateDirectory(dir);
        int rows = words.Length + added.Length + padding;
        var tensors = new List<(string, long[], double[])>
        {
            ("model.embed_tokens.weight", [rows, Hidden], Matrix(seed, rows)),
            ("model.layers.0.mlp.up_proj.weight", [Hidden, Hidden], AdapterFixture.Values(Hidden * Hidden, seed)),
            ("model.norm.weight", [Hidden], AdapterFixture.Values(Hidden, seed + 1)),
        };
        if (!tied) tensors.Add(("lm_head.weight", [rows, Hidden], Matrix(seed + 100, rows)));
        await AdapterFixture.WriteAsync(Path.Combine(dir, "model.safetensors"), tensors, Dtype.F32);
        var config = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["vocab_size"] = rows, ["hidden_size"] = Hidden,
            ["num_hidden_layers"] = 1, ["torch_dtype"] = "float32", ["tie_word_embeddings"] = tied,
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        var vocab = new JsonObject();
        for (int i = 0; i < words.Length; i++) vocab[words[i]] = i;
        var addedTokens = new JsonArray();
        for (int i = 0; i < added.Length; i++)
            addedTokens.Add(new JsonObject
            {
                ["id"] = words.Length + i, ["content"] = added[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = addedTokens, ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "WhitespaceSplit" }, ["post_processor"] = null, ["decoder"] = null,
            ["model"] = new JsonObject { ["type"] = "WordLevel", ["vocab"] = vocab, ["unk_token"] = "<unk>" },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\", \"tokenizer_class\": \"PreTrainedTokenizerFast\"}");
        File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}");
        return dir;
    }

    /// <summary>Row <paramref name="row"/> of a model's matrix with <paramref name="seed"/>: exact in float32.</summary>
    public static double[] Row(int seed, long row) => Enumerable.Range(0, Hidden).Select(j => (seed * 7 + row * 3 + j * 5) % 23 / 8.0 - 1.0 + seed / 64.0).ToArray();

    private static double[] Matrix(int seed, int rows) => Enumerable.Range(0, rows).SelectMany(r => Row(seed, r)).ToArray();

    public static double[] Read(string dir, string tensor, out long[] shape)
    {
        using var checkpoint = ModelCheckpoint.Open(dir);
        Assert.True(checkpoint.TryGetTensor(tensor, out var info, out var file), tensor);
        shape = info.Shape;
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        Assert.Equal(Dtype.F32, info.Dtype);
        return Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i)).ToArray();
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}
