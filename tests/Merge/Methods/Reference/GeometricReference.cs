namespace DotnetMerge.Tests.Methods.Reference;

/// <summary>Plain float64 implementations of the geometric methods, written from the mergekit reference text
/// (reference/mergekit.md §2.5-2.9, 2.12, 2.13): whole vectors materialised, no Gram-matrix algebra, no chunking.
/// They are deliberately naive so that they check the engine's algebra rather than repeat it.</summary>
internal static class GeometricReference
{
    // ---- small vector helpers ----
    public static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }
    public static double Norm(double[] a) => Math.Sqrt(Dot(a, a));
    public static double[] Scale(double[] a, double s) => a.Select(x => x * s).ToArray();
    public static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();
    public static double[] Sub(double[] a, double[] b) => a.Select((x, i) => x - b[i]).ToArray();

    /// <summary>Index sets of the vectors of a tensor: whole, each row x[i, :] (last dim), or each column x[:, j] (dim 0).</summary>
    public static int[][] Vectors(long[] shape, string mode)
    {
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        if (mode == "whole" || shape.Length <= 1) return [Enumerable.Range(0, n).ToArray()];
        if (mode == "rows")
        {
            int width = (int)shape[^1];
            return Enumerable.Range(0, n / width).Select(r => Enumerable.Range(r * width, width).ToArray()).ToArray();
        }
        int rows = (int)shape[0], columns = n / rows;
        return Enumerable.Range(0, columns).Select(c => Enumerable.Range(0, rows).Select(r => r * columns + c).ToArray()).ToArray();
    }

    private static double[] Gather(double[] x, int[] index) => index.Select(i => x[i]).ToArray();
    private static void Scatter(double[] target, int[] index, double[] values) { for (int i = 0; i < index.Length; i++) target[index[i]] = values[i]; }

    // ---- slerp (§2.5) ----
    public static double[] Slerp(double t, double[] v0, double[] v1)
    {
        double[] u0 = Norm(v0) > 1e-8 ? Scale(v0, 1 / Norm(v0)) : v0;
        double[] u1 = Norm(v1) > 1e-8 ? Scale(v1, 1 / Norm(v1)) : v1;
        double dot = Dot(u0, u1);
        if (Math.Abs(dot) > 0.9995) return Add(Scale(v0, 1 - t), Scale(v1, t));
        double theta = Math.Acos(dot);
        return Add(Scale(v0, Math.Sin((1 - t) * theta) / Math.Sin(theta)), Scale(v1, Math.Sin(t * theta) / Math.Sin(theta)));
    }

    // ---- nuslerp (§2.6) ----
    public static double[] NuslerpKernel(double t, double[] v0, double[] v1)
    {
        double[] u0 = Scale(v0, 1 / Math.Max(Norm(v0), 1e-7)), u1 = Scale(v1, 1 / Math.Max(Norm(v1), 1e-7));
        double theta = Math.Acos(Math.Clamp(Dot(u0, u1), -1, 1));
        double sin = Math.Sin(theta);
        if (Math.Abs(sin) < 1e-8) return Add(Scale(v0, 1 - t), Scale(v1, t));
        return Scale(Add(Scale(v0, Math.Sin((1 - t) * theta)), Scale(v1, Math.Sin(t * theta))), 1 / sin);
    }

    public static double[] Nuslerp(double[] a, double[] b, double[]? baseModel, long[] shape, double w1, double w2, bool flatten, bool rowWise)
    {
        double t = Math.Abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2);
        double[] x0 = baseModel is null ? a : Sub(a, baseModel), x1 = baseModel is null ? b : Sub(b, baseModel);
        var result = new double[a.Length];
        foreach (var index in Vectors(shape, flatten ? "whole" : rowWise ? "columns" : "rows"))
            Scatter(result, index, NuslerpKernel(t, Gather(x0, index), Gather(x1, index)));
        return baseModel is null ? result : Add(result, baseModel);
    }

    // ---- multislerp (§2.7) ----
    public static double[] Multislerp(double[][] models, double[] weight, double[]? baseModel, bool normalizeWeights, double eps)
    {
        if (models.Length == 1) return models[0];
        var x = models.Select(m => baseModel is null ? m : Sub(m, baseModel)).ToArray();
        var w = normalizeWeights ? weight.Select(v => v / weight.Sum()).ToArray() : weight;
        var norms = x.Select(Norm).ToArray();
        var units = x.Select((v, i) => Scale(v, 1 / (norms[i] + eps))).ToArray();
        var mean = new double[x[0].Length];
        for (int i = 0; i < x.Length; i++) mean = Add(mean, Scale(units[i], w[i]));
        double meanNorm = Norm(mean);
        double[] result;
        if (meanNorm < eps)
        {
            if (x.Length != 2) throw new InvalidOperationException("zero weighted sum");
            result = Add(Scale(x[0], w[0]), Scale(x[1], w[1]));
        }
        else
        {
            mean = Scale(mean, 1 / meanNorm);
            var tangent = new double[mean.Length];
            for (int i = 0; i < x.Length; i++) tangent = Add(tangent, Scale(Sub(units[i], Scale(mean, Dot(units[i], mean))), w[i]));
            double tau = Norm(tangent) + eps;
            result = Add(Scale(mean, Math.Cos(tau)), Scale(tangent, Math.Sin(tau) / tau));
            result = Scale(result, norms.Select((n, i) => n * w[i]).Sum());
        }
        return baseModel is null ? result : Add(result, baseModel);
    }

    // ---- karcher (§2.8) ----
    public static double[] Karcher(double[][] models, int maxIter, double tol, out int iterations)
    {
        int n = models.Length;
        iterations = 0;
        double alpha = 1.0 / n;
        var norms = models.Select(Norm).ToArray();
        var units = models.Select((m, i) => norms[i] == 0 ? new double[m.Length] : Scale(m, 1 / norms[i])).ToArray();
        var valid = Enumerable.Range(0, n).Where(i => norms[i] > tol).ToArray();
        if (valid.Length == 0) return new double[models[0].Length];
        double validAlpha = 1.0 / valid.Length;
        var mean = new double[models[0].Length];
        foreach (var i in valid) mean = Add(mean, Scale(units[i], validAlpha));
        mean = Norm(mean) < tol ? (double[])units[valid[0]].Clone() : Scale(mean, 1 / Norm(mean));
        for (int it = 0; it < maxIter; it++)
        {
            var tangent = new double[mean.Length];
            foreach (var i in valid)
            {
                double dot = Math.Clamp(Dot(mean, units[i]), -1, 1), theta = Math.Acos(dot);
                if (theta < tol) continue;
                tangent = Add(tangent, Scale(Sub(units[i], Scale(mean, dot)), validAlpha * theta / Math.Sin(theta)));
            }
            double tn = Norm(tangent);
            if (tn < tol) break;
            iterations++;
            mean = Add(Scale(mean, Math.Cos(tn)), Scale(tangent, Math.Sin(tn) / tn));
            if (Norm(mean) > tol) mean = Scale(mean, 1 / Norm(mean));
        }
        return Scale(mean, norms.Sum() * alpha);
    }

    // ---- model_stock (§2.9) ----
    public static double[] ModelStock(double[] w0, double[][] models, long[] shape, bool filterWise)
    {
        int n = models.Length;
        var result = new double[w0.Length];
        foreach (var index in Vectors(shape, filterWise ? "rows" : "whole"))
        {
            var b = Gather(w0, index);
            var offsets = models.Select(m => Sub(Gather(m, index), b)).ToArray();
            var cosines = new List<double>();
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    cosines.Add(Math.Clamp(Dot(offsets[i], offsets[j]) / Math.Max(Norm(offsets[i]) * Norm(offsets[j]), 1e-6), -1, 1));
            double cos = cosines.Average();
            double t = n * cos / (1 + (n - 1) * cos);
            var average = new double[index.Length];
            foreach (var m in models) average = Add(average, Scale(Gather(m, index), 1.0 / n));
            Scatter(result, index, Add(Scale(average, t), Scale(b, 1 - t)));
        }
        return result;
    }

    // ---- nearswap (§2.12) ----
    public static double[] Nearswap(double t, double[] a, double[] b)
        => a.Select((x, i) =>
        {
            double w = Math.Clamp(t / Math.Max(Math.Abs(x - b[i]), 1e-6), 0, 1);
            return w * b[i] + (1 - w) * x;
        }).ToArray();

    // ---- arcee_fusion (§2.13) ----
    /// <summary>Importance per element (double), threshold from the sorted importances at ⌊q(n−1)⌋, and the result.</summary>
    public static double[] ArceeFusion(double[] a, double[] b, long[] shape, out double[] importance, out double threshold)
    {
        var imp = new double[a.Length];
        foreach (var index in Vectors(shape, "rows"))
        {
            var softA = Softmax(Gather(a, index)).Select(v => v + 1e-8).ToArray();
            var softB = Softmax(Gather(b, index)).Select(v => v + 1e-8).ToArray();
            double kl = 0;
            for (int i = 0; i < index.Length; i++) kl += softB[i] * Math.Log(softB[i] / softA[i]);
            foreach (var e in index) imp[e] = Math.Abs(b[e] - a[e]) * kl;
        }
        var sorted = imp.OrderBy(v => v).ToArray();
        double Quantile(double q) => sorted[(int)Math.Floor(q * (sorted.Length - 1))];
        threshold = Quantile(0.5) + 1.5 * (Quantile(0.75) - Quantile(0.25));
        importance = imp;
        double limit = threshold;
        return a.Select((x, i) => imp[i] >= limit ? b[i] : x).ToArray();
    }

    private static double[] Softmax(double[] x)
    {
        double max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
