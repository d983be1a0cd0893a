using DotnetMerge.Models;

namespace DotnetMerge.Analysis;

/// <summary>The part of a transformer a tensor belongs to, for the per-group figures of <c>analyze</c>.</summary>
public enum TensorGroup
{
    Embeddings,
    Attention,
    Mlp,
    Norms,
    Head,
    Other,
}

/// <summary>Classifies tensors by name: numbered layers through <see cref="LayerLayout"/> (the engine's layer layout),
/// groups by the name parts every common architecture uses (llama, mistral, qwen, gpt2, gpt-neox, phi, falcon).</summary>
public static class TensorGroups
{
    public static string Name(TensorGroup group) => group switch
    {
        TensorGroup.Embeddings => "embeddings",
        TensorGroup.Attention => "attention",
        TensorGroup.Mlp => "mlp",
        TensorGroup.Norms => "norms",
        TensorGroup.Head => "head",
        _ => "other",
    };

    /// <summary>The group of a tensor. Order matters: a norm inside an attention block
    /// (<c>post_attention_layernorm</c>) is a norm, an <c>embed_out</c> head is a head.</summary>
    public static TensorGroup Of(string name)
    {
        if (Has(name, "lm_head") || Has(name, "embed_out") || name is "output.weight" or "head.weight") return TensorGroup.Head;
        if (LayerLayout.IsPreWeight(name)) return TensorGroup.Embeddings;
        if (Has(name, "norm") || Has(name, "ln_") || Has(name, ".ln") || Has(name, "layer_norm")) return TensorGroup.Norms;
        if (Has(name, "attn") || Has(name, "attention") || Has(name, "q_proj") || Has(name, "k_proj") || Has(name, "v_proj")
            || Has(name, "o_proj") || Has(name, "qkv")) return TensorGroup.Attention;
        if (Has(name, "mlp") || Has(name, "feed_forward") || Has(name, "ffn") || Has(name, "gate_proj") || Has(name, "up_proj")
            || Has(name, "down_proj") || Has(name, "fc1") || Has(name, "fc2") || Has(name, "experts")) return TensorGroup.Mlp;
        return TensorGroup.Other;
    }

    /// <summary>The decoder layer of a tensor, or -1 for a tensor outside the numbered layers.</summary>
    public static int LayerOf(string name, LayerLayout layout)
        => layout.Prefix is { } prefix && LayerLayout.TrySplit(name, out var p, out int layer, out _) && p == prefix ? layer : -1;

    private static bool Has(string name, string part) => name.Contains(part, StringComparison.Ordinal);
}
