using System.Globalization;

namespace DotnetMerge.Definitions;

/// <summary>The fixed description of one diagnostic id: its default severity, a short title and the message format
/// (composite format, invariant culture). Every id lives in <see cref="DiagnosticDescriptors"/>.</summary>
public sealed class DiagnosticDescriptor
{
    public DiagnosticDescriptor(string id, DiagnosticSeverity defaultSeverity, string title, string messageFormat)
    {
        Id = id;
        DefaultSeverity = defaultSeverity;
        Title = title;
        MessageFormat = messageFormat;
    }

    /// <summary>"DMRG0101" and so on.</summary>
    public string Id { get; }

    public DiagnosticSeverity DefaultSeverity { get; }

    public string Title { get; }

    public string MessageFormat { get; }

    /// <summary>Creates a diagnostic at <paramref name="location"/> with this descriptor's default severity.</summary>
    public DefinitionDiagnostic Create(SourceLocation location, string? hint, params object?[] args)
        => new(Id, DefaultSeverity, Format(args), location, hint);

    internal string Format(object?[] args)
        => args.Length == 0 ? MessageFormat : string.Format(CultureInfo.InvariantCulture, MessageFormat, args);

    public override string ToString() => Id + ": " + Title;
}
