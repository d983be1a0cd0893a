using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.Model;

/// <summary>A definition diagnostic in equatable form: id, severity, message and a position in the YAML file.
/// Turned into a Roslyn <see cref="Diagnostic"/> only when reported.</summary>
internal sealed record DiagnosticInfo(
    string Id,
    DiagnosticSeverity Severity,
    string Message,
    string FilePath,
    int SpanStart,
    int SpanLength,
    int StartLine,
    int StartColumn,
    int EndLine,
    int EndColumn)
{
    /// <summary>The property that carries the names a "did you mean" diagnostic suggests, '\n'-separated: an IDE code fix
    /// replaces the diagnostic's span (the misspelt word) with one of them.</summary>
    public const string SuggestionsProperty = "DotnetMerge.Suggestions";

    /// <summary>The suggested names, '\n'-separated; empty for none.</summary>
    public string Suggestions { get; init; } = string.Empty;

    public Diagnostic ToDiagnostic()
    {
        var location = Location.Create(
            FilePath,
            new TextSpan(SpanStart, SpanLength),
            new LinePositionSpan(new LinePosition(StartLine, StartColumn), new LinePosition(EndLine, EndColumn)));
        var properties = Suggestions.Length == 0
            ? null
            : System.Collections.Immutable.ImmutableDictionary<string, string?>.Empty.Add(SuggestionsProperty, Suggestions);
        return Diagnostic.Create(Diagnostics.GeneratorDiagnostics.Get(Id, Severity), location, properties, Message);
    }
}

/// <summary>The result of reading one definition: the plan to emit (null when the definition has errors) and every
/// diagnostic.</summary>
internal sealed record PlanResult(PlanSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
