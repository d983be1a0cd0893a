using DotnetMerge.Engine;
using DotnetMerge.Moe;
using static DotnetMerge.Tests.Moe.MoeFixture;

namespace DotnetMerge.Tests.Moe;

/// <summary><c>moe</c> end to end on generated llama models: the tensor names and config.json fields transformers reads
/// for Mixtral and Qwen2-MoE (written here from transformers' modeling code, not from the product's tables), experts
/// byte-equal to their sources, routers per gate mode against references computed here, and mergekit's known failures.</summary>
public sealed partial class MoeBuildTests : IDisposable
{
    private readonly MoeFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private const int Hidden = 8, Inter = 12, Kv = 4, Vocab = 16;

    private string Yaml(string gate, int experts, string extra = "", bool prompts = false)
    {
        var lines = new List<string> { $"base_model: {_fx.PathOf("base")}", $"gate_mode: {gate}", "experts:" };
        for (int e = 0; e < experts; e++)
        {
            lines.Add($"  - source_model: {_fx.PathOf("e" + e)}");
            if (prompts) lines.Add($"    positive_prompts: [\"w{3 + e}\"]");
        }
        return string.Join("\n", lines) + "\n" + extra;
    }

    /// <summary>The names and shapes every output keeps from this fixture's llama base (transformers' LlamaModel:
    /// embed_tokens, norm, lm_head; per layer input/post_attention_layernorm and self_attn.q/k/v/o_proj), plus what
    /// <paramref name="layer"/> adds for each layer prefix (its sparse block, biases, norms).</summary>
    private static Dictionary<string, long[]> Expected(int layers, bool head, Action<string, Dictionary<string, long[]>> layer)
    {
        var d = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = [Vocab, Hidden], ["model.norm.weight"] = [Hidden] };
        if (head) d["lm_head.weight"] = [Vocab, Hidden];
        for (int l = 0; l < layers; l++)
        {
            var p = $"model.layers.{l}.";
            d[p + "input_layernorm.weight"] = [Hidden];
            d[p + "post_attention_layernorm.weight"] = [Hidden];
            d[p + "self_attn.q_proj.weight"] = [Hidden, Hidden];
            d[p + "self_attn.k_proj.weight"] = [Kv, Hidden];
            d[p + "self_attn.v_proj.weight"] = [Kv, Hidden];
            d[p + "self_attn.o_proj.weight"] = [Hidden, Hidden];
            layer(p, d);
        }
        return d;
    }

    /// <summary>Expert <c>E</c>'s gate_proj, up_proj and down_proj under <paramref name="owner"/> (<c>model.layers.N.mlp.experts.E.</c>).</summary>
    private static void ExpertProjections(Dictionary<string, long[]> d, string owner)
    {
        d[owner + "gate_proj.weight"] = [Inter, Hidden];
        d[owner + "up_proj.weight"] = [Inter, Hidden];
        d[owner + "down_proj.weight"] = [Hidden, Inter];
    }

    /// <summary>MixtralForCausalLM's parameter names and shapes (modeling_mixtral: MixtralSparseMoeBlock.gate,
    /// experts[j].w1/w2/w3) for this fixture's sizes.</summary>
    private static Dictionary<string, long[]> MixtralExpected(int layers, int experts, bool head = true)
        => Expected(layers, head, (p, d) =>
        {
            d[p + "block_sparse_moe.gate.weight"] = [experts, Hidden];
            for (int e = 0; e < experts; e++)
            {
                d[p + $"block_sparse_moe.experts.{e}.w1.weight"] = [Inter, Hidden];
                d[p + $"block_sparse_moe.experts.{e}.w2.weight"] = [Hidden, Inter];
                d[p + $"block_sparse_moe.experts.{e}.w3.weight"] = [Inter, Hidden];
            }
        });

    private static void AssertTensors(Dictionary<string, long[]> expected, Dictionary<string, (string Dtype, long[] Shape, byte[] Bytes)> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in expected) Assert.True(shape.SequenceEqual(actual[name].Shape), $"{name}: [{string.Join(",", actual[name].Shape)}]");
    }

    [Fact]
    public async Task Mixtral_has_transformers_names_and_config_and_the_experts_MLPs_byte_for_byte()
    {
        await _fx.WriteModelsAsync(2);
        var (result, progress) = await _fx.BuildAsync(Yaml("random", 2, "experts_per_token: 1\n"));
        Assert.Equal(MoeArchitecture.Mixtral, result.Architecture);
        Assert.Empty(progress.Warnings);
        var output = ReadAll(_fx.PathOf("out"));
        AssertTensors(MixtralExpected(2, 2), output);
        var baseTensors = ReadAll(_fx.PathOf("base"));
        var experts = new[] { ReadAll(_fx.PathOf("e0")), ReadAll(_fx.PathOf("e1")) };
        Assert.NotEqual(experts[0]["model.layers.1.mlp.up_proj.weight"].Bytes, experts[1]["model.layers.1.mlp.up_proj.weight"].Bytes);
        for (int l = 0; l < 2; l++)
        {
            var p = $"model.layers.{l}.";
            for (int e = 0; e < 2; e++)
            {
                Assert.Equal(experts[e][p + "mlp.gate_proj.weight"].Bytes, output[p + $"block_sparse_moe.experts.{e}.w1.weight"].Bytes);
                Assert.Equal(experts[e][p + "mlp.down_proj.weight"].Bytes, output[p + $"block_sparse_moe.experts.{e}.w2.weight"].Bytes);
                Assert.Equal(experts[e][p + "mlp.up_proj.weight"].Bytes, output[p + $"block_sparse_moe.experts.{e}.w3.weight"].Bytes);
            }
        }
        foreach (var name in output.Keys.Where(n => !n.Contains("block_sparse_moe", StringComparison.Ordinal)))
            Assert.Equal(baseTensors[name].Bytes, output[name].Bytes);

        var config = Config(_fx.PathOf("out"));
        Assert.Equal("MixtralForCausalLM", (string)config["architectures"]![0]!);
        Assert.Equal("mixtral", (string)config["model_type"]!);
        Assert.Equal(2, (int)config["num_local_experts"]!);
        Assert.Equal(1, (int)config["num_experts_per_tok"]!);
        Assert.Equal(Hidden, (int)config["hidden_size"]!);
        Assert.Equal(Inter, (int)config["intermediate_size"]!);
        Assert.Equal(2, (int)config["num_hidden_layers"]!);
        Assert.Equal(2, (int)config["num_attention_heads"]!);
        Assert.Equal(1, (int)config["num_key_value_heads"]!);
        Assert.Equal(Vocab, (int)config["vocab_size"]!);
        Assert.False((bool)config["tie_word_embeddings"]!);
        Assert.Equal("bfloat16", (string)config["torch_dtype"]!);
        Assert.True(File.Exists(Path.Combine(_fx.PathOf("out"), "tokenizer.json")));
        Assert.Equal(File.ReadAllText(_fx.PathOf("moe.yml")), File.ReadAllText(Path.Combine(_fx.PathOf("out"), "mergekit_moe_config.yml")));
    }

    [Fact]
    public async Task Random_routers_are_seeded_normal_and_differ_per_layer_uniform_random_is_bounded_by_one_over_root_hidden()
    {
        var spec = Spec with { Hidden = 64, Heads = 4, KvHeads = 2, Intermediate = 16 };
        await _fx.WriteModelsAsync(4, spec);
        string yaml = Yaml("random", 4);
        await _fx.BuildAsync(yaml, "a", new MergeOptions { Seed = 7 });
        await _fx.BuildAsync(yaml, "b", new MergeOptions { Seed = 7 });
        await _fx.BuildAsync(yaml, "c", new MergeOptions { Seed = 8 });
        var a = ReadAll(_fx.PathOf("a"));
        const string g0 = "model.layers.0.block_sparse_moe.gate.weight", g1 = "model.layers.1.block_sparse_moe.gate.weight";
        Assert.Equal(a[g0].Bytes, ReadAll(_fx.PathOf("b"))[g0].Bytes);
        Assert.NotEqual(a[g0].Bytes, ReadAll(_fx.PathOf("c"))[g0].Bytes);
        Assert.NotEqual(a[g0].Bytes, a[g1].Bytes);
        var values = Bf16(a[g0].Bytes).Concat(Bf16(a[g1].Bytes)).ToArray(); // 2 × 4 × 64 = 512 draws
        double mean = values.Average(), sd = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Sum() / (values.Length - 1));
        Assert.InRange(mean, -0.15, 0.15); // 3.4 standard errors
        Assert.InRange(sd, 0.85, 1.15);

        await _fx.BuildAsync(Yaml("uniform_random", 4), "u");
        var u = Bf16(ReadAll(_fx.PathOf("u"))[g0].Bytes);
        double bound = 1 / Math.Sqrt(64);
        Assert.All(u, v => Assert.InRange(Math.Abs(v), 0, bound * (1 + 1.0 / 256)));
        Assert.True(u.Max() > 0.8 * bound && u.Min() < -0.8 * bound, "the draws span the interval");
    }

    [SkippableFact]
    public async Task Cheap_embed_rows_are_the_normalized_prompt_embedding_sums_of_a_float64_reference()
    {
        Skip.If(Tokenizers.HfTokenizer.Unavailable is not null, Tokenizers.HfTokenizer.Unavailable);
        await _fx.WriteModelsAsync(2);
        var yaml = $"""
            base_model: {_fx.PathOf("base")}
            gate_mode: cheap_embed
            experts:
              - source_model: {_fx.PathOf("e0")}
                positive_prompts: ["w3 w4", "w5"]
                negative_prompts: ["w6"]
              - source_model: {_fx.PathOf("e1")}
                positive_prompts: ["w7 w8 w9"]
            """;
        await _fx.BuildAsync(yaml);
        // The fixture's word-level vocabulary: "wN" is id N, "<s>" (BOS) is 1; each prompt is BOS + its words.
        var embed = Bf16(ReadAll(_fx.PathOf("base"))["model.embed_tokens.weight"].Bytes);
        double[] Vector(params int[][] prompts)
        {
            var v = new double[Hidden];
            foreach (var ids in prompts)
                foreach (int id in new[] { 1 }.Concat(ids))
                    for (int i = 0; i < Hidden; i++) v[i] += embed[id * Hidden + i];
            double n = Math.Sqrt(v.Sum(x => x * x));
            return v.Select(x => x / n).ToArray();
        }
        double[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => x / n).ToArray(); }
        var row0 = Unit(Vector([3, 4], [5]).Zip(Vector([6]), (p, q) => p - q).ToArray());
        var row1 = Unit(Vector([7, 8, 9]));
        var expected = row0.Concat(row1).ToArray();
        var output = ReadAll(_fx.PathOf("out"));
        for (int l = 0; l < 2; l++)
        {
            var got = Bf16(output[$"model.layers.{l}.block_sparse_moe.gate.weight"].Bytes);
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) / 256 + 1e-7, $"layer {l} element {i}: {got[i]} vs {expected[i]}");
        }
    }

    [SkippableFact]
    public async Task Near_identical_prompts_warn_DMRG0949_and_distinct_ones_do_not()
    {
        Skip.If(Tokenizers.HfTokenizer.Unavailable is not null, Tokenizers.HfTokenizer.Unavailable);
        await _fx.WriteModelsAsync(2);
        string Config(string second) => $"""
            base_model: {_fx.PathOf("base")}
            gate_mode: cheap_embed
            experts:
              - source_model: {_fx.PathOf("e0")}
                positive_prompts: ["w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14"]
              - source_model: {_fx.PathOf("e1")}
                positive_prompts: ["{second}"]
            """;
        var (_, similar) = await _fx.BuildAsync(Config("w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w15"), "similar");
        Assert.Contains(similar.Warnings, w => w.Contains("warning DMRG0949", StringComparison.Ordinal));
        var (_, distinct) = await _fx.BuildAsync(Config("w15"), "distinct");
        Assert.DoesNotContain(distinct.Warnings, w => w.Contains("DMRG0949", StringComparison.Ordinal));
    }

    [SkippableTheory]
    [InlineData("hidden", false)]
    [InlineData("hidden_avg", false)]
    [InlineData("hidden", true)]
    public async Task Hidden_rows_are_a_float64_reference_forward_pass_of_the_base(string mode, bool llama3Rope)
    {
        Skip.If(Tokenizers.HfTokenizer.Unavailable is not null, Tokenizers.HfTokenizer.Unavailable);
        await _fx.WriteModelsAsync(2);
        var configPath = Path.Combine(_fx.PathOf("base"), "config.json");
        var baseConfig = Config(_fx.PathOf("base"));
        if (llama3Rope)
        {
            baseConfig["rope_scaling"] = System.Text.Json.Nodes.JsonNode.Parse(
                "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8}");
            File.WriteAllText(configPath, baseConfig.ToJsonString());
        }
        var yaml = $"""
            base_model: {_fx.PathOf("base")}
            gate_mode: {mode}
            experts:
              - source_model: {_fx.PathOf("e0")}
                positive_prompts: ["w3 w4 w5", "w6"]
                negative_prompts: ["w7 w8"]
              - source_model: {_fx.PathOf("e1")}
                positive_prompts: ["w9 w10 w11 w12"]
            """;
        await _fx.BuildAsync(yaml);
        var reference = new ReferenceLlama(ReadAll(_fx.PathOf("base")), llama3Rope);
        bool last = mode == "hidden";
        double[][] Mean(params int[][] prompts)
        {
            var states = prompts.Select(p => reference.LayerInputs([1, .. p], last)).ToList();
            return Enumerable.Range(0, 2).Select(l => Enumerable.Range(0, Hidden).Select(i => states.Average(s => s[l][i])).ToArray()).ToArray();
        }
        double[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => x / n).ToArray(); }
        var pos0 = Mean([3, 4, 5], [6]);
        var neg0 = Mean([7, 8]);
        var pos1 = Mean([9, 10, 11, 12]);
        var output = ReadAll(_fx.PathOf("out"));
        for (int l = 0; l < 2; l++)
        {
            var expected = Unit(pos0[l].Zip(neg0[l], (p, q) => p - q).ToArray()).Concat(Unit(pos1[l])).ToArray();
            var got = Bf16(output[$"model.layers.{l}.block_sparse_moe.gate.weight"].Bytes);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) / 200 + 2e-4, $"layer {l} element {i}: {got[i]} vs {expected[i]}");
        }
        Assert.NotEqual(output["model.layers.0.block_sparse_moe.gate.weight"].Bytes, output["model.layers.1.block_sparse_moe.gate.weight"].Bytes);
    }

    /// <summary>transformers' LlamaModel forward in float64, written here from modeling_llama: RMSNorm, rotate_half RoPE
    /// (default or llama3 frequencies), grouped-query causal softmax attention, SwiGLU; the hidden state entering each layer.</summary>
    private sealed class ReferenceLlama(Dictionary<string, (string Dtype, long[] Shape, byte[] Bytes)> tensors, bool llama3)
    {
        private const int Heads = 2, KvHeads = 1, HeadDim = 4;
        private const double Eps = 1e-5;

        private double[] W(string name) => Bf16(tensors[name].Bytes);

        private double[] Frequencies()
        {
            var f = new double[HeadDim / 2];
            for (int i = 0; i < f.Length; i++)
            {
                f[i] = Math.Pow(10000, -2.0 * i / HeadDim);
                if (!llama3) continue;
                double wavelength = 2 * Math.PI / f[i];
                if (wavelength > 8 / 1.0) f[i] /= 8; // longer than original / low_freq_factor
                else if (wavelength >= 8 / 4.0) // between: interpolate
                {
                    double smooth = (8 / wavelength - 1) / (4 - 1);
                    f[i] = (1 - smooth) * f[i] / 8 + smooth * f[i];
                }
            }
            return f;
        }

        public double[][] LayerInputs(int[] ids, bool last)
        {
            int T = ids.Length;
            var embed = W("model.embed_tokens.weight");
            var x = new double[T][];
            for (int t = 0; t < T; t++) x[t] = embed.Skip(ids[t] * Hidden).Take(Hidden).ToArray();
            var result = new double[2][];
            var freq = Frequencies();
            for (int l = 0; l < 2; l++)
            {
                result[l] = Enumerable.Range(0, Hidden).Select(i => last ? x[T - 1][i] : x.Average(r => r[i])).ToArray();
                var p = $"model.layers.{l}.";
                var h = x.Select(r => Norm(r, W(p + "input_layernorm.weight"))).ToArray();
                var q = h.Select(r => Biased(Linear(r, W(p + "self_attn.q_proj.weight"), Heads * HeadDim), p + "self_attn.q_proj.bias")).ToArray();
                var k = h.Select(r => Biased(Linear(r, W(p + "self_attn.k_proj.weight"), KvHeads * HeadDim), p + "self_attn.k_proj.bias")).ToArray();
                var v = h.Select(r => Biased(Linear(r, W(p + "self_attn.v_proj.weight"), KvHeads * HeadDim), p + "self_attn.v_proj.bias")).ToArray();
                for (int t = 0; t < T; t++)
                {
                    // qwen3 (modeling_qwen3): q_norm/k_norm, RMSNorm over each head, before the rotation.
                    HeadNorm(q[t], Heads, p + "self_attn.q_norm.weight");
                    HeadNorm(k[t], KvHeads, p + "self_attn.k_norm.weight");
                    for (int hd = 0; hd < Heads; hd++) Rope(q[t], hd * HeadDim, t, freq);
                    for (int hd = 0; hd < KvHeads; hd++) Rope(k[t], hd * HeadDim, t, freq);
                }
                var attn = new double[T][];
                for (int t = 0; t < T; t++)
                {
                    attn[t] = new double[Heads * HeadDim];
                    for (int hd = 0; hd < Heads; hd++)
                    {
                        int kv = hd / (Heads / KvHeads);
                        var s = Enumerable.Range(0, t + 1).Select(u => Enumerable.Range(0, HeadDim).Sum(i => q[t][hd * HeadDim + i] * k[u][kv * HeadDim + i]) / Math.Sqrt(HeadDim)).ToArray();
                        double max = s.Max();
                        var e = s.Select(z => Math.Exp(z - max)).ToArray();
                        double sum = e.Sum();
                        for (int u = 0; u <= t; u++)
                            for (int i = 0; i < HeadDim; i++) attn[t][hd * HeadDim + i] += e[u] / sum * v[u][kv * HeadDim + i];
                    }
                }
                for (int t = 0; t < T; t++)
                {
                    var o = Linear(attn[t], W(p + "self_attn.o_proj.weight"), Hidden);
                    for (int i = 0; i < Hidden; i++) x[t][i] += o[i];
                    var h2 = Norm(x[t], W(p + "post_attention_layernorm.weight"));
                    var g = Linear(h2, W(p + "mlp.gate_proj.weight"), Inter);
                    var up = Linear(h2, W(p + "mlp.up_proj.weight"), Inter);
                    var act = g.Select((z, i) => z / (1 + Math.Exp(-z)) * up[i]).ToArray();
                    var d = Linear(act, W(p + "mlp.down_proj.weight"), Hidden);
                    for (int i = 0; i < Hidden; i++) x[t][i] += d[i];
                }
            }
            return result;
        }

        private void HeadNorm(double[] r, int heads, string weight)
        {
            if (!tensors.ContainsKey(weight)) return;
            for (int hd = 0; hd < heads; hd++)
                Norm(r.Skip(hd * HeadDim).Take(HeadDim).ToArray(), W(weight)).CopyTo(r, hd * HeadDim);
        }

        private double[] Biased(double[] y, string bias) => tensors.ContainsKey(bias) ? y.Zip(W(bias), (a, b) => a + b).ToArray() : y;

        private static double[] Norm(double[] r, double[] w)
        {
            double rms = Math.Sqrt(r.Average(z => z * z) + Eps);
            return r.Select((z, i) => z / rms * w[i]).ToArray();
        }

        private static double[] Linear(double[] r, double[] w, int outputs)
            => Enumerable.Range(0, outputs).Select(o => Enumerable.Range(0, r.Length).Sum(i => w[o * r.Length + i] * r[i])).ToArray();

        private static void Rope(double[] r, int offset, int position, double[] freq)
        {
            int half = HeadDim / 2;
            for (int i = 0; i < half; i++)
            {
                double a = r[offset + i], b = r[offset + i + half], angle = position * freq[i];
                r[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                r[offset + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
        }
    }

    /// <summary>Rewrites the fixture's base as a <paramref name="family"/> model: after each tensor, the 1-D tensors
    /// <paramref name="extra"/> names for it (values 0.25·sin, nonzero, in bf16); returns every tensor written.</summary>
    private async Task<List<(string Name, long[] Shape, byte[] Bytes)>> AddToBaseAsync(string family, string architecture,
        Func<string, long[], IEnumerable<(string Name, long Length)>> extra, Action<System.Text.Json.Nodes.JsonObject>? configure = null)
    {
        var written = new List<(string Name, long[] Shape, byte[] Bytes)>();
        foreach (var (name, t) in ReadAll(_fx.PathOf("base")))
        {
            written.Add((name, t.Shape, t.Bytes));
            foreach (var (extraName, length) in extra(name, t.Shape))
            {
                var values = Enumerable.Range(0, (int)length).Select(i => (float)(0.25 * Math.Sin(i + extraName.Length))).ToArray();
                var bytes = new byte[values.Length * 2];
                DotnetMerge.Numerics.DtypeConversion.Encode(DotnetMerge.Numerics.Dtype.BF16, values, bytes, 0);
                written.Add((extraName, [length], bytes));
            }
        }
        File.Delete(Path.Combine(_fx.PathOf("base"), "model.safetensors"));
        await using (var writer = new DotnetMerge.Safetensors.ShardedModelWriter(_fx.PathOf("base"),
            written.Select(t => new DotnetMerge.Safetensors.OutputTensor(t.Name, DotnetMerge.Numerics.Dtype.BF16, t.Shape)).ToList(), 0))
        {
            foreach (var t in written) await writer.WriteTensorAsync(t.Name, t.Bytes);
            await writer.CompleteAsync();
        }
        var baseConfig = Config(_fx.PathOf("base"));
        baseConfig["model_type"] = family;
        baseConfig["architectures"] = new System.Text.Json.Nodes.JsonArray(architecture);
        configure?.Invoke(baseConfig);
        File.WriteAllText(Path.Combine(_fx.PathOf("base"), "config.json"), baseConfig.ToJsonString());
        return written;
    }

    [SkippableFact]
    public async Task A_qwen2_base_with_attention_biases_makes_qwen2_moe_keeping_its_biases_and_its_hidden_rows_use_them()
    {
        Skip.If(Tokenizers.HfTokenizer.Unavailable is not null, Tokenizers.HfTokenizer.Unavailable);
        await _fx.WriteModelsAsync(3);
        // The base becomes a qwen2 model: q/k/v biases (nonzero) in the checkpoint and model_type qwen2.
        var withBiases = await AddToBaseAsync("qwen2", "Qwen2ForCausalLM", (name, shape) =>
            name.EndsWith("_proj.weight", StringComparison.Ordinal) && name.Contains("self_attn", StringComparison.Ordinal) && !name.Contains("o_proj", StringComparison.Ordinal)
                ? [(name[..^".weight".Length] + ".bias", shape[0])] : []);

        var mixtral = await Assert.ThrowsAsync<MergeException>(() => _fx.BuildAsync(Yaml("random", 2)));
        Assert.Equal("DMRG0950", mixtral.Id);
        Assert.Contains("qwen2", mixtral.Message, StringComparison.Ordinal);

        var yaml = $"""
            base_model: {_fx.PathOf("base")}
            gate_mode: hidden
            experts:
              - source_model: {_fx.PathOf("e0")}
                positive_prompts: ["w3 w4 w5"]
              - source_model: {_fx.PathOf("e1")}
                positive_prompts: ["w9 w10"]
            shared_experts:
              - source_model: {_fx.PathOf("e2")}
                positive_prompts: ["w12 w13 w14"]
            """;
        var (result, _) = await _fx.BuildAsync(yaml);
        Assert.Equal(MoeArchitecture.Qwen2Moe, result.Architecture);
        var output = ReadAll(_fx.PathOf("out"));
        Assert.Equal(withBiases.Single(t => t.Name == "model.layers.1.self_attn.k_proj.bias").Bytes, output["model.layers.1.self_attn.k_proj.bias"].Bytes);
        var reference = new ReferenceLlama(ReadAll(_fx.PathOf("base")), llama3: false);
        double[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => x / n).ToArray(); }
        for (int l = 0; l < 2; l++)
        {
            var expected = Unit(reference.LayerInputs([1, 3, 4, 5], last: true)[l]).Concat(Unit(reference.LayerInputs([1, 9, 10], last: true)[l])).ToArray();
            var shared = Unit(reference.LayerInputs([1, 12, 13, 14], last: true)[l]);
            var got = Bf16(output[$"model.layers.{l}.mlp.gate.weight"].Bytes);
            var gotShared = Bf16(output[$"model.layers.{l}.mlp.shared_expert_gate.weight"].Bytes);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) / 200 + 2e-4, $"layer {l} element {i}: {got[i]} vs {expected[i]}");
            for (int i = 0; i < gotShared.Length; i++)
                Assert.True(Math.Abs(gotShared[i] - shared[i]) <= Math.Abs(shared[i]) / 200 + 2e-4, $"shared gate, layer {l} element {i}: {gotShared[i]} vs {shared[i]}");
        }
    }

    [Fact]
    public async Task Qwen2_moe_has_the_shared_expert_its_gate_zero_qkv_biases_and_the_config_fields()
    {
        await _fx.WriteModelsAsync(3);
        var yaml = Yaml("random", 2) + $"shared_experts:\n  - source_model: {_fx.PathOf("e2")}\n";
        var (result, _) = await _fx.BuildAsync(yaml);
        Assert.Equal(MoeArchitecture.Qwen2Moe, result.Architecture);
        // Qwen2MoeForCausalLM (modeling_qwen2_moe): attention q/k/v with bias, Qwen2MoeSparseMoeBlock.gate, experts[j].*_proj,
        // shared_expert.*_proj and shared_expert_gate (Linear(hidden, 1)).
        var expected = Expected(2, head: true, (p, d) =>
        {
            d[p + "self_attn.q_proj.bias"] = [Hidden];
            d[p + "self_attn.k_proj.bias"] = [Kv];
            d[p + "self_attn.v_proj.bias"] = [Kv];
            d[p + "mlp.gate.weight"] = [2, Hidden];
            d[p + "mlp.shared_expert_gate.weight"] = [1, Hidden];
            foreach (var owner in new[] { "mlp.experts.0.", "mlp.experts.1.", "mlp.shared_expert." }) ExpertProjections(d, p + owner);
        });
        var output = ReadAll(_fx.PathOf("out"));
        AssertTensors(expected, output);
        var shared = ReadAll(_fx.PathOf("e2"));
        var e1 = ReadAll(_fx.PathOf("e1"));
        Assert.Equal(shared["model.layers.1.mlp.down_proj.weight"].Bytes, output["model.layers.1.mlp.shared_expert.down_proj.weight"].Bytes);
        Assert.Equal(e1["model.layers.0.mlp.gate_proj.weight"].Bytes, output["model.layers.0.mlp.experts.1.gate_proj.weight"].Bytes);
        Assert.All(Bf16(output["model.layers.0.self_attn.k_proj.bias"].Bytes), v => Assert.Equal(0.0, v));

        var config = Config(_fx.PathOf("out"));
        Assert.Equal("Qwen2MoeForCausalLM", (string)config["architectures"]![0]!);
        Assert.Equal("qwen2_moe", (string)config["model_type"]!);
        Assert.Equal(2, (int)config["num_experts"]!);
        Assert.Equal(2, (int)config["num_experts_per_tok"]!);
        Assert.Equal(Inter, (int)config["moe_intermediate_size"]!);
        Assert.Equal(Inter, (int)config["shared_expert_intermediate_size"]!);
        Assert.Equal(1, (int)config["decoder_sparse_step"]!);
        Assert.Empty(config["mlp_only_layers"]!.AsArray());
    }

    [Fact]
    public async Task Deepseek_moe_has_an_ungated_shared_experts_block_and_deepseek_config_fields()
    {
        await _fx.WriteModelsAsync(3);
        var (result, _) = await _fx.BuildAsync(Yaml("random", 2, $"architecture: deepseek\nshared_experts:\n  - source_model: {_fx.PathOf("e2")}\n"));
        Assert.Equal(MoeArchitecture.DeepseekMoe, result.Architecture);
        // DeepSeek-MoE's modeling_deepseek: DeepseekMoE.gate (MoEGate.weight [n_routed, hidden]), experts[j].*_proj,
        // shared_experts (a DeepseekMLP of moe_intermediate_size × n_shared_experts), no shared-expert gate; llama attention.
        var expected = Expected(2, head: true, (p, d) =>
        {
            d[p + "mlp.gate.weight"] = [2, Hidden];
            foreach (var owner in new[] { "mlp.experts.0.", "mlp.experts.1.", "mlp.shared_experts." }) ExpertProjections(d, p + owner);
        });
        var output = ReadAll(_fx.PathOf("out"));
        AssertTensors(expected, output);
        Assert.Equal(ReadAll(_fx.PathOf("e2"))["model.layers.0.mlp.up_proj.weight"].Bytes, output["model.layers.0.mlp.shared_experts.up_proj.weight"].Bytes);
        var config = Config(_fx.PathOf("out"));
        Assert.Equal("DeepseekForCausalLM", (string)config["architectures"]![0]!);
        Assert.Equal("deepseek", (string)config["model_type"]!);
        Assert.Equal(2, (int)config["n_routed_experts"]!);
        Assert.Equal(1, (int)config["n_shared_experts"]!);
        Assert.Equal(Inter, (int)config["moe_intermediate_size"]!);
        Assert.Equal(0, (int)config["first_k_dense_replace"]!);
        Assert.Equal(1, (int)config["moe_layer_freq"]!);
        Assert.Equal("softmax", (string)config["scoring_func"]!);
    }

    [Fact]
    public async Task Tied_embeddings_give_no_invented_lm_head_mergekit_266_615_and_350()
    {
        await _fx.WriteModelsAsync(2, Spec with { TiedEmbeddings = true });
        await _fx.BuildAsync(Yaml("random", 2));
        var output = ReadAll(_fx.PathOf("out"));
        AssertTensors(MixtralExpected(2, 2, head: false), output);
        Assert.True((bool)Config(_fx.PathOf("out"))["tie_word_embeddings"]!);
    }

    [Fact]
    public async Task A_base_without_lm_head_that_does_not_tie_is_DMRG0951_and_writes_nothing()
    {
        await _fx.WriteModelsAsync(2, Spec with { TiedEmbeddings = true });
        var configPath = Path.Combine(_fx.PathOf("base"), "config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", StringComparison.Ordinal));
        var e = await Assert.ThrowsAsync<MergeException>(() => _fx.BuildAsync(Yaml("random", 2)));
        Assert.Equal("DMRG0951", e.Id);
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains("lm_head.weight", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_fx.PathOf("out")));
    }

    [Fact]
    public async Task Three_experts_is_the_llama_cpp_power_of_two_warning_and_still_a_model()
    {
        await _fx.WriteModelsAsync(3);
        var (result, progress) = await _fx.BuildAsync(Yaml("random", 3));
        Assert.Equal(3, result.Experts);
        var warning = Assert.Single(progress.Warnings);
        Assert.Contains("warning DMRG0948", warning, StringComparison.Ordinal);
        Assert.Contains("moe.yml(3,1)", warning, StringComparison.Ordinal);
        Assert.Equal(3, (int)Config(_fx.PathOf("out"))["num_local_experts"]!);
    }

    [Fact]
    public async Task Residual_scale_scales_down_proj_and_noise_scale_perturbs_by_about_its_sigma()
    {
        await _fx.WriteModelsAsync(2);
        var yaml = $"""
            base_model: {_fx.PathOf("base")}
            gate_mode: random
            experts:
              - source_model: {_fx.PathOf("e0")}
                residual_scale: 0.5
              - source_model: {_fx.PathOf("e1")}
                noise_scale: 0.01
            """;
        await _fx.BuildAsync(yaml);
        var output = ReadAll(_fx.PathOf("out"));
        var e0 = ReadAll(_fx.PathOf("e0"));
        var e1 = ReadAll(_fx.PathOf("e1"));
        var down = Bf16(e0["model.layers.0.mlp.down_proj.weight"].Bytes);
        Assert.Equal(down.Select(v => v * 0.5), Bf16(output["model.layers.0.block_sparse_moe.experts.0.w2.weight"].Bytes)); // exact in bf16
        Assert.Equal(e0["model.layers.0.mlp.up_proj.weight"].Bytes, output["model.layers.0.block_sparse_moe.experts.0.w3.weight"].Bytes);
        var source = Bf16(e1["model.layers.0.mlp.up_proj.weight"].Bytes);
        var noisy = Bf16(output["model.layers.0.block_sparse_moe.experts.1.w3.weight"].Bytes);
        var diff = source.Zip(noisy, (a, b) => b - a).ToArray();
        double rms = Math.Sqrt(diff.Average(d => d * d));
        Assert.InRange(rms, 0.006, 0.016); // sigma 0.01 over 96 draws, plus bf16 rounding of weights ~0.3
    }

    [Fact]
    public async Task An_expert_whose_MLP_has_another_shape_is_DMRG0950_naming_the_tensor()
    {
        await SyntheticModels2.WriteAsync(_fx);
        var e = await Assert.ThrowsAsync<MergeException>(() => _fx.BuildAsync(Yaml("random", 2)));
        Assert.Equal("DMRG0950", e.Id);
        Assert.Contains("mlp.gate_proj.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("moe.yml(5,19)", e.Message, StringComparison.Ordinal);
    }

    private static class SyntheticModels2
    {
        public static async Task WriteAsync(MoeFixture fx)
        {
            await DotnetMerge.Demo.SyntheticModels.WriteBaseAsync(fx.PathOf("base"), Spec);
            await DotnetMerge.Demo.SyntheticModels.WriteBaseAsync(fx.PathOf("e0"), Spec, seed: 2);
            await DotnetMerge.Demo.SyntheticModels.WriteBaseAsync(fx.PathOf("e1"), Spec with { Intermediate = 16 }, seed: 3);
        }
    }
}
