using DotnetMerge.Definitions;
using DotnetMerge.Execution;
using DotnetMerge.Models;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Engine;

/// <summary>How a multi-stage definition runs (mergekit-multi's options).</summary>
public sealed record MultiStageOptions
{
    /// <summary>Where each named stage's model is written (as <c>DIR/&lt;name&gt;</c>) and read back by later stages.
    /// Null: intermediate stages are computed in the same pass as the final one and never written.</summary>
    public string? IntermediateDirectory { get; init; }

    /// <summary>With <see cref="IntermediateDirectory"/>: a stage whose model is already complete there is not run
    /// again (mergekit-multi's <c>--lazy</c>, its default).</summary>
    public bool Lazy { get; init; } = true;
}

/// <summary>Runs a definition file of one or more stages (YAML documents, mergekit-multi): every stage is checked and
/// planned before any tensor is read; then either the final stage runs with the intermediate stages' tensors computed
/// in the same pass (default), or each stage is written to the intermediate directory in turn and read back.</summary>
public static class MultiStageRunner
{
    /// <summary>Reads and checks a definition file as stages; errors throw <see cref="DefinitionErrorsException"/>. With
    /// <paramref name="allowUnknownKeys"/>: a near miss of a real key or parameter name is a warning, not an error.</summary>
    public static StageGraph LoadStages(string path, string? workingDirectory, out IReadOnlyList<DefinitionDiagnostic> diagnostics,
        bool allowUnknownKeys = false, CancellationToken cancellationToken = default)
        => ParseStages(DefinitionFile.Read(path, cancellationToken), path, workingDirectory, out diagnostics, allowUnknownKeys, cancellationToken);

    /// <summary>Parses and checks definition text as stages (path is used for locations and relative model paths).</summary>
    public static StageGraph ParseStages(string text, string path, string? workingDirectory, out IReadOnlyList<DefinitionDiagnostic> diagnostics,
        bool allowUnknownKeys = false, CancellationToken cancellationToken = default)
    {
        var definitionDirectory = string.IsNullOrEmpty(path) ? null : Path.GetDirectoryName(Path.GetFullPath(path));
        string? Shadowed(string name)
        {
            var directory = ModelSource.ResolveDirectory(new ModelReference(name), definitionDirectory, workingDirectory, localOnly: true);
            return Directory.Exists(directory) ? directory : null;
        }
        var result = DefinitionLoader.LoadStages(text, path, new ValidationOptions { AllowUnknownKeys = allowUnknownKeys }, Shadowed, cancellationToken);
        diagnostics = result.Diagnostics;
        if (result.HasErrors || result.Graph is null) throw new DefinitionErrorsException(result.Diagnostics);
        return result.Graph;
    }

    /// <summary>Checks and plans every stage that will run (with an intermediate directory: all of them, minus those
    /// reused); the caller disposes the plan.</summary>
    public static MultiStagePlan Plan(StageGraph graph, MergeOptions options, MultiStageOptions stages)
        => StagePlanner.Plan(graph, options, everyStage: stages.IntermediateDirectory is not null,
            reuse: stages is { IntermediateDirectory: { } dir, Lazy: true }
                ? s => IsComplete(StageDirectory(dir, s)) ? StageDirectory(dir, s) : null
                : null);

    /// <summary>Where a named stage's model goes in the intermediate directory.</summary>
    public static string StageDirectory(string intermediateDirectory, Stage stage) => Path.Combine(Path.GetFullPath(intermediateDirectory), stage.Name!);

    /// <summary>mergekit-multi's test for a finished stage: a config.json and model weights (a single file or an index).
    /// dotnet-merge's own outputs are renamed into place only when complete, so that test is enough for them.</summary>
    public static bool IsComplete(string directory)
        => File.Exists(Path.Combine(directory, "config.json"))
           && (File.Exists(Path.Combine(directory, ModelCheckpoint.SingleFileName)) || File.Exists(Path.Combine(directory, ModelCheckpoint.IndexFileName)));

    /// <summary>Runs every stage; the final stage's model goes to <paramref name="outputDirectory"/>.</summary>
    public static async Task<MergeRunner.MergeResult> RunAsync(StageGraph graph, string outputDirectory, MergeOptions options,
        MultiStageOptions stages, IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        progress.Stage(graph.IsMultiStage ? $"checking inputs and planning {graph.Stages.Count} stages" : "checking inputs and planning");
        options = Hub.HubPrecheck.Cancellable(options, cancellationToken, progress);
        if (graph.Stages.Any(s => Hub.HubPrecheck.Needed(s.Definition, options)))
            using (Plan(graph, Hub.HubPrecheck.ForChecking(options, cancellationToken), stages)) { } // hub models: every check on their headers before any weight is downloaded
        using var multi = Plan(graph, options, stages);
        PhaseTimings.Mark("inputs checked and planned");
        foreach (var w in multi.Warnings) progress.Warning(w);
        var card = graph.IsMultiStage ? StagesCardSection(graph) : null;

        if (stages.IntermediateDirectory is not { } intermediate)
        {
            // Fused: the plan a partitioned run makes, so the shards' records let `run --resume` take over a killed run.
            var fingerprint = Partitioning.PlanFingerprint.Of(multi.Final, graph.SourceText, options);
            // A pre-pass of an intermediate stage (trim_scope: model) runs first, in stage order.
            foreach (var stage in multi.Stages)
                if (stage.Output is { } output && WholeModelPrePass.Applies(output.Plan))
                    output.UsePlan(output.Plan.WithJobs(WholeModelPrePass.Apply(output.Plan, progress, cancellationToken, options)));
            return await MergeRunner.ExecuteAsync(multi.Final, outputDirectory, options, progress, cancellationToken, card, resumable: fingerprint).ConfigureAwait(false);
        }

        // The output must be usable before hours are spent on the intermediates.
        OutputTransaction.CheckLocation(outputDirectory, options.Force, multi.Final.Models.SelectMany(m => m.InputDirectories));
        string DirectoryOf(Stage s) => StageDirectory(intermediate, s);
        foreach (var stage in multi.Stages.Where(s => !s.Stage.IsFinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stage.ReusedDirectory is { } reused)
            {
                progress.Stage($"stage '{stage.Stage.Name}': reusing the complete model in {reused}");
                continue;
            }
            progress.Stage($"stage '{stage.Stage.Name}' -> {DirectoryOf(stage.Stage)}");
            using var plan = StagePlanner.PlanReadingOutputs(stage.Stage, graph, options, DirectoryOf);
            // The stage directories in DIR belong to the run: a stage that runs again replaces its directory.
            await MergeRunner.ExecuteAsync(plan, DirectoryOf(stage.Stage), options with { Force = true }, progress, cancellationToken).ConfigureAwait(false);
        }
        progress.Stage(graph.IsMultiStage ? "final stage" : "merging");
        using var final = StagePlanner.PlanReadingOutputs(graph.Final, graph, options, DirectoryOf);
        return await MergeRunner.ExecuteAsync(final, outputDirectory, options, progress, cancellationToken, card).ConfigureAwait(false);
    }

    /// <summary>The model card's record of the whole file (the card's configuration section holds the final document).</summary>
    internal static string StagesCardSection(StageGraph graph)
        => "### Stages\n\nThe final stage of a multi-stage definition (" + graph.Stages.Count + " stages: "
           + string.Join(", ", graph.Stages.Select(s => s.IsFinal ? "final" : "`" + s.Name + "`")) + "). The whole file:\n\n```yaml\n"
           + graph.SourceText.TrimEnd() + "\n```\n";
}
