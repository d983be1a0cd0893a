using System.Numerics;
using System.Runtime.CompilerServices;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Kernels;

/// <summary>The whole-tensor passes of <see cref="VectorMath"/> (Gram matrix, combine) for all-bf16 inputs, straight
/// from the raw words: each bf16 value widens exactly to float32 and double in registers, with no float32 chunk
/// buffers and no double difference arrays. Same operations in the same order as the decoded path, so the same bits:
/// differences in double, products without FMA, sums in <see cref="LaneSum"/>'s order over spans of
/// <see cref="LaneSum.ChunkElements"/>; the combine narrows with <see cref="OutputRounding"/>.</summary>
internal static class GeometryBf16
{
    /// <summary>True when every input is an uncropped bf16 tensor of <paramref name="elements"/> elements.</summary>
    public static bool Applies(IReadOnlyList<MergeInput> inputs, long elements)
        => Vector<double>.Count is 2 or 4 or 8 && Bf16Lanes.RawInputs(inputs, elements);

    /// <summary>Packed Gram matrix (see <see cref="VectorMath.Pair"/>) of (source_i − origin) over the whole tensor;
    /// <paramref name="inputs"/> are the sources followed by the origin when <paramref name="hasOrigin"/>.</summary>
    public static double[] Gram(ExecutionSettings settings, IReadOnlyList<MergeInput> inputs, int k, bool hasOrigin, long elements)
    {
        int pairs = VectorMath.PairCount(k);
        long chunks = (elements + LaneSum.ChunkElements - 1) / LaneSum.ChunkElements;
        var partial = new double[chunks * pairs];
        using (var pinned = new Bf16Lanes.Pinned(inputs, null))
        {
            var sources = pinned.Sources;
            ChunkLoop.ForEachChunk(settings, elements, LaneSum.ChunkElements,
                (start, length) => GramSpan(sources, start, length, k, hasOrigin, partial.AsSpan((int)(start / LaneSum.ChunkElements * pairs), pairs)));
        }
        return LaneSum.ChunkTotals(partial, pairs);
    }

    private static unsafe void GramSpan(nint[] sources, long start, int length, int k, bool hasOrigin, Span<double> totals)
    {
        int w = Vector<double>.Count, per = LaneSum.Lanes / w, step = Vector<ushort>.Count, pairs = totals.Length;
        // acc[p * per + v]: lanes v·w … v·w + w − 1 of pair p's 16 accumulators.
        Span<Vector<double>> acc = stackalloc Vector<double>[pairs * per];
        acc.Clear();
        Span<Vector<double>> d = stackalloc Vector<double>[k * 4];
        var origin = hasOrigin ? (ushort*)sources[k] + start : null;
        int j = 0;
        if (k == 2 && per == 2) j = GramTwoWide(sources, start, length, origin, acc);
        for (; j <= length - step; j += step)
        {
            Vector<double> o0 = default, o1 = default, o2 = default, o3 = default;
            if (hasOrigin) Widen(origin + j, out o0, out o1, out o2, out o3);
            for (int s = 0; s < k; s++)
            {
                Widen((ushort*)sources[s] + start + j, out var x0, out var x1, out var x2, out var x3);
                d[4 * s] = x0 - o0;
                d[4 * s + 1] = x1 - o1;
                d[4 * s + 2] = x2 - o2;
                d[4 * s + 3] = x3 - o3;
            }
            // The 4 double vectors hold elements j + q·w …; element e goes to accumulator e % 16.
            int first = j % LaneSum.Lanes / w;
            for (int q = 0; q < 4; q++)
            {
                int v = (first + q) % per, p = 0;
                for (int a = 0; a < k; a++)
                    for (int b = a; b < k; b++, p++)
                        acc[p * per + v] += d[4 * a + q] * d[4 * b + q];
            }
        }
        Span<double> lanes = stackalloc double[pairs * LaneSum.Lanes];
        for (int p = 0; p < pairs; p++)
            for (int v = 0; v < per; v++) acc[p * per + v].CopyTo(lanes.Slice(p * LaneSum.Lanes + v * w, w));
        for (; j < length; j++)
        {
            double o = hasOrigin ? BFloat16Bits.ToSingle(origin[j]) : 0.0;
            int p = 0;
            for (int a = 0; a < k; a++)
            {
                double da = (double)BFloat16Bits.ToSingle(((ushort*)sources[a])[start + j]) - o;
                for (int b = a; b < k; b++, p++)
                    lanes[p * LaneSum.Lanes + j % LaneSum.Lanes] += da * ((double)BFloat16Bits.ToSingle(((ushort*)sources[b])[start + j]) - o);
            }
        }
        for (int p = 0; p < pairs; p++) totals[p] = LaneSum.Total(lanes.Slice(p * LaneSum.Lanes, LaneSum.Lanes));
    }

    /// <summary><see cref="GramSpan"/>'s vector loop for two sources at 512-bit width (two double vectors per 16 lanes),
    /// with the six accumulators in registers: element e of a step goes to vector (e / 8) % 2, in element order.
    /// Returns the elements done.</summary>
    private static unsafe int GramTwoWide(nint[] sources, long start, int length, ushort* origin, Span<Vector<double>> acc)
    {
        int step = Vector<ushort>.Count, j = 0;
        ushort* x = (ushort*)sources[0] + start, y = (ushort*)sources[1] + start;
        Vector<double> xx0 = default, xx1 = default, xy0 = default, xy1 = default, yy0 = default, yy1 = default;
        for (; j <= length - step; j += step)
        {
            Vector<double> o0 = default, o1 = default, o2 = default, o3 = default;
            if (origin != null) Widen(origin + j, out o0, out o1, out o2, out o3);
            Widen(x + j, out var a0, out var a1, out var a2, out var a3);
            Widen(y + j, out var b0, out var b1, out var b2, out var b3);
            a0 -= o0; a1 -= o1; a2 -= o2; a3 -= o3;
            b0 -= o0; b1 -= o1; b2 -= o2; b3 -= o3;
            xx0 += a0 * a0; xy0 += a0 * b0; yy0 += b0 * b0;
            xx1 += a1 * a1; xy1 += a1 * b1; yy1 += b1 * b1;
            xx0 += a2 * a2; xy0 += a2 * b2; yy0 += b2 * b2;
            xx1 += a3 * a3; xy1 += a3 * b3; yy1 += b3 * b3;
        }
        // Pairs in packed order (0,0), (0,1), (1,1); two vectors each.
        acc[0] = xx0; acc[1] = xx1; acc[2] = xy0; acc[3] = xy1; acc[4] = yy0; acc[5] = yy1;
        return j;
    }

    /// <summary>Writes origin + Σ c[s]·(source_s − origin) (origin 0 when absent) for every element, in one pass.</summary>
    public static void Combine(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, int k, bool hasOrigin, double[] coefficients)
        => Bf16Lanes.Map(ctx, inputs, new CombineKernel(k, hasOrigin, coefficients, OutputRounding.NeedsRoundToOdd(ctx.OutputDtype)));

    private readonly struct CombineKernel(int k, bool hasOrigin, double[] c, bool odd) : IElementwiseKernel
    {
        // Inlined into the bf16 loop: as a call per 16 elements it spilled the loop's registers (Bf16Lanes.Run).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<float> Lanes(ReadOnlySpan<Vector<float>> inputs)
        {
            Vector<double> ol = Vector<double>.Zero, oh = Vector<double>.Zero;
            if (hasOrigin) Vector.Widen(inputs[k], out ol, out oh);
            Vector<double> low = ol, high = oh;
            for (int s = 0; s < k; s++)
            {
                Vector.Widen(inputs[s], out var xl, out var xh);
                var cs = new Vector<double>(c[s]);
                low += cs * (xl - ol);
                high += cs * (xh - oh);
            }
            return OutputRounding.Narrow(low, high, odd);
        }

        public float Scalar(ReadOnlySpan<float> inputs)
        {
            double o = hasOrigin ? inputs[k] : 0.0;
            double sum = o;
            for (int s = 0; s < k; s++) sum += c[s] * ((double)inputs[s] - o);
            return OutputRounding.Narrow(sum, odd);
        }
    }

    /// <summary>Widens <see cref="Vector{T}"/>.Count ushort bf16 words at <paramref name="p"/> to four double vectors
    /// (elements in order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen(ushort* p, out Vector<double> a, out Vector<double> b, out Vector<double> c, out Vector<double> d)
    {
        Vector.Widen(Unsafe.ReadUnaligned<Vector<ushort>>(p), out var low, out var high);
        Vector.Widen(Vector.AsVectorSingle(low << 16), out a, out b);
        Vector.Widen(Vector.AsVectorSingle(high << 16), out c, out d);
    }
}
