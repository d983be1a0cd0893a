using System.Numerics;
using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>linear</c> (model soups): <c>out = Σᵢ wᵢ·xᵢ</c>, divided by <c>Σᵢ wᵢ</c> when <c>normalize</c>.
/// The base model, if any, is just another weighted input. One fused map pass, vectorised in double precision
/// (each lane does exactly the scalar sequence of operations, so results are bit-identical to scalar code).</summary>
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
            int j = 0, width = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated)
            {
                var d = new Vector<double>(divisor);
                for (; j <= length - width; j += width)
                {
                    Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
                    for (int i = 0; i < weights.Length; i++)
                    {
                        Vector.Widen(new Vector<float>(ins[i], j), out var xl, out var xh);
                        var w = new Vector<double>(weights[i]);
                        low += w * xl;
                        high += w * xh;
                    }
                    OutputRounding.Narrow(low / d, high / d, odd).CopyTo(output, j);
                }
            }
            for (; j < length; j++)
            {
                double acc = 0;
                for (int i = 0; i < weights.Length; i++) acc += weights[i] * ins[i][j];
                output[j] = OutputRounding.Narrow(acc / divisor, odd);
            }
        });
    }
}
