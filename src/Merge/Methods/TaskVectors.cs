using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Methods;

/// <summary>Shared plumbing of the methods that work on task vectors δ = x − base.
/// δ is computed in float32 from the decoded inputs (exact for bf16/f16 inputs in practice, and what mergekit
/// does for f32 tensors); everything after that is float64 per element, rounded once to float32 for encoding.</summary>
internal static class TaskVectors
{
    /// <summary>Chunk length of every reduction pass. A constant of the algorithm (not ExecutionSettings.ChunkElements),
    /// so reduced sums, and therefore outputs, are identical whatever chunk size the map pass uses.</summary>
    public const long ReductionChunk = LaneSum.ChunkElements;

    /// <summary>Indices (in ctx.Inputs) of the non-base inputs; throws when the method has no base model.</summary>
    public static int[] TaskIndices(TensorMergeContext ctx, string method)
    {
        if (ctx.BaseIndex < 0)
            throw new InvalidOperationException($"{method}: tensor '{ctx.OutputName}' needs a base_model");
        RequireSameLength(ctx, method);
        return Enumerable.Range(0, ctx.Inputs.Count).Where(i => i != ctx.BaseIndex).ToArray();
    }

    public static void RequireSameLength(TensorMergeContext ctx, string method)
    {
        foreach (var input in ctx.Inputs)
            if (input.ElementCount != ctx.OutputElementCount)
                throw new InvalidOperationException(
                    $"{method}: tensor '{ctx.OutputName}' of {input.Model} has shape {TensorShape.Format(input.Shape)}, expected {TensorShape.Format(ctx.OutputShape)}");
    }

    /// <summary>Writes the base tensor unchanged (no task vector contributes).</summary>
    public static void CopyBase(TensorMergeContext ctx)
        => ChunkLoop.Map(ctx, [ctx.Base!], (_, length, ins, output) => ins[0].AsSpan(0, length).CopyTo(output));

    /// <summary>Replaces the decoded values of every task input in <paramref name="ins"/> by its task vector.</summary>
    public static void ToDeltas(float[][] ins, int baseIndex, int[] tasks, int length)
    {
        var b = ins[baseIndex].AsSpan(0, length);
        foreach (int t in tasks)
        {
            var x = ins[t].AsSpan(0, length);
            System.Numerics.Tensors.TensorPrimitives.Subtract(x, b, x);
        }
    }

    /// <summary>The streams |xᵢ − base| of the given models (stream i = ctx.Inputs[tasks[i]]), decoding the base once per chunk.</summary>
    public static StreamsSource AbsDeltas(TensorMergeContext ctx, int[] tasks)
        => RawBf16(ctx, tasks) ? AbsDeltasBf16(ctx, tasks) : AbsDeltasDecoded(ctx, tasks);

    /// <summary>The base and the given models are all raw bf16 words, readable without decoding.</summary>
    private static bool RawBf16(TensorMergeContext ctx, int[] tasks)
        => Bf16Lanes.RawInputs([ctx.Base!, .. tasks.Select(t => ctx.Inputs[t])], ctx.OutputElementCount);

    /// <summary>The bracket pass of the streams of <see cref="AbsDeltas"/> straight from raw bf16 words (no floats
    /// written and read back), or null when the inputs are not all raw bf16.</summary>
    public static BracketScan? AbsDeltaScan(TensorMergeContext ctx, int[] tasks)
    {
        if (!RawBf16(ctx, tasks)) return null;
        return (stream, start, length, high, low, found) =>
        {
            var b = MemoryMarshal.Cast<byte, ushort>(ctx.Base!.Data.Span).Slice((int)start, length);
            var x = MemoryMarshal.Cast<byte, ushort>(ctx.Inputs[tasks[stream]].Data.Span).Slice((int)start, length);
            return MagnitudeSelect.ScanBracketBf16Delta(x, b, start, high, low, found);
        };
    }

    /// <summary>All-bf16 inputs: |x − base| straight from the raw words (widen, subtract in float32, clear the sign) in
    /// one pass per model: the same floats as decoding both, subtracting and taking the absolute value.</summary>
    private static StreamsSource AbsDeltasBf16(TensorMergeContext ctx, int[] tasks) => (start, length, destinations) =>
    {
        var b = MemoryMarshal.Cast<byte, ushort>(ctx.Base!.Data.Span).Slice((int)start, length);
        for (int i = 0; i < tasks.Length; i++)
        {
            var x = MemoryMarshal.Cast<byte, ushort>(ctx.Inputs[tasks[i]].Data.Span).Slice((int)start, length);
            AbsDifference(x, b, destinations[i].AsSpan(0, length));
        }
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AbsDifference(ReadOnlySpan<ushort> x, ReadOnlySpan<ushort> b, Span<float> destination)
    {
        int j = 0, step = Vector<ushort>.Count, half = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            for (; j <= x.Length - step; j += step)
            {
                Bf16Lanes.AbsDifferenceBits(new Vector<ushort>(x.Slice(j)), new Vector<ushort>(b.Slice(j)), out var low, out var high);
                Vector.AsVectorSingle(low).CopyTo(destination.Slice(j));
                Vector.AsVectorSingle(high).CopyTo(destination.Slice(j + half));
            }
        }
        for (; j < x.Length; j++)
            destination[j] = Bf16Lanes.AbsDifference(x[j], b[j]);
    }

    private static StreamsSource AbsDeltasDecoded(TensorMergeContext ctx, int[] tasks) => (start, length, destinations) =>
    {
        var scratch = System.Buffers.ArrayPool<float>.Shared.Rent(length);
        try
        {
            var b = scratch.AsSpan(0, length);
            ctx.Base!.Decode(start, b);
            for (int i = 0; i < tasks.Length; i++)
            {
                var d = destinations[i].AsSpan(0, length);
                ctx.Inputs[tasks[i]].Decode(start, d);
                System.Numerics.Tensors.TensorPrimitives.Subtract(d, b, d);
                System.Numerics.Tensors.TensorPrimitives.Abs(d, d);
            }
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(scratch); }
    };

    /// <summary>Length of the rows that row-local methods (DELLA ranking) work on: the last dimension, or the
    /// whole tensor for 1-D tensors and scalars.</summary>
    public static long RowLength(long[] shape, long elementCount) => shape.Length >= 2 ? shape[^1] : Math.Max(1, elementCount);
}
