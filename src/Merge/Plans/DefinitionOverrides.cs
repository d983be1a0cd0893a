using DotnetMerge.Definitions;

namespace DotnetMerge.Plans;

/// <summary>Applies <see cref="PlanOverrides"/> to a parsed <see cref="MergeDefinition"/>, producing a new definition (the
/// definition types are immutable). A method-wide value is set at the top level and removed from every slice, so it
/// applies everywhere; a per-model value is set on every entry of that model (models list or slice sources), the level
/// that wins over slice and top-level settings.</summary>
public static class DefinitionOverrides
{
    /// <param name="stage">For a stage of a multi-stage definition: its display name, which the overrides' locations
    /// then mention ("the override of 't' in stage 'first'"); null for a single-stage definition.</param>
    public static MergeDefinition Apply(MergeDefinition definition, PlanOverrides overrides, string? stage = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(overrides);
        if (overrides.IsEmpty)
            return definition;

        var topLevel = definition.Parameters;
        foreach (var (name, value) in overrides.Globals)
            topLevel = Set(topLevel, name, value, Where(name, null, stage));

        List<InputModel>? Models(IReadOnlyList<InputModel>? list)
            => list?.Select(m => new InputModel(m.Model, ForModel(m.Parameters, m.Model, overrides, stage)) { Location = m.Location, Name = m.Name }).ToList();
        List<OutputSlice>? Slices(IReadOnlyList<OutputSlice>? list, ParameterMap moduleParameters)
            => list?.Select(s => new OutputSlice(
                    s.Sources.Select(src => new SliceSource(src.Model, src.LayerStart, src.LayerEnd, ForModel(src.Parameters, src.Model, overrides, stage))
                    {
                        Location = src.Location,
                        LayerRangeLocation = src.LayerRangeLocation,
                    }).ToList(),
                    s.BaseModel,
                    Without(s.Parameters, overrides.Globals.Keys))
                { Location = s.Location, Module = s.Module, ModuleParameters = moduleParameters })
                .ToList();

        var models = Models(definition.Models);
        var slices = Slices(definition.Slices, ParameterMap.Empty);
        // A method-wide override applies to every module too: it leaves the modules' parameters, as it leaves the slices'.
        var modules = definition.Modules?.Select(module =>
        {
            var parameters = Without(module.Parameters, overrides.Globals.Keys);
            return new ModuleDefinition(module.Name, parameters)
            {
                Location = module.Location,
                Models = Models(module.Models),
                ModelsLocation = module.ModelsLocation,
                Slices = Slices(module.Slices, parameters),
                SlicesLocation = module.SlicesLocation,
            };
        }).ToList();

        return new MergeDefinition
        {
            SourcePath = definition.SourcePath,
            // The text no longer says what is merged: the output's records write this definition out instead.
            SourceText = null,
            Name = definition.Name,
            NameLocation = definition.NameLocation,
            Location = definition.Location,
            MergeMethod = definition.MergeMethod,
            MergeMethodLocation = definition.MergeMethodLocation,
            Models = models,
            ModelsLocation = definition.ModelsLocation,
            Slices = slices,
            SlicesLocation = definition.SlicesLocation,
            Modules = modules,
            ModulesLocation = definition.ModulesLocation,
            BaseModel = definition.BaseModel,
            Parameters = topLevel,
            Dtype = definition.Dtype,
            DtypeLocation = definition.DtypeLocation,
            OutDtype = definition.OutDtype,
            OutDtypeLocation = definition.OutDtypeLocation,
            TokenizerSource = definition.TokenizerSource,
            TokenizerSourceLocation = definition.TokenizerSourceLocation,
            Tokenizer = definition.Tokenizer,
            ChatTemplate = definition.ChatTemplate,
            ChatTemplateLocation = definition.ChatTemplateLocation,
            Seed = definition.Seed,
            SeedLocation = definition.SeedLocation,
        };
    }

    /// <summary>What is wrong with applying <paramref name="overrides"/> to <paramref name="definition"/> before the
    /// validator sees the result: a per-model override of a model that is not one of its inputs (DMRG0910), which would
    /// otherwise change nothing, silently.</summary>
    public static IReadOnlyList<DefinitionDiagnostic> Check(MergeDefinition definition, PlanOverrides overrides, string? stage = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(overrides);
        var modules = definition.Modules ?? Array.Empty<ModuleDefinition>();
        var inputs = (definition.Models?.Select(m => m.Model) ?? Enumerable.Empty<ModelReference>())
            .Concat(definition.Slices?.SelectMany(s => s.Sources).Select(s => s.Model) ?? Enumerable.Empty<ModelReference>())
            .Concat(modules.SelectMany(module => (module.Models?.Select(m => m.Model) ?? Enumerable.Empty<ModelReference>())
                .Concat(module.Slices?.SelectMany(s => s.Sources).Select(s => s.Model) ?? Enumerable.Empty<ModelReference>())))
            .Select(m => m.ToString())
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return overrides.PerModel.Keys
            .Where(k => !inputs.Contains(k.Model, StringComparer.Ordinal))
            .Select(k => PlanDiagnostics.OverrideOfUnknownModel.Create(new SourceLocation(Where(k.Name, k.Model, stage), 0, 0),
                "use a model of the generated Models class", k.Model, stage is null ? "the definition" : "stage '" + stage + "'",
                string.Join(", ", inputs.Select(i => "'" + i + "'"))))
            .ToList();
    }

    /// <summary>A stage graph with each stage's overrides applied (<see cref="Apply(MergeDefinition, PlanOverrides, string?)"/>),
    /// every overridden document validated again and the graph rebuilt; throws <see cref="Engine.DefinitionErrorsException"/>
    /// listing every error. The rebuilt graph's text (the model card's record of the file) has the overridden documents
    /// written out (<see cref="DefinitionWriter"/>) and the others as they were.</summary>
    public static StageGraph Apply(StageGraph graph, StageOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(overrides);
        if (overrides.IsEmpty)
            return graph;

        var documents = graph.Stages.OrderBy(s => s.Document).ToList();
        var diagnostics = new List<DefinitionDiagnostic>();
        foreach (var key in overrides.Stages.Keys.Where(k => !documents.Any(s => (s.Name ?? string.Empty) == k)))
        {
            diagnostics.Add(PlanDiagnostics.OverrideOfUnknownStage.Create(new SourceLocation("the overrides of stage '" + key + "'", 0, 0), null,
                key, string.Join(", ", documents.Select(s => s.Name is null ? "'' (the unnamed final document)" : "'" + s.Name + "'"))));
        }

        var definitions = new List<MergeDefinition>();
        var texts = new List<string>();
        foreach (var stage in documents)
        {
            var stageOverrides = overrides.For(stage.Name ?? string.Empty);
            if (stageOverrides.IsEmpty)
            {
                definitions.Add(stage.Definition);
                texts.Add(stage.Definition.SourceText ?? DocumentText(stage.Definition));
                continue;
            }

            diagnostics.AddRange(Check(stage.Definition, stageOverrides, stage.DisplayName));
            var definition = Apply(stage.Definition, stageOverrides, stage.DisplayName);
            diagnostics.AddRange(DefinitionValidator.Validate(definition));
            definitions.Add(definition);
            texts.Add(DocumentText(definition));
        }

        if (diagnostics.Any(d => d.IsError))
            throw new Engine.DefinitionErrorsException(diagnostics);
        var (rebuilt, graphDiagnostics) = StageGraphBuilder.Build(definitions, graph.SourcePath, string.Join("---\n", texts));
        if (rebuilt is null || graphDiagnostics.Any(d => d.IsError))
            throw new Engine.DefinitionErrorsException(graphDiagnostics);
        return rebuilt;
    }

    /// <summary>One document of a multi-stage file: its <c>name:</c> (a JSON string is a YAML double-quoted scalar) and
    /// the definition written out.</summary>
    private static string DocumentText(MergeDefinition definition)
        => (definition.Name is null ? string.Empty : "name: " + System.Text.Json.JsonSerializer.Serialize(definition.Name) + "\n") + DefinitionWriter.Write(definition);

    private static string Where(string name, string? model, string? stage)
        => "the override of '" + name + "'" + (model is null ? string.Empty : " for model '" + model + "'") + (stage is null ? string.Empty : " in stage '" + stage + "'");

    private static ParameterMap ForModel(ParameterMap parameters, ModelReference model, PlanOverrides overrides, string? stage)
    {
        var reference = model.ToString();
        foreach (var ((m, name), value) in overrides.PerModel)
        {
            if (string.Equals(m, reference, StringComparison.Ordinal))
                parameters = Set(parameters, name, value, Where(name, m, stage));
        }

        return parameters;
    }

    /// <summary>The override's location has no line: its path says which override it is, so that a diagnostic about it
    /// reads "the override of 'density' for model './models/a': error DMRG0303: ...".</summary>
    private static ParameterMap Set(ParameterMap map, string name, ParameterValue value, string where)
    {
        var setting = new ScalarSetting(value.ToSettingValue()) { Location = new SourceLocation(where, 0, 0) };
        var pairs = map.Where(p => !string.Equals(p.Key, name, StringComparison.Ordinal)).ToList();
        pairs.Add(new KeyValuePair<string, ParameterSetting>(name, setting));
        return new ParameterMap(pairs, map.Location);
    }

    private static ParameterMap Without(ParameterMap map, IEnumerable<string> names)
    {
        var removed = new HashSet<string>(names, StringComparer.Ordinal);
        return map.Keys.Any(removed.Contains)
            ? new ParameterMap(map.Where(p => !removed.Contains(p.Key)), map.Location)
            : map;
    }
}
