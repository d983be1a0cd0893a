using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Selection;

namespace DotnetMerge.Cuda.Backend;

/// <summary>arcee_fusion on the device. The rows' KL divergences use exp and log, whose last bits a GPU does not share with
/// the host's math library: the host computes them with the CPU's own ArceeFusion.RowKl (one pass over the two inputs,
/// which it holds) and uploads them. The select kernel (<see cref="KernelEmitter.EmitImportanceSelect"/>) then finds the
/// three order statistics of the importances (ArceeFusion.QuantileIndices) exactly, the host forms the threshold with
/// ArceeFusion.Threshold, and the map (<see cref="KernelEmitter.EmitArceeFusion"/>) picks each element. A tensor with a
/// NaN or infinite element is merged by the CPU method itself: its quickselect's answer on NaN importances is not an
/// order statistic the device could reproduce.</summary>
internal sealed class ArceePlan
{
    /// <summary>Fewer elements leave the first quartile at index 0, whose selection (every element) carries no threshold.</summary>
    public const long MinElements = 5;

    private readonly long count, width;

    private ArceePlan(EmittedKernel select, long count, long width)
    {
        Select = select;
        this.count = count;
        this.width = width;
    }

    public EmittedKernel Select { get; }

    public static ArceePlan? Create(IReadOnlyList<KernelInput> inputs, int baseIndex, long[] outputShape, Dtype[] dtypes, out string reason)
    {
        // As VectorMath.BaseAndOther: exactly the base and one other model (one input is a copy, anything else an error).
        if (inputs.Count != 2 || baseIndex < 0) { reason = "arcee_fusion needs the base and exactly one other model (the CPU copies or reports it)"; return null; }
        long count = TensorShape.ElementCount(outputShape);
        if (count < MinElements) { reason = $"arcee_fusion tensors of fewer than {MinElements} elements run on the CPU"; return null; }
        if (count > Array.MaxLength) { reason = "the tensor is larger than the CPU method's importance buffer (the CPU reports it)"; return null; }
        reason = "";
        return new ArceePlan(KernelEmitter.EmitImportanceSelect(baseIndex, dtypes), count, VectorLayout.Rows(outputShape).Width);
    }

    /// <summary>The queries of the three order statistics: the k-th smallest (0-based) is the (n − k)-th largest.</summary>
    public IReadOnlyList<SelectionQuery> Queries
    {
        get
        {
            var (q1, median, q3) = ArceeFusion.QuantileIndices(count);
            return [new SelectionQuery(0, count - q1), new SelectionQuery(0, count - median), new SelectionQuery(0, count - q3)];
        }
    }

    /// <summary>The answers to <see cref="Queries"/> (kept as the sets of a mask, one per query).</summary>
    public static MagnitudeMasks Masks(IReadOnlyList<TopSet> selected)
    {
        if (selected.Count != 3) throw new ArgumentException($"{selected.Count} sets for three order statistics", nameof(selected));
        return new MagnitudeMasks(selected.ToArray(), [TopSet.None, TopSet.None, TopSet.None]);
    }

    /// <summary>Each row's KL, from ArceeFusion.RowKl over the decoded inputs (in parallel over the context's chunks of
    /// whole rows); null when an input element is NaN or infinite.</summary>
    public double[]? RowKl(TensorMergeContext context)
    {
        if (VectorMath.BaseAndOther(context, "arcee_fusion") is not (var a, var b)) throw new InvalidOperationException("arcee_fusion: no second model");
        var kl = new double[count / width];
        int nonFinite = 0;
        VectorMath.ForEachRowChunk(context, [a, b], width, (start, length, ins) =>
        {
            for (int e = 0; e < length; e++)
            {
                if (float.IsFinite(ins[0][e]) && float.IsFinite(ins[1][e])) continue;
                Interlocked.Exchange(ref nonFinite, 1);
                return;
            }
            for (int offset = 0; offset < length; offset += (int)width)
                kl[(start + offset) / width] = ArceeFusion.RowKl(ins[0].AsSpan(offset, (int)width), ins[1].AsSpan(offset, (int)width));
        });
        return nonFinite != 0 ? null : kl;
    }

    public void SetSelectArguments(KernelArguments arguments) => arguments.Set("width", (ulong)width); // the caller sets row_coefficients

    public void SetMapArguments(KernelArguments arguments, long first, long length, MagnitudeMasks? masks)
    {
        if (masks is null) throw new InvalidOperationException("the order statistics must be selected before the map pass");
        float Value(int query) => MagnitudeSelect.FromSortKey(masks.Keep(query).ThresholdKey);
        arguments.Set("count", (ulong)length).Set("first", (ulong)first).Set("width", (ulong)width)
            .Set("threshold", ArceeFusion.Threshold(Value(0), Value(1), Value(2))); // the caller sets row_coefficients
    }
}
