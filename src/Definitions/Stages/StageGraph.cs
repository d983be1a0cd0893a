namespace DotnetMerge.Definitions;

/// <summary>One document of a definition file: a merge with an optional stage name (<c>name:</c>, mergekit-multi).</summary>
public sealed class Stage
{
    internal Stage(int document, MergeDefinition definition)
    {
        Document = document;
        Definition = definition;
    }

    /// <summary>Position of the document in the file (0 = first).</summary>
    public int Document { get; }

    /// <summary>The stage name; null for the unnamed (final) document.</summary>
    public string? Name => Definition.Name;

    public MergeDefinition Definition { get; }

    /// <summary>The stages whose outputs this stage merges (distinct, in order of first reference).</summary>
    public IReadOnlyList<Stage> Dependencies { get; internal set; } = Array.Empty<Stage>();

    /// <summary>The stage whose output is the run's output.</summary>
    public bool IsFinal { get; internal set; }

    /// <summary>Name for messages: the stage name, or "final stage" for the unnamed document.</summary>
    public string DisplayName => Name ?? "final stage";

    public override string ToString() => DisplayName;
}

/// <summary>The stages of a definition file, checked: names unique, at most one unnamed document, no cycles, one final
/// output. A model reference whose path equals another stage's name is a dependency on that stage's output (mergekit-multi's
/// rule); any other reference is a model path. A single-document file is a graph of one stage.</summary>
public sealed class StageGraph
{
    private readonly Dictionary<string, Stage> _byName;

    internal StageGraph(string? sourcePath, string sourceText, IReadOnlyList<Stage> order, Stage final, Dictionary<string, Stage> byName)
    {
        SourcePath = sourcePath; SourceText = sourceText; Stages = order; Final = final; _byName = byName;
    }

    public string? SourcePath { get; }

    /// <summary>The whole file.</summary>
    public string SourceText { get; }

    /// <summary>Every stage, each after the stages it depends on (ties in document order).</summary>
    public IReadOnlyList<Stage> Stages { get; }

    public Stage Final { get; }

    /// <summary>True when the file holds more than one document.</summary>
    public bool IsMultiStage => Stages.Count > 1;

    /// <summary>The stage a model reference names, or null when it is a model path. A stage never names itself here
    /// (a self-reference is reported as a cycle).</summary>
    public Stage? StageFor(ModelReference reference) => _byName.TryGetValue(reference.Path, out var s) ? s : null;

    /// <summary>The final stage and every stage it needs, in <see cref="Stages"/> order.</summary>
    public IReadOnlyList<Stage> NeededByFinal()
    {
        var needed = new HashSet<Stage>();
        void Visit(Stage s) { if (needed.Add(s)) foreach (var d in s.Dependencies) Visit(d); }
        Visit(Final);
        return Stages.Where(needed.Contains).ToList();
    }
}

/// <summary>Builds a <see cref="StageGraph"/> from a file's parsed documents and reports what is wrong with it.</summary>
public static class StageGraphBuilder
{
    private static readonly char[] ForbiddenNameChars = { '/', '\\', '@', '+', ':', '\0' };

    /// <param name="definitions">The documents, in file order.</param>
    /// <param name="directoryExists">Answers whether a stage name is also an existing model directory (resolved as a
    /// model path would be); null skips that warning.</param>
    public static (StageGraph? Graph, IReadOnlyList<DefinitionDiagnostic> Diagnostics) Build(IReadOnlyList<MergeDefinition> definitions,
        string? sourcePath, string sourceText, Func<string, string?>? directoryExists = null)
    {
        var diagnostics = new List<DefinitionDiagnostic>();
        void Report(DiagnosticDescriptor d, SourceLocation at, string? hint, params object?[] args) => diagnostics.Add(d.Create(at, hint, args));

        var stages = definitions.Select((d, i) => new Stage(i, d)).ToList();
        var byName = new Dictionary<string, Stage>(StringComparer.Ordinal);
        Stage? unnamed = null;
        foreach (var stage in stages)
        {
            var name = stage.Name;
            var at = stage.Definition.NameLocation.IsEmpty ? stage.Definition.Location : stage.Definition.NameLocation;
            if (name is null)
            {
                if (unnamed is null) unnamed = stage;
                else Report(DiagnosticDescriptors.SeveralUnnamedStages, stage.Definition.Location, "add 'name: <stage>' to every document but the final one",
                    unnamed.Definition.Location.Line);
                continue;
            }
            if (NameProblem(name) is { } problem)
            {
                Report(DiagnosticDescriptors.InvalidStageName, at, null, name, problem);
                continue;
            }
            if (byName.TryGetValue(name, out var first))
            {
                Report(DiagnosticDescriptors.DuplicateStageName, at, null, name, first.Definition.NameLocation.Line);
                continue;
            }
            byName[name] = stage;
            if (definitions.Count > 1 && directoryExists?.Invoke(name) is { } directory)
                Report(DiagnosticDescriptors.StageShadowsPath, at, "rename the stage, or refer to the directory as './" + name + "'", name, directory);
        }

        // Dependencies: every reference whose path is a stage name.
        foreach (var stage in stages)
        {
            var deps = new List<Stage>();
            foreach (var reference in stage.Definition.AllModels())
            {
                if (!byName.TryGetValue(reference.Path, out var target)) continue;
                if (reference.Revision is not null || reference.LoraPath is not null)
                    Report(DiagnosticDescriptors.StageReferenceWithRevision, reference.Location, null, reference.ToString(), target.Name);
                if (!deps.Contains(target)) deps.Add(target);
            }
            stage.Dependencies = deps;
        }

        var order = TopologicalOrder(stages, diagnostics);
        if (order is null) return (null, diagnostics);

        Stage? final = unnamed;
        if (final is null && stages.Count > 0)
        {
            var sinks = stages.Where(s => s.Name is not null && !stages.Any(o => o.Dependencies.Contains(s))).ToList();
            if (sinks.Count == 1) final = sinks[0];
            else if (sinks.Count > 1)
                Report(DiagnosticDescriptors.NoFinalStage, sinks[1].Definition.NameLocation, null, sinks.Count,
                    string.Join(", ", sinks.Select(s => "'" + s.Name + "'")));
        }
        if (final is null || diagnostics.Any(d => d.IsError)) return (null, diagnostics);
        final.IsFinal = true;

        var graph = new StageGraph(sourcePath, sourceText, order, final, byName);
        var needed = graph.NeededByFinal();
        foreach (var stage in stages.Where(s => !needed.Contains(s)))
            Report(DiagnosticDescriptors.UnusedStage, stage.Definition.NameLocation, null, stage.Name);
        return (graph, diagnostics);
    }

    private static string? NameProblem(string name)
    {
        if (name.Trim().Length == 0) return "is empty";
        if (name != name.Trim()) return "starts or ends with white space";
        if (name is "." or "..") return "is not a usable directory name";
        if (name.IndexOfAny(ForbiddenNameChars) >= 0)
            return "contains '" + name[name.IndexOfAny(ForbiddenNameChars)] + "'; a stage name is a plain directory name (letters, digits, '-', '_', '.')";
        return null;
    }

    /// <summary>Kahn's order, smallest document first among the ready stages; a cycle is reported once, at the
    /// reference that closes it.</summary>
    private static IReadOnlyList<Stage>? TopologicalOrder(IReadOnlyList<Stage> stages, List<DefinitionDiagnostic> diagnostics)
    {
        var done = new HashSet<Stage>();
        var order = new List<Stage>();
        while (order.Count < stages.Count)
        {
            var next = stages.FirstOrDefault(s => !done.Contains(s) && s.Dependencies.All(done.Contains));
            if (next is null) break;
            done.Add(next);
            order.Add(next);
        }
        if (order.Count == stages.Count) return order;

        // Walk from a stage left over along unfinished dependencies until a stage repeats: that is a cycle.
        var path = new List<Stage>();
        var current = stages.First(s => !done.Contains(s));
        while (!path.Contains(current))
        {
            path.Add(current);
            current = current.Dependencies.First(d => !done.Contains(d));
        }
        var cycle = path.Skip(path.IndexOf(current)).ToList();
        var closing = cycle[cycle.Count - 1];
        var at = closing.Definition.AllModels().First(r => r.Path == current.Name).Location;
        diagnostics.Add(DiagnosticDescriptors.StageCycle.Create(at, null,
            string.Join(" -> ", cycle.Concat(new[] { current }).Select(s => s.Name))));
        return null;
    }
}
