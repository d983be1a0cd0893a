using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>passthrough</c>: copies the single input tensor, multiplied by its optional per-model <c>scale</c>.</summary>
public sealed class PassthroughMerge : IMergeMethod
{
    public string Name => "passthrough";

    public void Merge(TensorMergeContext ctx)
    {
        if (ctx.Inputs.Count != 1)
            throw new InvalidOperationException(
                $"passthrough: tensor '{ctx.OutputName}' has {ctx.Inputs.Count} inputs; passthrough takes exactly one source per slice");
        TaskVectors.RequireSameLength(ctx, Name);
        var input = ctx.Inputs[0];
        bool scaled = input.Parameters.Contains("scale");
        double scale = scaled ? input.Parameters.GetDouble("scale") : 1;
        bool sameLayout = ReferenceEquals(input.StoredShape, input.Shape) || input.StoredShape.SequenceEqual(input.Shape);
        if (!scaled && input.Dtype == ctx.OutputDtype && sameLayout)
        {
            input.Data.Span.CopyTo(ctx.Output.Span);
            return;
        }
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        ChunkLoop.Map(ctx, ctx.Inputs, (_, length, ins, output) =>
        {
            for (int j = 0; j < length; j++) output[j] = OutputRounding.Narrow(scale * ins[0][j], odd);
        });
    }
}
