namespace DotnetMerge.Definitions;

/// <summary>Semantic checks of a merge definition against the method catalog. Reports every problem found.</summary>
public static class DefinitionValidator
{
    public static IReadOnlyList<DefinitionDiagnostic> Validate(MergeDefinition definition, ValidationOptions? options = null)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        return new DefinitionChecker(definition, options ?? new ValidationOptions()).Run();
    }
}

internal sealed partial class DefinitionChecker
{
    internal static readonly string[] Dtypes = { "bfloat16", "float16", "float32", "float64" };
    internal static readonly string[] ChatTemplates = { "alpaca", "chatml", "llama3", "mistral", "exaone" };

    private static readonly Dictionary<string, string> DtypeAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["bf16"] = "bfloat16", ["fp16"] = "float16", ["f16"] = "float16", ["fp32"] = "float32", ["f32"] = "float32",
        ["fp64"] = "float64", ["f64"] = "float64",
    };

    private enum Presence { None, Maybe, Definite }

    private enum Level { Top, Slice, Model }

    private readonly MergeDefinition _d;
    private readonly ValidationOptions _options;
    private readonly List<DefinitionDiagnostic> _diagnostics = new();
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private MethodDescriptor? _method;

    public DefinitionChecker(MergeDefinition definition, ValidationOptions options)
    {
        _d = definition;
        _options = options;
    }

    public IReadOnlyList<DefinitionDiagnostic> Run()
    {
        CheckMethod();
        var slices = CheckInputs();
        CheckParameters(_d.Parameters, Level.Top);
        CheckBaseRole();
        if (_method is not null)
        {
            foreach (var slice in slices)
                CheckSliceAgainstMethod(slice, _method);
            CheckModelTrimScope(slices, _method);
        }

        CheckDtype(_d.Dtype, _d.DtypeLocation, "dtype");
        CheckDtype(_d.OutDtype, _d.OutDtypeLocation, "out_dtype");
        CheckTokenizerSource();
        CheckChatTemplate();
        CheckPaths();
        return _diagnostics;
    }

    private bool ModelsSyntax => _d.Models is { Count: > 0 };

    private void CheckMethod()
    {
        if (string.IsNullOrWhiteSpace(_d.MergeMethod))
        {
            Report(DiagnosticDescriptors.MissingKey, _d.Location, "for example 'merge_method: linear'", "the definition", "merge_method");
            return;
        }

        _method = MethodCatalog.Find(_d.MergeMethod);
        if (_method is null)
        {
            var hint = NameSuggester.Hint(MethodCatalog.Suggest(_d.MergeMethod))
                ?? "known methods: " + string.Join(", ", MethodCatalog.All.Select(m => m.Name));
            Report(DiagnosticDescriptors.UnknownMethod, _d.MergeMethodLocation, hint, _d.MergeMethod);
        }
    }

    private IReadOnlyList<OutputSlice> CheckInputs()
    {
        var hasSlices = _d.Slices is { Count: > 0 };
        var syntaxes = new[] { ModelsSyntax, hasSlices, _d.UsesModules }.Count(x => x);
        if (syntaxes > 1)
            Report(DiagnosticDescriptors.ModelsSlicesExclusive, _d.UsesModules ? _d.ModulesLocation : _d.SlicesLocation, null,
                "set exactly one of 'models', 'slices' and 'modules', not " + string.Join(" and ",
                    new[] { (ModelsSyntax, "'models'"), (hasSlices, "'slices'"), (_d.UsesModules, "'modules'") }.Where(x => x.Item1).Select(x => x.Item2)));
        else if (syntaxes == 0)
        {
            var where = _d.Models is not null ? _d.ModelsLocation : _d.Slices is not null ? _d.SlicesLocation : _d.Modules is not null ? _d.ModulesLocation : _d.Location;
            Report(DiagnosticDescriptors.ModelsSlicesExclusive, where, null, _d.Modules is not null
                ? "'modules' names no module: give each module its 'models' or 'slices'"
                : "the definition needs a non-empty 'models' list (whole models), 'slices' list (layer ranges) or 'modules' mapping (one of those per module)");
        }

        if (ModelsSyntax)
        {
            CheckModelEntries(_d.Models!, "'models'");
            return DefinitionNormalizer.ToSlices(_d, _ => 0);
        }

        if (_d.UsesModules && !hasSlices)
            return CheckModules();

        var slices = _d.Slices ?? Array.Empty<OutputSlice>();
        foreach (var slice in slices)
            CheckSliceShape(slice);
        return slices;
    }

    private void CheckModelEntries(IReadOnlyList<InputModel> models, string what)
    {
        var seen = new List<ModelReference>();
        foreach (var model in models)
        {
            if (seen.Contains(model.Model))
                Report(DiagnosticDescriptors.DuplicateModel, model.Location, null, model.Model, what);
            else
                seen.Add(model.Model);
            CheckParameters(model.Parameters, Level.Model);
        }
    }

    /// <summary>Each module takes exactly one of <c>models</c> and <c>slices</c>, checked as a definition of that syntax is;
    /// its parameters sit between the slices' and the top level's (method-wide ones allowed). Which stack a module name
    /// means needs the models' headers: the engine checks it (DMRG1070-1073).</summary>
    private IReadOnlyList<OutputSlice> CheckModules()
    {
        var slices = new List<OutputSlice>();
        foreach (var module in _d.Modules!)
        {
            CheckParameters(module.Parameters, Level.Slice);
            var hasModels = module.Models is { Count: > 0 };
            var hasSlices = module.Slices is { Count: > 0 };
            if (hasModels && hasSlices)
                Report(DiagnosticDescriptors.ModuleInputsExclusive, module.SlicesLocation, "keep one: 'models' merges the module's whole stack, 'slices' takes layer ranges of it",
                    module.Name, "sets both 'models' and 'slices'; a module takes exactly one of them");
            else if (!hasModels && !hasSlices)
                Report(DiagnosticDescriptors.ModuleInputsExclusive, module.Location, "for example '" + module.Name + ": {models: [{model: org/a}, {model: org/b}]}'",
                    module.Name, "has no inputs: give it a non-empty 'models' list (its whole stack) or 'slices' list (layer ranges)");

            if (hasModels)
            {
                CheckModelEntries(module.Models!, "module '" + module.Name + "'");
                slices.AddRange(DefinitionNormalizer.ToSlices(_d, module, _ => 0));
            }
            else if (hasSlices)
            {
                foreach (var slice in module.Slices!)
                    CheckSliceShape(slice);
                slices.AddRange(module.Slices!);
            }
        }

        return slices;
    }

    /// <summary>The module a slice belongs to (null outside <c>modules:</c>).</summary>
    private ModuleDefinition? ModuleOf(OutputSlice slice)
        => slice.Module is { } name ? _d.Modules?.FirstOrDefault(m => m.Name == name) : null;

    /// <summary>True when the slice stands for a <c>models:</c> list (the definition's or its module's).</summary>
    private bool FromModels(OutputSlice slice) => slice.Module is null ? ModelsSyntax : ModuleOf(slice) is { UsesModels: true };

    private void CheckSliceShape(OutputSlice slice)
    {
        CheckParameters(slice.Parameters, Level.Slice);
        if (slice.Sources.Count == 0)
        {
            Report(DiagnosticDescriptors.EmptySlice, slice.Location, null);
            return;
        }

        SliceSource? first = null;
        var seen = new List<ModelReference>();
        foreach (var source in slice.Sources)
        {
            if (seen.Contains(source.Model))
                Report(DiagnosticDescriptors.DuplicateModel, source.Location, null, source.Model, "this slice");
            else
                seen.Add(source.Model);
            CheckParameters(source.Parameters, Level.Model);
            if (source.LayerRangeMalformed)
                continue;
            var range = "[" + source.LayerStart + ", " + source.LayerEnd + "]";
            if (source.LayerStart < 0)
                Report(DiagnosticDescriptors.InvalidLayerRange, source.LayerRangeLocation, null, range + " starts below 0");
            else if (source.LayerStart >= source.LayerEnd)
                Report(DiagnosticDescriptors.InvalidLayerRange, source.LayerRangeLocation, "the range is half-open: [0, 4] means layers 0, 1, 2 and 3",
                    range + " is empty: the start must be less than the end");
            else if (first is null)
                first = source;
            else if (source.LayerCount != first.LayerCount)
                Report(DiagnosticDescriptors.SliceLengthMismatch, source.LayerRangeLocation, null,
                    first.Model, first.LayerCount, source.Model, source.LayerCount);
        }
    }

    private void CheckBaseRole()
    {
        if (_method is not { BaseRule: BaseModelRule.NotUsed })
            return;
        foreach (var b in new[] { _d.BaseModel }.Concat(AllSlicesAsWritten().Select(s => s.BaseModel)))
        {
            if (b is not null)
                Report(DiagnosticDescriptors.BaseModelNotUsed, b.Location, null, _method.Name, b);
        }
    }

    /// <summary>The slices as the file writes them: the definition's and every module's.</summary>
    private IEnumerable<OutputSlice> AllSlicesAsWritten()
        => (_d.Slices ?? Array.Empty<OutputSlice>()).Concat((_d.Modules ?? Array.Empty<ModuleDefinition>()).SelectMany(m => m.Slices ?? Array.Empty<OutputSlice>()));

    private void CheckSliceAgainstMethod(OutputSlice slice, MethodDescriptor method)
    {
        var baseModel = DefinitionNormalizer.EffectiveBaseModel(_d, slice);
        var module = ModuleOf(slice);
        var fromModels = FromModels(slice);
        var listed = module is null ? _d.Models : module.Models;
        var where = fromModels ? (module is null ? _d.ModelsLocation : module.ModelsLocation) : slice.Location;
        var what = fromModels ? (module is null ? "'models'" : "the 'models' of module '" + module.Name + "'") : "this slice";
        var distinct = slice.Sources.Select(s => s.Model).Distinct().ToList();
        var baseIsSource = baseModel is not null && distinct.Contains(baseModel);
        var baseListed = fromModels ? baseModel is not null && listed!.Any(m => m.Model == baseModel) : baseIsSource;
        var inputs = method.BaseIsInput ? distinct : distinct.Where(m => m != baseModel).ToList();

        var baseLocation = baseModel?.Location is { IsEmpty: false } l ? l : where;
        var checkCount = slice.Sources.Count > 0;
        switch (method.BaseRule)
        {
            case BaseModelRule.Required or BaseModelRule.RequiredAmongInputs when baseModel is null:
                Report(DiagnosticDescriptors.BaseModelRequired, !fromModels && AllSlicesAsWritten().Any(s => s.BaseModel is not null) ? slice.Location : _d.MergeMethodLocation,
                    "add 'base_model: <model>'", method.Name);
                break;
            case BaseModelRule.RequiredAmongInputs when !baseIsSource && checkCount:
                Report(DiagnosticDescriptors.BaseModelMustBeInput, where, "add it to this slice's sources", baseModel, method.Name);
                break;
            case BaseModelRule.OptionalDistinct when baseListed && inputs.Count < method.MinModels:
                Report(DiagnosticDescriptors.BaseModelMustBeDistinct, baseLocation, null, baseModel, method.Name);
                checkCount = false;
                break;
        }

        if (baseModel is not null && !fromModels && !baseIsSource && checkCount
            && method.BaseRule is BaseModelRule.Required or BaseModelRule.Optional or BaseModelRule.OptionalDistinct)
            Report(DiagnosticDescriptors.BaseNotInSlice, slice.Location, null, method.Name, baseModel);

        if (method.Name == "passthrough" && !fromModels && slice.Sources.Count > 1)
        {
            Report(DiagnosticDescriptors.PassthroughSeveralSources, slice.Location, "put each source in its own slice", slice.Sources.Count);
            checkCount = false;
        }

        if (checkCount && inputs.Count < method.MinModels)
            Report(DiagnosticDescriptors.TooFewModels, where, null, method.Name, method.MinModels, what, inputs.Count);
        else if (checkCount && method.MaxModels is { } max && inputs.Count > max)
            Report(DiagnosticDescriptors.TooManyModels, inputs[max].Location is { IsEmpty: false } extra ? extra : where, null,
                method.Name, max, what, inputs.Count); // at the first model too many

        CheckRequiredParameters(slice, method, baseModel);
        if (method.FindParameter("epsilon") is { Scope: ParameterScope.PerModel } epsilon && method.FindParameter("density") is { } density)
            CheckDellaWindow(slice, baseModel, density, epsilon);
    }

    /// <summary>DELLA keeps elements with probabilities in [density − epsilon, density + epsilon], which must lie inside (0, 1)
    /// whenever 0 &lt; density &lt; 1. Checked where both values are plain numbers.</summary>
    private void CheckDellaWindow(OutputSlice slice, ModelReference? baseModel, ParameterDescriptor density, ParameterDescriptor epsilon)
    {
        foreach (var source in slice.Sources.Where(s => s.Model != baseModel))
        {
            var (d, dLocation) = ConstantFor(source, slice, density);
            var (e, _) = ConstantFor(source, slice, epsilon);
            if (d is not { } dv || e is not { } ev || dv <= 0 || dv >= 1)
                continue;
            if (dv - ev <= 0 || dv + ev >= 1)
                Report(DiagnosticDescriptors.ParameterOutOfRange, dLocation.IsEmpty ? source.Location : dLocation, "lower epsilon or move density away from 0 and 1",
                    density.Name, ValueText.Format(dv), "with epsilon " + ValueText.Format(ev) + ", " + _method!.Name
                    + " needs density − epsilon > 0 and density + epsilon < 1 (model '" + source.Model + "')");
        }
    }

    /// <summary>The value a per-model parameter takes for a source when the deciding level holds a plain number.</summary>
    private (double? Value, SourceLocation Location) ConstantFor(SliceSource source, OutputSlice slice, ParameterDescriptor p)
    {
        foreach (var map in new[] { source.Parameters, slice.Parameters, slice.ModuleParameters, _d.Parameters })
        {
            if (!map.TryGetValue(p.Name, out var setting))
                continue;
            return setting is ScalarSetting { Value: double v } ? (v, setting.Location) : (null, default);
        }

        return (p.Default as double?, default);
    }

    private void CheckRequiredParameters(OutputSlice slice, MethodDescriptor method, ModelReference? baseModel)
    {
        foreach (var p in method.Parameters.Where(p => p.Required && p.Default is null))
        {
            if (p.Scope == ParameterScope.Global)
            {
                var presence = Combine(PresenceIn(slice.Parameters, p.Name), Combine(PresenceIn(slice.ModuleParameters, p.Name), PresenceIn(_d.Parameters, p.Name)));
                var fromModels = FromModels(slice);
                var where = fromModels && slice.Module is null ? _d.MergeMethodLocation : fromModels ? ModuleOf(slice)!.Location : slice.Location;
                var levels = slice.Module is { } moduleName
                    ? "the 'parameters' of " + (fromModels ? "" : "this slice, ") + "module '" + moduleName + "' or the top level"
                    : fromModels ? "the top-level 'parameters'" : "this slice's or the top-level 'parameters'";
                if (presence == Presence.None)
                    Report(DiagnosticDescriptors.MissingGlobalParameter, where, "for example 'parameters: {" + p.Name + ": 0.5}'", method.Name, p.Name, levels);
                else if (presence == Presence.Maybe)
                    Report(DiagnosticDescriptors.MaybeMissingGlobalParameter, where, "add a last entry without a filter", p.Name, levels);
                continue;
            }

            foreach (var source in slice.Sources)
            {
                if (!method.BaseIsInput && source.Model == baseModel)
                    continue;
                var presence = Combine(PresenceIn(source.Parameters, p.Name),
                    Combine(PresenceIn(slice.Parameters, p.Name), Combine(PresenceIn(slice.ModuleParameters, p.Name), PresenceIn(_d.Parameters, p.Name))));
                if (presence == Presence.None)
                    Report(DiagnosticDescriptors.MissingModelParameter, source.Location, "set it under this model's 'parameters:'", method.Name, p.Name, source.Model);
                else if (presence == Presence.Maybe)
                    Report(DiagnosticDescriptors.MaybeMissingModelParameter, source.Location, "add a last entry without a filter", p.Name, source.Model);
            }
        }
    }

    private static Presence Combine(Presence a, Presence b) => a == Presence.Definite || b == Presence.Definite ? Presence.Definite
        : a == Presence.Maybe || b == Presence.Maybe ? Presence.Maybe : Presence.None;

    private static Presence PresenceIn(ParameterMap map, string name)
    {
        if (!map.TryGetValue(name, out var setting))
            return Presence.None;
        return setting switch
        {
            ScalarSetting { Value: null } => Presence.None,
            ConditionalSetting c => c.HasCatchAll ? Presence.Definite : Presence.Maybe,
            _ => Presence.Definite,
        };
    }

    private void CheckParameters(ParameterMap map, Level level)
    {
        foreach (var pair in map)
        {
            CheckFinite(pair.Key, pair.Value);
            CheckSearch(pair.Key, pair.Value);
        }

        if (_method is null)
            return;
        foreach (var pair in map)
        {
            var keyLocation = map.GetKeyLocation(pair.Key);
            var p = _method.FindParameter(pair.Key);
            if (p is null)
            {
                var nearMisses = NameSuggester.Suggest(pair.Key, _method.Parameters.Select(q => q.Name));
                Report(UnknownNames.ParameterDescriptor(nearMisses), keyLocation, NameSuggester.Hint(nearMisses) ?? UnknownParameterHint(pair.Key), pair.Key, _method.Name);
                continue;
            }

            if (level == Level.Model && p.Scope == ParameterScope.Global)
                Report(DiagnosticDescriptors.GlobalParameterPerModel, keyLocation, null, p.Name);
            if (p.Ignored)
                Report(DiagnosticDescriptors.ParameterIgnored, keyLocation, null, p.Name);
            CheckValue(p, pair.Value);
        }
    }

    private string? UnknownParameterHint(string name)
    {
        var owners = MethodCatalog.MethodsWithParameter(name);
        var method = _method!;
        if (owners.Count > 0)
            return "'" + name + "' is a parameter of " + string.Join(", ", owners.Take(4)) + (owners.Count > 4 ? ", ..." : string.Empty);
        return method.Parameters.Count == 0
            ? method.Name + " takes no parameters"
            : "parameters of " + method.Name + ": " + string.Join(", ", method.Parameters.Select(p => p.Name));
    }

    private void CheckValue(ParameterDescriptor p, ParameterSetting setting)
    {
        switch (setting)
        {
            case ScalarSetting s:
                CheckScalar(p, s.Value, s.Location);
                break;
            case GradientSetting g when p.Type != ParameterType.Number:
                Report(DiagnosticDescriptors.ParameterWrongType, g.Location,
                    p.Type == ParameterType.Integer ? "gradients are allowed for real-valued parameters only" : null,
                    p.Name, Expected(p), g.Describe());
                break;
            case GradientSetting g:
                for (var i = 0; i < g.Values.Count; i++)
                    CheckRange(p, g.Values[i], i < g.ElementLocations.Count ? g.ElementLocations[i] : g.Location);
                break;
            case StepSetting st:
                for (var i = 0; i < st.Values.Count; i++)
                    CheckScalar(p, st.Values[i], i < st.ElementLocations.Count ? st.ElementLocations[i] : st.Location);
                break;
            case ConditionalSetting c:
                foreach (var entry in c.Entries)
                    CheckValue(p, entry.Value);
                break;
            case SearchSetting { Kind: SearchKind.Range } r when p.Type != ParameterType.Number:
                Report(DiagnosticDescriptors.ParameterWrongType, r.Location, "search a set instead: {search: {values: [...]}}", p.Name, Expected(p), r.Describe());
                break;
            case SearchSetting { Kind: SearchKind.Range } r:
                CheckRange(p, r.Min, r.ElementLocation(0));
                CheckRange(p, r.Max, r.ElementLocation(1));
                break;
            case SearchSetting set:
                for (var i = 0; i < set.Choices.Count; i++)
                    CheckScalar(p, set.Choices[i], set.ElementLocation(i));
                break;
        }
    }

    /// <summary>A search form is a value only `tune` can give: everywhere else it is an error (never a guessed value). A
    /// range needs min &lt; max, whoever reads it.</summary>
    private void CheckSearch(string name, ParameterSetting setting)
    {
        switch (setting)
        {
            case SearchSetting search:
                if (search.Kind == SearchKind.Range && IsFinite(search.Min) && IsFinite(search.Max) && !(search.Min < search.Max))
                    Report(DiagnosticDescriptors.SearchRangeEmpty, search.Location,
                        search.Min == search.Max ? "write the value itself, or give a wider range" : "swap the bounds: {search: [" + ValueText.Format(search.Max) + ", " + ValueText.Format(search.Min) + "]}",
                        name, ValueText.Format(search.Min), ValueText.Format(search.Max));
                if (!_options.AllowSearch)
                    Report(DiagnosticDescriptors.SearchNeedsTune, search.Location,
                        "run `dotnet merge tune CONFIG --eval \"COMMAND {model}\" --budget N -o OUT` to search it, or write a value", name, search.Describe());
                break;
            case ConditionalSetting c:
                foreach (var entry in c.Entries)
                    CheckSearch(name, entry.Value);
                break;
        }
    }

    private void CheckScalar(ParameterDescriptor p, object? value, SourceLocation location)
    {
        if (value is null || value is double d0 && !IsFinite(d0))
            return;
        var ok = p.Type switch
        {
            ParameterType.Number => value is double,
            ParameterType.Integer => value is double d && !double.IsInfinity(d) && Math.Floor(d) == d,
            ParameterType.Boolean => value is bool || value is string s && (p.AllowedValues?.Contains(s) ?? false),
            _ => value is string,
        };
        if (!ok)
        {
            var hint = value is string text && text.IndexOf(',') >= 0 && YamlScalars.TryNumber(text.Replace(',', '.'), out _)
                ? "use '.' as the decimal separator" : null;
            Report(DiagnosticDescriptors.ParameterWrongType, location, hint, p.Name, Expected(p), ValueText.Kind(value) + " (" + ValueText.Format(value) + ")");
            return;
        }

        if (p.Type == ParameterType.String && p.AllowedValues is { } allowed && !allowed.Contains((string)value))
        {
            Report(DiagnosticDescriptors.ParameterOutOfRange, location, NameSuggester.Hint(NameSuggester.Suggest((string)value, allowed)),
                p.Name, ValueText.Format(value), "it must be one of " + string.Join(", ", allowed.Select(a => "'" + a + "'")));
            return;
        }

        if (value is double number)
            CheckRange(p, number, location);
    }

    private void CheckRange(ParameterDescriptor p, double value, SourceLocation location)
    {
        var text = ValueText.Format(value);
        if (!IsFinite(value))
            return; // reported by CheckFinite, for every parameter
        if (p.Min is { } min && (p.MinExclusive ? value <= min : value < min))
            Report(DiagnosticDescriptors.ParameterOutOfRange, location, null, p.Name, text,
                (p.MinExclusive ? "it must be greater than " : "it must be at least ") + ValueText.Format(min));
        else if (p.Max is { } max && (p.MaxExclusive ? value >= max : value > max))
            Report(DiagnosticDescriptors.ParameterOutOfRange, location, null, p.Name, text,
                (p.MaxExclusive ? "it must be less than " : "it must be at most ") + ValueText.Format(max));
        else if ((p.WarnMin is { } wmin && value < wmin) || (p.WarnMax is { } wmax && value > wmax))
            Report(DiagnosticDescriptors.ParameterUnusual, location, null, p.Name, text, p.RangeNote ?? "outside the usual range");
    }

    /// <summary>The one rule for numbers: every number in a definition is finite (1e400 overflows to infinity; .inf and
    /// .nan are YAML's spellings), whatever the parameter, known or not, and at every place a number can stand.</summary>
    private void CheckFinite(string name, ParameterSetting setting)
    {
        switch (setting)
        {
            case ScalarSetting { Value: double v } s when !IsFinite(v):
                ReportNonFinite(name, v, s.Location);
                break;
            case GradientSetting g:
                for (var i = 0; i < g.Values.Count; i++)
                {
                    if (!IsFinite(g.Values[i]))
                        ReportNonFinite(name, g.Values[i], i < g.ElementLocations.Count ? g.ElementLocations[i] : g.Location);
                }

                break;
            case StepSetting st:
                for (var i = 0; i < st.Values.Count; i++)
                {
                    if (st.Values[i] is double v && !IsFinite(v))
                        ReportNonFinite(name, v, i < st.ElementLocations.Count ? st.ElementLocations[i] : st.Location);
                }

                break;
            case ConditionalSetting c:
                foreach (var entry in c.Entries)
                    CheckFinite(name, entry.Value);
                break;
            case SearchSetting search:
                if (search.Kind == SearchKind.Range)
                {
                    if (!IsFinite(search.Min)) ReportNonFinite(name, search.Min, search.ElementLocation(0));
                    if (!IsFinite(search.Max)) ReportNonFinite(name, search.Max, search.ElementLocation(1));
                }
                else
                {
                    for (var i = 0; i < search.Choices.Count; i++)
                    {
                        if (search.Choices[i] is double v && !IsFinite(v))
                            ReportNonFinite(name, v, search.ElementLocation(i));
                    }
                }

                break;
        }
    }

    private void ReportNonFinite(string name, double value, SourceLocation location)
        => Report(DiagnosticDescriptors.NonFiniteNumber, location,
            double.IsNaN(value) ? "write a number ('.nan' is not one)"
                : "write a finite number: .inf is infinite, and a literal beyond ±1.8e308 (such as 1e400) overflows to infinity",
            name, ValueText.Format(value));

    private static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);

    private static string Expected(ParameterDescriptor p) => p.Type switch
    {
        ParameterType.Number => "a number (or a gradient: a list of numbers)",
        ParameterType.Integer => "a whole number",
        ParameterType.Boolean when p.AllowedValues is { Count: > 0 } a => "true, false, " + string.Join(" or ", a.Select(v => "'" + v + "'")),
        ParameterType.Boolean => "true or false",
        _ => p.AllowedValues is { Count: > 0 } s ? "one of " + string.Join(", ", s.Select(v => "'" + v + "'")) : "a string",
    };

    private void CheckDtype(string? dtype, SourceLocation location, string key)
    {
        if (dtype is null || Dtypes.Contains(dtype))
            return;
        var hint = DtypeAliases.TryGetValue(dtype, out var alias)
            ? NameSuggester.Hint(new[] { alias })
            : NameSuggester.Hint(NameSuggester.Suggest(dtype, Dtypes));
        Report(DiagnosticDescriptors.UnknownDtype, location, hint, dtype, key);
    }

    private void CheckTokenizerSource()
    {
        var settings = _d.EffectiveTokenizer;
        if (settings is null)
            return;
        var source = settings.Source;
        var models = _d.AllModels();
        foreach (var rule in settings.Tokens)
        {
            if (rule.Model is { } m && !models.Contains(m))
                Report(DiagnosticDescriptors.InvalidTokenRule, rule.SourceLocation,
                    NameSuggester.Hint(NameSuggester.Suggest(m.ToString(), models.Select(x => x.ToString()))),
                    "the embedding of token '" + rule.Token + "' comes from '" + m + "', which is not one of the input models");
            if (rule.Force && rule.Kind is null)
                Report(DiagnosticDescriptors.InvalidTokenRule, rule.Location, "add a 'source:' to the entry, or drop 'force'",
                    "token '" + rule.Token + "' has 'force: true' but no 'source' to force");
        }

        if (source == "union")
            return;

        if (source == "base")
        {
            if (_d.BaseModel is null && !AllSlicesAsWritten().Any(s => s.BaseModel is not null))
                Report(DiagnosticDescriptors.InvalidTokenizerSource, settings.SourceLocation, "set base_model, or name one of the models", "is 'base' but no base_model is set");
            return;
        }

        if (ModelReference.TryParse(source, out var reference, out _) && models.Contains(reference!))
            return;
        var names = new[] { "base", "union" }.Concat(models.Select(m => m.ToString())).ToList();
        Report(DiagnosticDescriptors.InvalidTokenizerSource, settings.SourceLocation, NameSuggester.Hint(NameSuggester.Suggest(source, names)),
            "'" + source + "' is neither 'union', 'base' nor one of the input models");
    }

    private void CheckChatTemplate()
    {
        var template = _d.ChatTemplate;
        if (template is null || template == "auto" || ChatTemplates.Contains(template))
            return;
        if (template.Length >= 20 && template.IndexOf('{') >= 0)
            return;
        Report(DiagnosticDescriptors.InvalidChatTemplate, _d.ChatTemplateLocation,
            NameSuggester.Hint(NameSuggester.Suggest(template, ChatTemplates.Concat(new[] { "auto" }))), template);
    }

    private void CheckPaths()
    {
        if (_options.PathExists is not { } exists)
            return;
        foreach (var model in _d.AllModels())
        {
            if (!LooksLocal(model.Path))
                continue;
            var resolved = _options.BaseDirectory is { Length: > 0 } dir && !Path.IsPathRooted(model.Path) && !model.Path.StartsWith("~", StringComparison.Ordinal)
                ? Path.Combine(dir, model.Path)
                : model.Path;
            if (!exists(resolved))
                Report(DiagnosticDescriptors.LocalPathMissing, model.Location, null, model.Path, resolved);
        }
    }

    /// <summary>True for paths that cannot be a Hugging Face model id (<see cref="HubRepoId.CanBeModel"/>).</summary>
    internal static bool LooksLocal(string path) => !HubRepoId.CanBeModel(path);

    private void Report(DiagnosticDescriptor descriptor, SourceLocation location, string? hint, params object?[] args)
    {
        var diagnostic = descriptor.Create(location, hint, args);
        if (_seen.Add(diagnostic.ToString()))
            _diagnostics.Add(diagnostic);
    }
}
