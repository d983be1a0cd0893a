namespace DotnetMerge.Definitions;

/// <summary>The outcome of parsing (and, through <see cref="DefinitionLoader"/>, validating) a definition.</summary>
public sealed class ParseResult
{
    public ParseResult(MergeDefinition? definition, IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        Definition = definition;
        Diagnostics = diagnostics;
    }

    /// <summary>The definition; null only when the text is not a readable YAML mapping. It may be partial when
    /// <see cref="HasErrors"/> is true.</summary>
    public MergeDefinition? Definition { get; }

    public IReadOnlyList<DefinitionDiagnostic> Diagnostics { get; }

    public bool HasErrors => Definition is null || Diagnostics.Any(d => d.IsError);
}
