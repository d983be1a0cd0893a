using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Backend;

/// <summary>The GPU form of a slerp, model_stock, multislerp, nuslerp or karcher job over whole tensors (VectorLayout.Whole)
/// or rows (VectorLayout.Rows): a Gram reduction (<see cref="KernelEmitter.EmitGram"/>) over spans of LaneSum.ChunkElements
/// (or one span per row), the spans added in order here, the CPU method's own scalar algebra on the Gram matrix
/// (Slerp.Coefficients, ModelStock.Ratio, Multislerp.Coefficients, Nuslerp.Coefficients, Karcher.Coefficients), then the
/// combine map.</summary>
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
        if (sources.Length > MaxSources) { reason = $"more than {MaxSources} models"; return null; }
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

    /// <summary>Most sources a Gram kernel takes: its per-lane accumulators (one per pair) live in shared memory.</summary>
    public const int MaxSources = 16;

    /// <summary>multislerp over the whole tensor: the models other than the base are the sources, the base (if any) the
    /// origin, and the host runs Multislerp.Coefficients (whose error on cancelling weights is then raised as the CPU's).
    /// Null for a lone model (the CPU copies it) or none besides the base (the CPU reports it).</summary>
    public static GeometricPlan? Multislerp(IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global, string outputName,
        Dtype[] dtypes, Dtype output, out string reason)
    {
        int[] sources = Enumerable.Range(0, inputs.Count).Where(i => i != baseIndex).ToArray();
        if (sources.Length < 2) { reason = "multislerp needs two models besides the base (the CPU copies or reports it)"; return null; }
        if (sources.Length > MaxSources) { reason = $"more than {MaxSources} models"; return null; }
        // As Multislerp.Merge: weights of the sources in order, normalised by their sum when asked.
        double[] weights = sources.Select(s => inputs[s].Parameters.GetDouble("weight")).ToArray();
        if (global.GetBool("normalize_weights"))
        {
            double sum = weights.Sum();
            for (int i = 0; i < weights.Length; i++) weights[i] /= sum;
        }
        double eps = global.GetDouble("eps");
        int origin = baseIndex >= 0 ? baseIndex : -1;
        reason = "";
        return new GeometricPlan(KernelEmitter.EmitGram(inputs.Count, sources, origin, dtypes),
            KernelEmitter.EmitCombine(inputs.Count, sources, origin, dtypes, output), VectorMath.PairCount(sources.Length),
            gram => Methods.Multislerp.Coefficients(gram, weights, eps, outputName));
    }

    /// <summary>nuslerp: the two models other than the base are the sources, a third (base) model the origin; over the
    /// whole tensor (<c>nuslerp_flatten</c>) or per row of the last dimension (a 0-D or 1-D tensor being one row). The
    /// column layout (<c>nuslerp_row_wise</c> on a tensor of two or more dimensions) has no kernel: null, and the CPU runs it.</summary>
    public static GeometricPlan? Nuslerp(IReadOnlyList<KernelInput> inputs, int baseIndex, ParameterBag global, long[] outputShape,
        Dtype[] dtypes, Dtype output, out string reason)
    {
        if (inputs.Count == 1) { reason = "a single model (the CPU copies it)"; return null; }
        if (baseIndex >= 0 && inputs.Count != 3) { reason = "nuslerp's base must be a third model (the CPU reports it)"; return null; }
        int[] sources = Enumerable.Range(0, inputs.Count).Where(i => i != baseIndex).ToArray();
        if (sources.Length != 2) { reason = "nuslerp merges exactly two models besides the base (the CPU reports it)"; return null; }
        double w1 = inputs[sources[0]].Parameters.GetDouble("weight"), w2 = inputs[sources[1]].Parameters.GetDouble("weight");
        double t = Math.Abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
        // As Nuslerp.Merge picks its VectorLayout (flatten first; Columns and Rows of a 0-D or 1-D tensor are Whole).
        bool flatten = global.GetBool("nuslerp_flatten");
        bool columns = !flatten && global.GetBool("nuslerp_row_wise");
        long width = flatten || outputShape.Length <= 1 ? 0 : outputShape[^1];
        if (columns && outputShape.Length > 1) { reason = "nuslerp_row_wise (one vector per column) has no GPU kernel"; return null; }
        if (width > 0 && TensorShape.ElementCount(outputShape) / width > int.MaxValue / 3) { reason = "too many rows"; return null; }
        int origin = baseIndex >= 0 ? baseIndex : -1;
        reason = "";
        return new GeometricPlan(KernelEmitter.EmitGram(inputs.Count, sources, origin, dtypes),
            KernelEmitter.EmitCombine(inputs.Count, sources, origin, dtypes, output, rows: width > 0), 3,
            gram =>
            {
                var c = new double[gram.Length / 3 * 2];
                for (int v = 0; v < gram.Length / 3; v++)
                    (c[v * 2], c[v * 2 + 1]) = Methods.Nuslerp.Coefficients(t, gram[v * 3], gram[v * 3 + 1], gram[v * 3 + 2]);
                return c;
            }, width);
    }

    /// <summary>karcher over the whole tensor: every input (the base included) is a source, no origin, equal weights.
    /// Null for a lone model (the CPU copies it).</summary>
    public static GeometricPlan? Karcher(IReadOnlyList<KernelInput> inputs, ParameterBag global, Dtype[] dtypes, Dtype output, out string reason)
    {
        int n = inputs.Count;
        if (n == 1) { reason = "a single model (the CPU copies it)"; return null; }
        if (n > MaxSources) { reason = $"more than {MaxSources} models"; return null; }
        int maxIter = (int)global.GetDouble("max_iter");
        double tol = global.GetDouble("tol");
        int[] sources = Enumerable.Range(0, n).ToArray();
        reason = "";
        return new GeometricPlan(KernelEmitter.EmitGram(n, sources, -1, dtypes), KernelEmitter.EmitCombine(n, sources, -1, dtypes, output),
            VectorMath.PairCount(n), gram => Methods.Karcher.Coefficients(gram, n, maxIter, tol));
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
        return LaneSum.ChunkTotals(partial, Pairs);
    }
}
