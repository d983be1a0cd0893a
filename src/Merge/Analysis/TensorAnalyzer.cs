using System.Buffers;
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
        var inputs = job.Inputs.Select(ji => ModelScopeTrim.Load(ji, ct)).ToArray();
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
        var pool = ArrayPool<float>.Shared;
        var b = pool.Rent(length);
        var m = pool.Rent(length);
        var mergedValues = merged is null ? null : pool.Rent(length);
        var deltas = tasks.Select(_ => pool.Rent(length)).ToArray();
        var kept = pool.Rent(length);
        try
        {
            var baseSpan = b.AsSpan(0, length);
            inputs[baseIndex].Decode(start, baseSpan);
            double baseSquares = 0;
            foreach (float v in baseSpan) baseSquares += (double)v * v;
            sums.BaseSquares = baseSquares;

            DtypeConversion.Decode(outputDtype, output, start, m.AsSpan(0, length));
            if (mergedValues is not null) DtypeConversion.Decode(mergedDtype, merged, start, mergedValues.AsSpan(0, length));
            for (int t = 0; t < tasks.Length; t++)
            {
                var d = deltas[t].AsSpan(0, length);
                inputs[tasks[t]].Decode(start, d);
                for (int k = 0; k < length; k++) d[k] -= baseSpan[k]; // δ in float32, as the methods compute it
                int slot = taskSlots[tasks[t]];
                double squares = 0, methodDot = 0, mergedDot = 0;
                for (int k = 0; k < length; k++)
                {
                    double dk = d[k];
                    squares += dk * dk;
                    methodDot += ((double)m[k] - baseSpan[k]) * dk;
                    if (mergedValues is not null) mergedDot += ((double)mergedValues[k] - baseSpan[k]) * dk;
                }
                sums.DeltaSquares[slot] = squares;
                sums.MethodDots[slot] = methodDot;
                sums.MergedDots[slot] = mergedDot;
                if (pruners[t] is { } pruner)
                {
                    var keptSpan = kept.AsSpan(0, length);
                    d.CopyTo(keptSpan);
                    pruner.Prune(start, keptSpan);
                    double keptSquares = 0;
                    foreach (float v in keptSpan) keptSquares += (double)v * v;
                    sums.KeptSquares[slot] = keptSquares;
                }
                else sums.KeptSquares[slot] = squares;
            }
            for (int p = 0; p < tasks.Length; p++)
                for (int q = p + 1; q < tasks.Length; q++)
                {
                    var x = deltas[p].AsSpan(0, length);
                    var y = deltas[q].AsSpan(0, length);
                    double dot = 0;
                    long both = 0, conflicts = 0;
                    for (int k = 0; k < length; k++)
                    {
                        dot += (double)x[k] * y[k];
                        if (x[k] != 0 && y[k] != 0)
                        {
                            both++;
                            if (x[k] < 0 != y[k] < 0) conflicts++;
                        }
                    }
                    int i = taskSlots[tasks[p]], j = taskSlots[tasks[q]];
                    var (lo, hi) = (Math.Min(i, j), Math.Max(i, j));
                    sums.Dots[lo, hi] = dot;
                    sums.BothChanged[lo, hi] = both;
                    sums.Conflicts[lo, hi] = conflicts;
                }
        }
        finally
        {
            pool.Return(b); pool.Return(m); pool.Return(kept);
            if (mergedValues is not null) pool.Return(mergedValues);
            foreach (var d in deltas) pool.Return(d);
        }
        return sums;
    }
}
