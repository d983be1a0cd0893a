namespace DotnetMerge.Definitions;

/// <summary>The bounds every definition is read within. A merge definition is a few kilobytes (mergekit's largest
/// examples list a few hundred values), so these are far above any real one and far below what would let a hostile
/// or mistaken input (a device file, a generated 50 MB YAML, a 100,000-deep nesting, an alias bomb) exhaust memory,
/// the stack or time. docs/reliability.md ("Hostile input") lists them.</summary>
public static class DefinitionLimits
{
    /// <summary>Largest definition accepted: 4 MiB (bytes of a file, characters of a text).</summary>
    public const int MaxLength = 4 * 1024 * 1024;

    /// <summary>Deepest nesting of mappings and sequences (a real definition nests about 10 deep).</summary>
    public const int MaxDepth = 64;

    /// <summary>Most YAML nodes (scalars, mappings, sequences), counting every use of an alias as a copy of what it
    /// names, as the reader sees them.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>How many diagnostics of one id are listed before the rest are summed up in one line
    /// (<see cref="DiagnosticDescriptors.DiagnosticsOmitted"/>).</summary>
    public const int MaxDiagnosticsPerId = 20;

    /// <summary>"4 MiB".</summary>
    public static string MaxLengthText => (MaxLength / (1024 * 1024)) + " MiB";
}
