using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>Spherical linear interpolation of two models over each whole flattened tensor (mergekit <c>slerp</c>).
/// The base model is the t = 0 end. The angle comes from the normalised tensors, the weights are applied to the
/// original ones; nearly (anti-)colinear tensors (|cos| &gt; 0.9995) are interpolated linearly.
/// One reduction pass (two squared norms and one dot product, in double) and one map pass.</summary>
public sealed class Slerp : IMergeMethod
{
    /// <summary>|cos θ| above which the tensors count as colinear and plain lerp is used.</summary>
    public const double ColinearThreshold = 0.9995;

    /// <summary>A tensor is normalised only when its norm exceeds this.</summary>
    public const double NormEpsilon = 1e-8;

    public string Name => "slerp";

    public void Merge(TensorMergeContext context)
    {
        if (VectorMath.BaseAndOther(context, Name) is not (var v0, var v1)) return;
        double t = context.Global.GetDouble("t");
        var layout = VectorLayout.Whole(context.OutputShape);
        var gram = VectorMath.Gram(context, [v0, v1], null, layout);
        VectorMath.Combine(context, [v0, v1], null, layout, Coefficients(t, gram[0], gram[1], gram[2]));
    }

    /// <summary>Weights (c0, c1) of v0 and v1 given ‖v0‖², v0·v1 and ‖v1‖².</summary>
    public static double[] Coefficients(double t, double norm0Squared, double dot01, double norm1Squared)
    {
        double n0 = Math.Sqrt(norm0Squared), n1 = Math.Sqrt(norm1Squared);
        double cos = dot01 / ((n0 > NormEpsilon ? n0 : 1.0) * (n1 > NormEpsilon ? n1 : 1.0));
        if (Math.Abs(cos) > ColinearThreshold) return [1 - t, t];
        double theta = Math.Acos(cos), sin = Math.Sin(theta), thetaT = theta * t;
        return [Math.Sin(theta - thetaT) / sin, Math.Sin(thetaT) / sin];
    }
}
