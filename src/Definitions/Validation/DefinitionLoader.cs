namespace DotnetMerge.Definitions;

/// <summary>Parse and validate in one call.</summary>
public static class DefinitionLoader
{
    /// <summary>Parses <paramref name="text"/> and, when it yields a definition, validates it. Diagnostics are ordered by
    /// position (stable for equal positions), at most <see cref="DefinitionLimits.MaxDiagnosticsPerId"/> of each id
    /// (see <see cref="RepeatedDiagnostics"/>).</summary>
    public static ParseResult Load(string text, string path, ValidationOptions? options = null)
        => Load(text, path, options, CancellationToken.None);

    /// <summary>As <see cref="Load(string, string, ValidationOptions?)"/>, cancellable while parsing.</summary>
    public static ParseResult Load(string text, string path, ValidationOptions? options, CancellationToken cancellationToken)
    {
        var parsed = DefinitionParser.Parse(text, path, cancellationToken);
        if (parsed.Definition is null)
            return parsed;
        cancellationToken.ThrowIfCancellationRequested();
        var all = parsed.Diagnostics.Concat(DefinitionValidator.Validate(parsed.Definition, options))
            .Select((d, i) => (d, i))
            .OrderBy(p => p.d.Location.Line).ThenBy(p => p.d.Location.Column).ThenBy(p => p.i)
            .Select(p => p.d)
            .ToList();
        return new ParseResult(parsed.Definition, RepeatedDiagnostics.Cap(all));
    }
}
