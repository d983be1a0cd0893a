using System.Buffers;
using System.Numerics;

namespace DotnetMerge.Kernels;

/// <summary>How a tensor is cut into the vectors that a geometric method (slerp, model stock...) works on.</summary>
public enum VectorLayoutKind
{
    /// <summary>The whole flattened tensor is one vector.</summary>
    Whole,
    /// <summary>Each run of the last dimension is one vector (<c>x[i, :]</c>); rows are contiguous.</summary>
    Rows,
    /// <summary>Each index of the trailing dimensions is one vector running along dimension 0 (<c>x[:, j]</c>).</summary>
    Columns,
}

/// <summary>A cut of a tensor of <see cref="Elements"/> elements into <see cref="Count"/> vectors.
/// For <see cref="VectorLayoutKind.Rows"/> a vector is <see cref="Width"/> consecutive elements; for
/// <see cref="VectorLayoutKind.Columns"/> the element at flat index e belongs to vector <c>e % Width</c>.</summary>
public readonly record struct VectorLayout(VectorLayoutKind Kind, long Elements, long Width)
{
    public long Count => Kind switch
    {
        VectorLayoutKind.Whole => Elements == 0 ? 0 : 1,
        VectorLayoutKind.Rows => Width == 0 ? 0 : Elements / Width,
        _ => Width,
    };

    public static VectorLayout Whole(long[] shape) => new(VectorLayoutKind.Whole, TensorShape.ElementCount(shape), TensorShape.ElementCount(shape));

    /// <summary>Vectors along the last dimension; a 0-D or 1-D tensor is a single vector.</summary>
    public static VectorLayout Rows(long[] shape)
        => shape.Length <= 1 ? Whole(shape) : new(VectorLayoutKind.Rows, TensorShape.ElementCount(shape), shape[^1]);

    /// <summary>Vectors along dimension 0, one per index of the remaining dimensions; a 0-D or 1-D tensor is a single vector.</summary>
    public static VectorLayout Columns(long[] shape)
    {
        if (shape.Length <= 1) return Whole(shape);
        long n = TensorShape.ElementCount(shape);
        return new(VectorLayoutKind.Columns, n, shape[0] == 0 ? 0 : n / shape[0]);
    }
}

/// <summary>Shared passes of the geometric methods. Every such method reduces to: per-vector Gram matrices of a few
/// "sources" (inputs, or inputs minus an origin such as the base model), a little scalar algebra on those Gram
/// matrices, and one map pass writing <c>origin + Σ c_k (source_k − origin)</c> with per-vector coefficients.
/// Differences and dot products are taken in double precision; results do not depend on the thread count.</summary>
public static class VectorMath
{
    /// <summary>Index of the pair (i, j), i &lt;= j, in a packed upper-triangular K×K matrix (row-major).</summary>
    public static int Pair(int i, int j, int k)
    {
        if (i > j) (i, j) = (j, i);
        return i * k - i * (i - 1) / 2 + (j - i);
    }

    public static int PairCount(int k) => k * (k + 1) / 2;

    /// <summary>Per-vector Gram matrices of the sources: for each vector v of <paramref name="layout"/>, the packed
    /// upper triangle (see <see cref="Pair"/>) of the dot products of (source_i − origin) and (source_j − origin).
    /// Returns Count × PairCount(K) values.</summary>
    public static double[] Gram(TensorMergeContext ctx, IReadOnlyList<MergeInput> sources, MergeInput? origin, VectorLayout layout)
    {
        int k = sources.Count, pairs = PairCount(k);
        var inputs = WithOrigin(sources, origin);
        var result = new double[checked(layout.Count * pairs)];
        if (layout.Count == 0) return result;
        switch (layout.Kind)
        {
            case VectorLayoutKind.Whole when GeometryBf16.Applies(inputs, layout.Elements):
                return GeometryBf16.Gram(ctx.Settings, inputs, k, origin is not null, layout.Elements);
            case VectorLayoutKind.Whole:
                // Spans of LaneSum.ChunkElements (not the map chunk size), so the sums do not depend on settings.
                return ChunkLoop.Reduce(ctx.Settings, inputs, LaneSum.ChunkElements, pairs, (_, length, ins, acc) =>
                {
                    var diff = RentDifferences(ins, 0, length, k, origin is not null);
                    try { AddGram(diff, length, acc); }
                    finally { ReturnDifferences(diff); }
                });
            case VectorLayoutKind.Rows:
                long width = layout.Width;
                ForEachRowChunk(ctx, inputs, width, (start, length, ins) =>
                {
                    var diff = RentDifferences(ins, 0, length, k, origin is not null);
                    try
                    {
                        long firstRow = start / width;
                        for (int r = 0; r < length / width; r++)
                        {
                            AddGramSlice(diff, (int)(r * width), (int)width, result.AsSpan((int)((firstRow + r) * pairs), pairs));
                        }
                    }
                    finally { ReturnDifferences(diff); }
                });
                return result;
            default:
                ColumnGram(ctx, inputs, k, origin is not null, layout, result);
                return result;
        }
    }

    /// <summary>Map pass: output = origin + Σ_k c[v, k]·(source_k − origin) (origin = 0 when null), where v is the vector
    /// of <paramref name="layout"/> holding the element and <paramref name="coefficients"/> holds Count × K values.
    /// Computed in double per element and rounded once to the output dtype (round-to-odd to float32, then the encoder).</summary>
    public static void Combine(TensorMergeContext ctx, IReadOnlyList<MergeInput> sources, MergeInput? origin, VectorLayout layout, double[] coefficients)
    {
        int k = sources.Count;
        bool hasOrigin = origin is not null;
        bool odd = Methods.OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        var inputs = WithOrigin(sources, origin);
        if (layout.Kind == VectorLayoutKind.Whole && ctx.OutputDtype == Numerics.Dtype.BF16 && GeometryBf16.Applies(inputs, ctx.OutputElementCount))
        {
            GeometryBf16.Combine(ctx, inputs, k, hasOrigin, coefficients);
            return;
        }
        ChunkLoop.Map(ctx, inputs, (start, length, ins, output) =>
        {
            switch (layout.Kind)
            {
                case VectorLayoutKind.Whole:
                    CombineSegment(ins, 0, length, k, hasOrigin, coefficients.AsSpan(0, k), odd, output);
                    break;
                case VectorLayoutKind.Rows:
                    for (int done = 0; done < length;)
                    {
                        long index = start + done;
                        long row = index / layout.Width;
                        int run = (int)Math.Min(layout.Width - index % layout.Width, length - done);
                        CombineSegment(ins, done, run, k, hasOrigin, coefficients.AsSpan((int)(row * k), k), odd, output);
                        done += run;
                    }
                    break;
                default:
                    long column = start % layout.Width;
                    for (int e = 0; e < length; e++)
                    {
                        CombineSegment(ins, e, 1, k, hasOrigin, coefficients.AsSpan((int)(column * k), k), odd, output);
                        if (++column == layout.Width) column = 0;
                    }
                    break;
            }
        });
    }

    /// <summary>Runs <paramref name="body"/> over chunks that hold whole rows of <paramref name="rowLength"/> elements,
    /// in parallel; each chunk may write freely to per-row or per-element results of its own range.</summary>
    public static void ForEachRowChunk(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, long rowLength,
        Action<long, int, float[][]> body)
        => ChunkLoop.Reduce(ctx.Settings, inputs, ChunkLoop.RowChunk(ctx.Settings.ChunkElements, rowLength), 0,
            (start, length, ins, _) => body(start, length, ins));

    /// <summary>The inputs other than the base model, in definition order.</summary>
    public static List<MergeInput> NonBase(TensorMergeContext ctx)
        => ctx.Inputs.Where((_, i) => i != ctx.BaseIndex).ToList();

    /// <summary>Inputs of a method that merges the base with exactly one other model (slerp, nearswap, arcee_fusion).
    /// Returns null when only one input is present, after writing it unchanged (mergekit returns a lone input as is).</summary>
    public static (MergeInput Base, MergeInput Other)? BaseAndOther(TensorMergeContext ctx, string method)
    {
        if (ctx.Inputs.Count == 1)
        {
            CopyOf(ctx, ctx.Inputs[0]);
            return null;
        }
        if (ctx.Inputs.Count != 2)
            throw new InvalidOperationException($"{method} merges exactly two models (the base and one other), got {ctx.Inputs.Count} for '{ctx.OutputName}'");
        if (ctx.Base is null)
            throw new InvalidOperationException($"{method} needs base_model, one of its two models, for '{ctx.OutputName}'");
        return (ctx.Base, ctx.Inputs[1 - ctx.BaseIndex]);
    }

    /// <summary>Writes <paramref name="input"/> unchanged (converted to the output dtype).</summary>
    public static void CopyOf(TensorMergeContext ctx, MergeInput input)
        => Combine(ctx, [input], null, VectorLayout.Whole(ctx.OutputShape), [1.0]);

    /// <summary>Dot product in double, in the canonical reduction order (<see cref="LaneSum"/>).</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b) => LaneSum.Dot(a, b);

    /// <summary>Quadratic form cᵀ G c with G given as a packed upper triangle.</summary>
    public static double QuadraticForm(ReadOnlySpan<double> packedGram, ReadOnlySpan<double> c)
    {
        int k = c.Length;
        double sum = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                sum += c[i] * packedGram[Pair(i, j, k)] * c[j];
        return sum;
    }

    /// <summary>(G c)_i with G given as a packed upper triangle.</summary>
    public static double GramTimes(ReadOnlySpan<double> packedGram, ReadOnlySpan<double> c, int i)
    {
        int k = c.Length;
        double sum = 0;
        for (int j = 0; j < k; j++) sum += packedGram[Pair(i, j, k)] * c[j];
        return sum;
    }

    private static IReadOnlyList<MergeInput> WithOrigin(IReadOnlyList<MergeInput> sources, MergeInput? origin)
        => origin is null ? sources : [.. sources, origin];

    private static double[][] RentDifferences(float[][] ins, int from, int length, int k, bool hasOrigin)
    {
        var diff = new double[k][];
        for (int s = 0; s < k; s++)
        {
            var d = diff[s] = ArrayPool<double>.Shared.Rent(length);
            var x = ins[s];
            int e = 0, width = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated)
            {
                for (; e <= length - width; e += width)
                {
                    Vector.Widen(new Vector<float>(x, from + e), out var low, out var high);
                    if (hasOrigin)
                    {
                        Vector.Widen(new Vector<float>(ins[k], from + e), out var ol, out var oh);
                        low -= ol;
                        high -= oh;
                    }
                    low.CopyTo(d, e);
                    high.CopyTo(d, e + Vector<double>.Count);
                }
            }
            if (hasOrigin)
            {
                var o = ins[k];
                for (; e < length; e++) d[e] = (double)x[from + e] - o[from + e];
            }
            else
            {
                for (; e < length; e++) d[e] = x[from + e];
            }
        }
        return diff;
    }

    private static void ReturnDifferences(double[][] diff)
    {
        foreach (var d in diff) ArrayPool<double>.Shared.Return(d);
    }

    private static void AddGram(double[][] diff, int length, Span<double> acc) => AddGramSlice(diff, 0, length, acc);

    private static void AddGramSlice(double[][] diff, int from, int length, Span<double> acc)
    {
        int k = diff.Length, p = 0;
        for (int i = 0; i < k; i++)
            for (int j = i; j < k; j++)
                acc[p++] += Dot(diff[i].AsSpan(from, length), diff[j].AsSpan(from, length));
    }

    /// <summary>output[e] = o + Σ c[s]·(x_s[e] − o) in double per element (o = origin or 0), narrowed by OutputRounding; vectorised: every
    /// lane does the scalar sequence of operations, so results are bit-identical to the scalar tail.</summary>
    private static void CombineSegment(float[][] ins, int from, int length, int k, bool hasOrigin, ReadOnlySpan<double> c, bool odd, float[] output)
    {
        int e = from, end = from + length, width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated && end - e >= width)
        {
            Span<Vector<double>> coefficients = stackalloc Vector<double>[k];
            for (int s = 0; s < k; s++) coefficients[s] = new Vector<double>(c[s]);
            for (; e <= end - width; e += width)
            {
                Vector<double> ol = Vector<double>.Zero, oh = Vector<double>.Zero;
                if (hasOrigin) Vector.Widen(new Vector<float>(ins[k], e), out ol, out oh);
                Vector<double> low = ol, high = oh;
                for (int s = 0; s < k; s++)
                {
                    Vector.Widen(new Vector<float>(ins[s], e), out var xl, out var xh);
                    low += coefficients[s] * (xl - ol);
                    high += coefficients[s] * (xh - oh);
                }
                Methods.OutputRounding.Narrow(low, high, odd).CopyTo(output, e);
            }
        }
        for (; e < end; e++)
        {
            double o = hasOrigin ? ins[k][e] : 0.0;
            double sum = o;
            for (int s = 0; s < k; s++) sum += c[s] * ((double)ins[s][e] - o);
            output[e] = Methods.OutputRounding.Narrow(sum, odd);
        }
    }

    /// <summary>Column Gram: each task owns a block of columns and walks every row in order, so each column's sums are
    /// accumulated in row order whatever the block size or thread count.</summary>
    private static void ColumnGram(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, int k, bool hasOrigin, VectorLayout layout, double[] result)
    {
        long columns = layout.Width, rows = layout.Elements / columns;
        int pairs = PairCount(k);
        int threads = Math.Max(1, ctx.Settings.Threads);
        int blockWidth = (int)Math.Clamp(columns / (threads * 4L), 64, Math.Max(64, ctx.Settings.ChunkElements));
        blockWidth = (int)Math.Min(blockWidth, columns);
        int blocks = (int)((columns + blockWidth - 1) / blockWidth);
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
        {
            long first = (long)b * blockWidth;
            int width = (int)Math.Min(blockWidth, columns - first);
            var pool = ArrayPool<float>.Shared;
            var ins = new float[inputs.Count][];
            for (int i = 0; i < ins.Length; i++) ins[i] = pool.Rent(width);
            // A column is one reduction span: row r goes to accumulator r % 16 (LaneSum's order).
            var acc = new double[width * pairs * LaneSum.Lanes];
            try
            {
                for (long r = 0; r < rows; r++)
                {
                    int lane = (int)(r % LaneSum.Lanes);
                    for (int i = 0; i < ins.Length; i++) inputs[i].Decode(r * columns + first, ins[i].AsSpan(0, width));
                    for (int c = 0; c < width; c++)
                    {
                        int p = 0;
                        for (int i = 0; i < k; i++)
                        {
                            double o = hasOrigin ? ins[k][c] : 0.0;
                            double di = (double)ins[i][c] - o;
                            for (int j = i; j < k; j++) acc[(c * pairs + p++) * LaneSum.Lanes + lane] += di * ((double)ins[j][c] - o);
                        }
                    }
                }
                for (int e = 0; e < width * pairs; e++)
                    result[first * pairs + e] = LaneSum.Total(acc.AsSpan(e * LaneSum.Lanes, LaneSum.Lanes));
            }
            finally
            {
                foreach (var a in ins) pool.Return(a);
            }
        });
    }
}
