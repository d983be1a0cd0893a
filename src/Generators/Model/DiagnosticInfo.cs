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
    public Diagnostic ToDiagnostic()
    {
        var location = Location.Create(
            FilePath,
            new TextSpan(SpanStart, SpanLength),
            new LinePositionSpan(new LinePosition(StartLine, StartColumn), new LinePosition(EndLine, EndColumn)));
        return Diagnostic.Create(Diagnostics.GeneratorDiagnostics.Get(Id, Severity), location, Message);
    }
}

/// <summary>The result of reading one definition: the plan to emit (null when the definition has errors) and every
/// diagnostic.</summary>
internal sealed record PlanResult(PlanSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
