using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Methods;

/// <summary><c>sce</c> (FuseChat's Select-Calculate-Erase): optionally keep only the positions whose task vectors
/// vary most across models (top <c>select_topk</c> of the positions with non-zero variance), weight each model by
/// its mean squared (selected) task vector, elect signs on the unweighted deltas, and take the weighted mean of the
/// agreeing deltas. Passes: [variance count + radix select] → sum of squares → map.</summary>
public sealed class SceMerge : IMergeMethod
{
    public string Name => "sce";

    public void Merge(TensorMergeContext ctx)
    {
        int[] tasks = TaskVectors.TaskIndices(ctx, Name);
        if (tasks.Length == 0) { TaskVectors.CopyBase(ctx); return; }
        int baseIndex = ctx.BaseIndex;
        long n = ctx.OutputElementCount;
        double selectTopk = ctx.Global.GetDouble("select_topk");

        TopSet? selected = null;
        if (selectTopk < 1)
        {
            FloatSource variance = (start, destination) => Variance(ctx, tasks, start, destination);
            var nonZero = ChunkLoop.Reduce(ctx.Settings, ctx.Inputs, TaskVectors.ReductionChunk, 1, (start, length, ins, acc) =>
            {
                TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
                long count = 0;
                for (int j = 0; j < length; j++) if (VarianceAt(ins, tasks, j) != 0) count++;
                acc[0] += count;
            })[0];
            selected = MagnitudeSelect.SelectTop(n, SelectedCount(selectTopk, nonZero), variance, ctx.Settings);
        }

        // s_i = mean of the squared selected task vector; normalized to sum 1 (uniform when all are zero).
        var squares = ChunkLoop.Reduce(ctx.Settings, ctx.Inputs, TaskVectors.ReductionChunk, tasks.Length, (start, length, ins, acc) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            // LaneSum's order; an unselected element adds nothing (as +0.0 would to a sum of squares).
            Span<double> lanes = stackalloc double[tasks.Length * LaneSum.Lanes];
            lanes.Clear();
            for (int j = 0; j < length; j++)
            {
                if (!IsSelected(selected, ins, tasks, start, j)) continue;
                for (int t = 0; t < tasks.Length; t++) lanes[t * LaneSum.Lanes + j % LaneSum.Lanes] += (double)ins[tasks[t]][j] * ins[tasks[t]][j];
            }
            for (int t = 0; t < tasks.Length; t++) acc[t] += LaneSum.Total(lanes.Slice(t * LaneSum.Lanes, LaneSum.Lanes));
        });
        var weights = Weights(squares, n);

        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        ChunkLoop.Map(ctx, ctx.Inputs, (start, length, ins, output) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            var b = ins[baseIndex];
            for (int j = 0; j < length; j++)
            {
                if (!IsSelected(selected, ins, tasks, start, j)) { output[j] = b[j]; continue; }
                double sum = 0;
                for (int t = 0; t < tasks.Length; t++) sum += ins[tasks[t]][j];
                bool positive = sum >= 0;
                double mixed = 0, divisor = 0;
                for (int t = 0; t < tasks.Length; t++)
                {
                    float d = ins[tasks[t]][j];
                    if (positive ? d > 0 : d < 0) { mixed += d * weights[t]; divisor += weights[t]; }
                }
                output[j] = OutputRounding.Narrow(b[j] + mixed / (divisor == 0 ? 1 : divisor), odd);
            }
        });
    }

    /// <summary>How many positions the selection keeps: |select_topk| of those with a non-zero variance (shared with the
    /// CUDA backend).</summary>
    public static long SelectedCount(double selectTopk, double nonZero) => (long)(Math.Abs(selectTopk) * nonZero);

    /// <summary>The models' weights from their sums of squared (selected) task vectors over <paramref name="n"/> elements:
    /// the mean squares, normalised to sum 1, or uniform when they are all zero (shared with the CUDA backend).</summary>
    public static double[] Weights(IReadOnlyList<double> squares, long n)
    {
        var weights = squares.Select(s => s / n).ToArray();
        double total = weights.Sum();
        for (int t = 0; t < weights.Length; t++) weights[t] = total == 0 ? 1.0 / weights.Length : weights[t] / total;
        return weights;
    }

    private static bool IsSelected(TopSet? selected, float[][] deltas, int[] tasks, long start, int j)
        => selected is not { } set || set.Contains(VarianceAt(deltas, tasks, j), start + j);

    /// <summary>Population variance across models of the task vectors at position j, as a float32 ranking key.</summary>
    private static float VarianceAt(float[][] deltas, int[] tasks, int j)
    {
        double mean = 0;
        foreach (int t in tasks) mean += deltas[t][j];
        mean /= tasks.Length;
        double ss = 0;
        foreach (int t in tasks) { double d = deltas[t][j] - mean; ss += d * d; }
        return (float)(ss / tasks.Length);
    }

    private static void Variance(TensorMergeContext ctx, int[] tasks, long start, Span<float> destination)
    {
        var ins = new float[ctx.Inputs.Count][];
        for (int i = 0; i < ins.Length; i++)
        {
            ins[i] = new float[destination.Length];
            ctx.Inputs[i].Decode(start, ins[i]);
        }
        TaskVectors.ToDeltas(ins, ctx.BaseIndex, tasks, destination.Length);
        for (int j = 0; j < destination.Length; j++) destination[j] = VarianceAt(ins, tasks, j);
    }
}
