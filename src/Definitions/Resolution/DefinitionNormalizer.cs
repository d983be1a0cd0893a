namespace DotnetMerge.Definitions;

/// <summary>Turns both input syntaxes into output slices (mergekit's normalization, without its quirks).</summary>
public static class DefinitionNormalizer
{
    /// <summary>The slices of a definition without <c>modules:</c> (for one with modules, ask per module).
    /// <c>models:</c> gives one slice whose sources span [0, layerCount(model)) with each model's parameters,
    /// plus the base model (without parameters) when it is not among the models. <c>slices:</c> are returned as written;
    /// the base model is NOT added to them.</summary>
    public static IReadOnlyList<OutputSlice> ToSlices(MergeDefinition definition, Func<ModelReference, int> layerCount)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        if (layerCount is null) throw new ArgumentNullException(nameof(layerCount));
        if (definition.Models is { Count: > 0 } models)
            return new[] { WholeModels(models, definition.BaseModel, definition.ModelsLocation, layerCount, null) };

        return definition.Slices ?? Array.Empty<OutputSlice>();
    }

    /// <summary>A module's slices: its <c>models:</c> as one slice over the whole stack of every model (plus the top-level
    /// base model when it is not among them, as for a definition's <c>models:</c>), or its <c>slices:</c> as written. Every
    /// slice carries the module's name and parameters. <paramref name="layerCount"/> is the model's layer count in the
    /// module's stack.</summary>
    public static IReadOnlyList<OutputSlice> ToSlices(MergeDefinition definition, ModuleDefinition module, Func<ModelReference, int> layerCount)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        if (module is null) throw new ArgumentNullException(nameof(module));
        if (layerCount is null) throw new ArgumentNullException(nameof(layerCount));
        if (module.Models is { Count: > 0 } models)
            return new[] { WholeModels(models, definition.BaseModel, module.ModelsLocation, layerCount, module) };
        return module.Slices ?? Array.Empty<OutputSlice>();
    }

    private static OutputSlice WholeModels(IReadOnlyList<InputModel> models, ModelReference? baseModel, SourceLocation location,
        Func<ModelReference, int> layerCount, ModuleDefinition? module)
    {
        var sources = models
            .Select(m => new SliceSource(m.Model, 0, layerCount(m.Model), m.Parameters) { Location = m.Location, LayerRangeLocation = m.Location })
            .ToList();
        if (baseModel is not null && !models.Any(m => m.Model == baseModel))
            sources.Add(new SliceSource(baseModel, 0, layerCount(baseModel)) { Location = baseModel.Location, LayerRangeLocation = baseModel.Location });
        return new OutputSlice(sources)
        {
            Location = location,
            Module = module?.Name,
            ModuleParameters = module?.Parameters ?? ParameterMap.Empty,
        };
    }

    /// <summary>The base model that applies to <paramref name="slice"/>: its own, else the top-level one.</summary>
    public static ModelReference? EffectiveBaseModel(MergeDefinition definition, OutputSlice slice)
        => slice.BaseModel ?? definition.BaseModel;
}
