using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>model_stock</c> (Jang et al. 2024): with offsets o_i = w_i − w_0 of N ≥ 2 fine-tuned models
/// from the base w_0, cos θ = mean over pairs i &lt; j of clamp(o_i·o_j / max(‖o_i‖‖o_j‖, 1e-6), −1, 1),
/// t = N cos θ / (1 + (N − 1) cos θ) (not clamped), output = t·mean(w_i) + (1 − t)·w_0.
/// One t per tensor, or per row (last dimension) with <c>filter_wise</c>.</summary>
public sealed class ModelStock : IMergeMethod
{
    public const double NormProductClamp = 1e-6;

    public string Name => "model_stock";

    public void Merge(TensorMergeContext context)
    {
        var origin = context.Base
            ?? throw new InvalidOperationException($"model_stock needs base_model for '{context.OutputName}'");
        if (context.Inputs.Count == 1)
        {
            VectorMath.CopyOf(context, origin);
            return;
        }
        var models = VectorMath.NonBase(context);
        if (models.Count < 2)
            throw new InvalidOperationException($"model_stock needs the base plus at least two other models, got {models.Count} other for '{context.OutputName}'");

        int n = models.Count, pairs = VectorMath.PairCount(n);
        var layout = context.Global.GetBool("filter_wise") ? VectorLayout.Rows(context.OutputShape) : VectorLayout.Whole(context.OutputShape);
        var gram = VectorMath.Gram(context, models, origin, layout);
        var coefficients = new double[layout.Count * n];
        for (long v = 0; v < layout.Count; v++)
        {
            double t = Ratio(gram.AsSpan((int)(v * pairs), pairs), n);
            // t·mean(w_i) + (1 − t)·w_0 = w_0 + Σ (t/N)(w_i − w_0)
            coefficients.AsSpan((int)(v * n), n).Fill(t / n);
        }
        VectorMath.Combine(context, models, origin, layout, coefficients);
    }

    /// <summary>The interpolation ratio t of one vector from the packed Gram matrix of its N offsets.</summary>
    public static double Ratio(ReadOnlySpan<double> gram, int n)
    {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double normProduct = Math.Sqrt(gram[VectorMath.Pair(i, i, n)]) * Math.Sqrt(gram[VectorMath.Pair(j, j, n)]);
                sum += Math.Clamp(gram[VectorMath.Pair(i, j, n)] / Math.Max(normProduct, NormProductClamp), -1.0, 1.0);
                count++;
            }
        double cos = sum / count;
        return n * cos / (1 + (n - 1) * cos);
    }
}
