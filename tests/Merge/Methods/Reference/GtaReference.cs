namespace DotnetMerge.Tests.Methods.Reference;

public enum RefSparsify { None, Magnitude, Random, Outliers, Della }

public enum RefRescale { None, L1, Inverse }

/// <summary>Float64 reference implementations written from reference/mergekit.md §2 with plain loops and sorts.
/// Conventions shared with the product (documented in docs/methods.md): δ is the float32 difference of the stored
/// values (mergekit subtracts in the tensor dtype); equal magnitudes rank by index, lower index = more important;
/// the Bernoulli stream is Philox keyed by (seed, output name, input index, element).</summary>
public static class GtaReference
{
    public static double[] Linear(double[][] x, double[] w, bool normalize)
    {
        var result = new double[x[0].Length];
        for (int j = 0; j < result.Length; j++)
        {
            double s = 0;
            for (int i = 0; i < x.Length; i++) s += w[i] * x[i][j];
            result[j] = normalize ? s / w.Sum() : s;
        }
        return result;
    }

    public static double[] Passthrough(double[] x, double scale) => x.Select(v => v * scale).ToArray();

    public static double Delta(double x, double b) => (float)(x - b);

    /// <summary>Indices sorted by importance: |δ| descending, equal magnitudes by ascending index (stable).</summary>
    public static int[] ByImportance(double[] delta, int offset = 0, int count = -1)
    {
        if (count < 0) count = delta.Length;
        var idx = Enumerable.Range(offset, count).ToArray();
        return idx.OrderByDescending(i => (float)Math.Abs(delta[i])).ThenBy(i => i).ToArray();
    }

    public sealed record Model(double Weight, double Density = 1, double Gamma = 0.01, double Epsilon = 0.15);

    public static double[] TaskArithmetic(double[][] x, int baseIndex, Model[] models, RefSparsify sparsify, bool consensus,
        bool normalize, RefRescale rescale, double lambda, ulong seed, string name, long rowLength)
    {
        int n = x[0].Length;
        var b = x[baseIndex];
        var tasks = Enumerable.Range(0, x.Length).Where(i => i != baseIndex).ToArray();
        var pruned = new double[tasks.Length][];
        var weights = tasks.Select(i => models[i].Weight).ToArray();
        for (int t = 0; t < tasks.Length; t++)
        {
            int m = tasks[t];
            var delta = new double[n];
            for (int j = 0; j < n; j++) delta[j] = Delta(x[m][j], b[j]);
            var keep = Keep(delta, models[m], sparsify, seed, m, name, rowLength);
            double scale = 1;
            if (keep is not null && rescale == RefRescale.Inverse && models[m].Density > 0) scale = 1 / models[m].Density;
            if (keep is not null && rescale == RefRescale.L1)
            {
                double before = delta.Sum(Math.Abs), after = delta.Where((_, j) => keep[j]).Sum(Math.Abs);
                if (before >= 1e-7 && after >= 1e-7) scale = before / after;
            }
            pruned[t] = delta.Select((d, j) => keep is null || keep[j] ? d * scale : 0).ToArray();
        }
        var result = new double[n];
        for (int j = 0; j < n; j++)
        {
            var wd = Enumerable.Range(0, tasks.Length).Select(t => weights[t] * pruned[t][j]).ToArray();
            double mixed, divisor;
            if (consensus)
            {
                double s = 0;
                foreach (var v in wd) s += v;
                int elected = s >= 0 ? 1 : -1;
                mixed = 0; divisor = 0;
                for (int t = 0; t < wd.Length; t++)
                    if (Math.Sign(wd[t]) == elected) { mixed += wd[t]; divisor += weights[t]; }
                if (divisor == 0) divisor = 1;
            }
            else
            {
                mixed = 0;
                foreach (var v in wd) mixed += v;
                divisor = weights.Sum();
                if (Math.Abs(divisor) < 1e-8) divisor = 1;
            }
            if (normalize) mixed /= divisor;
            result[j] = b[j] + lambda * mixed;
        }
        return result;
    }

    /// <summary>The kept positions of one task vector, or null when nothing is sparsified.</summary>
    public static bool[]? Keep(double[] delta, Model model, RefSparsify sparsify, ulong seed, int modelIndex, string name, long rowLength)
    {
        int n = delta.Length;
        double density = model.Density;
        if (sparsify == RefSparsify.None || density >= 1) return null;
        var keep = new bool[n];
        switch (sparsify)
        {
            case RefSparsify.Magnitude:
            {
                long k = density <= 0 ? 0 : Math.Max(1, (long)(density * n));
                foreach (int i in ByImportance(delta).Take((int)k)) keep[i] = true;
                break;
            }
            case RefSparsify.Outliers:
            {
                long target = (long)(density * n), top = (long)(model.Gamma * n), bottom = n - target - top;
                if (bottom < 0) { top += bottom; bottom = 0; }
                var ascending = ByImportance(delta).Reverse().ToArray();
                for (long r = bottom; r < n - top; r++) keep[ascending[r]] = true;
                break;
            }
            case RefSparsify.Random:
                for (int j = 0; j < n; j++) keep[j] = ReferencePhilox.Uniform(seed, modelIndex, name, j) < density;
                break;
            case RefSparsify.Della:
            {
                if (density <= 0) break;
                int row = (int)rowLength;
                for (int start = 0; start < n; start += row)
                {
                    var ascending = ByImportance(delta, start, row).Reverse().ToArray();
                    for (int r = 0; r < row; r++)
                    {
                        double rn = row == 1 ? 0.5 : (double)r / (row - 1);
                        double p = (density - model.Epsilon) + rn * 2 * model.Epsilon;
                        keep[ascending[r]] = ReferencePhilox.Uniform(seed, modelIndex, name, ascending[r]) < p;
                    }
                }
                break;
            }
        }
        return keep;
    }

    public static double[] Sce(double[][] x, int baseIndex, double selectTopk)
    {
        int n = x[0].Length;
        var b = x[baseIndex];
        var tau = Enumerable.Range(0, x.Length).Where(i => i != baseIndex)
            .Select(i => Enumerable.Range(0, n).Select(j => Delta(x[i][j], b[j])).ToArray()).ToArray();
        int T = tau.Length;
        if (selectTopk < 1)
        {
            var variance = new double[n];
            for (int j = 0; j < n; j++)
            {
                double mean = 0;
                for (int t = 0; t < T; t++) mean += tau[t][j];
                mean /= T;
                double ss = 0;
                for (int t = 0; t < T; t++) ss += (tau[t][j] - mean) * (tau[t][j] - mean);
                variance[j] = (float)(ss / T);
            }
            long k = (long)(Math.Abs(selectTopk) * variance.Count(v => v != 0));
            var keep = new bool[n];
            foreach (int i in ByImportance(variance).Take((int)k)) keep[i] = true;
            for (int t = 0; t < T; t++) for (int j = 0; j < n; j++) if (!keep[j]) tau[t][j] = 0;
        }
        var s = tau.Select(d => d.Sum(v => v * v) / n).ToArray();
        double total = s.Sum();
        s = s.Select(v => total == 0 ? 1.0 / T : v / total).ToArray();
        var result = new double[n];
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int t = 0; t < T; t++) sum += tau[t][j];
            int elected = sum >= 0 ? 1 : -1;
            double mixed = 0, divisor = 0;
            for (int t = 0; t < T; t++)
                if (Math.Sign(tau[t][j]) == elected) { mixed += tau[t][j] * s[t]; divisor += s[t]; }
            result[j] = b[j] + mixed / (divisor == 0 ? 1 : divisor);
        }
        return result;
    }

    /// <summary>ram (r = null) or ramplus_tl.</summary>
    public static double[] Ram(double[][] x, int baseIndex, double epsilon, double? r = null, double alpha = 0)
    {
        int n = x[0].Length;
        var b = x[baseIndex];
        var tau = Enumerable.Range(0, x.Length).Where(i => i != baseIndex)
            .Select(i => Enumerable.Range(0, n).Select(j => Delta(x[i][j], b[j])).ToArray()).ToArray();
        int T = tau.Length;
        var nz = tau.Select(d => d.Select(v => Math.Abs(v) > epsilon).ToArray()).ToArray();
        var count = Enumerable.Range(0, n).Select(j => Enumerable.Range(0, T).Count(t => nz[t][j])).ToArray();
        var lambda = new double[T];
        for (int t = 0; t < T; t++)
        {
            if (r is null) { lambda[t] = 1; continue; }
            double shared = Enumerable.Range(0, n).Count(j => nz[t][j] && count[j] > 1);
            double unique = Enumerable.Range(0, n).Count(j => nz[t][j] && count[j] == 1);
            double rho = shared / Math.Max(unique, epsilon);
            lambda[t] = 1 + r.Value * Math.Min(Math.Max(rho, 0), alpha);
        }
        var result = new double[n];
        for (int j = 0; j < n; j++)
        {
            double merged = 0;
            for (int t = 0; t < T; t++)
            {
                if (!nz[t][j]) continue;
                merged += count[j] == 1 ? tau[t][j] * lambda[t] : tau[t][j] / count[j];
            }
            result[j] = b[j] + merged;
        }
        return result;
    }
}
