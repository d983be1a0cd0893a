using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DotnetMerge.Definitions;
using DotnetMerge.Generators.Diagnostics;
using DotnetMerge.Generators.Model;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.Parsing;

/// <summary>Parses and validates one definition with DotnetMerge.Definitions (the same validator as the CLI) and turns
/// the outcome into equatable form.</summary>
internal static class PlanReader
{
    /// <summary>Answers whether a local model directory exists. The one file-system question the generator asks (the
    /// definition library itself does no I/O); switched off with <c>DotnetMergeCheckModelPaths=false</c>. Tests may
    /// replace it.</summary>
    internal static Func<string, bool> PathExists { get; set; } = DefaultPathExists;

    public static PlanResult Read(PlanInput input, CancellationToken cancellationToken)
    {
        var text = SourceText.From(input.Text);
        try
        {
            var options = new ValidationOptions
            {
                PathExists = input.CheckModelPaths ? PathExists : null,
                BaseDirectory = System.IO.Path.GetDirectoryName(input.Path),
            };
            // A search form ({search: ...}) is a parameter the plan exposes for its user (or `dotnet merge tune`) to set: it
            // compiles, and running the plan with it unset is DMRG0330 (TypedMergePlan.BuildDefinition).
            var result = DefinitionLoader.Load(input.Text, input.Path, new ValidationOptions
            {
                PathExists = options.PathExists,
                BaseDirectory = options.BaseDirectory,
                AllowSearch = true,
            });
            cancellationToken.ThrowIfCancellationRequested();
            if (result.Diagnostics.Any(d => d.Id == DiagnosticDescriptors.ExtraDocuments.Id))
                return ReadStages(input, options, text, cancellationToken);
            var diagnostics = result.Diagnostics.Select(d => ToInfo(d, input.Path, text)).ToEquatableArray();
            if (result.HasErrors || result.Definition is null || MethodCatalog.Find(result.Definition.MergeMethod) is not { } method)
                return new PlanResult(null, diagnostics);
            return new PlanResult(PlanSpecBuilder.Build(input, result.Definition, method), diagnostics);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var failure = new DiagnosticInfo(GeneratorDiagnostics.GeneratorFailure.Id, Microsoft.CodeAnalysis.DiagnosticSeverity.Error,
                "the merge plan generator failed on this definition: " + e.GetType().Name + ": " + e.Message,
                input.Path, 0, 0, 0, 0, 0, 0);
            return new PlanResult(null, new[] { failure }.ToEquatableArray());
        }
    }

    /// <summary>A file of several YAML documents (a multi-stage definition): every document validated and the stage graph
    /// checked by the definition library, as the CLI does; the plan has one stage member per document.</summary>
    private static PlanResult ReadStages(PlanInput input, ValidationOptions options, SourceText text, CancellationToken cancellationToken)
    {
        Func<string, string?>? shadowed = null;
        if (options.PathExists is { } exists && options.BaseDirectory is { } directory)
        {
            shadowed = name =>
            {
                var path = System.IO.Path.Combine(directory, name);
                return exists(path) ? path : null;
            };
        }

        var stages = DefinitionLoader.LoadStages(input.Text, input.Path, options, shadowed, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var diagnostics = stages.Diagnostics.Select(d => ToInfo(d, input.Path, text)).ToEquatableArray();
        if (stages.HasErrors || stages.Graph is null)
            return new PlanResult(null, diagnostics);
        return new PlanResult(PlanSpecBuilder.BuildStages(input, stages.Graph), diagnostics);
    }

    /// <summary>The diagnostic at its 1-based line/column, spanning the word there (up to a ": " or the line's end).</summary>
    internal static DiagnosticInfo ToInfo(DefinitionDiagnostic diagnostic, string path, SourceText text)
    {
        var message = diagnostic.Hint is null ? diagnostic.Message : diagnostic.Message + "; " + diagnostic.Hint;
        var severity = GeneratorDiagnostics.Map(diagnostic.Severity);
        var location = diagnostic.Location;
        if (location.IsEmpty || text.Lines.Count == 0)
            return new DiagnosticInfo(diagnostic.Id, severity, message, path, 0, 0, 0, 0, 0, 0);

        var lineIndex = Math.Min(location.Line - 1, text.Lines.Count - 1);
        var line = text.Lines[lineIndex];
        var column = Math.Max(0, Math.Min(location.Column - 1, line.Span.Length));
        var start = line.Start + column;
        var end = start;
        while (end < line.End && !EndsToken(text, end, line.End))
            end++;
        return new DiagnosticInfo(diagnostic.Id, severity, message, path, start, end - start,
            lineIndex, column, lineIndex, column + (end - start))
        {
            Suggestions = string.Join("\n", NameSuggester.Suggested(diagnostic.Hint)),
        };
    }

    private static bool EndsToken(SourceText text, int position, int lineEnd)
    {
        var c = text[position];
        if (c == ':' && (position + 1 == lineEnd || char.IsWhiteSpace(text[position + 1])))
            return true;
        return c == '#' && position > 0 && char.IsWhiteSpace(text[position - 1]);
    }

#pragma warning disable RS1035 // File I/O in an analyzer: only an existence check of the definition's own model directories, documented in docs/typed-plans.md.
    private static bool DefaultPathExists(string path) => System.IO.Directory.Exists(path) || System.IO.File.Exists(path);
#pragma warning restore RS1035
}
