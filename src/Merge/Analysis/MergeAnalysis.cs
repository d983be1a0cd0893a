using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Analysis;

/// <summary>How <c>analyze</c> runs.</summary>
public sealed record AnalysisOptions
{
    /// <summary>A merged model to compare with the inputs (<c>--merged</c>), or null.</summary>
    public string? MergedDirectory { get; init; }

    public ExecutionSettings Settings { get; init; } = ExecutionSettings.Default;
}

/// <summary>Progress of an analysis: a tensor's sums are done (<paramref name="bytesRead"/> of its inputs read).</summary>
public delegate void AnalysisProgress(string tensor, int done, int total, long bytesRead, long bytesTotal);

/// <summary><c>dotnet merge analyze</c>: the interference between a merge's inputs, measured on their task vectors
/// (fine-tune − base), tensor by tensor in bounded memory (one tensor job's inputs at a time, all cores on it), with
/// no map pass written anywhere. Consumes the same plan as a run: hub ids, adapters, slices and stages resolve as they
/// do there.</summary>
public static class MergeAnalysis
{
    /// <summary>The definition has no base model to take task vectors from.</summary>
    public const string NoBaseId = "DMRG0960";
    /// <summary>The merged model given with <c>--merged</c> cannot be compared (missing, lacks a tensor, another shape).</summary>
    public const string MergedMismatchId = ErrorIds.AnalyzeMergedMismatch;
    /// <summary>The definition merges nothing but the base (no task vector to analyse).</summary>
    public const string NoTaskModelsId = "DMRG0962";

    public static AnalysisReport Run(MergePlan plan, AnalysisOptions options, AnalysisProgress? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(options);
        var jobs = plan.Jobs.Where(j => j.Kind == JobKind.Merge && j.BaseIndex >= 0 && j.OutputBytes > 0).ToList();
        var definition = plan.Definition;
        if (jobs.Count == 0)
            throw new DefinitionErrorsException([new DefinitionDiagnostic(NoBaseId, DiagnosticSeverity.Error,
                $"analyze measures task vectors (each model minus the base) and this {plan.Method.Name} definition has no base_model",
                definition.BaseModel?.Location is { } l && !string.IsNullOrEmpty(l.Path) ? l : definition.MergeMethodLocation,
                "add base_model: the model the inputs were fine-tuned from (linear merges it as one more input: list it under models: too, with weight: 0, to keep the merge as it was)")]);
        var baseModel = jobs[0].Inputs[jobs[0].BaseIndex].Model;
        var tasks = plan.Models.Where(m => !ReferenceEquals(m, baseModel) && jobs.Any(j => j.Inputs.Any(i => !i.IsBase && ReferenceEquals(i.Model, m)))).ToList();
        if (tasks.Count == 0)
            throw new DefinitionErrorsException([new DefinitionDiagnostic(NoTaskModelsId, DiagnosticSeverity.Error,
                "analyze compares the models merged into the base, and this definition merges only the base itself",
                definition.ModelsLocation, "list the fine-tuned models under models:")]);

        using var merged = options.MergedDirectory is { } dir ? OpenMerged(dir, jobs) : null;
        if (WholeModelPrePass.Applies(plan))
        {
            var scoped = WholeModelPrePass.Apply(plan, NullProgress.Instance, ct);
            plan = plan.WithJobs(scoped);
            var names = jobs.Select(j => j.OutputName).ToHashSet(StringComparer.Ordinal);
            jobs = plan.Jobs.Where(j => names.Contains(j.OutputName)).ToList();
        }
        var sparsification = plan.Implementation is GeneralizedTaskArithmetic g ? g.Sparsification : Sparsification.None;

        int layerCount = baseModel.Layout.LayerCount;
        var layout = baseModel.Layout;
        var layers = new SortedDictionary<int, DeltaSums>();
        var groups = new SortedDictionary<TensorGroup, DeltaSums>();
        var total = new DeltaSums(tasks.Count);
        long bytesTotal = jobs.Sum(j => j.BytesFromDisk), bytesRead = 0;
        for (int index = 0; index < jobs.Count; index++)
        {
            ct.ThrowIfCancellationRequested();
            var job = jobs[index];
            var slots = job.Inputs.Select(i => i.IsBase ? -1 : tasks.IndexOf(i.Model)).ToArray();
            byte[]? mergedBytes = null;
            var mergedDtype = Dtype.F32;
            if (merged is not null)
            {
                merged.TryGetTensor(job.OutputName, out var info, out var file);
                mergedBytes = new byte[info.ByteLength];
                try
                {
                    file.ReadTensor(info, mergedBytes);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException)
                {
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.AnalyzeMergedMismatch, $"--merged {options.MergedDirectory}: cannot read tensor '{job.OutputName}': {e.Message}", e);
                }
                mergedDtype = info.Dtype;
            }
            DeltaSums sums;
            try
            {
                sums = TensorAnalyzer.Analyze(plan, job, slots, tasks.Count, sparsification, mergedBytes, mergedDtype, options.Settings, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SafetensorsFormatException or CheckpointException)
            {
                // A file that went bad since planning is an input error (exit code 3) naming the tensor, not a bug.
                throw new MergeException(MergeErrorKind.Input, ErrorIds.InputReadFailed, $"cannot read the inputs of tensor '{job.OutputName}': {e.Message}", e);
            }
            total.Add(sums);
            int layer = TensorGroups.LayerOf(job.OutputName, layout);
            if (layer >= 0) Into(layers, layer, tasks.Count).Add(sums);
            Into(groups, TensorGroups.Of(job.OutputName), tasks.Count).Add(sums);
            bytesRead += job.BytesFromDisk;
            progress?.Invoke(job.OutputName, index + 1, jobs.Count, bytesRead, bytesTotal);
        }

        var layerFigures = layers.Select(kv => (kv.Key, new PartFigures($"layer {kv.Key}", kv.Value))).ToList();
        var groupFigures = groups.Select(kv => new PartFigures(TensorGroups.Name(kv.Key), kv.Value)).ToList();
        var summary = tasks.Select((m, t) => new ModelSummary(m.Name, m.DeclaredBaseModels(), total.RelativeNorm(t))).ToList();
        return new AnalysisReport
        {
            Method = plan.Method.Name,
            Sparsification = Describe(sparsification),
            Sparsifies = sparsification != Sparsification.None,
            BaseModel = baseModel.Name,
            Models = tasks.Select(m => m.Name).ToList(),
            Total = new PartFigures("model", total),
            Layers = layerFigures,
            Groups = groupFigures,
            Summary = summary,
            FarParts = FarParts(tasks.Select(m => m.Name).ToList(), layerFigures.Select(l => l.Item2).ToList(), groupFigures),
            MergedModel = options.MergedDirectory,
            TensorsAnalyzed = jobs.Count,
            TensorsSkipped = plan.Jobs.Count - jobs.Count,
            BytesRead = bytesRead,
        };
    }

    private static DeltaSums Into<TKey>(SortedDictionary<TKey, DeltaSums> parts, TKey key, int tasks) where TKey : notnull
        => parts.TryGetValue(key, out var sums) ? sums : parts[key] = new DeltaSums(tasks);

    /// <summary>Layers (and the embeddings and head) where a model's relative norm is at least
    /// <see cref="FarPart.Threshold"/> times its median over the layers.</summary>
    internal static IReadOnlyList<FarPart> FarParts(IReadOnlyList<string> models, IReadOnlyList<PartFigures> layers, IReadOnlyList<PartFigures> groups)
    {
        var far = new List<FarPart>();
        if (layers.Count == 0) return far;
        var candidates = layers.Concat(groups.Where(g => g.Part is "embeddings" or "head")).ToList();
        for (int t = 0; t < models.Count; t++)
        {
            // The median over the layers the model changed at all: a fine-tune of a few layers is not "far" everywhere it acted.
            var norms = layers.Select(l => l.Sums.RelativeNorm(t)).Where(v => double.IsFinite(v) && v > 0).Order().ToList();
            if (norms.Count == 0) continue;
            double median = norms.Count % 2 == 1 ? norms[norms.Count / 2] : (norms[norms.Count / 2 - 1] + norms[norms.Count / 2]) / 2;
            if (median <= 0) continue;
            foreach (var part in candidates)
            {
                double norm = part.Sums.RelativeNorm(t);
                if (double.IsFinite(norm) && norm >= FarPart.Threshold * median) far.Add(new FarPart(part.Part, models[t], norm, median));
            }
        }
        return far;
    }

    private static string Describe(Sparsification sparsification) => sparsification switch
    {
        Sparsification.Magnitude => "magnitude trim (TIES): the largest |delta| at the configured density",
        Sparsification.Random => "random drop (DARE) at the configured density",
        Sparsification.MagnitudeOutliers => "outliers and small deltas dropped (breadcrumbs) at the configured density and gamma",
        Sparsification.DellaMagprune => "rank-weighted random drop (DELLA MagPrune) at the configured density and epsilon",
        _ => "none (every delta element enters the merge)",
    };

    /// <summary>Opens the merged model and checks, before any byte is read, that it holds every analysed tensor in
    /// the planned shape.</summary>
    private static ModelCheckpoint OpenMerged(string directory, IReadOnlyList<TensorJob> jobs)
    {
        ModelCheckpoint checkpoint;
        try
        {
            checkpoint = ModelCheckpoint.Open(directory);
        }
        catch (Exception e) when (e is CheckpointException or SafetensorsFormatException or IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.AnalyzeMergedMismatch, $"--merged {directory}: {e.Message}", e);
        }
        try
        {
            var missing = jobs.Where(j => !checkpoint.TryGetTensor(j.OutputName, out _, out _)).Select(j => j.OutputName).ToList();
            if (missing.Count > 0)
                throw new MergeException(MergeErrorKind.Input, ErrorIds.AnalyzeMergedMismatch,
                    $"--merged {directory} lacks {missing.Count} tensor(s) this definition merges, e.g. '{missing[0]}': give the output of this definition");
            foreach (var job in jobs)
            {
                checkpoint.TryGetTensor(job.OutputName, out var info, out _);
                if (!info.Shape.SequenceEqual(job.OutputShape) || !info.Dtype.CanDecode())
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.AnalyzeMergedMismatch,
                        $"--merged {directory}: tensor '{job.OutputName}' is {info.Dtype} {TensorShape.Format(info.Shape)}, this definition makes {job.OutputDtype} {TensorShape.Format(job.OutputShape)}: give the output of this definition");
            }
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }
}
