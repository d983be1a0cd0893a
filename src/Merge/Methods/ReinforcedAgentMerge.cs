using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>The RAM family (Reinforced Agent Merging): entries with |δ| ≤ epsilon are dropped; a position changed by
/// exactly one model takes that model's change (times a per-model factor), a position changed by several takes
/// their mean. One map pass (plus a counting reduction for the factors of RAM+).</summary>
public abstract class ReinforcedAgentMerge : IMergeMethod
{
    public abstract string Name { get; }

    public void Merge(TensorMergeContext ctx)
    {
        int[] tasks = TaskVectors.TaskIndices(ctx, Name);
        if (tasks.Length == 0) { TaskVectors.CopyBase(ctx); return; }
        int baseIndex = ctx.BaseIndex;
        double epsilon = ctx.Global.GetDouble("epsilon");
        var uniqueScale = UniqueScales(ctx, tasks, epsilon);
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        ChunkLoop.Map(ctx, ctx.Inputs, (_, length, ins, output) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            var b = ins[baseIndex];
            for (int j = 0; j < length; j++)
            {
                int count = 0;
                double sum = 0, unique = 0;
                for (int t = 0; t < tasks.Length; t++)
                {
                    float d = ins[tasks[t]][j];
                    if (!(Math.Abs(d) > epsilon)) continue;
                    count++;
                    sum += d;
                    unique = d * uniqueScale[t];
                }
                double merged = count == 0 ? 0 : count == 1 ? unique : sum / count;
                output[j] = OutputRounding.Narrow(b[j] + merged, odd);
            }
        });
    }

    /// <summary>Factor applied to a model's change where it is the only model changing the position.</summary>
    protected abstract double[] UniqueScales(TensorMergeContext ctx, int[] tasks, double epsilon);

    /// <summary>Per model: how many positions it changes alone and how many it changes together with others.</summary>
    protected static (double[] Unique, double[] Shared) Counts(TensorMergeContext ctx, int[] tasks, double epsilon)
    {
        int baseIndex = ctx.BaseIndex;
        var acc = ChunkLoop.Reduce(ctx.Settings, ctx.Inputs, TaskVectors.ReductionChunk, 2 * tasks.Length, (_, length, ins, sums) =>
        {
            TaskVectors.ToDeltas(ins, baseIndex, tasks, length);
            Span<long> counts = stackalloc long[2 * tasks.Length];
            for (int j = 0; j < length; j++)
            {
                int count = 0;
                for (int t = 0; t < tasks.Length; t++) if (Math.Abs(ins[tasks[t]][j]) > epsilon) count++;
                if (count == 0) continue;
                int slot = count == 1 ? 0 : 1;
                for (int t = 0; t < tasks.Length; t++) if (Math.Abs(ins[tasks[t]][j]) > epsilon) counts[2 * t + slot]++;
            }
            for (int i = 0; i < counts.Length; i++) sums[i] += counts[i];
        });
        return (tasks.Select((_, t) => acc[2 * t]).ToArray(), tasks.Select((_, t) => acc[2 * t + 1]).ToArray());
    }
}
