namespace DotnetMerge.Numerics;

/// <summary>Eigenvalues and eigenvectors of a small symmetric matrix by cyclic Jacobi rotations: exact to rounding and
/// no library needed for the sizes used here (a rank-k Gram matrix in low-rank extraction, the experts' prompt
/// matrix of moe, CMA-ES's covariance in tune).</summary>
public static class SymmetricEigen
{
    /// <summary>(values, vectors): A = V·diag(values)·Vᵀ, eigenvector i in column i of V. <paramref name="matrix"/> is
    /// not changed.</summary>
    public static (double[] Values, double[,] Vectors) Decompose(double[,] matrix)
    {
        int k = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[k, k];
        for (int i = 0; i < k; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                {
                    total += a[i, j] * a[i, j];
                    if (i != j) off += a[i, j] * a[i, j];
                }
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < k - 1; p++)
                for (int q = p + 1; q < k; q++)
                {
                    if (a[p, q] == 0) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int i = 0; i < k; i++)
                    {
                        double aip = a[i, p], aiq = a[i, q];
                        a[i, p] = c * aip - s * aiq;
                        a[i, q] = s * aip + c * aiq;
                    }
                    for (int i = 0; i < k; i++)
                    {
                        double api = a[p, i], aqi = a[q, i];
                        a[p, i] = c * api - s * aqi;
                        a[q, i] = s * api + c * aqi;
                    }
                    for (int i = 0; i < k; i++)
                    {
                        double vip = v[i, p], viq = v[i, q];
                        v[i, p] = c * vip - s * viq;
                        v[i, q] = s * vip + c * viq;
                    }
                }
        }
        var values = new double[k];
        for (int i = 0; i < k; i++) values[i] = a[i, i];
        return (values, v);
    }
}
