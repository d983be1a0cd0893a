using System.Text.Json.Nodes;
using DotnetMerge.Numerics;

namespace DotnetMerge.Moe;

/// <summary>What each output architecture is called, which dense families it takes, where its router and expert tensors
/// go, and the config.json fields transformers reads for it (MixtralConfig, Qwen2MoeConfig, Qwen3MoeConfig, DeepseekConfig).</summary>
public static class MoeArchitectures
{
    /// <summary>The three MLP projections of a llama-family layer, in the order their tensors are written.</summary>
    public static readonly IReadOnlyList<string> Projections = ["gate_proj", "up_proj", "down_proj"];

    /// <summary>The <c>model_type</c>s of dense models an architecture takes as base and experts.</summary>
    public static IReadOnlyList<string> InputFamilies(MoeArchitecture architecture) => architecture switch
    {
        MoeArchitecture.Mixtral or MoeArchitecture.DeepseekMoe => ["llama", "mistral"],
        MoeArchitecture.Qwen3Moe => ["qwen3"],
        _ => ["llama", "mistral", "qwen2"],
    };

    public static string ClassName(MoeArchitecture architecture) => architecture switch
    {
        MoeArchitecture.Mixtral => "MixtralForCausalLM",
        MoeArchitecture.DeepseekMoe => "DeepseekForCausalLM",
        MoeArchitecture.Qwen3Moe => "Qwen3MoeForCausalLM",
        _ => "Qwen2MoeForCausalLM",
    };

    public static string ModelType(MoeArchitecture architecture) => architecture switch
    {
        MoeArchitecture.Mixtral => "mixtral",
        MoeArchitecture.DeepseekMoe => "deepseek",
        MoeArchitecture.Qwen3Moe => "qwen3_moe",
        _ => "qwen2_moe",
    };

    /// <summary>A short name for messages ("Mixtral", "Qwen2-MoE").</summary>
    public static string DisplayName(MoeArchitecture architecture) => architecture switch
    {
        MoeArchitecture.Mixtral => "Mixtral",
        MoeArchitecture.DeepseekMoe => "DeepSeek-MoE",
        MoeArchitecture.Qwen3Moe => "Qwen3-MoE",
        _ => "Qwen2-MoE",
    };

    /// <summary>The router of a layer (<paramref name="layerPrefix"/> is <c>model.layers.N.</c>): [experts, hidden].</summary>
    public static string RouterTensor(MoeArchitecture architecture, string layerPrefix) => architecture switch
    {
        MoeArchitecture.Mixtral => layerPrefix + "block_sparse_moe.gate.weight",
        _ => layerPrefix + "mlp.gate.weight",
    };

    /// <summary>Expert <paramref name="expert"/>'s copy of a dense projection (<c>gate_proj</c>, <c>up_proj</c>, <c>down_proj</c>).
    /// Mixtral calls them w1 (gate), w3 (up) and w2 (down).</summary>
    public static string ExpertTensor(MoeArchitecture architecture, string layerPrefix, int expert, string projection)
    {
        var e = expert.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return architecture switch
        {
            MoeArchitecture.Mixtral => layerPrefix + "block_sparse_moe.experts." + e + "." + projection switch
            {
                "gate_proj" => "w1", "down_proj" => "w2", "up_proj" => "w3",
                _ => throw new ArgumentOutOfRangeException(nameof(projection), projection, "not an MLP projection"),
            } + ".weight",
            _ => layerPrefix + "mlp.experts." + e + "." + projection + ".weight",
        };
    }

    /// <summary>The shared expert's projection: Qwen2-MoE's <c>mlp.shared_expert</c>, DeepSeek-MoE's <c>mlp.shared_experts</c>.</summary>
    public static string SharedExpertTensor(MoeArchitecture architecture, string layerPrefix, string projection)
        => layerPrefix + (architecture == MoeArchitecture.DeepseekMoe ? "mlp.shared_experts." : "mlp.shared_expert.") + projection + ".weight";

    /// <summary>True when the shared expert has a gate of its own (Qwen2-MoE's sigmoid gate; DeepSeek-MoE's is always on).</summary>
    public static bool GatesSharedExpert(MoeArchitecture architecture) => architecture == MoeArchitecture.Qwen2Moe;

    /// <summary>The shared expert's sigmoid gate (Qwen2-MoE): [1, hidden].</summary>
    public static string SharedExpertGateTensor(string layerPrefix) => layerPrefix + "mlp.shared_expert_gate.weight";

    /// <summary>The attention biases Qwen2-MoE's attention always has (zeros when the dense base has none: the same function).</summary>
    public static IReadOnlyList<string> RequiredAttentionBiases(MoeArchitecture architecture)
        => architecture == MoeArchitecture.Qwen2Moe ? ["self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"] : [];

    /// <summary>The output config.json: the base's, with the architecture, the expert counts and sizes set.</summary>
    public static JsonObject Config(JsonObject baseConfig, MoeArchitecture architecture, int experts, int expertsPerToken, long intermediate,
        long? sharedIntermediate, bool tiedEmbeddings, Dtype dtype)
    {
        var config = (JsonObject)baseConfig.DeepClone();
        config["architectures"] = new JsonArray(ClassName(architecture));
        config["model_type"] = ModelType(architecture);
        config["num_experts_per_tok"] = expertsPerToken;
        config["tie_word_embeddings"] = tiedEmbeddings;
        config["torch_dtype"] = dtype.TorchName();
        if (architecture == MoeArchitecture.Mixtral)
        {
            config["num_local_experts"] = experts;
            config["intermediate_size"] = intermediate;
        }
        else if (architecture == MoeArchitecture.DeepseekMoe)
        {
            // DeepseekConfig (DeepSeek-MoE's configuration_deepseek): every layer sparse, softmax routing.
            config["n_routed_experts"] = experts;
            config["n_shared_experts"] = sharedIntermediate is null ? null : 1;
            config["moe_intermediate_size"] = intermediate;
            config["intermediate_size"] = intermediate;
            config["first_k_dense_replace"] = 0;
            config["moe_layer_freq"] = 1;
            config["scoring_func"] = "softmax";
            config["norm_topk_prob"] = false;
        }
        else if (architecture == MoeArchitecture.Qwen3Moe)
        {
            // Qwen3MoeConfig: every layer sparse (no mlp_only_layers, sparse step 1), no shared expert; the top-k routing
            // weights renormalized to sum to 1 as Mixtral's are (and as the released Qwen3 MoE models set it).
            config["num_experts"] = experts;
            config["moe_intermediate_size"] = intermediate;
            config["intermediate_size"] = intermediate;
            config["decoder_sparse_step"] = 1;
            config["mlp_only_layers"] = new JsonArray();
            config["norm_topk_prob"] = true;
        }
        else
        {
            config["num_experts"] = experts;
            config["moe_intermediate_size"] = intermediate;
            config["shared_expert_intermediate_size"] = sharedIntermediate ?? intermediate;
            config["intermediate_size"] = intermediate;
            config["decoder_sparse_step"] = 1;
            config["mlp_only_layers"] = new JsonArray();
            config["norm_topk_prob"] = false;
        }
        return config;
    }
}
