namespace DotnetMerge.Definitions;

/// <summary>Thrown by callers that prefer exceptions when a definition has errors; carries every diagnostic.</summary>
public sealed class DefinitionException : Exception
{
    public DefinitionException(IReadOnlyList<DefinitionDiagnostic> diagnostics)
        : base(BuildMessage(diagnostics))
        => Diagnostics = diagnostics;

    public IReadOnlyList<DefinitionDiagnostic> Diagnostics { get; }

    /// <summary>Throws when <paramref name="result"/> has errors; otherwise returns its definition.</summary>
    public static MergeDefinition ThrowIfErrors(ParseResult result)
    {
        if (result.HasErrors || result.Definition is null)
            throw new DefinitionException(result.Diagnostics);
        return result.Definition;
    }

    private static string BuildMessage(IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        var errors = diagnostics.Where(d => d.IsError).ToList();
        var shown = errors.Count > 0 ? errors : diagnostics.ToList();
        if (shown.Count == 0)
            return "The merge definition is invalid.";
        return "The merge definition is invalid:" + Environment.NewLine
            + string.Join(Environment.NewLine, shown.Select(d => d.ToString()));
    }
}
