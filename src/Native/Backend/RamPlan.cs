using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Backend;

/// <summary>The RAM family on the device (<c>ram</c>, <c>ramplus_tl</c>), as the CPU's ReinforcedAgentMerge: one map
/// (<see cref="KernelEmitter.EmitRam"/>) whose unique-change factors are 1 for ram; for RAM+ a counting kernel
/// (<see cref="KernelEmitter.EmitRamCounts"/>) runs first and the host computes the factors with RamPlusTlMerge.UniqueScale.</summary>
internal sealed class RamPlan
{
    private readonly int inputCount;
    private readonly int[] tasks;
    private readonly double epsilon, r, alpha;
    private readonly long count;

    private RamPlan(EmittedKernel? counts, int inputCount, int[] tasks, double epsilon, double r, double alpha, long count)
    {
        Counts = counts;
        this.inputCount = inputCount;
        this.tasks = tasks;
        this.epsilon = epsilon;
        this.r = r;
        this.alpha = alpha;
        this.count = count;
    }

    /// <summary>RAM+'s counting kernel, else null (ram: every factor is 1).</summary>
    public EmittedKernel? Counts { get; }

    public int Accumulators => 2 * tasks.Length;

    public static RamPlan Create(IMergeMethod method, int inputCount, int baseIndex, int[] tasks, ParameterBag global, long count, IReadOnlyList<Dtype> dtypes)
    {
        double epsilon = global.GetDouble("epsilon");
        if (method is not RamPlusTlMerge) return new RamPlan(null, inputCount, tasks, epsilon, 0, 0, count);
        return new RamPlan(KernelEmitter.EmitRamCounts(inputCount, baseIndex, dtypes), inputCount, tasks, epsilon,
            global.GetDouble("r"), global.GetDouble("alpha"), count);
    }

    public void SetCountArguments(KernelArguments arguments)
        => arguments.Set("count", (ulong)count).Set("chunk", (ulong)MergeKernelPlan.NormChunk).Set("epsilon", epsilon);

    /// <summary>Per input, its factor where it alone changes a position: RamPlusTlMerge.UniqueScale of its counts (added
    /// over the chunks; integers, so exact), 1 for ram and for the base.</summary>
    public double[] Scales(ReadOnlySpan<double> partial)
    {
        var result = Enumerable.Repeat(1.0, inputCount).ToArray();
        if (Counts is null) return result;
        var totals = LaneSum.ChunkTotals(partial, Accumulators);
        for (int k = 0; k < tasks.Length; k++)
            result[tasks[k]] = RamPlusTlMerge.UniqueScale(totals[2 * k], totals[2 * k + 1], r, alpha, epsilon);
        return result;
    }

    public void SetMapArguments(KernelArguments arguments, long length, double[]? scales)
    {
        if (Counts is not null && scales is null) throw new InvalidOperationException("the RAM+ counts must be reduced before the map pass");
        double[] s = scales ?? Scales([]);
        arguments.Set("count", (ulong)length).Set("epsilon", epsilon);
        for (int i = 0; i < inputCount; i++) arguments.Set("scale", i, s[i]);
    }
}
