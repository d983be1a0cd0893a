using DotnetMerge.Engine;
using DotnetMerge.Moe;
using static DotnetMerge.Tests.Moe.MoeFixture;

namespace DotnetMerge.Tests.Moe;

/// <summary>Qwen3-MoE from qwen3 dense models: names, shapes and config fields as transformers' modeling_qwen3_moe and
/// configuration_qwen3_moe define them (written here), and hidden rows through qwen3's per-head q/k norms.</summary>
public sealed partial class MoeBuildTests
{
    private const int HeadDim = 4;

    /// <summary>The fixture's base made a qwen3 model (Qwen3ForCausalLM): per-layer self_attn.q_norm/k_norm [head_dim].</summary>
    private Task<List<(string Name, long[] Shape, byte[] Bytes)>> Qwen3BaseAsync()
        => AddToBaseAsync("qwen3", "Qwen3ForCausalLM", (name, _) => name.EndsWith(".self_attn.o_proj.weight", StringComparison.Ordinal)
            ? [(name.Replace("o_proj.weight", "q_norm.weight", StringComparison.Ordinal), HeadDim), (name.Replace("o_proj.weight", "k_norm.weight", StringComparison.Ordinal), HeadDim)]
            : [], c => c["head_dim"] = HeadDim);

    [Fact]
    public async Task Qwen3_moe_has_transformers_names_q_k_norms_and_config_fields_and_the_experts_byte_for_byte()
    {
        await _fx.WriteModelsAsync(3);
        var written = await Qwen3BaseAsync();
        // No architecture given: a qwen3 base makes Qwen3-MoE (Mixtral does not take qwen3).
        var (result, _) = await _fx.BuildAsync(Yaml("random", 3));
        Assert.Equal(MoeArchitecture.Qwen3Moe, result.Architecture);

        // Qwen3MoeForCausalLM (modeling_qwen3_moe): Qwen3MoeAttention q/k/v/o_proj (attention_bias false) with
        // q_norm/k_norm = Qwen3MoeRMSNorm(head_dim); Qwen3MoeSparseMoeBlock: gate = Linear(hidden, num_experts, bias=False),
        // experts[j] = Qwen3MoeMLP(moe_intermediate_size) with gate/up/down_proj; no shared expert.
        var expected = Expected(2, head: true, (p, d) =>
        {
            d[p + "self_attn.q_norm.weight"] = [HeadDim];
            d[p + "self_attn.k_norm.weight"] = [HeadDim];
            d[p + "mlp.gate.weight"] = [3, Hidden];
            for (int e = 0; e < 3; e++) ExpertProjections(d, p + $"mlp.experts.{e}.");
        });
        var output = ReadAll(_fx.PathOf("out"));
        AssertTensors(expected, output);
        for (int e = 0; e < 3; e++)
        {
            var source = ReadAll(_fx.PathOf("e" + e));
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
                for (int l = 0; l < 2; l++)
                    Assert.Equal(source[$"model.layers.{l}.mlp.{proj}.weight"].Bytes, output[$"model.layers.{l}.mlp.experts.{e}.{proj}.weight"].Bytes);
        }
        Assert.Equal(written.Single(t => t.Name == "model.layers.1.self_attn.k_norm.weight").Bytes, output["model.layers.1.self_attn.k_norm.weight"].Bytes);

        // Qwen3MoeConfig's fields: model_type qwen3_moe, num_experts (attribute_map: num_local_experts), num_experts_per_tok,
        // moe_intermediate_size; every layer sparse: decoder_sparse_step 1 and no mlp_only_layers; the base's head_dim kept.
        var config = Config(_fx.PathOf("out"));
        Assert.Equal("Qwen3MoeForCausalLM", (string)Assert.Single(config["architectures"]!.AsArray())!);
        Assert.Equal("qwen3_moe", (string)config["model_type"]!);
        Assert.Equal(3, (int)config["num_experts"]!);
        Assert.Equal(2, (int)config["num_experts_per_tok"]!);
        Assert.Equal(Inter, (int)config["moe_intermediate_size"]!);
        Assert.Equal(1, (int)config["decoder_sparse_step"]!);
        Assert.Empty(config["mlp_only_layers"]!.AsArray());
        Assert.True((bool)config["norm_topk_prob"]!);
        Assert.Equal(HeadDim, (int)config["head_dim"]!);
        Assert.Null(config["shared_expert_intermediate_size"]);
        Assert.Null(config["num_local_experts"]);
    }

    [Fact]
    public async Task A_qwen3_base_is_refused_for_mixtral_and_with_a_shared_expert()
    {
        await _fx.WriteModelsAsync(3);
        await Qwen3BaseAsync();
        var mixtral = await Assert.ThrowsAsync<MergeException>(() => _fx.BuildAsync(Yaml("random", 2, "architecture: mixtral\n")));
        Assert.Equal("DMRG0950", mixtral.Id);
        Assert.Contains("qwen3 model", mixtral.Message, StringComparison.Ordinal);
        var shared = await Assert.ThrowsAsync<MergeException>(() => _fx.BuildAsync(Yaml("random", 2, $"shared_experts:\n  - source_model: {_fx.PathOf("e2")}\n")));
        Assert.Equal("DMRG0950", shared.Id);
        Assert.Contains("Qwen3-MoE, which has no shared expert", shared.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_fx.PathOf("out")));
    }

    [SkippableFact]
    public async Task Qwen3_hidden_rows_are_a_float64_reference_forward_pass_with_the_per_head_q_and_k_norms()
    {
        Skip.If(Tokenizers.HfTokenizer.Unavailable is not null, Tokenizers.HfTokenizer.Unavailable);
        await _fx.WriteModelsAsync(2);
        await Qwen3BaseAsync();
        var yaml = Yaml("hidden", 2, prompts: true); // one prompt each: "w3", "w4"
        await _fx.BuildAsync(yaml);
        var withNorms = new ReferenceLlama(ReadAll(_fx.PathOf("base")), llama3: false);
        var withoutNorms = new ReferenceLlama(ReadAll(_fx.PathOf("base")).Where(t => !t.Key.Contains("_norm.", StringComparison.Ordinal))
            .ToDictionary(t => t.Key, t => t.Value), llama3: false);
        double[] Unit(double[] v) { double n = Math.Sqrt(v.Sum(x => x * x)); return v.Select(x => x / n).ToArray(); }
        var output = ReadAll(_fx.PathOf("out"));
        // Layer 0's input is the embedding; layer 1's passes through layer 0's attention, where the norms act.
        var expected = Unit(withNorms.LayerInputs([1, 3], last: true)[1]).Concat(Unit(withNorms.LayerInputs([1, 4], last: true)[1])).ToArray();
        var unnormed = Unit(withoutNorms.LayerInputs([1, 3], last: true)[1]);
        var got = Bf16(output["model.layers.1.mlp.gate.weight"].Bytes);
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(got[i] - expected[i]) <= Math.Abs(expected[i]) / 200 + 2e-4, $"element {i}: {got[i]} vs {expected[i]}");
        Assert.Contains(Enumerable.Range(0, Hidden), i => Math.Abs(unnormed[i] - expected[i]) > 0.01); // the norms matter here
    }
}
