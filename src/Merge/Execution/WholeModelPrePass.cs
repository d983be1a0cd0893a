using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Models;
using DotnetMerge.Planning;

namespace DotnetMerge.Execution;

/// <summary>The whole-model pre-pass a method asks for before its tensors are merged: TIES' <c>trim_scope: model</c>
/// (<see cref="ModelScopeTrim"/>, which owns the rule). The executor's side: which jobs and models take part, the tensor
/// reads (one job's inputs at a time, mapped or read into pooled buffers under a <see cref="MemoryBudget"/>, computed
/// inputs computed, exactly as <see cref="MergeExecutor"/> reads them), and the thresholds attached to the jobs.</summary>
public static class WholeModelPrePass
{
    public static bool Applies(MergePlan plan) => plan.Jobs.Any(IsModelScoped);

    private static bool IsModelScoped(TensorJob job) => job.Kind == JobKind.Merge && ModelScopeTrim.Needs(job.Global, job.BaseIndex >= 0);

    /// <summary>Computes every model's threshold and returns the plan's jobs with the thresholds attached.</summary>
    public static IReadOnlyList<TensorJob> Apply(MergePlan plan, IMergeProgress progress, CancellationToken ct, MergeOptions? options = null)
        => Attach(plan, Thresholds(plan, progress, ct, options));

    /// <summary>Every model's magnitude threshold (the whole-model statistics a partitioned run computes once, in
    /// <c>prepare</c>); empty when no model is trimmed.</summary>
    /// <paramref name="options"/> gives the memory budget, threads and backend of the reads (the defaults when null).
    public static IReadOnlyDictionary<ModelSource, double> Thresholds(MergePlan plan, IMergeProgress progress, CancellationToken ct,
        MergeOptions? options = null)
    {
        var scoped = plan.Jobs.Where(IsModelScoped).ToList();
        var density = new Dictionary<ModelSource, (double Value, string Tensor)>();
        var elements = new Dictionary<ModelSource, long>();
        foreach (var job in scoped)
            foreach (var input in job.Inputs.Where(i => !i.IsBase))
            {
                double d = input.Parameters.GetDouble("density");
                if (density.TryGetValue(input.Model, out var seen) && seen.Value != d)
                    throw new MergeException(MergeErrorKind.Definition, ErrorIds.ModelScopeDensity,
                        $"trim_scope: model needs one density per model, but '{input.Model.Name}' has density {seen.Value} for '{seen.Tensor}' and {d} for '{job.OutputName}'");
                density[input.Model] = (d, job.OutputName);
                elements[input.Model] = elements.GetValueOrDefault(input.Model) + TensorShape.ElementCount(job.OutputShape);
            }
        var models = density.Where(kv => kv.Value.Value < 1).Select(kv => kv.Key).ToList();
        if (models.Count == 0) return new Dictionary<ModelSource, double>();
        progress.Stage($"trim_scope: model: finding each model's magnitude threshold over {scoped.Count} tensors (two passes)");

        var kept = models.Select(m => ModelScopeTrim.KeptCount(density[m].Value, elements[m])).ToArray();
        var thresholds = ModelScopeTrim.Thresholds(kept, visit => Sweep(plan, scoped, models, options ?? new MergeOptions(), visit, ct));
        var result = new Dictionary<ModelSource, double>();
        for (int i = 0; i < models.Count; i++) result[models[i]] = thresholds[i];
        return result;
    }

    /// <summary>The plan's jobs with each model's threshold attached to its TIES inputs.</summary>
    public static IReadOnlyList<TensorJob> Attach(MergePlan plan, IReadOnlyDictionary<ModelSource, double> threshold)
    {
        if (threshold.Count == 0) return plan.Jobs;

        return plan.Jobs.Select(job => !IsModelScoped(job) ? job : job with
        {
            Inputs = job.Inputs.Select(i => i.IsBase || !threshold.TryGetValue(i.Model, out var t) ? i : i with { MagnitudeThreshold = (float)t })
                .ToList(),
        }).ToList();
    }

    /// <summary>Reads each job of <paramref name="jobs"/> in turn, its inputs as the merge sees them, and calls
    /// <paramref name="visit"/>(model, input, base) for the inputs of <paramref name="models"/>.</summary>
    private static void Sweep(MergePlan plan, IReadOnlyList<TensorJob> jobs, List<ModelSource> models, MergeOptions options,
        Action<int, MergeInput, MergeInput> visit, CancellationToken ct)
    {
        var budget = new MemoryBudget(options.MaxMemoryBytes ?? MemoryBudget.DefaultCapacityFor(plan.LargestJobBytes));
        using var pool = new BufferPool(budget);
        var settings = new ExecutionSettings(Math.Max(1, options.Threads));
        var backend = options.Backend ?? CpuBackend.Instance;
        foreach (var job in jobs)
        {
            ct.ThrowIfCancellationRequested();
            foreach (var ji in job.Inputs)
                if (ji.ByteLength > Array.MaxLength)
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor,
                        $"model '{ji.Model.Name}': tensor '{ji.TensorName}' has {ji.ByteLength} bytes; the whole-model pass (trim_scope: model) holds one tensor in memory and supports tensors up to {Array.MaxLength} bytes");
            long bytes = job.InputBytes + job.UpstreamWorkingBytes;
            budget.AcquireAsync(bytes, ct).AsTask().GetAwaiter().GetResult();
            try
            {
                var (buffers, mapped) = MergeExecutor.ReadInputsAsync(job, pool, settings, backend, ct).GetAwaiter().GetResult();
                try
                {
                    var inputs = MergeExecutor.InputsOf(job, i => mapped[i] is { } m ? m.Memory : buffers[i].Memory);
                    for (int i = 0; i < inputs.Length; i++)
                        if (!job.Inputs[i].IsBase && models.IndexOf(job.Inputs[i].Model) is int model and >= 0)
                            visit(model, inputs[i], inputs[job.BaseIndex]);
                }
                finally
                {
                    foreach (var b in buffers) if (b is not null) pool.Return(b);
                    foreach (var m in mapped) ((IDisposable?)m)?.Dispose();
                }
            }
            finally
            {
                budget.Release(bytes);
            }
        }
    }
}
