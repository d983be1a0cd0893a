using System;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.Model;

/// <summary>What must be unique across the definitions of one compilation: the plan's full class name and its hint name
/// (compared ignoring case, as the compiler compares hint names).</summary>
internal sealed record PlanKey(string FullName, string HintName, string Path)
{
    /// <summary>Every definition whose class or hint name another definition also produces, ordered by path.</summary>
    public static EquatableArray<PlanClash> Clashes(ImmutableArray<PlanKey> keys)
    {
        var clashes = keys
            .SelectMany(key => keys
                .Where(other => !ReferenceEquals(other, key) && !string.Equals(other.Path, key.Path, StringComparison.Ordinal)
                    && (string.Equals(other.FullName, key.FullName, StringComparison.Ordinal)
                        || string.Equals(other.HintName, key.HintName, StringComparison.OrdinalIgnoreCase)))
                .Take(1)
                .Select(other => new PlanClash(key.Path, key.FullName, other.Path)))
            .OrderBy(c => c.Path, StringComparer.Ordinal);
        return clashes.ToEquatableArray();
    }
}

/// <summary>A definition whose typed plan is not emitted because <see cref="OtherPath"/> gives the same class.</summary>
internal sealed record PlanClash(string Path, string FullName, string OtherPath)
{
    public const string Id = "DMRG9001";

    public static readonly DiagnosticDescriptor Descriptor = new(
        Id, "Two merge definitions give the same plan class", "{0}", Diagnostics.GeneratorDiagnostics.Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public Diagnostic ToDiagnostic() => Diagnostic.Create(
        Descriptor,
        Location.Create(Path, new TextSpan(0, 0), new LinePositionSpan(new LinePosition(0, 0), new LinePosition(0, 0))),
        "the typed plan '" + FullName.TrimStart('.') + "' of this definition is also generated from '" + OtherPath
        + "', so neither is generated; give one of the MergeDefinition items its own class name with PlanName (for example PlanName=\""
        + SuggestedName() + "\")");

    private string SuggestedName()
    {
        var folder = Parsing.Names.Pascal(System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(Path) ?? string.Empty));
        return (folder.Length > 0 && !folder.StartsWith("_", StringComparison.Ordinal) ? folder : "Other") + FullName.Substring(FullName.LastIndexOf('.') + 1);
    }
}
