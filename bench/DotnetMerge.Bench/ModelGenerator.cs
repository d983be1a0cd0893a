using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using DotnetMerge.Demo;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Bench;

/// <summary>Writes large llama-shaped bf16 checkpoints quickly: shapes from <see cref="LlamaSpec.OfSize"/>, the
/// metadata files (config.json, tokenizer, card) from <see cref="SyntheticModels"/>, and tensor values from a cheap
/// counter-based generator, encoded in parallel and written with the engine's <see cref="ShardedModelWriter"/>.
/// Fine-tune i = base + a sparse perturbation, so task vectors, TIES trims and slerp angles are all non-trivial.</summary>
internal static class ModelGenerator
{
    private const int Chunk = 1 << 20;
    private const ulong BaseSeed = 1;

    /// <summary>Directory names of the models of a set: "base", "ft1", "ft2", ...</summary>
    public static string[] Names(int models) => [SyntheticModels.BaseName, .. Enumerable.Range(1, models - 1).Select(i => "ft" + i.ToString(CultureInfo.InvariantCulture))];

    /// <summary>Makes sure <paramref name="directory"/> holds <paramref name="models"/> complete models of the spec (reused across runs).</summary>
    public static async Task EnsureAsync(string directory, LlamaSpec spec, int models, TextWriter log)
    {
        string stamp = $"{spec} models={models} generator=2";
        string marker = Path.Combine(directory, "complete.txt");
        if (File.Exists(marker) && File.ReadAllText(marker) == stamp)
        {
            log.WriteLine($"reusing models in {directory}");
            return;
        }
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        var names = Names(models);
        for (int m = 0; m < names.Length; m++)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            string dir = Path.Combine(directory, names[m]);
            await WriteModelAsync(dir, spec, m).ConfigureAwait(false);
            log.WriteLine(string.Format(CultureInfo.InvariantCulture, "generated {0} ({1:F2} GB) in {2:F1} s", dir, spec.TotalBytes / 1e9, started.Elapsed.TotalSeconds));
        }
        File.WriteAllText(marker, stamp);
    }

    /// <summary>Directory names of the LoRA adapters of a set: "lora1", "lora2", ... (one per fine-tune).</summary>
    public static string[] AdapterNames(int models) => Enumerable.Range(1, models - 1).Select(i => "lora" + i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Rank of the generated adapters (a common fine-tuning choice).</summary>
    public const int AdapterRank = 16;

    /// <summary>Makes sure <paramref name="directory"/> holds one PEFT LoRA adapter of the base per fine-tune: rank
    /// <see cref="AdapterRank"/>, alpha 32, on every attention and MLP projection, bf16 factors in PEFT's naming.</summary>
    public static async Task EnsureAdaptersAsync(string directory, LlamaSpec spec, int models, TextWriter log)
    {
        foreach (var (name, index) in AdapterNames(models).Select((n, i) => (n, i + 1)))
        {
            string dir = Path.Combine(directory, name);
            string stamp = $"{spec} rank={AdapterRank} adapter={index} generator=1";
            string marker = Path.Combine(dir, "complete.txt");
            if (File.Exists(marker) && File.ReadAllText(marker) == stamp) continue;
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            var modules = new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" };
            var config = new JsonObject
            {
                ["peft_type"] = "LORA", ["r"] = AdapterRank, ["lora_alpha"] = 2 * AdapterRank, ["lora_dropout"] = 0.0,
                ["bias"] = "none", ["task_type"] = "CAUSAL_LM", ["base_model_name_or_path"] = SyntheticModels.BaseName,
                ["target_modules"] = new JsonArray(modules.Select(m => (JsonNode)m).ToArray()),
            };
            File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString() + "\n");
            var tensors = new List<OutputTensor>();
            foreach (var (tensorName, shape) in spec.Tensors())
            {
                if (shape.Length != 2 || !modules.Any(m => tensorName.EndsWith("." + m + ".weight", StringComparison.Ordinal))) continue;
                string module = "base_model.model." + tensorName[..^".weight".Length];
                tensors.Add(new OutputTensor(module + ".lora_A.weight", Dtype.BF16, [AdapterRank, shape[1]]));
                tensors.Add(new OutputTensor(module + ".lora_B.weight", Dtype.BF16, [shape[0], AdapterRank]));
            }
            await using (var writer = new ShardedModelWriter(dir, tensors, 0))
            {
                foreach (var t in tensors)
                {
                    var bytes = new byte[t.ByteLength];
                    Fill(t, index, bytes);
                    await writer.WriteTensorAsync(t.Name, bytes).ConfigureAwait(false);
                }
                await writer.CompleteAsync().ConfigureAwait(false);
            }
            File.Move(Path.Combine(dir, "model.safetensors"), Path.Combine(dir, "adapter_model.safetensors"));
            File.WriteAllText(marker, stamp);
            log.WriteLine($"generated adapter {dir} ({tensors.Count / 2} modules, rank {AdapterRank})");
        }
    }

    /// <summary>Directory names of the re-tokenized fine-tunes of the "union" scenario: "vocab1", "vocab2", ...</summary>
    public static string[] VocabularyNames(int models) => Enumerable.Range(1, models - 1).Select(i => "vocab" + i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Added tokens per re-tokenized fine-tune.</summary>
    public const int AddedPerFineTune = 5;

    /// <summary>Makes sure <paramref name="directory"/> holds, per fine-tune ftN, a model "vocabN" with ftN's weights (its
    /// files linked, nothing copied) and a tokenizer.json whose ids are a permutation of the base's words (ft1 reversed,
    /// the others rotated), its last <see cref="AddedPerFineTune"/> ids renamed to chat markers of its own. A union with
    /// the base then gathers every embedding and LM-head row of every fine-tune, and takes default rows both ways.</summary>
    public static void EnsureVocabularies(string directory, LlamaSpec spec, int models, TextWriter log)
    {
        foreach (var (name, index) in VocabularyNames(models).Select((n, i) => (n, i + 1)))
        {
            string dir = Path.Combine(directory, name);
            string stamp = $"{spec} vocabulary={index} added={AddedPerFineTune} generator=1";
            string marker = Path.Combine(dir, "complete.txt");
            if (File.Exists(marker) && File.ReadAllText(marker) == stamp) continue;
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            string source = Path.Combine(directory, "ft" + index.ToString(CultureInfo.InvariantCulture));
            foreach (var file in Directory.GetFiles(source))
            {
                var fileName = Path.GetFileName(file);
                if (fileName is "tokenizer.json" or "complete.txt") continue;
                File.CreateSymbolicLink(Path.Combine(dir, fileName), file);
            }
            int v = spec.Vocab, words = v - AddedPerFineTune;
            string Word(int i) => i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => "w" + i.ToString(CultureInfo.InvariantCulture) };
            var vocab = new JsonObject();
            for (int id = 0; id < words; id++)
                vocab[Word(index == 1 ? words - 1 - id : (id + 1000 * index) % words)] = id;
            var added = new JsonArray();
            for (int k = 0; k < AddedPerFineTune; k++)
                added.Add(new JsonObject
                {
                    ["id"] = words + k, ["content"] = $"<|ft{index.ToString(CultureInfo.InvariantCulture)}_{k.ToString(CultureInfo.InvariantCulture)}|>",
                    ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                });
            var tokenizer = new JsonObject
            {
                ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
                ["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }, ["post_processor"] = null, ["decoder"] = null,
                ["model"] = new JsonObject { ["type"] = "WordLevel", ["unk_token"] = "<unk>", ["vocab"] = vocab },
            };
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
            File.WriteAllText(marker, stamp);
            log.WriteLine($"made {dir} (ft{index}'s weights, a permuted vocabulary with {AddedPerFineTune} added tokens)");
        }
    }

    private static async Task WriteModelAsync(string directory, LlamaSpec spec, int modelIndex)
    {
        // Metadata from the engine's demo writer (a one-layer, narrow stand-in), then patched to the real shape.
        var stub = spec with { Layers = 1, Hidden = 64, Intermediate = 64, Heads = 1, KvHeads = 1, MaxShardBytes = 0 };
        if (modelIndex == 0) await SyntheticModels.WriteBaseAsync(directory, stub, BaseSeed).ConfigureAwait(false);
        else await SyntheticModels.WriteFineTuneAsync(directory, stub, new FineTune("ft" + modelIndex.ToString(CultureInfo.InvariantCulture), "", 0, 0.05, 1, (ulong)modelIndex), BaseSeed).ConfigureAwait(false);
        foreach (var f in Directory.GetFiles(directory, "model*.safetensors*")) File.Delete(f);
        string configPath = Path.Combine(directory, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["hidden_size"] = spec.Hidden;
        config["intermediate_size"] = spec.Intermediate;
        config["num_attention_heads"] = spec.Heads;
        config["num_key_value_heads"] = spec.KvHeads;
        config["num_hidden_layers"] = spec.Layers;
        File.WriteAllText(configPath, config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");

        var tensors = spec.Tensors().Select(t => new OutputTensor(t.Name, spec.Dtype, t.Shape)).ToList();
        long largest = tensors.Max(t => t.ByteLength);
        var buffer = new byte[largest];
        await using var writer = new ShardedModelWriter(directory, tensors, spec.MaxShardBytes);
        foreach (var t in tensors)
        {
            var bytes = buffer.AsMemory(0, (int)t.ByteLength);
            Fill(t, modelIndex, bytes);
            await writer.WriteTensorAsync(t.Name, bytes).ConfigureAwait(false);
        }
        await writer.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Values of one tensor: base ~ triangular noise of the usual scale (norms near 1); model m &gt; 0 adds a
    /// perturbation of 5 % of that scale to a fraction 1/m of the elements (so fine-tunes differ in density).</summary>
    private static void Fill(OutputTensor tensor, int modelIndex, Memory<byte> destination)
    {
        long n = tensor.Shape.Aggregate(1L, (a, b) => a * b);
        bool norm = tensor.Shape.Length == 1;
        float scale = norm ? 0.05f : (float)(1.0 / Math.Sqrt(tensor.Shape[^1]));
        float center = norm ? 1f : 0f;
        ulong nameHash = Hash(tensor.Name);
        float density = modelIndex == 0 ? 0 : 1f / modelIndex;
        long chunks = (n + Chunk - 1) / Chunk;
        Parallel.For(0, chunks, c =>
        {
            long start = c * Chunk;
            int length = (int)Math.Min(Chunk, n - start);
            var values = new float[length];
            var baseRng = new Rng(BaseSeed ^ nameHash ^ ((ulong)c * 0x9E3779B97F4A7C15UL));
            for (int i = 0; i < length; i++) values[i] = center + scale * baseRng.Triangular();
            if (modelIndex > 0)
            {
                var rng = new Rng(((ulong)modelIndex << 40) ^ nameHash ^ ((ulong)c * 0xD1B54A32D192ED03UL));
                float delta = 0.05f * scale;
                for (int i = 0; i < length; i++)
                {
                    float keep = rng.Uniform(), noise = rng.Triangular();
                    if (keep < density) values[i] += delta * noise;
                }
            }
            DtypeConversion.Encode(tensor.Dtype, values, destination.Span, start);
        });
    }

    private static ulong Hash(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in s) { h ^= ch; h *= 1099511628211UL; }
        return h;
    }

    /// <summary>xorshift64* (fixture data only).</summary>
    [StructLayout(LayoutKind.Auto)]
    private struct Rng(ulong seed)
    {
        private ulong _state = seed | 1;

        private uint Next()
        {
            _state ^= _state >> 12; _state ^= _state << 25; _state ^= _state >> 27;
            return (uint)((_state * 0x2545F4914F6CDD1DUL) >> 32);
        }

        public float Uniform() => (Next() >> 8) * (1f / (1 << 24));

        /// <summary>Sum of two uniforms, centred: triangular on (−1, 1), variance 1/6 (scaled to ~unit variance).</summary>
        public float Triangular() => (Uniform() + Uniform() - 1f) * 2.449f;
    }
}
