using DotnetMerge.Checks;
using DotnetMerge.Definitions;
using DotnetMerge.Models;

namespace DotnetMerge.Planning;

/// <summary>Planning a <c>modules:</c> definition: each module is one layer stack of the checkpoint
/// (<see cref="ModuleStacks"/>), merged from its own models or slices with its own parameters, as mergekit plans each
/// module of a multi-module architecture.</summary>
public sealed partial class MergePlanner
{
    /// <summary>Resolves every module to a stack of the reference model (the base model, else the first model named),
    /// checks that every model of a module has that stack and that every stack is some module's, gives each tensor outside
    /// the modules' stacks to a module (<see cref="ModuleStacks.Owner"/>), then plans module by module: the tensors it owns
    /// that come before its layers (embeddings) from its first slice, its stack's layers slice by slice, the rest from its
    /// last slice. Returns the output's layer count when the main stack's module uses slices.</summary>
    private int? PlanModules(Action<TensorJob?> add)
    {
        var reference = _models[_def.BaseModel is { } b && _models.ContainsKey(b) ? b : ReferencedModels(_def)[0]];
        var layout = reference.Layout;
        var resolved = new List<(ModuleDefinition Module, LayerStack Stack)>();
        foreach (var module in _def.Modules!)
        {
            var stack = ModuleStacks.Resolve(layout, module.Name, out var problem);
            if (stack is null)
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ModuleStackUnknown,
                    $"{problem}, in model '{reference.Name}'", module.Location));
                continue;
            }
            if (resolved.FirstOrDefault(r => ReferenceEquals(r.Stack, stack)) is { Module: { } other })
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ModulesShareStack,
                    $"modules '{other.Name}' and '{module.Name}' both name the stack {stack}; give each stack one module", module.Location));
                continue;
            }
            resolved.Add((module, stack));
        }
        ThrowIfErrors();

        foreach (var (module, stack) in resolved)
            foreach (var model in ModelsOf(module))
            {
                var source = _models[model];
                if (source.Layout.FindStack(stack.Prefix) is null)
                    _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ModuleStackUnknown,
                        $"module '{module.Name}' is the stack '{stack.Prefix}' of '{reference.Name}', which model '{source.Name}' does not have " +
                        $"(its stacks: {(source.Layout.Stacks.Count == 0 ? "none" : string.Join(", ", source.Layout.Stacks))})", model.Location));
            }

        var stacks = resolved.Select(r => r.Stack).ToList();
        var main = stacks.FirstOrDefault(s => ReferenceEquals(s, layout.Stacks[0]))
                   ?? ModuleStacks.Owner(layout.Stacks[0].Prefix + "0.weight", stacks, null);
        foreach (var stack in layout.Stacks.Where(s => !stacks.Contains(s)))
        {
            var owner = ModuleStacks.Owner(stack.Prefix + "0.weight", stacks, main);
            if (owner is null)
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.StackWithoutModule,
                    $"the stack {stack} of model '{reference.Name}' is in no module: add a module '{ModuleStacks.SuggestedName(layout, stack)}' for it " +
                    "(mergekit needs every module of the architecture too)", _def.ModulesLocation));
            else
                _findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.StackTakenWithModule,
                    $"the stack {stack} has no module of its own: it lies under module '{resolved.First(r => ReferenceEquals(r.Stack, owner)).Module.Name}' " +
                    "and is taken whole with that module's tensors outside its layers (from the models of its first or last slice, at t = 0)", _def.ModulesLocation));
        }
        ThrowIfErrors();

        // Tensors outside the modules' stacks, by owner: embeddings before the layers, the rest after.
        var before = stacks.ToDictionary(s => s, _ => new List<string>());
        var after = stacks.ToDictionary(s => s, _ => new List<string>());
        foreach (var name in layout.TensorNames)
        {
            if (LayerLayout.StackOf(name) is { } prefix && stacks.Any(s => s.Prefix == prefix)) continue;
            if (ModuleStacks.Owner(name, stacks, main) is not { } owner) continue;
            (LayerLayout.IsPreWeight(name) ? before : after)[owner].Add(name);
        }

        var planned = new List<(ModuleDefinition Module, LayerStack Stack, IReadOnlyList<OutputSlice> Slices)>();
        foreach (var (module, stack) in resolved)
        {
            var slices = DefinitionNormalizer.ToSlices(_def, module, r => _models[r].Layout.FindStack(stack.Prefix)?.LayerCount ?? 0);
            CheckLayerRanges(slices, model => (model.Layout.FindStack(stack.Prefix)?.LayerCount ?? 0, $"layers in '{stack.Prefix}' (module '{module.Name}')"));
            planned.Add((module, stack, slices));
        }
        ThrowIfErrors();
        _plannedModules = resolved.Select(r => (r.Module.Name, r.Stack)).ToList();

        int? layerCount = null;
        foreach (var (module, stack, slices) in planned)
        {
            foreach (var name in before[stack]) add(PlanTensor(slices[0], name, _ => name, 0.0));
            int layers = PlanLayers(slices, add, (model, layer) => model.Layout.StackLayerSuffixes(stack.Prefix, layer),
                (_, layer, suffix) => stack.Prefix + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + suffix);
            foreach (var name in after[stack]) add(PlanTensor(slices[^1], name, _ => name, 0.0));
            if (module.UsesModels) continue;
            if (ReferenceEquals(stack, layout.Stacks[0])) layerCount = layers;
            else if (layers != stack.LayerCount)
                _findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.ModuleLayerCountChanged,
                    $"module '{module.Name}' writes {layers} layers of '{stack.Prefix}' where '{reference.Name}' has {stack.LayerCount}: " +
                    "config.json keeps the donor's count for this stack (only the main stack's count is written); edit it before loading the model",
                    module.Location));
        }
        return layerCount;
    }

    /// <summary>The models a module merges: its models (and the top-level base model, which a <c>models:</c> list gets), or
    /// its slices' sources.</summary>
    private IEnumerable<ModelReference> ModelsOf(ModuleDefinition module)
        => DefinitionNormalizer.ToSlices(_def, module, _ => 1).SelectMany(s => s.Sources.Select(x => x.Model)).Distinct();
}
