using System.Globalization;
using DotnetMerge.Definitions;
using DotnetMerge.Execution;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Engine;

/// <summary>The engine's front door, used by the CLI, the typed plans and the build step alike:
/// load and validate a definition, check and plan, execute into a staging directory, commit.</summary>
public static class MergeRunner
{
    /// <summary>Result of a completed merge.</summary>
    public sealed record MergeResult(string OutputDirectory, int TensorCount, int ShardCount, MergeExecutor.ExecutionStats Stats, IReadOnlyList<string> Warnings);

    /// <summary>Parses and validates a definition file; errors throw <see cref="DefinitionErrorsException"/> listing all of them.
    /// <paramref name="allowUnknownKeys"/>: a near miss of a real key or parameter name is a warning, not an error.</summary>
    public static MergeDefinition LoadDefinition(string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics, bool allowUnknownKeys = false)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Definition, $"cannot read the merge definition '{path}': {e.Message}", e);
        }
        return ParseDefinition(text, path, out diagnostics, allowUnknownKeys);
    }

    /// <summary>Parses and validates definition text (path is used for locations and relative model paths).</summary>
    public static MergeDefinition ParseDefinition(string text, string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics, bool allowUnknownKeys = false)
    {
        var result = DefinitionLoader.Load(text, path, new ValidationOptions { AllowUnknownKeys = allowUnknownKeys });
        diagnostics = result.Diagnostics;
        if (result.HasErrors || result.Definition is null) throw new DefinitionErrorsException(result.Diagnostics);
        return result.Definition;
    }

    /// <summary>Opens the inputs and plans every tensor (the caller disposes the plan). A memory bound
    /// (<see cref="MergeOptions.MaxMemoryBytes"/>) below what the largest tensor job needs is an error here, before any
    /// tensor is read.</summary>
    public static MergePlan Plan(MergeDefinition definition, MergeOptions options)
    {
        var plan = MergePlanner.Plan(definition, options);
        if (options.MaxMemoryBytes is { } max && plan.Jobs.Count > 0 && max < plan.LargestJobBytes)
        {
            var largest = plan.Jobs.MaxBy(j => j.InputBytes + j.OutputBytes)!;
            long need = largest.InputBytes + largest.OutputBytes;
            plan.Dispose();
            throw new MergeException(MergeErrorKind.Definition, string.Create(CultureInfo.InvariantCulture,
                $"--max-memory {ShardSize.Format(max)} is less than the largest tensor needs: {largest.OutputName} holds {need} bytes ({ShardSize.Format(need)}) of inputs and output at once; give at least {need} (or leave --max-memory out)"));
        }
        return plan;
    }

    /// <summary>Runs a whole merge into <paramref name="outputDirectory"/>.</summary>
    public static async Task<MergeResult> RunAsync(MergeDefinition definition, string outputDirectory, MergeOptions options,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        progress.Stage("checking inputs and planning");
        options = Hub.HubPrecheck.Cancellable(options, cancellationToken);
        if (Hub.HubPrecheck.Needed(definition, options))
            using (Plan(definition, Hub.HubPrecheck.ForChecking(options, cancellationToken))) { } // hub models: every check on their headers before any weight is downloaded
        using var plan = Plan(definition, options);
        foreach (var w in plan.Warnings) progress.Warning(w);
        return await ExecuteAsync(plan, outputDirectory, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Executes an existing plan into <paramref name="outputDirectory"/>, transactionally.</summary>
    public static async Task<MergeResult> ExecuteAsync(MergePlan plan, string outputDirectory, MergeOptions options,
        IMergeProgress progress, CancellationToken cancellationToken, string? extraCardSection = null)
    {
        using var transaction = OutputTransaction.Begin(outputDirectory, options.Force, plan.Models.Select(m => m.Directory));
        if (ModelScopeTrim.Applies(plan))
            plan = plan.WithJobs(ModelScopeTrim.Apply(plan, progress, cancellationToken));
        progress.Stage($"merging {plan.Jobs.Count} tensors with {plan.Method.Name}");
        var stats = await MergeExecutor.ExecuteAsync(plan, transaction.StagingDirectory, options, progress, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        progress.Stage("writing config, tokenizer and model card");
        ModelFiles.WriteConfig(plan, transaction.StagingDirectory);
        if (options.CopyTokenizer) ModelFiles.CopyTokenizer(plan, transaction.StagingDirectory);
        if (options.WriteModelCard) ModelCard.Write(plan, transaction.StagingDirectory, Path.GetFileName(transaction.OutputDirectory), extraCardSection);
        cancellationToken.ThrowIfCancellationRequested();
        transaction.Commit();
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
