using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Analysis;

/// <summary>The sums of one output tensor: its inputs read once (whole, as the merge reads them), the configured method
/// run on them in memory (the engine's own code, so "what the method keeps" is what a run would keep), the method's
/// sparsification masks rebuilt by the engine's <see cref="DeltaPruner"/> (the same magnitude selection, the same DARE
/// draws), then one parallel pass over fixed chunks accumulating float64 sums per chunk, combined in chunk order.</summary>
internal static class TensorAnalyzer
{
    private const int ChunkElements = 1 << 16;

    /// <param name="taskSlots">For each input of the job, the index of its model among the plan's task models
    /// (-1 for the base).</param>
    /// <param name="merged">The tensor of a merged model (<c>--merged</c>), raw, in <paramref name="mergedDtype"/>; or null.</param>
    public static DeltaSums Analyze(MergePlan plan, TensorJob job, int[] taskSlots, int taskCount, Sparsification sparsification,
        byte[]? merged, Dtype mergedDtype, ExecutionSettings settings, CancellationToken ct)
    {
        var inputs = job.Inputs.Select(ji => WholeTensor.Load(ji, ct)).ToArray();
        int baseIndex = job.BaseIndex;
        int[] tasks = Enumerable.Range(0, inputs.Length).Where(i => i != baseIndex).ToArray();
        long n = TensorShape.ElementCount(job.OutputShape);

        // The merge a run would compute, kept in memory.
        var output = new byte[job.OutputBytes];
        MergeExecutor.MergeInto(plan, job, i => inputs[i].Data, output, settings, CpuBackend.Instance);

        var context = new TensorMergeContext(job.OutputName, inputs, baseIndex, job.Global, job.OutputShape, job.OutputDtype, output,
            plan.Seed, job.IsEmbedding, settings);
        var pruners = sparsification == Sparsification.None ? new DeltaPruner?[tasks.Length] : DeltaPruner.CreateAll(sparsification, context, tasks);
        try
        {
            foreach (var p in pruners) p?.DrawRemaining(settings, spansDrawn: false);
            long row = pruners.Max(p => p?.RowLength ?? 0);
            long chunk = row > 0 ? row * Math.Max(1, ChunkElements / row) : ChunkElements;
            long chunks = (n + chunk - 1) / chunk;
            var partial = new DeltaSums[chunks];
            Parallel.For(0L, chunks, new ParallelOptions { MaxDegreeOfParallelism = settings.Threads, CancellationToken = ct }, c =>
            {
                long start = c * chunk;
                int length = (int)Math.Min(chunk, n - start);
                partial[c] = Chunk(inputs, baseIndex, tasks, taskSlots, taskCount, pruners, output, job.OutputDtype, merged, mergedDtype, start, length);
            });
            var sums = new DeltaSums(taskCount);
            foreach (var p in partial) sums.Add(p);
            return sums;
        }
        finally
        {
            foreach (var p in pruners) p?.Release();
        }
    }

    private static DeltaSums Chunk(MergeInput[] inputs, int baseIndex, int[] tasks, int[] taskSlots, int taskCount, DeltaPruner?[] pruners,
        byte[] output, Dtype outputDtype, byte[]? merged, Dtype mergedDtype, long start, int length)
    {
        var sums = new DeltaSums(taskCount) { Elements = length };
        var floats = ArrayPool<float>.Shared;
        var doubles = ArrayPool<double>.Shared;
        var b = floats.Rent(length);
        var scratch = floats.Rent(length);
        var deltas = tasks.Select(_ => floats.Rent(length)).ToArray();
        var wide = tasks.Select(_ => doubles.Rent(length)).ToArray();
        var methodDelta = doubles.Rent(length);
        var mergedDelta = merged is null ? null : doubles.Rent(length);
        try
        {
            var baseSpan = b.AsSpan(0, length);
            inputs[baseIndex].Decode(start, baseSpan);
            sums.BaseSquares = SumSquares(baseSpan);
            // Merged deltas m − base in float64 (the merge's output and, with --merged, the model on disk).
            Widen(outputDtype, output, start, scratch.AsSpan(0, length), baseSpan, methodDelta.AsSpan(0, length));
            if (mergedDelta is not null) Widen(mergedDtype, merged!, start, scratch.AsSpan(0, length), baseSpan, mergedDelta.AsSpan(0, length));
            for (int t = 0; t < tasks.Length; t++)
            {
                var d = deltas[t].AsSpan(0, length);
                inputs[tasks[t]].Decode(start, d);
                TensorPrimitives.Subtract(d, baseSpan, d); // δ in float32, as the methods compute it
                var dw = wide[t].AsSpan(0, length);
                for (int k = 0; k < length; k++) dw[k] = d[k];
                int slot = taskSlots[tasks[t]];
                sums.DeltaSquares[slot] = SumSquares(d);
                sums.MethodDots[slot] = LaneSum.Dot(methodDelta.AsSpan(0, length), dw);
                if (mergedDelta is not null) sums.MergedDots[slot] = LaneSum.Dot(mergedDelta.AsSpan(0, length), dw);
                if (pruners[t] is { } pruner)
                {
                    var kept = scratch.AsSpan(0, length);
                    d.CopyTo(kept);
                    pruner.Prune(start, kept);
                    sums.KeptSquares[slot] = SumSquares(kept);
                }
                else sums.KeptSquares[slot] = sums.DeltaSquares[slot];
            }
            for (int p = 0; p < tasks.Length; p++)
                for (int q = p + 1; q < tasks.Length; q++)
                {
                    int i = taskSlots[tasks[p]], j = taskSlots[tasks[q]];
                    var (lo, hi) = (Math.Min(i, j), Math.Max(i, j));
                    sums.Dots[lo, hi] = LaneSum.Dot(wide[p].AsSpan(0, length), wide[q].AsSpan(0, length));
                    (sums.BothChanged[lo, hi], sums.Conflicts[lo, hi]) = CountChanges(deltas[p].AsSpan(0, length), deltas[q].AsSpan(0, length));
                }
        }
        finally
        {
            floats.Return(b); floats.Return(scratch);
            foreach (var d in deltas) floats.Return(d);
            foreach (var w in wide) doubles.Return(w);
            doubles.Return(methodDelta);
            if (mergedDelta is not null) doubles.Return(mergedDelta);
        }
        return sums;
    }

    /// <summary>Σ v² in float64 over spans of <see cref="LaneSum.ChunkElements"/> (the engine's summation order).</summary>
    private static double SumSquares(ReadOnlySpan<float> values)
    {
        double total = 0;
        for (int s = 0; s < values.Length; s += LaneSum.ChunkElements) total += LaneSum.SumSquares(values.Slice(s, Math.Min(LaneSum.ChunkElements, values.Length - s)));
        return total;
    }

    /// <summary>destination = decoded(data[start..]) − base, in float64.</summary>
    private static void Widen(Dtype dtype, byte[] data, long start, Span<float> scratch, ReadOnlySpan<float> baseValues, Span<double> destination)
    {
        DtypeConversion.Decode(dtype, data, start, scratch);
        for (int k = 0; k < destination.Length; k++) destination[k] = (double)scratch[k] - baseValues[k];
    }

    /// <summary>How many elements both deltas change (both nonzero), and how many of those have opposite signs.</summary>
    internal static (long Both, long Conflicts) CountChanges(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        long both = 0, conflicts = 0;
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var xs = MemoryMarshal.Cast<float, int>(x);
            var ys = MemoryMarshal.Cast<float, int>(y);
            var magnitude = new Vector<int>(0x7FFF_FFFF);
            Vector<int> bothLanes = default, conflictLanes = default;
            for (; k <= x.Length - Vector<int>.Count; k += Vector<int>.Count)
            {
                var a = new Vector<int>(xs.Slice(k));
                var c = new Vector<int>(ys.Slice(k));
                // Nonzero: some bit besides the sign (−0 is zero). Lanes of a true comparison are −1.
                var changed = ~Vector.Equals(a & magnitude, Vector<int>.Zero) & ~Vector.Equals(c & magnitude, Vector<int>.Zero);
                bothLanes -= changed;
                conflictLanes -= changed & Vector.LessThan(a ^ c, Vector<int>.Zero);
            }
            both += Vector.Sum(bothLanes);
            conflicts += Vector.Sum(conflictLanes);
        }
        for (; k < x.Length; k++)
            if (x[k] != 0 && y[k] != 0)
            {
                both++;
                if (float.IsNegative(x[k]) != float.IsNegative(y[k])) conflicts++;
            }
        return (both, conflicts);
    }
}
