namespace DotnetMerge.Definitions;

/// <summary>The rule for a key or parameter name the definition language does not know: a near miss of a real name
/// (NameSuggester finds one: <c>desnity</c>, <c>paramters</c>) is an error, because the merge would silently run with the
/// real name's default; a name with no close match is a warning (it may be meant for another tool). With
/// <see cref="ValidationOptions.AllowUnknownKeys"/> a near miss is a warning too.</summary>
public static class UnknownNames
{
    /// <summary>The descriptor for an unknown key with these "did you mean" candidates.</summary>
    public static DiagnosticDescriptor KeyDescriptor(IReadOnlyList<string> nearMisses)
        => nearMisses.Count > 0 ? DiagnosticDescriptors.MisspelledKey : DiagnosticDescriptors.UnknownKey;

    /// <summary>The descriptor for an unknown parameter with these "did you mean" candidates (among the method's own).</summary>
    public static DiagnosticDescriptor ParameterDescriptor(IReadOnlyList<string> nearMisses)
        => nearMisses.Count > 0 ? DiagnosticDescriptors.MisspelledParameter : DiagnosticDescriptors.UnknownParameter;

    /// <summary>The near-miss errors as warnings when <paramref name="options"/> allows unknown keys; the rest unchanged.</summary>
    public static IEnumerable<DefinitionDiagnostic> Apply(IEnumerable<DefinitionDiagnostic> diagnostics, ValidationOptions? options)
    {
        foreach (var d in diagnostics)
        {
            bool nearMiss = d.Id == DiagnosticDescriptors.MisspelledKey.Id || d.Id == DiagnosticDescriptors.MisspelledParameter.Id;
            yield return nearMiss && options is { AllowUnknownKeys: true } && d.IsError
                ? new DefinitionDiagnostic(d.Id, DiagnosticSeverity.Warning, d.Message + " and is ignored (unknown keys allowed)", d.Location, d.Hint)
                : d;
        }
    }
}
