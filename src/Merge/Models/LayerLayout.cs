namespace DotnetMerge.Models;

/// <summary>How a checkpoint's tensor names split into numbered decoder layers and the rest, inferred from the names
/// themselves (<c>model.layers.12.mlp.up_proj.weight</c>: prefix <c>model.layers.</c>, layer 12, suffix
/// <c>mlp.up_proj.weight</c>). Works for any architecture whose layers are numbered this way, without a table of architectures.</summary>
public sealed class LayerLayout
{
    private LayerLayout(string? prefix, IReadOnlyList<IReadOnlyList<string>> layerSuffixes, IReadOnlyList<string> preWeights, IReadOnlyList<string> postWeights)
    {
        Prefix = prefix; LayerSuffixes = layerSuffixes; PreWeights = preWeights; PostWeights = postWeights;
    }

    /// <summary>The common prefix of layer tensors, e.g. <c>model.layers.</c>; null when the model has no numbered layers.</summary>
    public string? Prefix { get; }

    /// <summary>For each layer index, the suffixes of its tensors in checkpoint order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> LayerSuffixes { get; }

    public int LayerCount => LayerSuffixes.Count;

    /// <summary>Non-layer tensors that come before the layers (embeddings).</summary>
    public IReadOnlyList<string> PreWeights { get; }

    /// <summary>Non-layer tensors that come after the layers (final norm, LM head, anything else).</summary>
    public IReadOnlyList<string> PostWeights { get; }

    public string LayerTensorName(int layer, string suffix) => Prefix + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + suffix;

    /// <summary>Splits a tensor name into (prefix, layer, suffix) at its first all-digit dotted segment.</summary>
    public static bool TrySplit(string name, out string prefix, out int layer, out string suffix)
    {
        prefix = suffix = ""; layer = -1;
        int segmentStart = 0;
        while (segmentStart < name.Length)
        {
            int dot = name.IndexOf('.', segmentStart);
            if (dot < 0) return false;
            int end = dot;
            bool digits = end > segmentStart;
            for (int i = segmentStart; i < end && digits; i++) digits = name[i] is >= '0' and <= '9';
            if (digits && segmentStart > 0 && end - segmentStart <= 6)
            {
                prefix = name[..segmentStart];
                layer = int.Parse(name.AsSpan(segmentStart, end - segmentStart), System.Globalization.CultureInfo.InvariantCulture);
                suffix = name[(end + 1)..];
                return true;
            }
            segmentStart = dot + 1;
        }
        return false;
    }

    /// <summary>Infers the layout from tensor names in checkpoint order.</summary>
    public static LayerLayout Infer(IEnumerable<string> tensorNames)
    {
        var names = tensorNames.ToList();
        // The layer prefix is the most common prefix in front of a numbered segment.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in names)
            if (TrySplit(n, out var p, out _, out _)) counts[p] = counts.TryGetValue(p, out var c) ? c + 1 : 1;
        string? prefix = counts.Count == 0 ? null
            : counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;

        var layers = new SortedDictionary<int, List<string>>();
        var pre = new List<string>();
        var post = new List<string>();
        foreach (var n in names)
        {
            if (prefix is not null && TrySplit(n, out var p, out var layer, out var suffix) && p == prefix)
            {
                if (!layers.TryGetValue(layer, out var list)) layers[layer] = list = new List<string>();
                list.Add(suffix);
            }
            else if (IsPreWeight(n)) pre.Add(n);
            else post.Add(n);
        }
        int count = layers.Count == 0 ? 0 : layers.Keys.Max() + 1;
        var suffixes = new IReadOnlyList<string>[count];
        for (int i = 0; i < count; i++) suffixes[i] = layers.TryGetValue(i, out var l) ? l : (IReadOnlyList<string>)Array.Empty<string>();
        return new LayerLayout(prefix, suffixes, pre, post);
    }

    /// <summary>An embedding tensor by its name (token or position embeddings; not a GPT-NeoX <c>embed_out</c> head).</summary>
    internal static bool IsPreWeight(string name)
        => name.Contains("embed", StringComparison.Ordinal) && !name.Contains("embed_out", StringComparison.Ordinal)
           || name.Contains(".wte.", StringComparison.Ordinal) || name.Contains(".wpe.", StringComparison.Ordinal)
           || name.StartsWith("wte.", StringComparison.Ordinal) || name.StartsWith("wpe.", StringComparison.Ordinal);
}
