using DotnetMerge.Definitions;
using DotnetMerge.Numerics;

namespace DotnetMerge.Moe;

/// <summary>How the router (gate) rows of each layer are made (mergekit-moe's <c>gate_mode</c>).</summary>
public enum MoeGateMode
{
    /// <summary>The base's hidden state entering each layer at the prompts' last token (mergekit's default; also <c>hidden_last</c>).</summary>
    Hidden,
    /// <summary>The base's hidden state entering each layer, averaged over the prompts' tokens (<c>hidden_avg</c>).</summary>
    HiddenAverage,
    /// <summary>The base's input embeddings of the prompts' tokens, the same rows for every layer.</summary>
    CheapEmbed,
    /// <summary>Seeded N(0, 1) rows, different in every layer.</summary>
    Random,
    /// <summary>Seeded U(−1/√hidden, 1/√hidden) rows, different in every layer.</summary>
    UniformRandom,
}

/// <summary>The sparse architecture written (mergekit-moe's <c>architecture</c>).</summary>
public enum MoeArchitecture
{
    /// <summary>MixtralForCausalLM: <c>block_sparse_moe.gate</c> and <c>experts.E.w1/w2/w3</c>; no shared expert.</summary>
    Mixtral,
    /// <summary>Qwen2MoeForCausalLM: <c>mlp.gate</c>, <c>mlp.experts.E.*_proj</c>, one gated <c>mlp.shared_expert</c>.</summary>
    Qwen2Moe,
    /// <summary>Qwen3MoeForCausalLM (from qwen3 models): <c>mlp.gate</c>, <c>mlp.experts.E.*_proj</c>, the base's per-head
    /// <c>self_attn.q_norm</c>/<c>k_norm</c>; no shared expert.</summary>
    Qwen3Moe,
    /// <summary>DeepseekForCausalLM (DeepSeek-MoE, DeepSeek's own modeling code): <c>mlp.gate</c>, <c>mlp.experts.E.*_proj</c>,
    /// at most one ungated <c>mlp.shared_experts</c>.</summary>
    DeepseekMoe,
}

/// <summary>One expert (or shared expert) of a moe config: the dense model whose MLP it takes, and what steers its router row.</summary>
public sealed record MoeExpert(
    ModelReference Model,
    IReadOnlyList<string> PositivePrompts,
    IReadOnlyList<string> NegativePrompts,
    double? NoiseScale,
    double? ResidualScale,
    SourceLocation Location);

/// <summary>A <c>dotnet merge moe</c> config (mergekit-moe's YAML), read by <see cref="MoeConfigReader"/>.</summary>
public sealed record MoeConfig(
    string Path,
    string Text,
    ModelReference BaseModel,
    IReadOnlyList<MoeExpert> Experts,
    IReadOnlyList<MoeExpert> SharedExperts,
    MoeGateMode GateMode,
    SourceLocation GateModeLocation,
    Dtype? Dtype,
    int ExpertsPerToken,
    MoeArchitecture? Architecture,
    SourceLocation ArchitectureLocation)
{
    /// <summary>Where <c>experts:</c> is (what expert-count findings point at).</summary>
    public SourceLocation ExpertsLocation { get; init; }

    /// <summary>True when the gate mode reads the experts' prompts.</summary>
    public bool UsesPrompts => GateMode is MoeGateMode.CheapEmbed or MoeGateMode.Hidden or MoeGateMode.HiddenAverage;
}
