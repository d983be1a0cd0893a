using System.Numerics;
using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Methods;

/// <summary>Visits every tensor of a whole-model pass: <c>visit(model, input, base)</c> per trimmed model's input of every
/// job that takes part, one job's inputs at a time, as the merge would see them (<see cref="ModelScopeTrim"/>).</summary>
public delegate void ModelTensorSweep(Action<int, MergeInput, MergeInput> visit);

/// <summary><c>trim_scope: model</c> for TIES (a dotnet-merge extension): instead of keeping the top <c>density</c>
/// fraction of each tensor's task vector (mergekit), keep the top fraction of each model's whole task vector, as the TIES
/// paper does. A pre-pass over every TIES tensor finds, per model, the magnitude of its k-th largest task-vector element
/// (k = ⌊density · elements⌋, at least 1) by <see cref="RadixSelect"/> over all its tensors (the two histogram passes,
/// one tensor at a time, so memory stays bounded). Each job's input then carries that threshold
/// (<see cref="MergeInput.MagnitudeThreshold"/>) and keeps |δ| ≥ threshold (ties at the threshold are kept, as in the
/// paper's code). The method owns the rule; the executor reads the tensors for it (Execution/WholeModelPrePass).</summary>
public static class ModelScopeTrim
{
    /// <summary>Whether a job with these global parameters takes part (it needs a base model).</summary>
    public static bool Needs(ParameterBag global, bool hasBase) => hasBase && global.GetString("trim_scope") == "model";

    /// <summary>Elements kept of a model's task vector of <paramref name="elements"/> elements.</summary>
    public static long KeptCount(double density, long elements) => Math.Max(1, (long)(density * elements));

    private const int ChunkElements = 1 << 16;

    /// <summary>Per model: the magnitude of the <paramref name="kept"/>[m]-th largest |δ| (δ = x − base, in float32 as the
    /// methods compute it) over all the tensors <paramref name="sweep"/> visits for it.</summary>
    public static float[] Thresholds(IReadOnlyList<long> kept, ModelTensorSweep sweep)
        => [.. RadixSelect.Thresholds(kept, new WholeModelPasses(kept.Count, sweep)).Select(MagnitudeSelect.FromSortKey)];

    /// <summary>The radix select's passes over the models' whole task vectors.</summary>
    private sealed class WholeModelPasses(int models, ModelTensorSweep sweep) : IRadixPasses
    {
        public long[][] HighHistograms(IReadOnlyList<int> queries)
        {
            var high = new long[models][];
            foreach (int q in queries) high[q] = new long[RadixSelect.Bins];
            Pass((m, keys) =>
            {
                if (high[m] is not { } h) return;
                foreach (uint key in keys) h[key >> 16]++;
            });
            return [.. queries.Select(q => high[q])];
        }

        public long[][] LowHistograms(IReadOnlyList<int> queries, IReadOnlyList<uint> prefixes)
        {
            var low = new long[models][];
            var bucket = new uint[models];
            for (int i = 0; i < queries.Count; i++)
            {
                low[queries[i]] = new long[RadixSelect.Bins];
                bucket[queries[i]] = prefixes[i] >> 16;
            }
            Pass((m, keys) =>
            {
                if (low[m] is not { } l) return;
                uint wanted = bucket[m];
                foreach (uint key in keys) if (key >> 16 == wanted) l[key & 0xFFFF]++;
            });
            return [.. queries.Select(q => low[q])];
        }

        public long[] TieIndices(IReadOnlyList<TieRequest> requests)
            => throw new NotSupportedException("the whole-model trim keeps every copy of its threshold");

        /// <summary>Hands the sort keys of |δ| of every visited tensor to <paramref name="visit"/>, a chunk at a time.</summary>
        private void Pass(Action<int, ReadOnlySpan<uint>> visit)
        {
            var x = new float[ChunkElements];
            var b = new float[ChunkElements];
            var keys = new uint[ChunkElements];
            sweep((m, input, baseInput) =>
            {
                long n = input.ElementCount;
                for (long start = 0; start < n; start += ChunkElements)
                {
                    int length = (int)Math.Min(ChunkElements, n - start);
                    input.Decode(start, x.AsSpan(0, length));
                    baseInput.Decode(start, b.AsSpan(0, length));
                    MagnitudeKeys(x.AsSpan(0, length), b.AsSpan(0, length), keys);
                    visit(m, keys.AsSpan(0, length));
                }
            });
        }
    }

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
}
