using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DotnetMerge.Numerics;

namespace DotnetMerge.Kernels;

/// <summary>An elementwise kernel run by <see cref="Bf16Lanes.Map"/>: the float32 values of every input at the same
/// elements in, the float32 to encode out. <see cref="Lanes"/> must give, lane by lane, exactly what
/// <see cref="Scalar"/> gives (same operations in the same order), so results do not depend on the vector width.</summary>
internal interface IElementwiseKernel
{
    Vector<float> Lanes(ReadOnlySpan<Vector<float>> inputs);
    float Scalar(ReadOnlySpan<float> inputs);
}

/// <summary>An elementwise kernel that also needs the element index (pruning masks, random draws): run by
/// <see cref="Bf16Lanes.MapIndexed"/>. <c>index</c> is the tensor element index of lane 0 (lane l is
/// element index + l). The kernel may overwrite <c>inputs</c> (scratch of the caller, refilled before each call).
/// As for <see cref="IElementwiseKernel"/>, the lanes must repeat the scalar operations exactly.</summary>
internal interface IIndexedElementwiseKernel
{
    Vector<float> Lanes(Span<Vector<float>> inputs, long index);
    float Scalar(Span<float> inputs, long index);
}

/// <summary>Per-element float32 terms to be summed over a tensor by <see cref="Bf16Lanes.SumTerms"/> (e.g. |δ| and
/// |pruned δ| of every model): <see cref="Count"/> terms per element. As for the map kernels, <see cref="Lanes"/>
/// must give lane by lane what <see cref="Scalar"/> gives, and may overwrite <c>inputs</c>.</summary>
internal interface IElementwiseTerms
{
    int Count { get; }
    void Lanes(Span<Vector<float>> inputs, long index, Span<Vector<float>> terms);
    void Scalar(Span<float> inputs, long index, Span<float> terms);
}

/// <summary>One-pass elementwise map for the common all-bf16 case: reads the raw bf16 bytes of every input, widens
/// them in registers (bf16 → float32 is exact: a 16-bit shift), runs the kernel and encodes the result to bf16 in
/// the same loop, with no float32 chunk buffers and no separate decode / encode passes. Bit-identical to
/// <see cref="ChunkLoop.Map(TensorMergeContext, IReadOnlyList{MergeInput}, ChunkLoop.MapBody)"/> with the same
/// kernel, because decoding is exact and the encoder is the same round-to-nearest-even.</summary>
internal static class Bf16Lanes
{
    /// <summary>True when every input and the output are uncropped bf16 tensors of the output's length.</summary>
    public static bool Applies(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs)
        => ctx.OutputDtype == Dtype.BF16 && RawInputs(inputs, ctx.OutputElementCount);

    /// <summary>True when the raw-word loops can read every input: uncropped bf16 tensors of <paramref name="elements"/>
    /// elements, on a little-endian machine with SIMD. The one rule for every raw-bf16 kernel.</summary>
    public static bool RawInputs(IReadOnlyList<MergeInput> inputs, long elements)
    {
        if (!Vector.IsHardwareAccelerated || !BitConverter.IsLittleEndian) return false;
        foreach (var input in inputs)
            if (input.Dtype != Dtype.BF16 || input.ElementCount != elements || !input.StoredShape.SequenceEqual(input.Shape))
                return false;
        return true;
    }

    public static void Map<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, TKernel kernel)
        where TKernel : struct, IElementwiseKernel
        => MapIndexed(ctx, inputs, new Unindexed<TKernel>(kernel));

    /// <summary><see cref="Map"/> for kernels that need the element index of their lanes.</summary>
    public static void MapIndexed<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, TKernel kernel)
        where TKernel : struct, IIndexedElementwiseKernel
    {
        using var pinned = new Pinned(inputs, ctx.Output);
        var sources = pinned.Sources;
        nint output = pinned.Output;
        ChunkLoop.ForEachChunk(ctx.Settings, ctx.OutputElementCount, ctx.Settings.ChunkElements,
            (start, length) => Run(kernel, sources, output, start, length));
    }

    /// <summary>The sum over all elements of each term of <paramref name="kernel"/>, in the canonical order of
    /// <see cref="LaneSum"/>: spans of <see cref="LaneSum.ChunkElements"/> elements, element j of a span into
    /// accumulator j % 16, the fixed tree per span, span totals added in span order from +0.0. The same bits as
    /// <see cref="LaneSum.Sum"/> over chunks of the decoded terms, without decoding (and whatever the SIMD width).
    /// <paramref name="beforeSpan"/>, when given, runs on each span (start, length) just before the span is summed, on
    /// the same worker: spans start at multiples of <see cref="LaneSum.ChunkElements"/> (whole 64-bit words of
    /// per-element bits, which a pruner may fill there).</summary>
    public static double[] SumTerms<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, TKernel kernel,
        Action<long, int>? beforeSpan = null)
        where TKernel : struct, IElementwiseTerms
    {
        long total = ctx.OutputElementCount;
        int terms = kernel.Count;
        long spans = (total + LaneSum.ChunkElements - 1) / LaneSum.ChunkElements;
        var partial = new double[checked((int)(spans * terms))];
        using (var pinned = new Pinned(inputs, null))
        {
            var sources = pinned.Sources;
            ChunkLoop.ForEachChunk(ctx.Settings, total, LaneSum.ChunkElements, (start, length) =>
            {
                beforeSpan?.Invoke(start, length);
                SumSpan(kernel, sources, start, length, partial.AsSpan((int)(start / LaneSum.ChunkElements) * terms, terms));
            });
        }
        return LaneSum.ChunkTotals(partial, terms);
    }

    /// <summary>|x − b| of <see cref="Vector{T}.Count"/> bf16 words as float32 bits: widened, subtracted in float32,
    /// sign cleared (the same floats as decoding both and subtracting). The lower-addressed half of the words first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AbsDifferenceBits(Vector<ushort> x, Vector<ushort> b, out Vector<uint> low, out Vector<uint> high)
    {
        Vector.Widen(x, out var xl, out var xh);
        Vector.Widen(b, out var bl, out var bh);
        var magnitude = new Vector<uint>(0x7FFF_FFFFu);
        low = Vector.AsVectorUInt32(Vector.AsVectorSingle(xl << 16) - Vector.AsVectorSingle(bl << 16)) & magnitude;
        high = Vector.AsVectorUInt32(Vector.AsVectorSingle(xh << 16) - Vector.AsVectorSingle(bh << 16)) & magnitude;
    }

    /// <summary>|x − b| of one pair of bf16 words, in float32: the scalar form of <see cref="AbsDifferenceBits"/>.</summary>
    public static float AbsDifference(ushort x, ushort b) => MathF.Abs(BFloat16Bits.ToSingle(x) - BFloat16Bits.ToSingle(b));

    /// <summary>Pins the inputs (and the output) of one pass for the raw pointer loops.</summary>
    internal sealed class Pinned : IDisposable
    {
        private readonly System.Buffers.MemoryHandle[] _handles;

        public unsafe Pinned(IReadOnlyList<MergeInput> inputs, Memory<byte>? output)
        {
            int k = inputs.Count;
            _handles = new System.Buffers.MemoryHandle[k + 1];
            Sources = new nint[k];
            try
            {
                for (int i = 0; i < k; i++)
                {
                    _handles[i] = inputs[i].Data.Pin();
                    Sources[i] = (nint)_handles[i].Pointer;
                }
                if (output is { } o)
                {
                    _handles[k] = o.Pin();
                    Output = (nint)_handles[k].Pointer;
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public nint[] Sources { get; }
        public nint Output { get; }

        public void Dispose()
        {
            foreach (var h in _handles) h.Dispose();
        }
    }

    private static unsafe void Run<TKernel>(TKernel kernel, nint[] sources, nint output, long start, int length)
        where TKernel : struct, IIndexedElementwiseKernel
    {
        int k = sources.Length, step = Vector<ushort>.Count;
        Span<Vector<float>> low = k <= 16 ? stackalloc Vector<float>[k] : new Vector<float>[k];
        Span<Vector<float>> high = k <= 16 ? stackalloc Vector<float>[k] : new Vector<float>[k];
        Span<nint> src = k <= 16 ? stackalloc nint[k] : new nint[k];
        for (int i = 0; i < k; i++) src[i] = sources[i] + (nint)(start * 2);
        ushort* dst = (ushort*)output + start;
        int j = 0;
        for (; j <= length - step; j += step)
        {
            Load(src, j, low, high);
            // Widen puts the lower-addressed half of the words in the first vector: elements j.. then j + Count...
            var lowOut = RoundBf16(kernel.Lanes(low, start + j));
            var encoded = Vector.Narrow(lowOut, RoundBf16(kernel.Lanes(high, start + j + Vector<float>.Count)));
            Unsafe.WriteUnaligned(dst + j, encoded);
        }
        if (j == length) return;
        Span<float> values = k <= 64 ? stackalloc float[k] : new float[k];
        for (; j < length; j++)
        {
            for (int i = 0; i < k; i++) values[i] = BFloat16Bits.ToSingle(((ushort*)src[i])[j]);
            dst[j] = BFloat16Bits.FromSingle(kernel.Scalar(values, start + j));
        }
    }

    /// <summary>The totals of one span (elements [start, start + length)) of every term, in LaneSum's order.</summary>
    private static unsafe void SumSpan<TKernel>(TKernel kernel, nint[] sources, long start, int length, Span<double> totals)
        where TKernel : struct, IElementwiseTerms
    {
        int k = sources.Length, terms = kernel.Count, f = Vector<float>.Count, w = Vector<double>.Count;
        // Accumulator a of term i is lane a % w of vector i · (16 / w) + a / w: the 16 LaneSum accumulators in order.
        int per = LaneSum.Lanes / w;
        var acc = new Vector<double>[terms * per];
        Span<Vector<float>> low = k <= 16 ? stackalloc Vector<float>[k] : new Vector<float>[k];
        Span<Vector<float>> high = k <= 16 ? stackalloc Vector<float>[k] : new Vector<float>[k];
        Span<Vector<float>> termsLow = terms <= 32 ? stackalloc Vector<float>[terms] : new Vector<float>[terms];
        Span<Vector<float>> termsHigh = terms <= 32 ? stackalloc Vector<float>[terms] : new Vector<float>[terms];
        int j = 0;
        if (w is 4 or 8 && terms <= 4) j = SumSpanInRegisters(kernel, sources, start, length, acc, low, high, termsLow, termsHigh);
        else if (w is 2 or 4 or 8)
        {
            int step = Vector<ushort>.Count;
            for (; j <= length - step; j += step)
            {
                Load(sources, start + j, low, high);
                kernel.Lanes(low, start + j, termsLow);
                kernel.Lanes(high, start + j + f, termsHigh);
                // j is a multiple of step (2f = 4w), so (j + o) % 16 / w is the accumulator vector of offset o.
                int s0 = (j % LaneSum.Lanes) / w, s1 = ((j + w) % LaneSum.Lanes) / w;
                int s2 = ((j + f) % LaneSum.Lanes) / w, s3 = ((j + f + w) % LaneSum.Lanes) / w;
                ref var sums = ref MemoryMarshal.GetArrayDataReference(acc);
                for (int i = 0; i < terms; i++, sums = ref Unsafe.Add(ref sums, per))
                {
                    Vector.Widen(termsLow[i], out var l0, out var h0);
                    Unsafe.Add(ref sums, s0) += l0;
                    Unsafe.Add(ref sums, s1) += h0;
                    Vector.Widen(termsHigh[i], out var l1, out var h1);
                    Unsafe.Add(ref sums, s2) += l1;
                    Unsafe.Add(ref sums, s3) += h1;
                }
            }
        }
        Span<double> s = MemoryMarshal.Cast<Vector<double>, double>(acc.AsSpan());
        if (j < length)
        {
            Span<float> values = k <= 64 ? stackalloc float[k] : new float[k];
            Span<float> termValues = terms <= 128 ? stackalloc float[terms] : new float[terms];
            for (; j < length; j++)
            {
                for (int i = 0; i < k; i++) values[i] = BFloat16Bits.ToSingle(((ushort*)sources[i])[start + j]);
                kernel.Scalar(values, start + j, termValues);
                for (int i = 0; i < terms; i++) s[i * LaneSum.Lanes + j % LaneSum.Lanes] += termValues[i];
            }
        }
        for (int i = 0; i < terms; i++) totals[i] = LaneSum.Total(s.Slice(i * LaneSum.Lanes, LaneSum.Lanes));
    }

    /// <summary>The vector part of <see cref="SumSpan"/> for up to four terms (the L1 norms of two pruned models) at
    /// 256- or 512-bit vectors: the same additions in the same order, with the accumulators in registers instead of an
    /// array (there each add is a store-to-load round trip on its accumulator's chain). A step adds the 2 × f floats
    /// of a term (elements j.. in <c>termsLow</c>, j + f.. in <c>termsHigh</c>) widened to four double vectors; see
    /// <see cref="AddTerm"/>. Writes the accumulators to <paramref name="acc"/> and returns the elements done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int SumSpanInRegisters<TKernel>(TKernel kernel, nint[] sources, long start, int length, Vector<double>[] acc,
        Span<Vector<float>> low, Span<Vector<float>> high, Span<Vector<float>> termsLow, Span<Vector<float>> termsHigh)
        where TKernel : struct, IElementwiseTerms
    {
        int terms = kernel.Count, step = Vector<ushort>.Count, f = Vector<float>.Count, j = 0;
        Vector<double> a0 = default, b0 = default, c0 = default, d0 = default, a1 = default, b1 = default, c1 = default, d1 = default;
        Vector<double> a2 = default, b2 = default, c2 = default, d2 = default, a3 = default, b3 = default, c3 = default, d3 = default;
        for (; j <= length - step; j += step)
        {
            Load(sources, start + j, low, high);
            kernel.Lanes(low, start + j, termsLow);
            kernel.Lanes(high, start + j + f, termsHigh);
            AddTerm(termsLow[0], termsHigh[0], ref a0, ref b0, ref c0, ref d0);
            if (terms > 1) AddTerm(termsLow[1], termsHigh[1], ref a1, ref b1, ref c1, ref d1);
            if (terms > 2) AddTerm(termsLow[2], termsHigh[2], ref a2, ref b2, ref c2, ref d2);
            if (terms > 3) AddTerm(termsLow[3], termsHigh[3], ref a3, ref b3, ref c3, ref d3);
        }
        Vector<double>[] sums = Vector<double>.Count == 8 ? [a0, b0, a1, b1, a2, b2, a3, b3] : [a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3];
        sums.AsSpan(0, acc.Length).CopyTo(acc);
        return j;
    }

    /// <summary>One term's step of <see cref="SumSpanInRegisters"/>. With 256-bit vectors (w = 4, 16 elements a step)
    /// the four double vectors are accumulators 0-3, 4-7, 8-11 and 12-15: one each. With 512-bit ones (w = 8, 32
    /// elements a step) they are accumulators 0-7, 8-15, then 0-7 and 8-15 again (elements j + 16.. after j..), so
    /// <paramref name="c"/> and <paramref name="d"/> are not used.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTerm(Vector<float> low, Vector<float> high, ref Vector<double> a, ref Vector<double> b, ref Vector<double> c,
        ref Vector<double> d)
    {
        Vector.Widen(low, out var l0, out var h0);
        a += l0;
        b += h0;
        Vector.Widen(high, out var l1, out var h1);
        if (Vector<double>.Count == 8)
        {
            a += l1;
            b += h1;
        }
        else
        {
            c += l1;
            d += h1;
        }
    }

    /// <summary>The <see cref="Vector{T}"/>.Count · 2 bf16 words at element <paramref name="element"/> of every input,
    /// widened to float32 (exact): the lower-addressed half in <paramref name="low"/>, the other in <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Load(ReadOnlySpan<nint> sources, long element, Span<Vector<float>> low, Span<Vector<float>> high)
    {
        for (int i = 0; i < sources.Length; i++)
        {
            Vector.Widen(Unsafe.ReadUnaligned<Vector<ushort>>((ushort*)sources[i] + element), out var a, out var b);
            low[i] = Vector.AsVectorSingle(a << 16);
            high[i] = Vector.AsVectorSingle(b << 16);
        }
    }

    /// <summary>Runs an <see cref="IElementwiseKernel"/> as an indexed one (the index is not used).</summary>
    internal readonly struct Unindexed<TKernel>(TKernel kernel) : IIndexedElementwiseKernel where TKernel : struct, IElementwiseKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<float> Lanes(Span<Vector<float>> inputs, long index) => kernel.Lanes(inputs);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Scalar(Span<float> inputs, long index) => kernel.Scalar(inputs);
    }

    /// <summary>float32 → bf16 bits, round to nearest even, NaN to the canonical NaN (as <see cref="BFloat16Bits.FromSingle"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<uint> RoundBf16(Vector<float> value)
    {
        var bits = Vector.AsVectorUInt32(value);
        var rounded = (bits + new Vector<uint>(0x7FFFu) + ((bits >> 16) & Vector<uint>.One)) >> 16;
        var isNaN = Vector.AsVectorUInt32(Vector.GreaterThan(Vector.AsVectorInt32(bits & new Vector<uint>(0x7FFF_FFFFu)), new Vector<int>(0x7F80_0000)));
        return Vector.ConditionalSelect(isNaN, new Vector<uint>((uint)BFloat16Bits.CanonicalNaN), rounded);
    }
}
