using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>multislerp</c>: weighted barycentre of two or more models on the hypersphere (optionally of task
/// vectors relative to the base model). Units u_i = x_i / (‖x_i‖ + eps); mean direction m̂ of Σ w_i u_i; tangent
/// T = Σ w_i (u_i − (u_i·m̂) m̂); result (m̂ cos τ + T sin τ / τ)·Σ w_i ‖x_i‖ with τ = ‖T‖ + eps.
/// Every intermediate lies in the span of the inputs, so the whole computation is one Gram-matrix reduction, scalar
/// algebra on the K×K matrix, and one map pass writing a linear combination of the inputs.</summary>
public sealed class Multislerp : IMergeMethod
{
    public string Name => "multislerp";

    public void Merge(TensorMergeContext context)
    {
        var models = VectorMath.NonBase(context);
        if (models.Count == 0)
            throw new InvalidOperationException($"multislerp needs at least one model besides the base for '{context.OutputName}'");
        if (models.Count == 1)
        {
            VectorMath.CopyOf(context, models[0]);
            return;
        }

        int k = models.Count;
        var weights = models.Select(m => m.Parameters.GetDouble("weight")).ToArray();
        if (context.Global.GetBool("normalize_weights"))
        {
            double sum = weights.Sum();
            for (int i = 0; i < k; i++) weights[i] /= sum;
        }
        double eps = context.Global.GetDouble("eps");
        var layout = VectorLayout.Whole(context.OutputShape);
        var gram = VectorMath.Gram(context, models, context.Base, layout);
        VectorMath.Combine(context, models, context.Base, layout, Coefficients(gram, weights, eps, context.OutputName));
    }

    /// <summary>Coefficients of the result on the inputs, from their packed Gram matrix.</summary>
    public static double[] Coefficients(double[] gram, double[] weights, double eps, string tensorName)
    {
        int k = weights.Length;
        var norms = new double[k];
        var mean = new double[k]; // Σ w_i u_i, as coefficients on x_i
        for (int i = 0; i < k; i++)
        {
            norms[i] = Math.Sqrt(Math.Max(0, gram[VectorMath.Pair(i, i, k)]));
            mean[i] = weights[i] / (norms[i] + eps);
        }
        double meanNorm = Math.Sqrt(Math.Max(0, VectorMath.QuadraticForm(gram, mean)));
        if (meanNorm < eps)
        {
            if (k == 2) return [weights[0], weights[1]];
            throw new InvalidOperationException(
                $"multislerp: the weighted sum of the unit inputs of '{tensorName}' is zero (antipodal inputs whose weights cancel); change the weights");
        }
        for (int i = 0; i < k; i++) mean[i] /= meanNorm; // m̂

        double weightedDots = 0; // Σ w_i (u_i·m̂)
        for (int i = 0; i < k; i++) weightedDots += weights[i] * VectorMath.GramTimes(gram, mean, i) / (norms[i] + eps);
        var tangent = new double[k];
        for (int i = 0; i < k; i++) tangent[i] = weights[i] / (norms[i] + eps) - weightedDots * mean[i];

        double tau = Math.Sqrt(Math.Max(0, VectorMath.QuadraticForm(gram, tangent))) + eps;
        double average = 0;
        for (int i = 0; i < k; i++) average += norms[i] * weights[i];
        var result = new double[k];
        for (int i = 0; i < k; i++) result[i] = (mean[i] * Math.Cos(tau) + tangent[i] * (Math.Sin(tau) / tau)) * average;
        return result;
    }
}
