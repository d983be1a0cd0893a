namespace DotnetMerge.Models;

/// <summary>How a checkpoint's tensor names split into numbered decoder layers and the rest, inferred from the names
/// themselves (<c>model.layers.12.mlp.up_proj.weight</c>: prefix <c>model.layers.</c>, layer 12, suffix
/// <c>mlp.up_proj.weight</c>). Works for any architecture whose layers are numbered this way, without a table of architectures.</summary>
public sealed class LayerLayout
{
    private readonly IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyList<string>>> _stackLayers;

    private LayerLayout(string? prefix, IReadOnlyList<IReadOnlyList<string>> layerSuffixes, IReadOnlyList<string> preWeights, IReadOnlyList<string> postWeights,
        IReadOnlyList<LayerStack> stacks, IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyList<string>>> stackLayers, IReadOnlyList<string> names)
    {
        Prefix = prefix; LayerSuffixes = layerSuffixes; PreWeights = preWeights; PostWeights = postWeights; Stacks = stacks;
        _stackLayers = stackLayers; TensorNames = names;
    }

    /// <summary>Every tensor name, in checkpoint order.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    /// <summary>The stack with this prefix (<c>model.visual.blocks.</c>), or null.</summary>
    public LayerStack? FindStack(string prefix) => Stacks.FirstOrDefault(s => s.Prefix == prefix);

    /// <summary>The suffixes of layer <paramref name="layer"/> of the stack <paramref name="stackPrefix"/>, in checkpoint
    /// order (empty for a missing index).</summary>
    public IReadOnlyList<string> StackLayerSuffixes(string stackPrefix, int layer)
        => _stackLayers.TryGetValue(stackPrefix, out var layers) && layer >= 0 && layer < layers.Count ? layers[layer] : Array.Empty<string>();

    /// <summary>The prefix of the stack a tensor is in, or null for a tensor of no stack.</summary>
    public static string? StackOf(string name) => TrySplit(name, out var prefix, out _, out _) ? prefix : null;

    /// <summary>Every numbered stack of the checkpoint, the main one (<see cref="Prefix"/>, the most tensors) first, then
    /// the others in checkpoint order: a vision-language model has <c>model.language_model.layers.</c> and
    /// <c>model.visual.blocks.</c>, an encoder-decoder <c>encoder.block.</c> and <c>decoder.block.</c>. Slices and
    /// layer counts are about the main stack; the other stacks' tensors are among <see cref="PreWeights"/> and
    /// <see cref="PostWeights"/>, and a gradient places each of them by <see cref="PositionInOtherStack"/>.</summary>
    public IReadOnlyList<LayerStack> Stacks { get; }

    /// <summary>Where a tensor of a stack other than the main one sits in its own stack, as a gradient's position t
    /// (layer i of L at i/(L-1), the rule of the main stack's layers); null for the main stack's tensors and for tensors
    /// of no stack.</summary>
    public double? PositionInOtherStack(string name)
    {
        if (Stacks.Count < 2 || !TrySplit(name, out var prefix, out var layer, out _) || prefix == Prefix) return null;
        foreach (var stack in Stacks)
            if (stack.Prefix == prefix) return Definitions.ParameterResolver.LayerPosition(layer, stack.LayerCount);
        return null;
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
        var stackLayers = new Dictionary<string, IReadOnlyList<IReadOnlyList<string>>>(StringComparer.Ordinal);
        return new LayerLayout(prefix, suffixes, pre, post, InferStacks(names, prefix, stackLayers), stackLayers, names);
    }

    private static List<LayerStack> InferStacks(List<string> names, string? main, Dictionary<string, IReadOnlyList<IReadOnlyList<string>>> stackLayers)
    {
        var order = new List<string>();
        var layers = new Dictionary<string, List<List<string>>>(StringComparer.Ordinal);
        var tensorCount = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in names)
        {
            if (!TrySplit(n, out var p, out var layer, out var suffix)) continue;
            if (!layers.TryGetValue(p, out var list)) { order.Add(p); layers[p] = list = new List<List<string>>(); }
            while (list.Count <= layer) list.Add(new List<string>());
            list[layer].Add(suffix);
            tensorCount[p] = tensorCount.TryGetValue(p, out var c) ? c + 1 : 1;
        }
        foreach (var (p, list) in layers) stackLayers[p] = list;
        return order.OrderBy(p => p == main ? 0 : 1).Select(p => new LayerStack(p, layers[p].Count, tensorCount[p])).ToList();
    }

    /// <summary>An embedding tensor by its name (token or position embeddings; not a GPT-NeoX <c>embed_out</c> head).</summary>
    internal static bool IsPreWeight(string name)
        => name.Contains("embed", StringComparison.Ordinal) && !name.Contains("embed_out", StringComparison.Ordinal)
           || name.Contains(".wte.", StringComparison.Ordinal) || name.Contains(".wpe.", StringComparison.Ordinal)
           || name.StartsWith("wte.", StringComparison.Ordinal) || name.StartsWith("wpe.", StringComparison.Ordinal);
}

/// <summary>One numbered stack of tensors: <c>model.visual.blocks.</c> with <see cref="LayerCount"/> = highest index + 1.</summary>
public sealed record LayerStack(string Prefix, int LayerCount, int TensorCount)
{
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Prefix}0-{LayerCount - 1} ({LayerCount} layers, {TensorCount} tensors)");
}
