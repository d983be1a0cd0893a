namespace DotnetMerge.Definitions;

/// <summary>How serious a definition diagnostic is. Only <see cref="Error"/> stops a merge.</summary>
public enum DiagnosticSeverity
{
    Info,
    Warning,
    Error,
}
