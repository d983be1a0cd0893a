using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Demo;

/// <summary>Shape of a generated llama-style checkpoint.</summary>
public sealed record LlamaSpec(int Layers = 4, int Hidden = 64, int Intermediate = 176, int Vocab = 512, int Heads = 4, int KvHeads = 2,
    Dtype Dtype = Dtype.BF16, long MaxShardBytes = 0, bool TiedEmbeddings = false)
{
    public int HeadDim => Hidden / Heads;

    /// <summary>Tensor names and shapes in checkpoint order (embeddings, layers, final norm, LM head).</summary>
    public IReadOnlyList<(string Name, long[] Shape)> Tensors()
    {
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", new long[] { Vocab, Hidden }) };
        int kv = KvHeads * HeadDim;
        for (int l = 0; l < Layers; l++)
        {
            string p = "model.layers." + l.ToString(CultureInfo.InvariantCulture) + ".";
            list.Add((p + "input_layernorm.weight", new long[] { Hidden }));
            list.Add((p + "self_attn.q_proj.weight", new long[] { Hidden, Hidden }));
            list.Add((p + "self_attn.k_proj.weight", new long[] { kv, Hidden }));
            list.Add((p + "self_attn.v_proj.weight", new long[] { kv, Hidden }));
            list.Add((p + "self_attn.o_proj.weight", new long[] { Hidden, Hidden }));
            list.Add((p + "post_attention_layernorm.weight", new long[] { Hidden }));
            list.Add((p + "mlp.gate_proj.weight", new long[] { Intermediate, Hidden }));
            list.Add((p + "mlp.up_proj.weight", new long[] { Intermediate, Hidden }));
            list.Add((p + "mlp.down_proj.weight", new long[] { Hidden, Intermediate }));
        }
        list.Add(("model.norm.weight", new long[] { Hidden }));
        if (!TiedEmbeddings) list.Add(("lm_head.weight", new long[] { Vocab, Hidden }));
        return list;
    }

    /// <summary>Bytes of all tensors.</summary>
    public long TotalBytes => Tensors().Sum(t => Dtype.ByteCount(t.Shape.Aggregate(1L, (a, b) => a * b)));

    /// <summary>A spec whose checkpoint is about <paramref name="bytes"/> large (for benchmarks).</summary>
    public static LlamaSpec OfSize(long bytes, Dtype dtype = Dtype.BF16)
    {
        // Scale hidden size with a fixed shape ratio until the model is big enough.
        for (int hidden = 256; ; hidden += 128)
        {
            var spec = OfHidden(hidden, dtype: dtype);
            if (spec.TotalBytes >= bytes) return spec;
        }
    }

    /// <summary>The benchmark shape at a given hidden size: intermediate 11/4 of it (a multiple of 16), heads of 64, one
    /// key/value head per 4 query heads (<paramref name="hidden"/> a multiple of 64).</summary>
    public static LlamaSpec OfHidden(int hidden, int layers = 16, int vocab = 32000, Dtype dtype = Dtype.BF16)
        => new(Layers: layers, Hidden: hidden, Intermediate: hidden * 11 / 4 / 16 * 16, Vocab: vocab, Heads: hidden / 64,
            KvHeads: Math.Max(1, hidden / 256), Dtype: dtype);
}

/// <summary>How a generated fine-tune differs from its base: which tensors move, and how much.</summary>
/// <param name="Name">Model directory name and its "specialty".</param>
/// <param name="Filter">Substring of tensor names this fine-tune changes (e.g. "mlp", "self_attn"); empty = all.</param>
/// <param name="FromLayer">First layer it changes (non-layer tensors are changed when FromLayer is 0).</param>
/// <param name="Scale">Standard deviation of the change relative to the weights' (0.02 = 2 %).</param>
/// <param name="Density">Fraction of elements that change.</param>
public sealed record FineTune(string Name, string Filter, int FromLayer, double Scale, double Density, ulong Seed)
{
    /// <summary>Planted structure: tensors where this fine-tune repeats another's change (the first echo that matches a
    /// tensor wins; its own change applies only to the tensors no echo matches).</summary>
    public IReadOnlyList<Echo> Echoes { get; init; } = [];
}

/// <summary>On the tensors matching <paramref name="Filter"/> from layer <paramref name="FromLayer"/> on (the rule of
/// <see cref="FineTune"/>), a fine-tune's change is <paramref name="Of"/>'s change (the same draws) times
/// <paramref name="Factor"/>, with the sign reversed on every element whose index within the tensor is a multiple of
/// <paramref name="ReverseEvery"/> (0: none). Reversing every 4th element plants a sign-conflict rate of 1/4 among the
/// elements both change; a factor of 10 plants a 10× magnitude asymmetry.</summary>
public sealed record Echo(FineTune Of, string Filter, int FromLayer, double Factor, int ReverseEvery = 0);

/// <summary>Writes small llama-shaped checkpoints with real tensor names, config.json, a tokenizer and a model card:
/// a base and fine-tunes that differ from it in structured ways. Used by <c>dotnet merge demo</c>, tests and benchmarks.</summary>
public static class SyntheticModels
{
    public const string BaseName = "base";

    /// <summary>Writes the base model into <paramref name="directory"/>.</summary>
    public static Task WriteBaseAsync(string directory, LlamaSpec spec, ulong seed = 1, CancellationToken ct = default)
        => WriteAsync(directory, spec, seed, null, declaredBase: null, ct);

    /// <summary>Writes a fine-tune of the base generated with <paramref name="baseSeed"/>.</summary>
    public static Task WriteFineTuneAsync(string directory, LlamaSpec spec, FineTune fineTune, ulong baseSeed = 1, string declaredBase = "dotnet-merge/demo-base", CancellationToken ct = default)
        => WriteAsync(directory, spec, baseSeed, fineTune, declaredBase, ct);

    private static async Task WriteAsync(string directory, LlamaSpec spec, ulong seed, FineTune? fineTune, string? declaredBase, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        var tensors = spec.Tensors().Select(t => new OutputTensor(t.Name, spec.Dtype, t.Shape)).ToList();
        await using (var writer = new ShardedModelWriter(directory, tensors, spec.MaxShardBytes))
        {
            foreach (var t in tensors)
            {
                var values = BaseValues(t.Name, t.Shape, seed);
                if (fineTune is not null && Delta(values, t.Name, fineTune) is { } delta)
                    for (int i = 0; i < values.Length; i++) values[i] += delta[i];
                var bytes = new byte[t.ByteLength];
                DtypeConversion.Encode(spec.Dtype, values, bytes, 0);
                await writer.WriteTensorAsync(t.Name, bytes, ct).ConfigureAwait(false);
            }
            await writer.CompleteAsync(ct).ConfigureAwait(false);
        }
        WriteConfig(directory, spec);
        WriteTokenizer(directory, spec.Vocab);
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n");
        var card = declaredBase is null
            ? "---\nlibrary_name: transformers\n---\n\n# Synthetic base model\n\nGenerated by dotnet-merge for demonstrations and tests.\n"
            : $"---\nbase_model: {declaredBase}\nlibrary_name: transformers\n---\n\n# Synthetic fine-tune '{fineTune!.Name}'\n\n{string.Join("\n", Describe(fineTune).Select(line => "- " + line))}\n";
        File.WriteAllText(Path.Combine(directory, "README.md"), card);
    }

    /// <summary>What a fine-tune changes, one line per rule (for model cards and the demo's summary).</summary>
    public static IEnumerable<string> Describe(FineTune fineTune)
    {
        static string Where(string filter, int fromLayer) => $"'{(filter.Length == 0 ? "all tensors" : filter)}' from layer {fromLayer.ToString(CultureInfo.InvariantCulture)}";
        foreach (var e in fineTune.Echoes)
        {
            var reversed = e.ReverseEvery > 0 ? $", sign reversed on every {Ordinal(e.ReverseEvery)} element" : "";
            yield return $"{Where(e.Filter, e.FromLayer)}: {e.Of.Name}'s change × {e.Factor.ToString("0.###", CultureInfo.InvariantCulture)}{reversed}";
        }
        var own = $"{Where(fineTune.Filter, fineTune.FromLayer)}: {fineTune.Density.ToString("P0", CultureInfo.InvariantCulture)} of the elements, by ~{fineTune.Scale.ToString("P0", CultureInfo.InvariantCulture)} of the tensor's scale";
        yield return fineTune.Echoes.Count > 0 ? "elsewhere, " + own : own;
    }

    private static string Ordinal(int n) => n.ToString(CultureInfo.InvariantCulture) + (n % 100 is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });

    private static bool Matches(string filter, int fromLayer, string name)
    {
        if (filter.Length > 0 && !name.Contains(filter, StringComparison.Ordinal)) return false;
        return Models.LayerLayout.TrySplit(name, out _, out var layer, out _) ? layer >= fromLayer : fromLayer == 0;
    }

    /// <summary>Deterministic base weights: norms near 1, matrices ~ N(0, 1/sqrt(fan_in)).</summary>
    public static float[] BaseValues(string name, long[] shape, ulong seed)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var values = new float[n];
        var rng = new SplitMix64(seed ^ Hash(name));
        if (shape.Length == 1)
        {
            for (long i = 0; i < n; i++) values[i] = 1f + 0.05f * (float)rng.NextGaussian();
            return values;
        }
        double std = 1.0 / Math.Sqrt(shape[^1]);
        for (long i = 0; i < n; i++) values[i] = (float)(std * rng.NextGaussian());
        return values;
    }

    /// <summary>The change the fine-tune adds to the base tensor <paramref name="baseValues"/> before it is encoded
    /// (float32 values, added in float32), or null where it leaves the tensor alone.</summary>
    public static float[]? Delta(float[] baseValues, string name, FineTune fineTune)
    {
        if (fineTune.Echoes.FirstOrDefault(e => Matches(e.Filter, e.FromLayer, name)) is { } echo)
        {
            if (Delta(baseValues, name, echo.Of) is not { } of) return null;
            for (int i = 0; i < of.Length; i++)
                of[i] = (float)(echo.Factor * of[i] * (echo.ReverseEvery > 0 && i % echo.ReverseEvery == 0 ? -1 : 1));
            return of;
        }
        if (!Matches(fineTune.Filter, fineTune.FromLayer, name)) return null;
        var rng = new SplitMix64(fineTune.Seed ^ Hash(name) ^ 0x9E3779B97F4A7C15UL);
        double rms = Math.Sqrt(baseValues.Sum(v => (double)v * v) / Math.Max(1, baseValues.Length));
        var delta = new float[baseValues.Length];
        for (int i = 0; i < delta.Length; i++)
        {
            if (rng.NextDouble() >= fineTune.Density) continue;
            delta[i] = (float)(fineTune.Scale * rms * rng.NextGaussian());
        }
        return delta;
    }

    private static void WriteConfig(string directory, LlamaSpec spec)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = spec.Hidden,
            ["intermediate_size"] = spec.Intermediate,
            ["num_attention_heads"] = spec.Heads,
            ["num_key_value_heads"] = spec.KvHeads,
            ["num_hidden_layers"] = spec.Layers,
            ["vocab_size"] = spec.Vocab,
            ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = spec.TiedEmbeddings,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["torch_dtype"] = spec.Dtype.TorchName(),
        };
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(Output.ModelFiles.JsonOptions) + "\n");
    }

    /// <summary>A tiny word-level tokenizer.json with <paramref name="vocab"/> entries (valid for the tokenizers library).</summary>
    private static void WriteTokenizer(string directory, int vocab)
    {
        var sb = new StringBuilder();
        sb.Append("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[],\"normalizer\":null,");
        sb.Append("\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,");
        sb.Append("\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{");
        for (int i = 0; i < vocab; i++)
        {
            if (i > 0) sb.Append(',');
            var token = i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", _ => "w" + i.ToString(CultureInfo.InvariantCulture) };
            sb.Append('"').Append(token).Append("\":").Append(i.ToString(CultureInfo.InvariantCulture));
        }
        sb.Append("}}}");
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), sb.ToString());
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"),
            "{\n  \"bos_token\": \"<s>\",\n  \"eos_token\": \"</s>\",\n  \"unk_token\": \"<unk>\",\n  \"model_max_length\": 2048,\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\"\n}\n");
        File.WriteAllText(Path.Combine(directory, "special_tokens_map.json"),
            "{\n  \"bos_token\": \"<s>\",\n  \"eos_token\": \"</s>\",\n  \"unk_token\": \"<unk>\"\n}\n");
    }

    private static ulong Hash(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(s)) { h ^= b; h *= 1099511628211UL; }
        return h;
    }

    /// <summary>Small fast generator for fixture data (not the merge's random stream).</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        public double NextGaussian()
        {
            double u1 = 1.0 - NextDouble(), u2 = NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
    }
}
