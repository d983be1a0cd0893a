namespace DotnetMerge.Definitions;

/// <summary>Parse and validate in one call.</summary>
public static class DefinitionLoader
{
    /// <summary>Parses <paramref name="text"/> and, when it yields a definition, validates it (near misses of real names
    /// are errors unless <see cref="ValidationOptions.AllowUnknownKeys"/>, see <see cref="UnknownNames"/>). Diagnostics are ordered by
    /// position (stable for equal positions).</summary>
    public static ParseResult Load(string text, string path, ValidationOptions? options = null)
    {
        var parsed = DefinitionParser.Parse(text, path);
        if (parsed.Definition is null)
            return new ParseResult(null, UnknownNames.Apply(parsed.Diagnostics, options).ToList());
        var all = UnknownNames.Apply(parsed.Diagnostics.Concat(DefinitionValidator.Validate(parsed.Definition, options)), options)
            .Select((d, i) => (d, i))
            .OrderBy(p => p.d.Location.Line).ThenBy(p => p.d.Location.Column).ThenBy(p => p.i)
            .Select(p => p.d)
            .ToList();
        return new ParseResult(parsed.Definition, all);
    }
}
