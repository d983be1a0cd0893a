using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Definitions = DotnetMerge.Definitions;

namespace DotnetMerge.Generators.Diagnostics;

/// <summary>Roslyn descriptors for every definition diagnostic (same id, title and default severity as
/// <see cref="Definitions.DiagnosticDescriptors"/>; the message is the definition library's text) plus the
/// generator's own failure diagnostic.</summary>
internal static class GeneratorDiagnostics
{
    public const string Category = "DotnetMerge";

    private static readonly ConcurrentDictionary<string, DiagnosticDescriptor> Extra = new(StringComparer.Ordinal);

    /// <summary>The generator itself failed on a definition (a bug): reported instead of crashing the compiler.</summary>
    public static readonly DiagnosticDescriptor GeneratorFailure = new(
        "DMRG9999", "Merge plan generator failed", "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>Every definition descriptor, by id.</summary>
    public static IReadOnlyDictionary<string, DiagnosticDescriptor> All { get; } = Definitions.DiagnosticDescriptors.All
        .ToDictionary(d => d.Id, d => new DiagnosticDescriptor(d.Id, d.Title, "{0}", Category, Map(d.DefaultSeverity), isEnabledByDefault: true),
            StringComparer.Ordinal);

    /// <summary>The descriptor for <paramref name="id"/>; ids the catalog does not know get one with the given severity.</summary>
    public static DiagnosticDescriptor Get(string id, DiagnosticSeverity severity)
    {
        if (All.TryGetValue(id, out var descriptor))
            return descriptor;
        if (string.Equals(id, GeneratorFailure.Id, StringComparison.Ordinal))
            return GeneratorFailure;
        return Extra.GetOrAdd(id, i => new DiagnosticDescriptor(i, i, "{0}", Category, severity, isEnabledByDefault: true));
    }

    public static DiagnosticSeverity Map(Definitions.DiagnosticSeverity severity) => severity switch
    {
        Definitions.DiagnosticSeverity.Error => DiagnosticSeverity.Error,
        Definitions.DiagnosticSeverity.Warning => DiagnosticSeverity.Warning,
        _ => DiagnosticSeverity.Info,
    };
}
