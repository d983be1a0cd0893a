namespace DotnetMerge.Definitions;

/// <summary>Parse and validate in one call.</summary>
public static class DefinitionLoader
{
    /// <summary>Parses <paramref name="text"/> and, when it yields a definition, validates it (near misses of real names
    /// are errors unless <see cref="ValidationOptions.AllowUnknownKeys"/>, see <see cref="UnknownNames"/>). Diagnostics are
    /// ordered by position (stable for equal positions), at most <see cref="DefinitionLimits.MaxDiagnosticsPerId"/> of each
    /// id (see <see cref="RepeatedDiagnostics"/>).</summary>
    public static ParseResult Load(string text, string path, ValidationOptions? options = null)
        => Load(text, path, options, CancellationToken.None);

    /// <summary>As <see cref="Load(string, string, ValidationOptions?)"/>, cancellable while parsing.</summary>
    public static ParseResult Load(string text, string path, ValidationOptions? options, CancellationToken cancellationToken)
    {
        var parsed = DefinitionParser.Parse(text, path, cancellationToken);
        if (parsed.Definition is null)
            return new ParseResult(null, InPositionOrder(parsed.Diagnostics, options));
        cancellationToken.ThrowIfCancellationRequested();
        return new ParseResult(parsed.Definition, InPositionOrder(parsed.Diagnostics.Concat(DefinitionValidator.Validate(parsed.Definition, options)), options));
    }

    /// <summary>Reads a file as stages (one per YAML document, mergekit-multi): parses and validates every document,
    /// then checks the stage graph (names, dependencies, cycles, the final output). A single-document file yields a
    /// graph of one stage.</summary>
    /// <param name="stageDirectoryExists">Answers, for a stage name, the existing directory a model reference of that
    /// name would also resolve to (null when none); null skips that check.</param>
    public static StageLoadResult LoadStages(string text, string path, ValidationOptions? options = null,
        Func<string, string?>? stageDirectoryExists = null, CancellationToken cancellationToken = default)
    {
        var documents = DefinitionParser.ParseDocuments(text, path, cancellationToken);
        var diagnostics = new List<DefinitionDiagnostic>();
        foreach (var document in documents)
        {
            cancellationToken.ThrowIfCancellationRequested();
            diagnostics.AddRange(document.Diagnostics);
            if (document.Definition is not null) diagnostics.AddRange(DefinitionValidator.Validate(document.Definition, options));
        }
        if (documents.Any(d => d.Definition is null))
            return new StageLoadResult(null, InPositionOrder(diagnostics, options));
        var (graph, graphDiagnostics) = StageGraphBuilder.Build(documents.Select(d => d.Definition!).ToList(), path, text, stageDirectoryExists);
        diagnostics.AddRange(graphDiagnostics);
        return new StageLoadResult(graph, InPositionOrder(diagnostics, options));
    }

    /// <summary>Near misses as the options say (<see cref="UnknownNames"/>), ordered by position (stable for equal
    /// positions), repeats capped (<see cref="RepeatedDiagnostics"/>).</summary>
    private static List<DefinitionDiagnostic> InPositionOrder(IEnumerable<DefinitionDiagnostic> diagnostics, ValidationOptions? options)
        => RepeatedDiagnostics.Cap(UnknownNames.Apply(diagnostics, options)
            .Select((d, i) => (d, i))
            .OrderBy(p => p.d.Location.Line).ThenBy(p => p.d.Location.Column).ThenBy(p => p.i)
            .Select(p => p.d)
            .ToList()).ToList();
}
