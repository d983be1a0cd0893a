namespace DotnetMerge.Definitions;

/// <summary>A whole-model input (<c>models:</c> syntax): the model and its own parameters.</summary>
public sealed class InputModel
{
    public InputModel(ModelReference model, ParameterMap? parameters = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Parameters = parameters ?? ParameterMap.Empty;
    }

    public ModelReference Model { get; }

    public ParameterMap Parameters { get; }

    /// <summary>The entry's <c>name:</c> (a dotnet-merge extension): the C# member name of this model in a typed plan.
    /// Null when not given (the name then comes from the directory name).</summary>
    public string? Name { get; init; }

    public SourceLocation Location { get; init; }
}

/// <summary>One source of an output slice: layers [<see cref="LayerStart"/>, <see cref="LayerEnd"/>) of a model.</summary>
public sealed class SliceSource
{
    public SliceSource(ModelReference model, int layerStart, int layerEnd, ParameterMap? parameters = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        LayerStart = layerStart;
        LayerEnd = layerEnd;
        Parameters = parameters ?? ParameterMap.Empty;
    }

    public ModelReference Model { get; }

    /// <summary>First layer (inclusive).</summary>
    public int LayerStart { get; }

    /// <summary>End layer (exclusive).</summary>
    public int LayerEnd { get; }

    public int LayerCount => LayerEnd - LayerStart;

    public ParameterMap Parameters { get; }

    public SourceLocation Location { get; init; }

    /// <summary>Location of the layer_range value.</summary>
    public SourceLocation LayerRangeLocation { get; init; }

    /// <summary>Set by the parser when layer_range could not be read (already reported); the validator then skips range checks.</summary>
    internal bool LayerRangeMalformed { get; init; }
}

/// <summary>An output slice: sources merged layer by layer, an optional slice-level base model and parameters.</summary>
public sealed class OutputSlice
{
    public OutputSlice(IReadOnlyList<SliceSource> sources, ModelReference? baseModel = null, ParameterMap? parameters = null)
    {
        Sources = sources ?? throw new ArgumentNullException(nameof(sources));
        BaseModel = baseModel;
        Parameters = parameters ?? ParameterMap.Empty;
    }

    public IReadOnlyList<SliceSource> Sources { get; }

    /// <summary>Slice-level base model; overrides the top-level one for this slice.</summary>
    public ModelReference? BaseModel { get; }

    public ParameterMap Parameters { get; }

    public SourceLocation Location { get; init; }

    /// <summary>The module this slice belongs to (<c>modules:</c> syntax); null outside one.</summary>
    public string? Module { get; init; }

    /// <summary>The <c>parameters</c> of the module this slice belongs to: asked after the slice's own and before the
    /// top-level ones (mergekit's precedence); empty outside a module.</summary>
    public ParameterMap ModuleParameters { get; init; } = ParameterMap.Empty;
}

/// <summary>One entry of <c>modules:</c> (mergekit's multi-module syntax): a module of the architecture (a vision tower,
/// a text decoder, an encoder) merged from its own <c>models:</c> or <c>slices:</c>, with its own parameters. Which layer
/// stack of the checkpoint a module name means is the engine's rule (docs/configuration.md, "Modules").</summary>
public sealed class ModuleDefinition
{
    public ModuleDefinition(string name, ParameterMap? parameters = null)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Parameters = parameters ?? ParameterMap.Empty;
    }

    /// <summary>The module's name as written (the key under <c>modules:</c>).</summary>
    public string Name { get; }

    /// <summary>The module's own parameters (precedence: source, slice, module, top level).</summary>
    public ParameterMap Parameters { get; }

    public IReadOnlyList<InputModel>? Models { get; init; }

    public SourceLocation ModelsLocation { get; init; }

    /// <summary>The module's slices; each carries <see cref="OutputSlice.Module"/> and <see cref="OutputSlice.ModuleParameters"/>.</summary>
    public IReadOnlyList<OutputSlice>? Slices { get; init; }

    public SourceLocation SlicesLocation { get; init; }

    /// <summary>Location of the module's name (its key).</summary>
    public SourceLocation Location { get; init; }

    /// <summary>True when the module uses <c>models:</c> (whole stacks).</summary>
    public bool UsesModels => Models is { Count: > 0 };
}

/// <summary>A parsed merge definition (mergekit's YAML plus dotnet-merge's extensions), with the location of every part.</summary>
public sealed class MergeDefinition
{
    public string? SourcePath { get; init; }

    /// <summary>The YAML this definition was parsed from; null for a definition built or changed in code (then
    /// <see cref="DefinitionWriter"/> writes it out, for example into the merged model's records).</summary>
    public string? SourceText { get; init; }

    /// <summary>The stage name of a document of a multi-stage definition (<c>name:</c>, mergekit-multi); null when unnamed.</summary>
    public string? Name { get; init; }

    public SourceLocation NameLocation { get; init; }

    /// <summary>Location of the root mapping.</summary>
    public SourceLocation Location { get; init; }

    /// <summary>The method name as written ("" when missing).</summary>
    public string MergeMethod { get; init; } = string.Empty;

    public SourceLocation MergeMethodLocation { get; init; }

    public IReadOnlyList<InputModel>? Models { get; init; }

    public SourceLocation ModelsLocation { get; init; }

    public IReadOnlyList<OutputSlice>? Slices { get; init; }

    public SourceLocation SlicesLocation { get; init; }

    public ModelReference? BaseModel { get; init; }

    public ParameterMap Parameters { get; init; } = ParameterMap.Empty;

    /// <summary>"bfloat16", "float16", "float32" or "float64" (normalized); the text as written when not recognized.</summary>
    public string? Dtype { get; init; }

    public SourceLocation DtypeLocation { get; init; }

    /// <summary>Same names as <see cref="Dtype"/>.</summary>
    public string? OutDtype { get; init; }

    public SourceLocation OutDtypeLocation { get; init; }

    /// <summary>"base", "union" or a model reference in string form.</summary>
    public string? TokenizerSource { get; init; }

    public SourceLocation TokenizerSourceLocation { get; init; }

    /// <summary>The <c>tokenizer:</c> section, or null when absent.</summary>
    public TokenizerSettings? Tokenizer { get; init; }

    /// <summary>The output vocabulary rule, whichever way it is written (<c>tokenizer:</c> or <c>tokenizer_source:</c>);
    /// null when the definition has none (embeddings are merged as plain matrices, the donor's tokenizer is copied).</summary>
    public TokenizerSettings? EffectiveTokenizer => Tokenizer
        ?? (TokenizerSource is { } source
            ? new TokenizerSettings { Source = source, SourceLocation = TokenizerSourceLocation, Location = TokenizerSourceLocation }
            : null);

    public string? ChatTemplate { get; init; }

    public SourceLocation ChatTemplateLocation { get; init; }

    /// <summary>dotnet-merge extension (<c>seed:</c>): the seed of the deterministic random stream.</summary>
    public ulong? Seed { get; init; }

    public SourceLocation SeedLocation { get; init; }

    /// <summary>The <c>modules:</c> section (mergekit's multi-module syntax), in the order written; null when absent.</summary>
    public IReadOnlyList<ModuleDefinition>? Modules { get; init; }

    public SourceLocation ModulesLocation { get; init; }

    /// <summary>True when this definition uses the <c>modules:</c> syntax.</summary>
    public bool UsesModules => Modules is { Count: > 0 };

    /// <summary>True when this definition uses the <c>slices:</c> syntax.</summary>
    public bool UsesSlices => Slices is { Count: > 0 } && Models is not { Count: > 0 };

    /// <summary>Every distinct model reference mentioned (inputs, sources, base models), in order of appearance.</summary>
    public IReadOnlyList<ModelReference> AllModels()
    {
        var seen = new List<ModelReference>();
        void Add(ModelReference? m)
        {
            if (m is not null && !seen.Contains(m))
                seen.Add(m);
        }

        foreach (var m in Models ?? Array.Empty<InputModel>())
            Add(m.Model);
        foreach (var s in Slices ?? Array.Empty<OutputSlice>())
        {
            foreach (var src in s.Sources)
                Add(src.Model);
            Add(s.BaseModel);
        }

        foreach (var module in Modules ?? Array.Empty<ModuleDefinition>())
        {
            foreach (var m in module.Models ?? Array.Empty<InputModel>())
                Add(m.Model);
            foreach (var s in module.Slices ?? Array.Empty<OutputSlice>())
            {
                foreach (var src in s.Sources)
                    Add(src.Model);
                Add(s.BaseModel);
            }
        }

        Add(BaseModel);
        return seen;
    }
}
