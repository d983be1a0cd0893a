using System.Globalization;

namespace DotnetMerge.Definitions;

/// <summary>Keeps a flood of one kind of problem (4,000,000 unknown keys in a generated file) from burying the rest:
/// the first <see cref="DefinitionLimits.MaxDiagnosticsPerId"/> diagnostics of each id are kept, and the others are
/// summed up in one <see cref="DiagnosticDescriptors.DiagnosticsOmitted"/> line, located at the first one left out and
/// as severe as the most severe one left out (so an omitted error still fails the definition).</summary>
public static class RepeatedDiagnostics
{
    public static IReadOnlyList<DefinitionDiagnostic> Cap(IReadOnlyList<DefinitionDiagnostic> diagnostics, int perId = DefinitionLimits.MaxDiagnosticsPerId)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var omitted = new Dictionary<string, (DefinitionDiagnostic First, int Count, DiagnosticSeverity Severity)>(StringComparer.Ordinal);
        var kept = new List<DefinitionDiagnostic>();
        foreach (var d in diagnostics)
        {
            counts.TryGetValue(d.Id, out var seen);
            counts[d.Id] = seen + 1;
            if (seen < perId)
            {
                kept.Add(d);
                continue;
            }

            omitted[d.Id] = omitted.TryGetValue(d.Id, out var o)
                ? (o.First, o.Count + 1, (DiagnosticSeverity)Math.Max((int)o.Severity, (int)d.Severity))
                : (d, 1, d.Severity);
        }

        foreach (var pair in omitted.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var descriptor = DiagnosticDescriptors.DiagnosticsOmitted;
            kept.Add(new DefinitionDiagnostic(descriptor.Id, pair.Value.Severity,
                descriptor.Format(new object?[] { pair.Value.Count.ToString("N0", CultureInfo.InvariantCulture), pair.Key, perId }),
                pair.Value.First.Location));
        }

        return kept;
    }
}
