using DotnetMerge.Definitions;

namespace DotnetMerge.Plans;

/// <summary>Applies <see cref="PlanOverrides"/> to a parsed <see cref="MergeDefinition"/>, producing a new definition (the
/// definition types are immutable). A method-wide value is set at the top level and removed from every slice, so it
/// applies everywhere; a per-model value is set on every entry of that model (models list or slice sources), the level
/// that wins over slice and top-level settings.</summary>
public static class DefinitionOverrides
{
    public static MergeDefinition Apply(MergeDefinition definition, PlanOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(overrides);
        if (overrides.IsEmpty)
            return definition;

        var topLevel = definition.Parameters;
        foreach (var (name, value) in overrides.Globals)
            topLevel = Set(topLevel, name, value, "the override of '" + name + "'");

        var models = definition.Models?.Select(m => new InputModel(m.Model, ForModel(m.Parameters, m.Model, overrides)) { Location = m.Location, Name = m.Name }).ToList();
        var slices = definition.Slices?.Select(s => new OutputSlice(
                s.Sources.Select(src => new SliceSource(src.Model, src.LayerStart, src.LayerEnd, ForModel(src.Parameters, src.Model, overrides))
                {
                    Location = src.Location,
                    LayerRangeLocation = src.LayerRangeLocation,
                }).ToList(),
                s.BaseModel,
                Without(s.Parameters, overrides.Globals.Keys))
            { Location = s.Location })
            .ToList();

        return new MergeDefinition
        {
            SourcePath = definition.SourcePath,
            // The text no longer says what is merged: the output's records write this definition out instead.
            SourceText = null,
            Location = definition.Location,
            MergeMethod = definition.MergeMethod,
            MergeMethodLocation = definition.MergeMethodLocation,
            Models = models,
            ModelsLocation = definition.ModelsLocation,
            Slices = slices,
            SlicesLocation = definition.SlicesLocation,
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

    private static ParameterMap ForModel(ParameterMap parameters, ModelReference model, PlanOverrides overrides)
    {
        var reference = model.ToString();
        foreach (var ((m, name), value) in overrides.PerModel)
        {
            if (string.Equals(m, reference, StringComparison.Ordinal))
                parameters = Set(parameters, name, value, "the override of '" + name + "' for model '" + m + "'");
        }

        return parameters;
    }

    /// <summary>The override's location has no line: its path says which override it is, so that a diagnostic about it
    /// reads "the override of 'density' for model './models/a': error DMRG0303: ...".</summary>
    private static ParameterMap Set(ParameterMap map, string name, object value, string where)
    {
        var setting = new ScalarSetting(value is int i ? (double)i : value) { Location = new SourceLocation(where, 0, 0) };
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
