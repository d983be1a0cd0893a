using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>nearswap</c>: takes the secondary model's value only where it is already close to the base:
/// w = clamp(t / max(|a − b|, 1e-6), 0, 1), output = w·b + (1 − w)·a (a = base), in double, rounded once. One map pass.</summary>
public sealed class Nearswap : IMergeMethod
{
    public const double DistanceClamp = 1e-6;

    public string Name => "nearswap";

    public void Merge(TensorMergeContext context)
    {
        if (VectorMath.BaseAndOther(context, Name) is not (var a, var b)) return;
        double t = context.Global.GetDouble("t");
        bool odd = OutputRounding.NeedsRoundToOdd(context.OutputDtype);
        ChunkLoop.Map(context, [a, b], (_, length, ins, output) =>
        {
            float[] x = ins[0], y = ins[1];
            for (int e = 0; e < length; e++)
            {
                double w = Math.Clamp(t / Math.Max(Math.Abs((double)x[e] - y[e]), DistanceClamp), 0.0, 1.0);
                output[e] = OutputRounding.Narrow(w * y[e] + (1 - w) * x[e], odd);
            }
        });
    }
}
