using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>mergekit <c>karcher</c>: Riemannian (Karcher) mean of the inputs' directions on the unit sphere, scaled by
/// their mean norm. Equal weights 1/N over all inputs (a base model is just one more input; weights are ignored).
/// Inputs with norm ≤ tol take no part in the direction. Iterates T = Σ α_i θ_i / sin θ_i (u_i − cos θ_i u),
/// u ← cos‖T‖ u + sin‖T‖ T/‖T‖ up to <c>max_iter</c> times, stopping when ‖T‖ &lt; tol.
/// The mean direction always lies in the span of the inputs, so the iteration runs on its K coefficients against the
/// K×K Gram matrix: one reduction pass, no full-size buffer, then one map pass.</summary>
public sealed class Karcher : IMergeMethod
{
    public string Name => "karcher";

    public void Merge(TensorMergeContext context)
    {
        var inputs = context.Inputs;
        if (inputs.Count == 1)
        {
            VectorMath.CopyOf(context, inputs[0]);
            return;
        }
        int maxIter = (int)context.Global.GetDouble("max_iter");
        double tol = context.Global.GetDouble("tol");
        var layout = VectorLayout.Whole(context.OutputShape);
        var gram = VectorMath.Gram(context, inputs, null, layout);
        VectorMath.Combine(context, inputs, null, layout, Coefficients(gram, inputs.Count, maxIter, tol));
    }

    /// <summary>Coefficients of the result on the N inputs, from their packed Gram matrix.</summary>
    public static double[] Coefficients(double[] gram, int n, int maxIter, double tol)
    {
        var norms = new double[n];
        for (int i = 0; i < n; i++) norms[i] = Math.Sqrt(Math.Max(0, gram[VectorMath.Pair(i, i, n)]));
        var valid = Enumerable.Range(0, n).Where(i => norms[i] > tol).ToArray();
        var result = new double[n];
        if (valid.Length == 0) return result;

        // Gram matrix of the unit vectors of the valid inputs.
        int k = valid.Length;
        var units = new double[VectorMath.PairCount(k)];
        for (int a = 0; a < k; a++)
            for (int b = a; b < k; b++)
                units[VectorMath.Pair(a, b, k)] = gram[VectorMath.Pair(valid[a], valid[b], n)] / (norms[valid[a]] * norms[valid[b]]);

        double alpha = 1.0 / n, alphaValid = 1.0 / k; // equal weights, renormalised over the valid inputs
        var mean = new double[k];
        Array.Fill(mean, alphaValid);
        double meanNorm = Norm(units, mean);
        if (meanNorm < tol) { Array.Clear(mean); mean[0] = 1; }
        else for (int a = 0; a < k; a++) mean[a] /= meanNorm;

        var tangent = new double[k];
        for (int iteration = 0; iteration < maxIter; iteration++)
        {
            Array.Clear(tangent);
            double towardMean = 0;
            for (int a = 0; a < k; a++)
            {
                double cos = Math.Clamp(VectorMath.GramTimes(units, mean, a), -1.0, 1.0);
                double theta = Math.Acos(cos);
                if (theta < tol) continue;
                double scale = alphaValid * (theta / Math.Sin(theta));
                tangent[a] += scale;
                towardMean += scale * cos;
            }
            for (int a = 0; a < k; a++) tangent[a] -= towardMean * mean[a];

            double tangentNorm = Norm(units, tangent);
            if (tangentNorm < tol) break;
            double c = Math.Cos(tangentNorm), s = Math.Sin(tangentNorm) / tangentNorm;
            for (int a = 0; a < k; a++) mean[a] = c * mean[a] + s * tangent[a];
            double unitNorm = Norm(units, mean);
            if (unitNorm > tol) for (int a = 0; a < k; a++) mean[a] /= unitNorm;
        }

        double scaleOut = 0;
        for (int i = 0; i < n; i++) scaleOut += alpha * norms[i];
        for (int a = 0; a < k; a++) result[valid[a]] = scaleOut * mean[a] / norms[valid[a]];
        return result;
    }

    private static double Norm(double[] gram, double[] c) => Math.Sqrt(Math.Max(0, VectorMath.QuadraticForm(gram, c)));
}
