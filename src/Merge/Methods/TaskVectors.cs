using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>Shared plumbing of the methods that work on task vectors δ = x − base.
/// δ is computed in float32 from the decoded inputs (exact for bf16/f16 inputs in practice, and what mergekit
/// does for f32 tensors); everything after that is float64 per element, rounded once to float32 for encoding.</summary>
internal static class TaskVectors
{
    /// <summary>Chunk length of every reduction pass. A constant of the algorithm (not ExecutionSettings.ChunkElements),
    /// so reduced sums, and therefore outputs, are identical whatever chunk size the map pass uses.</summary>
    public const long ReductionChunk = 1 << 16;

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
            for (int j = 0; j < x.Length; j++) x[j] -= b[j];
        }
    }

    /// <summary>The stream |x − base| of one model, for magnitude selection.</summary>
    public static FloatSource AbsDelta(MergeInput x, MergeInput b) => (start, destination) =>
    {
        x.Decode(start, destination);
        var scratch = System.Buffers.ArrayPool<float>.Shared.Rent(destination.Length);
        try
        {
            var bs = scratch.AsSpan(0, destination.Length);
            b.Decode(start, bs);
            for (int j = 0; j < destination.Length; j++) destination[j] = MathF.Abs(destination[j] - bs[j]);
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(scratch); }
    };

    /// <summary>Length of the rows that row-local methods (DELLA ranking) work on: the last dimension, or the
    /// whole tensor for 1-D tensors and scalars.</summary>
    public static long RowLength(long[] shape, long elementCount) => shape.Length >= 2 ? shape[^1] : Math.Max(1, elementCount);
}
