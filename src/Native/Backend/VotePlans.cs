using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Backend;

/// <summary>SCE on the device, decided as the CPU's SceMerge decides it: with <c>select_topk</c> &lt; 1 the variance select
/// kernel (<see cref="KernelEmitter.EmitVarianceSelect"/>) first counts the positions of zero variance, then selects the
/// |select_topk| share of the others (SceMerge.SelectedCount); the sums of squares kernel then reduces each model's
/// selected task vector, the host turns the sums into weights with SceMerge.Weights, and the map writes the output.</summary>
internal sealed class ScePlan
{
    private readonly int inputCount;
    private readonly int[] tasks;
    private readonly double selectTopk;
    private readonly long count;

    private ScePlan(EmittedKernel? select, EmittedKernel squares, int inputCount, int[] tasks, double selectTopk, long count)
    {
        Select = select;
        Squares = squares;
        this.inputCount = inputCount;
        this.tasks = tasks;
        this.selectTopk = selectTopk;
        this.count = count;
    }

    /// <summary>The variance select kernel (null when every position is selected: <c>select_topk</c> ≥ 1).</summary>
    public EmittedKernel? Select { get; }

    /// <summary>The sums of squares (one accumulator per non-base input and chunk).</summary>
    public EmittedKernel Squares { get; }

    public int Accumulators => tasks.Length;

    public static ScePlan Create(int inputCount, int baseIndex, int[] tasks, double selectTopk, long count, IReadOnlyList<Dtype> dtypes)
    {
        bool selects = selectTopk < 1; // as SceMerge
        return new ScePlan(selects ? KernelEmitter.EmitVarianceSelect(inputCount, baseIndex, dtypes) : null,
            KernelEmitter.EmitSceSquares(inputCount, baseIndex, dtypes, selects), inputCount, tasks, selectTopk, count);
    }

    /// <summary>The one selection to make: SceMerge.SelectedCount of the positions with a non-zero variance, counted on the
    /// device as the tensor minus the keys equal to that of +0 (a variance is never −0).</summary>
    public IReadOnlyList<SelectionQuery> Queries(long length, SelectPassRunner run)
    {
        EmittedKernel select = Select ?? throw new InvalidOperationException("this sce plan selects every position");
        long zeros = MagnitudeSelection.CountEqual(select, length, 0, MagnitudeSelect.SortKey(0f), run);
        return [new SelectionQuery(0, SceMerge.SelectedCount(selectTopk, length - zeros))];
    }

    /// <summary>The selected positions as a mask: every input keeps them, none drops any.</summary>
    public MagnitudeMasks Masks(IReadOnlyList<TopSet> selected)
    {
        if (selected.Count != 1) throw new ArgumentException($"{selected.Count} sets for one selection", nameof(selected));
        return new MagnitudeMasks(Enumerable.Repeat(selected[0], inputCount).ToArray(), Enumerable.Repeat(TopSet.None, inputCount).ToArray());
    }

    public void SetSquaresArguments(KernelArguments arguments, MagnitudeMasks? masks)
        => SetSelection(arguments.Set("count", (ulong)count).Set("chunk", (ulong)MergeKernelPlan.NormChunk), masks);

    /// <summary>Per input, its weight (0 for the base) from <see cref="Squares"/>' per-chunk sums, added in chunk order
    /// from zero as ChunkLoop.Reduce does.</summary>
    public double[] Weights(ReadOnlySpan<double> partial)
    {
        var squares = new double[tasks.Length];
        for (int c = 0; c < partial.Length / tasks.Length; c++)
            for (int k = 0; k < tasks.Length; k++)
                squares[k] += partial[c * tasks.Length + k];
        double[] weights = SceMerge.Weights(squares, count);
        var result = new double[inputCount];
        for (int k = 0; k < tasks.Length; k++) result[tasks[k]] = weights[k];
        return result;
    }

    public void SetMapArguments(KernelArguments arguments, long first, long length, double[]? weights, MagnitudeMasks? masks)
    {
        if (weights is null) throw new InvalidOperationException("the sums of squares must be reduced before the map pass");
        arguments.Set("count", (ulong)length).Set("first", (ulong)first);
        for (int i = 0; i < inputCount; i++) arguments.Set("weight", i, weights[i]);
        SetSelection(arguments, masks);
    }

    private void SetSelection(KernelArguments arguments, MagnitudeMasks? masks)
    {
        if (Select is null) return;
        if (masks is null) throw new InvalidOperationException("the variance selection must run before the sums of squares and the map");
        TopSet set = masks.Keep(tasks[0]);
        arguments.Set("select_key", set.ThresholdKey).Set("select_end", MagnitudeMasks.End(set));
    }
}

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
        int accumulators = Accumulators;
        var totals = new double[accumulators];
        for (int c = 0; c < partial.Length / accumulators; c++)
            for (int a = 0; a < accumulators; a++)
                totals[a] += partial[c * accumulators + a];
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
