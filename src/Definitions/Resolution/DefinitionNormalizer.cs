namespace DotnetMerge.Definitions;

/// <summary>Turns both input syntaxes into output slices (mergekit's normalization, without its quirks).</summary>
public static class DefinitionNormalizer
{
    /// <summary><c>models:</c> gives one slice whose sources span [0, layerCount(model)) with each model's parameters,
    /// plus the base model (without parameters) when it is not among the models. <c>slices:</c> are returned as written;
    /// the base model is NOT added to them.</summary>
    public static IReadOnlyList<OutputSlice> ToSlices(MergeDefinition definition, Func<ModelReference, int> layerCount)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        if (layerCount is null) throw new ArgumentNullException(nameof(layerCount));
        if (definition.Models is { Count: > 0 } models)
        {
            var sources = models
                .Select(m => new SliceSource(m.Model, 0, layerCount(m.Model), m.Parameters) { Location = m.Location, LayerRangeLocation = m.Location })
                .ToList();
            if (definition.BaseModel is { } baseModel && !models.Any(m => m.Model == baseModel))
                sources.Add(new SliceSource(baseModel, 0, layerCount(baseModel)) { Location = baseModel.Location, LayerRangeLocation = baseModel.Location });
            return new[] { new OutputSlice(sources) { Location = definition.ModelsLocation } };
        }

        return definition.Slices ?? Array.Empty<OutputSlice>();
    }

    /// <summary>The base model that applies to <paramref name="slice"/>: its own, else the top-level one.</summary>
    public static ModelReference? EffectiveBaseModel(MergeDefinition definition, OutputSlice slice)
        => slice.BaseModel ?? definition.BaseModel;
}
