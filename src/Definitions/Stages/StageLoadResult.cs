namespace DotnetMerge.Definitions;

/// <summary>The outcome of reading a definition file as stages (<see cref="DefinitionLoader.LoadStages"/>).</summary>
public sealed class StageLoadResult
{
    public StageLoadResult(StageGraph? graph, IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        Graph = graph;
        Diagnostics = diagnostics;
    }

    /// <summary>The checked stages; null when a document or the graph has errors.</summary>
    public StageGraph? Graph { get; }

    /// <summary>Every document's diagnostics and the graph's, in position order.</summary>
    public IReadOnlyList<DefinitionDiagnostic> Diagnostics { get; }

    public bool HasErrors => Graph is null || Diagnostics.Any(d => d.IsError);
}
