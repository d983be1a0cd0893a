using System.Numerics;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Planning;
using DotnetMerge.Selection;

namespace DotnetMerge.Execution;

/// <summary><c>trim_scope: model</c> for TIES (a dotnet-merge extension): instead of keeping the top <c>density</c>
/// fraction of each tensor's task vector (mergekit), keep the top fraction of each model's whole task vector, as the TIES
/// paper does. A first pass over every TIES tensor finds, per model, the magnitude of its k-th largest task-vector element
/// (k = ⌊density · elements⌋) by a radix select over all tensors (two histogram passes over the float bits, one tensor at a
/// time, so memory stays bounded). Each job then carries that threshold and keeps |δ| ≥ threshold (ties at the threshold
/// are kept, as in the paper's code).</summary>
public static class ModelScopeTrim
{
    /// <summary>The per-model parameter that carries the threshold into the method.</summary>
    public const string ThresholdParameter = "trim_threshold";

    private const int ChunkElements = 1 << 16;

    public static bool Applies(MergePlan plan) => plan.Jobs.Any(IsModelScoped);

    private static bool IsModelScoped(TensorJob job)
        => job.Kind == JobKind.Merge && job.BaseIndex >= 0 && job.Global.GetString("trim_scope") == "model";

    /// <summary>Computes every model's threshold and returns the plan's jobs with the thresholds attached.</summary>
    public static IReadOnlyList<TensorJob> Apply(MergePlan plan, IMergeProgress progress, CancellationToken ct)
        => Attach(plan, Thresholds(plan, progress, ct));

    /// <summary>Every model's magnitude threshold (the whole-model statistics a partitioned run computes once, in
    /// <c>prepare</c>); empty when no model is trimmed.</summary>
    public static IReadOnlyDictionary<ModelSource, double> Thresholds(MergePlan plan, IMergeProgress progress, CancellationToken ct)
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

        var wanted = models.Select(m => Math.Max(1, (long)(density[m].Value * elements[m]))).ToArray();
        // Ties at the threshold are kept (as in the paper's code): the two histogram passes, no tie pass.
        var keys = RadixSelect.Thresholds(wanted, new WholeModelPasses(scoped, models, ct));
        var threshold = new Dictionary<ModelSource, double>();
        for (int i = 0; i < models.Count; i++) threshold[models[i]] = MagnitudeSelect.FromSortKey(keys[i]);
        return threshold;
    }

    /// <summary>The plan's jobs with each model's threshold attached to its TIES inputs.</summary>
    public static IReadOnlyList<TensorJob> Attach(MergePlan plan, IReadOnlyDictionary<ModelSource, double> threshold)
    {
        if (threshold.Count == 0) return plan.Jobs;

        return plan.Jobs.Select(job => !IsModelScoped(job) ? job : job with
        {
            Inputs = job.Inputs.Select(i => i.IsBase || !threshold.TryGetValue(i.Model, out var t) ? i : i with
            {
                Parameters = new ParameterBag(new Dictionary<string, object>(i.Parameters.Values) { [ThresholdParameter] = t }),
            }).ToList(),
        }).ToList();
    }

    /// <summary>The radix select's passes over a model's whole task vector: every scoped tensor, one at a time.</summary>
    private sealed class WholeModelPasses(IReadOnlyList<TensorJob> jobs, List<ModelSource> models, CancellationToken ct) : IRadixPasses
    {
        public long[][] HighHistograms(IReadOnlyList<int> queries)
        {
            var high = models.Select(_ => new long[RadixSelect.Bins]).ToArray();
            Pass(jobs, models, (m, keys) =>
            {
                var h = high[m];
                foreach (uint key in keys) h[key >> 16]++;
            }, ct);
            return [.. queries.Select(q => high[q])];
        }

        public long[][] LowHistograms(IReadOnlyList<int> queries, IReadOnlyList<uint> prefixes)
        {
            var low = models.Select(_ => new long[RadixSelect.Bins]).ToArray();
            var wantedHigh = new uint[models.Count];
            for (int i = 0; i < queries.Count; i++) wantedHigh[queries[i]] = prefixes[i] >> 16;
            Pass(jobs, models, (m, keys) =>
            {
                var l = low[m];
                uint bucket = wantedHigh[m];
                foreach (uint key in keys) if (key >> 16 == bucket) l[key & 0xFFFF]++;
            }, ct);
            return [.. queries.Select(q => low[q])];
        }

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
            => throw new NotSupportedException("the whole-model trim keeps every copy of its threshold");
    }

    /// <summary>Hands the sort keys of |δ| (δ = x − base, in float32 as the methods compute it) of every element of
    /// every scoped tensor to <paramref name="visit"/>, a chunk at a time, with the index of the model in
    /// <paramref name="models"/>.</summary>
    private static void Pass(IReadOnlyList<TensorJob> jobs, List<ModelSource> models, KeysVisitor visit, CancellationToken ct)
    {
        var x = new float[ChunkElements];
        var b = new float[ChunkElements];
        var keys = new uint[ChunkElements];
        foreach (var job in jobs)
        {
            ct.ThrowIfCancellationRequested();
            var baseInput = Load(job.Inputs[job.BaseIndex]);
            long n = TensorShape.ElementCount(job.OutputShape);
            foreach (var ji in job.Inputs.Where(i => !i.IsBase && models.Contains(i.Model)))
            {
                var input = Load(ji);
                for (long start = 0; start < n; start += ChunkElements)
                {
                    int length = (int)Math.Min(ChunkElements, n - start);
                    input.Decode(start, x.AsSpan(0, length));
                    baseInput.Decode(start, b.AsSpan(0, length));
                    MagnitudeKeys(x.AsSpan(0, length), b.AsSpan(0, length), keys);
                    visit(models.IndexOf(ji.Model), keys.AsSpan(0, length));
                }
            }
        }
    }

    private delegate void KeysVisitor(int model, ReadOnlySpan<uint> keys);

    /// <summary>keys[j] = SortKey(|x[j] − b[j]|): for a non-negative float (sign bit clear) the key is its bits with the
    /// top bit set.</summary>
    private static void MagnitudeKeys(ReadOnlySpan<float> x, ReadOnlySpan<float> b, Span<uint> keys)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var magnitude = new Vector<uint>(0x7FFF_FFFFu);
            var top = new Vector<uint>(0x8000_0000u);
            for (; j <= x.Length - Vector<float>.Count; j += Vector<float>.Count)
            {
                var d = new Vector<float>(x.Slice(j)) - new Vector<float>(b.Slice(j));
                ((Vector.AsVectorUInt32(d) & magnitude) | top).CopyTo(keys.Slice(j));
            }
        }
        for (; j < x.Length; j++) keys[j] = MagnitudeSelect.SortKey(MathF.Abs(x[j] - b[j]));
    }

    /// <summary>One planned input, whole, as the merge sees it (a stored tensor read, an adapted, aligned or earlier
    /// stage's tensor computed), cropped to the job's shape. Also the reader of <c>analyze</c>.</summary>
    internal static MergeInput Load(JobInput ji, CancellationToken ct = default)
    {
        if (ji.ByteLength > Array.MaxLength)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor,
                $"model '{ji.Model.Name}': tensor '{ji.TensorName}' has {ji.ByteLength} bytes; the whole-model pass (trim_scope: model, analyze) holds one tensor in memory and supports tensors up to {Array.MaxLength} bytes");
        var bytes = GC.AllocateUninitializedArray<byte>((int)ji.ByteLength);
        if (ji.File is { } file) file.ReadTensor(ji.Tensor, bytes);
        else
        {
            // An earlier stage's output (a fused multi-stage merge): computed the way the executor computes it.
            using var buffer = new NativeBuffer(ji.ByteLength);
            StageTensors.Compute(ji, buffer.Memory, length => new NativeBuffer(length), b => ((IDisposable)b).Dispose(),
                new ExecutionSettings(Environment.ProcessorCount), CpuBackend.Instance, ct);
            buffer.Memory.Span.CopyTo(bytes);
        }
        var input = new MergeInput(ji.Model.Name, ji.TensorName, ji.Tensor.Dtype, ji.Tensor.Shape, bytes, ji.IsBase, ji.Parameters);
        return ji.CropShape is null ? input : input.CropTo(ji.CropShape);
    }
}
