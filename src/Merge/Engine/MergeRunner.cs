using DotnetMerge.Definitions;
using DotnetMerge.Execution;
using DotnetMerge.Output;
using DotnetMerge.Planning;

namespace DotnetMerge.Engine;

/// <summary>The engine's front door, used by the CLI, the typed plans and the build step alike:
/// load and validate a definition, check and plan, execute into a staging directory, commit.</summary>
public static class MergeRunner
{
    /// <summary>Result of a completed merge.</summary>
    public sealed record MergeResult(string OutputDirectory, int TensorCount, int ShardCount, MergeExecutor.ExecutionStats Stats, IReadOnlyList<string> Warnings);

    /// <summary>Parses and validates a definition file; errors throw <see cref="DefinitionErrorsException"/> listing all of them.</summary>
    public static MergeDefinition LoadDefinition(string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Definition, $"cannot read the merge definition '{path}': {e.Message}", e);
        }
        return ParseDefinition(text, path, out diagnostics);
    }

    /// <summary>Parses and validates definition text (path is used for locations and relative model paths).</summary>
    public static MergeDefinition ParseDefinition(string text, string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        var result = DefinitionLoader.Load(text, path, new ValidationOptions());
        diagnostics = result.Diagnostics;
        if (result.HasErrors || result.Definition is null) throw new DefinitionErrorsException(result.Diagnostics);
        return result.Definition;
    }

    /// <summary>Opens the inputs and plans every tensor (the caller disposes the plan).</summary>
    public static MergePlan Plan(MergeDefinition definition, MergeOptions options) => MergePlanner.Plan(definition, options);

    /// <summary>Runs a whole merge into <paramref name="outputDirectory"/>.</summary>
    public static async Task<MergeResult> RunAsync(MergeDefinition definition, string outputDirectory, MergeOptions options,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        progress.Stage("checking inputs and planning");
        using var plan = Plan(definition, options);
        foreach (var w in plan.Warnings) progress.Warning(w);
        return await ExecuteAsync(plan, outputDirectory, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Executes an existing plan into <paramref name="outputDirectory"/>, transactionally.</summary>
    public static async Task<MergeResult> ExecuteAsync(MergePlan plan, string outputDirectory, MergeOptions options,
        IMergeProgress progress, CancellationToken cancellationToken, string? extraCardSection = null)
    {
        using var transaction = OutputTransaction.Begin(outputDirectory, options.Force, plan.Models.Select(m => m.Directory));
        transaction.Faults = options.Faults;
        foreach (var line in transaction.RemovedStale) progress.Warning(line);
        if (ModelScopeTrim.Applies(plan))
            plan = plan.WithJobs(ModelScopeTrim.Apply(plan, progress, cancellationToken));
        progress.Stage($"merging {plan.Jobs.Count} tensors with {plan.Method.Name}");
        var stats = await MergeExecutor.ExecuteAsync(plan, transaction.StagingDirectory, options, progress, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        progress.Stage("writing config, tokenizer and model card");
        try
        {
            ModelFiles.WriteConfig(plan, transaction.StagingDirectory);
            if (options.CopyTokenizer)
            {
                options.Faults?.At(FaultPoint.Tokenizer, 0, cancellationToken);
                ModelFiles.CopyTokenizer(plan, transaction.StagingDirectory);
            }
            if (options.WriteModelCard)
            {
                options.Faults?.At(FaultPoint.Card, 0, cancellationToken);
                ModelCard.Write(plan, transaction.StagingDirectory, Path.GetFileName(transaction.OutputDirectory), extraCardSection);
            }
        }
        catch (Exception e) when (OutputErrors.From(e, transaction.OutputDirectory) is { } error)
        {
            throw error;
        }
        transaction.Commit(cancellationToken);
        return new MergeResult(transaction.OutputDirectory, plan.Jobs.Count, plan.Shards.Count, stats, plan.Warnings);
    }
}

/// <summary>The definition has errors (all of them are in <see cref="Diagnostics"/>).</summary>
public sealed class DefinitionErrorsException : MergeException
{
    public DefinitionErrorsException(IReadOnlyList<DefinitionDiagnostic> diagnostics)
        : base(MergeErrorKind.Definition, string.Join(Environment.NewLine, diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)))
        => Diagnostics = diagnostics;

    public IReadOnlyList<DefinitionDiagnostic> Diagnostics { get; }
}
