using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>linear</c> (model soups): <c>out = Σᵢ wᵢ·xᵢ</c>, divided by <c>Σᵢ wᵢ</c> when <c>normalize</c>.
/// The base model, if any, is just another weighted input. One fused map pass.</summary>
public sealed class LinearMerge : IMergeMethod
{
    public string Name => "linear";

    public void Merge(TensorMergeContext ctx)
    {
        TaskVectors.RequireSameLength(ctx, Name);
        var weights = ctx.Inputs.Select(i => i.Parameters.GetDouble("weight")).ToArray();
        bool normalize = ctx.Global.GetBool("normalize");
        double sum = weights.Sum();
        if (normalize && sum == 0)
            throw new InvalidOperationException(
                $"linear: the weights of tensor '{ctx.OutputName}' sum to zero; set normalize: false to add and subtract models");
        double divisor = normalize ? sum : 1;
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        ChunkLoop.Map(ctx, ctx.Inputs, (_, length, ins, output) =>
        {
            for (int j = 0; j < length; j++)
            {
                double acc = 0;
                for (int i = 0; i < weights.Length; i++) acc += weights[i] * ins[i][j];
                output[j] = OutputRounding.Narrow(acc / divisor, odd);
            }
        });
    }
}
