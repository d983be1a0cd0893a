using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Backend;

/// <summary>The GPU form of a slerp or model_stock job over whole tensors (VectorLayout.Whole): a Gram reduction
/// (<see cref="KernelEmitter.EmitGram"/>) over spans of LaneSum.ChunkElements, the spans added in order here, the CPU
/// method's own scalar algebra on the Gram matrix (Slerp.Coefficients, ModelStock.Ratio), then the combine map.</summary>
internal sealed class GeometricPlan
{
    private readonly Func<double[], double[]> coefficients;

    private GeometricPlan(EmittedKernel gram, EmittedKernel combine, int pairs, Func<double[], double[]> coefficients, long rowWidth = 0)
    {
        Gram = gram;
        Combine = combine;
        Pairs = pairs;
        this.coefficients = coefficients;
        RowWidth = rowWidth;
    }

    /// <summary>0 for a whole tensor; else the row length, each row being its own vector (model_stock filter_wise): the
    /// Gram spans are the rows, and the coefficients are per row (<see cref="CoefficientsFromGram"/> returns rows·k).</summary>
    public long RowWidth { get; }

    /// <summary>Elements per Gram span: a row, or LaneSum's reduction chunk (VectorMath.Gram's cut of a whole tensor).</summary>
    public long SpanElements => RowWidth > 0 ? RowWidth : Span;

    public EmittedKernel Gram { get; }
    public EmittedKernel Combine { get; }

    /// <summary>Values per span of the Gram kernel's output (the packed upper triangle).</summary>
    public int Pairs { get; }

    /// <summary>Elements per span: LaneSum's reduction chunk, as VectorMath.Gram cuts a whole tensor.</summary>
    public static long Span => LaneSum.ChunkElements;

    /// <summary>slerp: the base (t = 0) and the other model, no origin; null, with a reason, for what the CPU copies or rejects.</summary>
    public static GeometricPlan? Slerp(IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global, Dtype[] dtypes, Dtype output, out string reason)
    {
        if (inputs.Count != 2 || baseIndex < 0) { reason = "slerp needs the base and exactly one other model (the CPU copies or reports it)"; return null; }
        double t = global.GetDouble("t");
        int[] sources = [baseIndex, 1 - baseIndex];
        reason = "";
        return new GeometricPlan(KernelEmitter.EmitGram(2, sources, -1, dtypes), KernelEmitter.EmitCombine(2, sources, -1, dtypes, output), 3,
            gram => Methods.Slerp.Coefficients(t, gram[0], gram[1], gram[2]));
    }

    /// <summary>model_stock over the whole tensor, or with <c>filter_wise</c> per row of the last dimension (a 0-D or 1-D
    /// tensor being one row, i.e. the whole tensor, as VectorLayout.Rows has it).</summary>
    public static GeometricPlan? ModelStock(IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global, long[] outputShape,
        Dtype[] dtypes, Dtype output, out string reason)
    {
        if (baseIndex < 0) { reason = "model_stock needs a base model (the CPU reports it)"; return null; }
        int[] sources = Enumerable.Range(0, inputs.Count).Where(i => i != baseIndex).ToArray();
        if (sources.Length < 2) { reason = "model_stock needs two models besides the base (the CPU copies or reports it)"; return null; }
        int n = sources.Length, pairs = VectorMath.PairCount(n);
        long width = global.GetBool("filter_wise") && outputShape.Length > 1 ? outputShape[^1] : 0;
        if (width > 0 && TensorShape.ElementCount(outputShape) / width > int.MaxValue / pairs) { reason = "too many rows"; return null; }
        reason = "";
        return new GeometricPlan(KernelEmitter.EmitGram(inputs.Count, sources, baseIndex, dtypes),
            KernelEmitter.EmitCombine(inputs.Count, sources, baseIndex, dtypes, output, rows: width > 0), pairs,
            gram =>
            {
                // per vector: t·mean(w_i) + (1 − t)·w_0 = w_0 + Σ (t/N)(w_i − w_0), as ModelStock.Merge
                var c = new double[gram.Length / pairs * n];
                for (int v = 0; v < gram.Length / pairs; v++)
                    c.AsSpan(v * n, n).Fill(Methods.ModelStock.Ratio(gram.AsSpan(v * pairs, pairs), n) / n);
                return c;
            }, width);
    }

    /// <summary>The combine coefficients from the Gram kernel's per-span sums (span-major, <see cref="Pairs"/> per span):
    /// the spans are added in order from +0, as ChunkLoop.Reduce does.</summary>
    public double[] CoefficientsFromGram(ReadOnlySpan<double> partial) => coefficients(GramFromPartial(partial));

    /// <summary>The Gram matrix (packed upper triangle) from the per-span sums: spans added in order from +0; by rows,
    /// each row's matrix is its span's sums (added to +0, as VectorMath.Gram adds them to its zeroed result).</summary>
    public double[] GramFromPartial(ReadOnlySpan<double> partial)
    {
        if (RowWidth > 0)
        {
            var rows = new double[partial.Length];
            for (int e = 0; e < rows.Length; e++) rows[e] = 0.0 + partial[e];
            return rows;
        }
        var gram = new double[Pairs];
        for (int c = 0; c < partial.Length / Pairs; c++)
            for (int q = 0; q < Pairs; q++)
                gram[q] += partial[c * Pairs + q];
        return gram;
    }
}
