using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Selection;

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
        double[] weights = SceMerge.Weights(LaneSum.ChunkTotals(partial, tasks.Length), count);
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
