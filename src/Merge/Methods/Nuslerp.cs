using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>nuslerp</c>: slerp of two models with t = w2 / (w1 + w2), optionally on task vectors relative
/// to a third, distinct base model, over the whole tensor (<c>nuslerp_flatten</c>, default) or independently per
/// vector: along the last dimension (each <c>x[i, :]</c>), or along dimension 0 (each <c>x[:, j]</c>) with
/// <c>nuslerp_row_wise</c>. Norms are clamped at 1e-7, and vectors with |sin θ| &lt; 1e-8 are interpolated linearly.</summary>
public sealed class Nuslerp : IMergeMethod
{
    public const double NormClamp = 1e-7;
    public const double SinEpsilon = 1e-8;

    public string Name => "nuslerp";

    public void Merge(TensorMergeContext context)
    {
        if (context.Inputs.Count == 1)
        {
            VectorMath.CopyOf(context, context.Inputs[0]);
            return;
        }
        var origin = context.Base;
        if (origin is not null && context.Inputs.Count != 3)
            throw new InvalidOperationException($"nuslerp's base_model must be a third model, not one of the two merged ('{context.OutputName}')");
        var models = VectorMath.NonBase(context);
        if (models.Count != 2)
            throw new InvalidOperationException($"nuslerp merges exactly two models (plus an optional base_model), got {models.Count} for '{context.OutputName}'");

        double w1 = models[0].Parameters.GetDouble("weight"), w2 = models[1].Parameters.GetDouble("weight");
        double t = Math.Abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
        var layout = context.Global.GetBool("nuslerp_flatten") ? VectorLayout.Whole(context.OutputShape)
            : context.Global.GetBool("nuslerp_row_wise") ? VectorLayout.Columns(context.OutputShape)
            : VectorLayout.Rows(context.OutputShape);

        var gram = VectorMath.Gram(context, models, origin, layout);
        var coefficients = new double[layout.Count * 2];
        for (long v = 0; v < layout.Count; v++)
        {
            var (c0, c1) = Coefficients(t, gram[v * 3], gram[v * 3 + 1], gram[v * 3 + 2]);
            coefficients[v * 2] = c0;
            coefficients[v * 2 + 1] = c1;
        }
        VectorMath.Combine(context, models, origin, layout, coefficients);
    }

    /// <summary>Weights of v0 and v1 for one vector given ‖v0‖², v0·v1 and ‖v1‖².</summary>
    public static (double C0, double C1) Coefficients(double t, double norm0Squared, double dot01, double norm1Squared)
    {
        double n0 = Math.Max(Math.Sqrt(norm0Squared), NormClamp), n1 = Math.Max(Math.Sqrt(norm1Squared), NormClamp);
        double theta = Math.Acos(Math.Clamp(dot01 / (n0 * n1), -1.0, 1.0));
        double sin = Math.Sin(theta);
        if (Math.Abs(sin) < SinEpsilon) return (1 - t, t);
        return (Math.Sin((1 - t) * theta) / sin, Math.Sin(t * theta) / sin);
    }
}
