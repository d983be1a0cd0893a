using System.Numerics;
using System.Runtime.CompilerServices;
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

/// <summary>One-pass elementwise map for the common all-bf16 case: reads the raw bf16 bytes of every input, widens
/// them in registers (bf16 → float32 is exact: a 16-bit shift), runs the kernel and encodes the result to bf16 in
/// the same loop, with no float32 chunk buffers and no separate decode / encode passes. Bit-identical to
/// <see cref="ChunkLoop.Map(TensorMergeContext, IReadOnlyList{MergeInput}, ChunkLoop.MapBody)"/> with the same
/// kernel, because decoding is exact and the encoder is the same round-to-nearest-even.</summary>
internal static class Bf16Lanes
{
    /// <summary>True when every input and the output are uncropped bf16 tensors of the output's length.</summary>
    public static bool Applies(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs)
    {
        if (!Vector.IsHardwareAccelerated || !BitConverter.IsLittleEndian || ctx.OutputDtype != Dtype.BF16) return false;
        foreach (var input in inputs)
            if (input.Dtype != Dtype.BF16 || input.ElementCount != ctx.OutputElementCount || !input.StoredShape.SequenceEqual(input.Shape))
                return false;
        return true;
    }

    public static void Map<TKernel>(TensorMergeContext ctx, IReadOnlyList<MergeInput> inputs, TKernel kernel)
        where TKernel : struct, IElementwiseKernel
    {
        int k = inputs.Count;
        var handles = new System.Buffers.MemoryHandle[k + 1];
        try
        {
            var sources = new nint[k];
            for (int i = 0; i < k; i++)
            {
                handles[i] = inputs[i].Data.Pin();
                unsafe { sources[i] = (nint)handles[i].Pointer; }
            }
            handles[k] = ctx.Output.Pin();
            nint output;
            unsafe { output = (nint)handles[k].Pointer; }
            ChunkLoop.ForEachChunk(ctx.Settings, ctx.OutputElementCount, ctx.Settings.ChunkElements,
                (start, length) => Run(kernel, sources, output, start, length));
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
    }

    private static unsafe void Run<TKernel>(TKernel kernel, nint[] sources, nint output, long start, int length)
        where TKernel : struct, IElementwiseKernel
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
            for (int i = 0; i < k; i++)
            {
                var raw = Unsafe.ReadUnaligned<Vector<ushort>>((ushort*)src[i] + j);
                Vector.Widen(raw, out var a, out var b);
                low[i] = Vector.AsVectorSingle(a << 16);
                high[i] = Vector.AsVectorSingle(b << 16);
            }
            var encoded = Vector.Narrow(RoundBf16(kernel.Lanes(low)), RoundBf16(kernel.Lanes(high)));
            Unsafe.WriteUnaligned(dst + j, encoded);
        }
        if (j == length) return;
        Span<float> values = k <= 64 ? stackalloc float[k] : new float[k];
        for (; j < length; j++)
        {
            for (int i = 0; i < k; i++) values[i] = BFloat16Bits.ToSingle(((ushort*)src[i])[j]);
            dst[j] = BFloat16Bits.FromSingle(kernel.Scalar(values));
        }
    }

    /// <summary>float32 → bf16 bits, round to nearest even, NaN to the canonical NaN (as <see cref="BFloat16Bits.FromSingle"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> RoundBf16(Vector<float> value)
    {
        var bits = Vector.AsVectorUInt32(value);
        var rounded = (bits + new Vector<uint>(0x7FFFu) + ((bits >> 16) & Vector<uint>.One)) >> 16;
        var isNaN = Vector.AsVectorUInt32(Vector.GreaterThan(Vector.AsVectorInt32(bits & new Vector<uint>(0x7FFF_FFFFu)), new Vector<int>(0x7F80_0000)));
        return Vector.ConditionalSelect(isNaN, new Vector<uint>((uint)BFloat16Bits.CanonicalNaN), rounded);
    }
}
