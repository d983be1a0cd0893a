namespace DotnetMerge.Models;

/// <summary>The one rule that says which layer stack of a checkpoint a <c>modules:</c> name means, and which module a
/// tensor outside the modules' stacks belongs to. mergekit takes module names from its architecture files; dotnet-merge
/// reads the stacks from the tensor names (<see cref="LayerLayout.Stacks"/>), so a module is named after its stack:
/// <list type="number">
/// <item>the stack's prefix, with or without the final dot (<c>model.visual.blocks</c>);</item>
/// <item>its module prefix, the stack's prefix without its last segment (<c>model.visual</c>);</item>
/// <item>the last segment of the module prefix (<c>visual</c>, <c>language_model</c>, <c>encoder</c>, <c>decoder</c>);</item>
/// <item>mergekit's names for vision-language models: <c>text_decoder</c> (also <c>text_model</c>) is the main stack (the
/// most tensors), <c>vision_tower</c> (also <c>vision_model</c>) the stack with the most tensors among those with a
/// segment that starts with <c>vision</c> or <c>visual</c> (the blocks, not the merger's numbered layers).</item>
/// </list>
/// The first rule that names exactly one stack decides; a rule that names several makes the name ambiguous.</summary>
public static class ModuleStacks
{
    private static readonly string[] TextNames = { "text_decoder", "text_model" };
    private static readonly string[] VisionNames = { "vision_tower", "vision_model" };

    /// <summary>The stack a module name means in <paramref name="layout"/>, or null with the reason in <paramref name="problem"/>.</summary>
    public static LayerStack? Resolve(LayerLayout layout, string moduleName, out string? problem)
    {
        problem = null;
        var name = moduleName.Trim();
        var rules = new Func<LayerStack, bool>[]
        {
            s => s.Prefix == name || s.Prefix == name + ".",
            s => ModulePrefix(s) is { Length: > 0 } m && m == name + ".",
            s => LastSegment(s) == name,
            s => TextNames.Contains(name) && ReferenceEquals(s, layout.Stacks[0]) && !IsVision(s),
            s => VisionNames.Contains(name) && IsVision(s) && MostTensors(layout.Stacks.Where(IsVision), s),
        };
        foreach (var rule in rules)
        {
            var matches = layout.Stacks.Where(rule).ToList();
            if (matches.Count == 1) return matches[0];
            if (matches.Count > 1)
            {
                problem = $"module '{moduleName}' could mean any of the stacks {string.Join(", ", matches.Select(m => m.Prefix))}; name it by its prefix (for example '{matches[0].Prefix.TrimEnd('.')}')";
                return null;
            }
        }
        problem = layout.Stacks.Count == 0
            ? $"module '{moduleName}' names no layer stack: the model has no numbered layers"
            : $"module '{moduleName}' names none of the model's layer stacks ({string.Join("; ", layout.Stacks.Select(s => $"'{SuggestedName(layout, s)}': {s}"))})";
        return null;
    }

    /// <summary>The shortest name that resolves to <paramref name="stack"/> (what messages suggest).</summary>
    public static string SuggestedName(LayerLayout layout, LayerStack stack)
    {
        var candidates = new[] { LastSegment(stack), ModulePrefix(stack).TrimEnd('.'), stack.Prefix.TrimEnd('.') };
        foreach (var candidate in candidates)
            if (candidate.Length > 0 && ReferenceEquals(Resolve(layout, candidate, out _), stack)) return candidate;
        return stack.Prefix.TrimEnd('.');
    }

    /// <summary>The stack's prefix without its last segment: <c>model.visual.</c> for <c>model.visual.blocks.</c>, "" for <c>h.</c>.</summary>
    public static string ModulePrefix(LayerStack stack)
    {
        var trimmed = stack.Prefix.TrimEnd('.');
        int dot = trimmed.LastIndexOf('.');
        return dot < 0 ? string.Empty : trimmed[..(dot + 1)];
    }

    private static string LastSegment(LayerStack stack)
    {
        var module = ModulePrefix(stack).TrimEnd('.');
        return module[(module.LastIndexOf('.') + 1)..];
    }

    /// <summary>True when <paramref name="stack"/> has more tensors than every other of <paramref name="stacks"/>.</summary>
    private static bool MostTensors(IEnumerable<LayerStack> stacks, LayerStack stack)
        => stacks.All(other => ReferenceEquals(other, stack) || other.TensorCount < stack.TensorCount);

    private static bool IsVision(LayerStack stack)
        => stack.Prefix.Split('.').Any(segment => segment.StartsWith("vision", StringComparison.Ordinal) || segment.StartsWith("visual", StringComparison.Ordinal));

    /// <summary>Which of the modules' stacks a tensor outside them belongs to: the stack whose prefix shares the most
    /// leading dotted segments with the name (<c>model.visual.merger.ln_q.weight</c> with <c>model.visual.blocks.</c>).
    /// A tensor of a numbered stack no module names must lie under that stack's module prefix (the vision merger's
    /// <c>model.visual.merger.mlp.0</c> under <c>model.visual.</c>), else it belongs to none (null). A tensor of no stack
    /// that shares nothing with any of them, or as much with two, belongs to <paramref name="main"/> (the module of the
    /// main stack: <c>lm_head.weight</c>).</summary>
    public static LayerStack? Owner(string tensorName, IReadOnlyList<LayerStack> moduleStacks, LayerStack? main)
    {
        var segments = tensorName.Split('.');
        int Shared(LayerStack s)
        {
            var p = s.Prefix.TrimEnd('.').Split('.');
            int n = 0;
            while (n < p.Length && n < segments.Length - 1 && p[n] == segments[n]) n++;
            return n;
        }
        var best = moduleStacks.Select(s => (Stack: s, Shared: Shared(s))).OrderByDescending(x => x.Shared).ToList();
        bool inStack = LayerLayout.StackOf(tensorName) is not null;
        if (inStack)
        {
            var under = best.Where(x => ModulePrefix(x.Stack) is { Length: > 0 } m && tensorName.StartsWith(m, StringComparison.Ordinal)).ToList();
            return under.Count > 0 && (under.Count == 1 || under[0].Shared > under[1].Shared) ? under[0].Stack : null;
        }
        if (best.Count == 0 || best[0].Shared == 0 || (best.Count > 1 && best[1].Shared == best[0].Shared)) return main;
        return best[0].Stack;
    }
}
