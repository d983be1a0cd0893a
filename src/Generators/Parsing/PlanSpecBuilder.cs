using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DotnetMerge.Definitions;
using DotnetMerge.Generators.Model;

namespace DotnetMerge.Generators.Parsing;

/// <summary>Builds the <see cref="PlanSpec"/> of a valid definition: names, typed parameters and the values the
/// definition gives them.</summary>
internal static class PlanSpecBuilder
{
    private static readonly string[] ReservedMembers =
    {
        "Models", "All", "ModelParameters", "DefinitionYaml", "DefinitionFile", "Method", "DefinitionText", "DefinitionPath",
        "Overrides", "RunAsync", "BuildDefinition", "WithDefinitionPath", "Create", "GetGlobal", "GetPerModel", "SetGlobal",
        "SetPerModel", "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "Finalize", "ReferenceEquals", "Model",
        "Global", "PerModel", "EqualityContract", "PrintMembers", "Deconstruct",
    };

    /// <summary>Members of a multi-stage plan and of its stage records that a stage or model name must not take.</summary>
    private static readonly string[] ReservedStageMembers =
    {
        "DefinitionYaml", "DefinitionFile", "DefinitionText", "DefinitionPath", "Overrides", "RunAsync", "BuildStages",
        "WithDefinitionPath", "OverridesOf", "WithStage", "StageName", "StageKey", "Equals", "GetHashCode", "ToString", "GetType",
        "MemberwiseClone", "Finalize", "ReferenceEquals", "EqualityContract", "PrintMembers", "Deconstruct",
    };

    /// <summary>The spec of a multi-stage file: one stage record per document (named after the stage, <c>Final</c> for the
    /// unnamed document), each built as a single-stage plan over its document.</summary>
    public static PlanSpec BuildStages(PlanInput input, StageGraph graph)
    {
        var className = Names.ClassName(input.Path, input.PlanName);
        var taken = new HashSet<string>(ReservedStageMembers, StringComparer.Ordinal) { className };
        var stages = new List<StageSpec>();
        foreach (var stage in graph.Stages.OrderBy(s => s.Document))
        {
            var pascal = stage.Name is null ? "Final" : Names.Pascal(stage.Name);
            if (pascal.Length == 0 || !char.IsLetter(pascal[0]))
                pascal = "Stage" + pascal.TrimStart('_');
            var identifier = Names.Unique(pascal, taken);
            taken.Add("With" + identifier);
            var typeName = Names.Unique(identifier + "Stage", taken);
            var method = MethodCatalog.Find(stage.Definition.MergeMethod)!;
            var spec = Build(input, stage.Definition, method, typeName, graph);
            stages.Add(new StageSpec(stage.Name, identifier, stage.Document, stage.IsFinal,
                stage.Dependencies.Select(d => d.Name!).ToEquatableArray(), spec));
        }

        var ns = input.RootNamespace;
        var empty = EquatableArray<ParameterSpec>.Empty;
        return new PlanSpec(ns, className, (ns.Length == 0 ? string.Empty : ns + ".") + className + ".g.cs", input.Path, input.Text,
            string.Empty, string.Empty, string.Empty, string.Empty, EquatableArray<ModelSpec>.Empty, empty, empty,
            typeof(PlanSpecBuilder).Assembly.GetName().Version?.ToString() ?? "0.0.0.0")
        {
            Stages = stages.ToEquatableArray(),
            DefinitionFile = Names.RelativePath(input.ProjectDirectory, input.Path),
        };
    }

    /// <param name="className">The record's name; null: from the file name or <c>PlanName</c>.</param>
    /// <param name="graph">For a stage of a multi-stage file: the graph, whose stage names mark references to stage outputs.</param>
    public static PlanSpec Build(PlanInput input, MergeDefinition definition, MethodDescriptor method, string? className = null, StageGraph? graph = null)
    {
        className ??= Names.ClassName(input.Path, input.PlanName);
        var globals = method.Parameters
            .Where(p => p.Scope == ParameterScope.Global && !p.Ignored)
            .Select(p => GlobalParameter(definition, p))
            .ToList();
        var perModel = method.Parameters.Where(p => p.Scope == ParameterScope.PerModel && !p.Ignored).ToList();

        var taken = new HashSet<string>(ReservedMembers, StringComparer.Ordinal) { className };
        if (graph is not null)
            taken.UnionWith(ReservedStageMembers);
        foreach (var g in globals)
        {
            taken.Add(g.Identifier);
            taken.Add("With" + g.Identifier);
        }

        // Parameters whose values the catalog lists become enums (trim_scope -> TrimScopeOption, rescale -> RescaleOption).
        globals = globals.Select(g =>
        {
            var cases = EnumCases(method.FindParameter(g.Name)!);
            return cases.Count == 0 ? g : g with { EnumCases = cases, EnumType = Names.Unique(g.Identifier + "Option", taken) };
        }).ToList();

        var baseModels = new HashSet<ModelReference>(
            new[] { definition.BaseModel }.Concat(SlicesAsWritten(definition).Select(s => s.BaseModel))
                .Where(m => m is not null)!);
        var inputs = InputModels(definition);
        var models = new List<ModelSpec>();
        foreach (var model in definition.AllModels())
        {
            var given = ModelEntries(definition).FirstOrDefault(m => m.Model == model && m.Name is not null)?.Name;
            var identifier = Names.ModelIdentifier(model.ToString(), given, taken);
            var isBase = baseModels.Contains(model);
            var hasParameters = inputs.Contains(model) && (method.BaseIsInput || !isBase);
            var values = hasParameters
                ? perModel.Select(p => PerModelValue(definition, model, p)).ToEquatableArray()
                : EquatableArray<ValueSpec>.Empty;
            models.Add(new ModelSpec(model.ToString(), identifier, isBase, hasParameters, values, string.Empty) { Stage = graph?.StageFor(model)?.Name });
        }

        // Each model's parameter record: its member name plus "Parameters", made unique like the members.
        models = models.Select(m => m with { TypeName = m.HasParameters ? Names.Unique(m.Identifier + "Parameters", taken) : string.Empty }).ToList();

        var perModelSpecs = perModel.Select((p, i) =>
        {
            var nullable = models.Where(m => m.HasParameters).Any(m => !m.Values[i].IsScalar);
            return new ParameterSpec(p.Name, Names.Pascal(p.Name), ClrType(p.Type), nullable, p.Description, new ValueSpec("null", false, string.Empty));
        }).ToEquatableArray();

        var ns = input.RootNamespace;
        var layout = definition.UsesModules
            ? "modules " + string.Join(", ", definition.Modules!.Select(m => m.Name + (m.UsesModels
                ? " (whole stack)"
                : string.Format(CultureInfo.InvariantCulture, " ({0} slice(s))", m.Slices?.Count ?? 0))))
            : definition.UsesSlices
            ? string.Format(CultureInfo.InvariantCulture, "{0} slice(s)", definition.Slices!.Count)
            : "whole models";
        return new PlanSpec(
            ns,
            className,
            (ns.Length == 0 ? string.Empty : ns + ".") + className + ".g.cs",
            input.Path,
            input.Text,
            method.Name,
            method.PrettyName,
            method.Description,
            layout,
            models.ToEquatableArray(),
            globals.ToEquatableArray(),
            perModelSpecs,
            typeof(PlanSpecBuilder).Assembly.GetName().Version?.ToString() ?? "0.0.0.0")
        {
            DefinitionFile = Names.RelativePath(input.ProjectDirectory, input.Path),
        };
    }

    private static HashSet<ModelReference> InputModels(MergeDefinition definition)
    {
        var set = new HashSet<ModelReference>();
        foreach (var m in ModelEntries(definition))
            set.Add(m.Model);
        foreach (var s in SlicesAsWritten(definition))
        {
            foreach (var source in s.Sources)
                set.Add(source.Model);
        }

        return set;
    }

    /// <summary>The <c>models:</c> entries of the definition and of every module.</summary>
    private static IEnumerable<InputModel> ModelEntries(MergeDefinition definition)
        => (definition.Models ?? Array.Empty<InputModel>())
            .Concat((definition.Modules ?? Array.Empty<ModuleDefinition>()).SelectMany(m => m.Models ?? Array.Empty<InputModel>()));

    /// <summary>The slices the file writes: the definition's and every module's.</summary>
    private static IEnumerable<OutputSlice> SlicesAsWritten(MergeDefinition definition)
        => (definition.Slices ?? Array.Empty<OutputSlice>())
            .Concat((definition.Modules ?? Array.Empty<ModuleDefinition>()).SelectMany(m => m.Slices ?? Array.Empty<OutputSlice>()));

    /// <summary>True when a slice or a module sets the parameter: its value then depends on where a tensor is.</summary>
    private static bool SetBelowTopLevel(MergeDefinition definition, string name)
        => SlicesAsWritten(definition).Any(s => s.Parameters.ContainsKey(name))
           || (definition.Modules ?? Array.Empty<ModuleDefinition>()).Any(m => m.Parameters.ContainsKey(name));

    private static ParameterSpec GlobalParameter(MergeDefinition definition, ParameterDescriptor parameter)
    {
        ValueSpec value;
        if (SetBelowTopLevel(definition, parameter.Name))
            value = NotScalar((definition.UsesModules ? "set per module or slice" : "set per slice") + (definition.Parameters.TryGetValue(parameter.Name, out var top) ? "; top level: " + Describe(top) : string.Empty));
        else if (definition.Parameters.TryGetValue(parameter.Name, out var setting))
            value = FromSetting(setting, parameter);
        else
            value = FromDefault(parameter);
        return new ParameterSpec(parameter.Name, Names.Pascal(parameter.Name), ClrType(parameter.Type), !value.IsScalar, parameter.Description, value);
    }

    /// <summary>Precedence as the engine applies it: the model's own entries, then slice parameters, then module
    /// parameters, then the top level, then the method's default.</summary>
    private static ValueSpec PerModelValue(MergeDefinition definition, ModelReference model, ParameterDescriptor parameter)
    {
        if (definition.UsesModules)
            return PerModelValueInModules(definition, model, parameter);
        var own = new List<ParameterSetting>();
        foreach (var m in ModelEntries(definition))
        {
            if (m.Model == model && m.Parameters.TryGetValue(parameter.Name, out var s))
                own.Add(s);
        }

        foreach (var source in SlicesAsWritten(definition).SelectMany(s => s.Sources))
        {
            if (source.Model == model && source.Parameters.TryGetValue(parameter.Name, out var s))
                own.Add(s);
        }

        if (own.Count > 0)
        {
            var values = own.Select(s => FromSetting(s, parameter)).Distinct().ToList();
            return values.Count == 1 ? values[0] : NotScalar("differs between slices: " + string.Join("; ", values.Select(v => v.Description)));
        }

        if (SetBelowTopLevel(definition, parameter.Name))
            return NotScalar("set per slice");
        if (definition.Parameters.TryGetValue(parameter.Name, out var top))
            return FromSetting(top, parameter);
        return FromDefault(parameter);
    }

    /// <summary>In a <c>modules:</c> definition a model can be an input of several modules, each with its own levels: the
    /// value is the one every place the model is merged gives it (its entry, else the slice's, the module's, the top
    /// level's, the default), or not one value when they differ.</summary>
    private static ValueSpec PerModelValueInModules(MergeDefinition definition, ModelReference model, ParameterDescriptor parameter)
    {
        ValueSpec Effective(params ParameterMap[] levels)
        {
            foreach (var map in levels.Append(definition.Parameters))
            {
                if (map.TryGetValue(parameter.Name, out var setting))
                    return FromSetting(setting, parameter);
            }

            return FromDefault(parameter);
        }

        var values = new List<ValueSpec>();
        foreach (var module in definition.Modules!)
        {
            foreach (var m in (module.Models ?? Array.Empty<InputModel>()).Where(m => m.Model == model))
                values.Add(Effective(m.Parameters, module.Parameters));
            foreach (var slice in module.Slices ?? Array.Empty<OutputSlice>())
            {
                foreach (var source in slice.Sources.Where(s => s.Model == model))
                    values.Add(Effective(source.Parameters, slice.Parameters, module.Parameters));
            }
        }

        var distinct = values.Distinct().ToList();
        return distinct.Count == 1 ? distinct[0] : NotScalar("differs between modules or slices: " + string.Join("; ", distinct.Select(v => v.Description)));
    }

    /// <summary>The enum cases of a parameter whose values the catalog lists: a string parameter's values, or a boolean
    /// choice's false and true (named by <see cref="ParameterDescriptor.BooleanNames"/>) and its string values. Empty for
    /// any other parameter.</summary>
    private static EquatableArray<EnumCase> EnumCases(ParameterDescriptor parameter)
    {
        if (parameter.AllowedValues is not { Count: > 0 } allowed || allowed.Any(v => Names.Pascal(v).Length == 0))
            return EquatableArray<EnumCase>.Empty;
        var cases = new List<EnumCase>();
        if (parameter.Type == ParameterType.Boolean && parameter.BooleanNames is { } names)
        {
            cases.Add(new EnumCase("false", Names.Pascal(names.False), "false"));
            cases.Add(new EnumCase("true", Names.Pascal(names.True), "true"));
        }
        else if (parameter.Type != ParameterType.String)
        {
            return EquatableArray<EnumCase>.Empty;
        }

        cases.AddRange(allowed.Select(v => new EnumCase(Names.Literal(v), Names.Pascal(v), v)));
        return cases.ToEquatableArray();
    }

    private static ValueSpec FromSetting(ParameterSetting setting, ParameterDescriptor parameter)
    {
        if (setting is ScalarSetting scalar && TryLiteral(scalar.Value, parameter, out var literal))
            return new ValueSpec(literal, true, Describe(setting));
        return NotScalar(Describe(setting));
    }

    /// <summary>As <see cref="TryLiteral(object?, ParameterType, out string)"/>; a boolean choice's string value
    /// (<c>rescale: l1</c>) is a string literal, read by its enum.</summary>
    private static bool TryLiteral(object? value, ParameterDescriptor parameter, out string literal)
    {
        if (parameter is { Type: ParameterType.Boolean, BooleanNames: not null } && value is string s && (parameter.AllowedValues?.Contains(s) ?? false))
        {
            literal = Names.Literal(s);
            return true;
        }

        return TryLiteral(value, parameter.Type, out literal);
    }

    private static ValueSpec FromDefault(ParameterDescriptor parameter)
        => parameter.Default is not null && TryLiteral(parameter.Default, parameter, out var literal)
            ? new ValueSpec(literal, true, "not set; the method's default " + ValueText.Format(parameter.Default))
            : NotScalar("not set; no default");

    private static ValueSpec NotScalar(string description) => new("null", false, description);

    private static string ClrType(ParameterType type) => type switch
    {
        ParameterType.Number => "double",
        ParameterType.Boolean => "bool",
        ParameterType.Integer => "int",
        _ => "string",
    };

    /// <summary>The C# literal of <paramref name="value"/> for a property of <paramref name="type"/>; false when the value
    /// does not fit the type (for example rescale: 'l1' for a boolean).</summary>
    internal static bool TryLiteral(object? value, ParameterType type, out string literal)
    {
        literal = "null";
        switch (type, value)
        {
            case (ParameterType.Number, double d):
                literal = DoubleLiteral(d);
                return true;
            case (ParameterType.Integer, double d) when d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue:
                literal = ((int)d).ToString(CultureInfo.InvariantCulture);
                return true;
            case (ParameterType.Boolean, bool b):
                literal = b ? "true" : "false";
                return true;
            case (ParameterType.String, string s):
                literal = Names.Literal(s);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Round-trippable, invariant, always recognisably a double ("1.0", "0.5", "1E-05").</summary>
    internal static string DoubleLiteral(double d)
    {
        if (double.IsNaN(d))
            return "double.NaN";
        if (double.IsPositiveInfinity(d))
            return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(d))
            return "double.NegativeInfinity";
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.IndexOf('.') >= 0 || text.IndexOf('E') >= 0 ? text : text + ".0";
    }

    /// <summary>How the definition writes a setting, for doc comments: "0.5", "a gradient [0, 0.5, 1]",
    /// "filtered: self_attn → 0.5, mlp → [0, 1], * → 0.3".</summary>
    internal static string Describe(ParameterSetting setting) => setting switch
    {
        ScalarSetting s => ValueText.Format(s.Value),
        GradientSetting g => "a gradient [" + string.Join(", ", g.Values.Select(v => ValueText.Format(v))) + "]",
        StepSetting s => "a step list [" + string.Join(", ", s.Values.Select(ValueText.Format)) + "]",
        ConditionalSetting c => "filtered: " + string.Join(", ", c.Entries.Select(e => (e.IsCatchAll ? "*" : e.Filter) + " -> " + Describe(e.Value))),
        SearchSetting s => "searched, " + s.Describe() + ": set it before running (or tune the definition with `dotnet merge tune`)",
        _ => setting.Describe(),
    };
}
