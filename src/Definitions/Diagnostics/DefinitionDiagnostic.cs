namespace DotnetMerge.Definitions;

/// <summary>One problem found in a merge definition.</summary>
public sealed class DefinitionDiagnostic
{
    public DefinitionDiagnostic(string id, DiagnosticSeverity severity, string message, SourceLocation location, string? hint = null)
    {
        Id = id;
        Severity = severity;
        Message = message;
        Location = location;
        Hint = hint;
    }

    /// <summary>"DMRG0101" and so on; see <see cref="DiagnosticDescriptors"/>.</summary>
    public string Id { get; }

    public DiagnosticSeverity Severity { get; }

    public string Message { get; }

    public SourceLocation Location { get; }

    /// <summary>An optional suggestion such as "did you mean 'density'?".</summary>
    public string? Hint { get; }

    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>The word MSBuild uses for the severity: error, warning or info.</summary>
    public static string SeverityWord(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "info",
    };

    /// <summary>MSBuild canonical form: <c>path(line,col): error DMRG0101: message; hint</c>.</summary>
    public override string ToString()
    {
        var text = Hint is null ? Message : Message + "; " + Hint;
        var where = Location.ToString();
        return (where.Length == 0 ? string.Empty : where + ": ") + SeverityWord(Severity) + " " + Id + ": " + text;
    }
}
