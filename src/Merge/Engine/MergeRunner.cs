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

    /// <summary>Parses and validates a definition file (read by <see cref="DefinitionFile.Read"/>: a regular file within
    /// the size limit); errors throw <see cref="DefinitionErrorsException"/> listing all of them.
    /// <paramref name="allowUnknownKeys"/>: a near miss of a real key or parameter name is a warning, not an error.</summary>
    public static MergeDefinition LoadDefinition(string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics, bool allowUnknownKeys = false,
        CancellationToken cancellationToken = default)
        => ParseDefinition(DefinitionFile.Read(path, cancellationToken), path, out diagnostics, allowUnknownKeys, cancellationToken);

    /// <summary>Parses and validates definition text (path is used for locations and relative model paths).</summary>
    public static MergeDefinition ParseDefinition(string text, string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics, bool allowUnknownKeys = false,
        CancellationToken cancellationToken = default)
    {
        var result = DefinitionLoader.Load(text, path, new ValidationOptions { AllowUnknownKeys = allowUnknownKeys }, cancellationToken);
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
        options = Hub.HubPrecheck.Cancellable(options, cancellationToken, progress);
        if (Hub.HubPrecheck.Needed(definition, options))
            using (Plan(definition, Hub.HubPrecheck.ForChecking(options, cancellationToken))) { } // hub models: every check on their headers before any weight is downloaded
        using var plan = Plan(definition, options);
        foreach (var w in plan.Warnings) progress.Warning(w);
        return await ExecuteAsync(plan, outputDirectory, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Executes an existing plan into <paramref name="outputDirectory"/>, transactionally.
    /// <paramref name="writeExtraFiles"/> adds files of the caller's (a report) to the staging directory before the commit.
    /// With <paramref name="resumable"/> (the plan's fingerprint) each finished shard gets a record (size, XxHash128) in the
    /// staging directory's <c>.dotnet-merge-parts/records</c>, so that <c>run --resume</c> can take over the finished shards of
    /// a run that was killed; the records are removed before the commit.</summary>
    public static async Task<MergeResult> ExecuteAsync(MergePlan plan, string outputDirectory, MergeOptions options,
        IMergeProgress progress, CancellationToken cancellationToken, string? extraCardSection = null, Action<string>? writeExtraFiles = null,
        Partitioning.PlanFingerprint? resumable = null)
    {
        using var transaction = OutputTransaction.Begin(outputDirectory, options.Force, plan.Models.SelectMany(m => m.InputDirectories));
        transaction.Faults = options.Faults;
        foreach (var line in transaction.RemovedStale) progress.Warning(line);
        PhaseTimings.Mark("output directory staged");
        if (WholeModelPrePass.Applies(plan))
            plan = plan.WithJobs(WholeModelPrePass.Apply(plan, progress, cancellationToken, options));
        progress.Stage($"merging {plan.Jobs.Count} tensors with {plan.Method.Name}");
        var bookkeeping = resumable is null ? null : new Partitioning.PartFiles(transaction.StagingDirectory);
        if (bookkeeping is not null) Directory.CreateDirectory(bookkeeping.Records);
        var stats = await MergeExecutor.ExecuteAsync(plan, transaction.StagingDirectory, options, progress, cancellationToken,
            bookkeeping is null ? ShardDigests.None : ShardDigests.Fast,
            bookkeeping is null ? null : (file, digest) => bookkeeping.WriteShardRecord(new Partitioning.PartFiles.ShardRecord(file, digest, resumable!, 0, 1))).ConfigureAwait(false);
        if (bookkeeping is not null) Directory.Delete(bookkeeping.Root, recursive: true);
        PhaseTimings.Mark("tensors merged and written");
        cancellationToken.ThrowIfCancellationRequested();
        progress.Stage("writing config, tokenizer and model card");
        try
        {
            WriteModelFiles(plan, transaction.StagingDirectory, options, Path.GetFileName(transaction.OutputDirectory), extraCardSection, cancellationToken);
            writeExtraFiles?.Invoke(transaction.StagingDirectory);
        }
        catch (Exception e) when (OutputErrors.From(e, transaction.OutputDirectory) is { } error)
        {
            throw error;
        }
        PhaseTimings.Mark("config, tokenizer and card written");
        transaction.Commit(cancellationToken);
        PhaseTimings.Mark("output committed");
        return new MergeResult(transaction.OutputDirectory, plan.Jobs.Count, plan.Shards.Count, stats, plan.Warnings);
    }

    /// <summary>The files of a merged model beside its tensors: config.json, the tokenizer (unless turned off) and the
    /// model card (unless turned off). Also what a multi-stage merge writes for a stage computed in the same pass.</summary>
    public static void WriteModelFiles(MergePlan plan, string directory, MergeOptions options, string title, string? extraCardSection = null,
        CancellationToken cancellationToken = default)
    {
        ModelFiles.WriteConfig(plan, directory);
        if (options.CopyTokenizer)
        {
            options.Faults?.At(FaultPoint.Tokenizer, 0, cancellationToken);
            ModelFiles.CopyTokenizer(plan, directory);
        }
        if (options.WriteModelCard)
        {
            options.Faults?.At(FaultPoint.Card, 0, cancellationToken);
            ModelCard.Write(plan, directory, title, extraCardSection);
        }
    }
}

/// <summary>The definition has errors (all of them are in <see cref="Diagnostics"/>).</summary>
public sealed class DefinitionErrorsException : MergeException
{
    public DefinitionErrorsException(IReadOnlyList<DefinitionDiagnostic> diagnostics)
        : this(diagnostics, string.Join(Environment.NewLine, diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)))
    {
    }

    private DefinitionErrorsException(IReadOnlyList<DefinitionDiagnostic> diagnostics, string formatted)
        : base(MergeErrorKind.Definition, (diagnostics.FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error) ?? diagnostics[0]).Id,
            formatted, formatted, null)
        => Diagnostics = diagnostics;

    public IReadOnlyList<DefinitionDiagnostic> Diagnostics { get; }
}
