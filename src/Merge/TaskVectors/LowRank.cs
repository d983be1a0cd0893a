using DotnetMerge.Numerics;
using System.Numerics.Tensors;

namespace DotnetMerge.Deltas;

/// <summary>Truncated SVD of one matrix by randomized range finding (Halko, Martinsson &amp; Tropp 2011): sketch the
/// column space with k = rank + 10 Gaussian vectors, refine it with two power iterations (re-orthonormalised each time),
/// project, and take the top eigenvectors of the small k×k Gram matrix (cyclic Jacobi). Returns factors B (m×r) and
/// A (r×n) with D ≈ B·A = Q·Wᵣ·Wᵣᵀ·Qᵀ·D, the projection of D onto its leading r-dimensional column space. When k reaches
/// min(m, n) the sketch spans the whole column space and the factorization is exact (up to rounding).
/// Deterministic: the sketch comes from a fixed-seed generator. Works in float64; holds D and O((m + n)·k) more.</summary>
internal static class LowRank
{
    public const int Oversampling = 10;
    public const int PowerIterations = 2;

    /// <summary>Factors row-major <paramref name="d"/> (m×n). Returns B (m×r, row-major), A (r×n, row-major) and r = min(rank, m, n).</summary>
    public static (double[] B, double[] A, int Rank) Factorize(double[] d, int m, int n, int rank, ulong seed)
    {
        var (b, a, r, _) = Decompose(d, m, n, rank, seed);
        return (b, a, r);
    }

    /// <summary>As <see cref="Factorize"/>, with the singular values σ₁ ≥ … ≥ σᵣ of the factors: A's row t is σₜ·vₜᵀ and
    /// B's column t is uₜ, so the leading t rows and columns are the best rank-t truncation the sketch found.</summary>
    public static (double[] B, double[] A, int Rank, double[] Singular) Decompose(double[] d, int m, int n, int rank, ulong seed)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), "the rank must be at least 1");
        int r = Math.Min(rank, Math.Min(m, n));
        int k = Math.Min(r + Oversampling, Math.Min(m, n));

        var rng = new SplitMix64(seed);
        var omega = new double[k][];
        for (int c = 0; c < k; c++)
        {
            omega[c] = new double[n];
            for (int j = 0; j < n; j++) omega[c][j] = rng.NextGaussian();
        }
        var q = Orthonormalize(Times(d, m, n, omega));           // m-vectors spanning D·Ω
        for (int it = 0; it < PowerIterations; it++)
        {
            var z = Orthonormalize(TransposeTimes(d, m, n, q)); // n-vectors spanning Dᵀ·Q
            q = Orthonormalize(Times(d, m, n, z));
        }
        var small = TransposeTimes(d, m, n, q);                 // rows of Qᵀ·D (k × n)

        var gram = new double[k, k];
        for (int a = 0; a < k; a++)
            for (int b = a; b < k; b++)
                gram[a, b] = gram[b, a] = TensorPrimitives.Dot<double>(small[a], small[b]);
        var (values, vectors) = SymmetricEigen.Decompose(gram);
        var order = Enumerable.Range(0, k).OrderByDescending(i => values[i]).Take(r).ToArray();

        var bFactor = new double[(long)m * r];
        var aFactor = new double[(long)r * n];
        for (int t = 0; t < r; t++)
        {
            int e = order[t];
            var row = aFactor.AsSpan(t * n, n);
            for (int c = 0; c < k; c++)
            {
                double w = vectors[c, e];
                if (w == 0) continue;
                TensorPrimitives.MultiplyAdd<double>(small[c], w, row, row);
                var qc = q[c];
                for (int i = 0; i < m; i++) bFactor[(long)i * r + t] += qc[i] * w;
            }
        }
        var singular = order.Select(e => Math.Sqrt(Math.Max(0, values[e]))).ToArray();
        return (bFactor, aFactor, r, singular);
    }

    /// <summary>Columns of D·X for the n-vectors <paramref name="x"/> (returned as m-vectors).</summary>
    private static double[][] Times(double[] d, int m, int n, double[][] x)
    {
        var result = new double[x.Length][];
        for (int c = 0; c < x.Length; c++) result[c] = new double[m];
        Parallel.For(0, m, i =>
        {
            var row = d.AsSpan(i * n, n);
            for (int c = 0; c < x.Length; c++) result[c][i] = TensorPrimitives.Dot<double>(row, x[c]);
        });
        return result;
    }

    /// <summary>Dᵀ·y for each m-vector y (returned as n-vectors), by rows of D.</summary>
    private static double[][] TransposeTimes(double[] d, int m, int n, double[][] y)
    {
        var result = new double[y.Length][];
        Parallel.For(0, y.Length, c =>
        {
            var acc = new double[n];
            var yc = y[c];
            for (int i = 0; i < m; i++)
                if (yc[i] != 0) TensorPrimitives.MultiplyAdd<double>(d.AsSpan(i * n, n), yc[i], acc, acc);
            result[c] = acc;
        });
        return result;
    }

    /// <summary>Modified Gram-Schmidt, twice ("twice is enough"); a vector that is (numerically) in the span of the
    /// previous ones becomes zero, so rank-deficient matrices give zero columns instead of noise.</summary>
    private static double[][] Orthonormalize(double[][] vectors)
    {
        for (int c = 0; c < vectors.Length; c++)
        {
            var v = vectors[c];
            double before = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
            if (before == 0) continue;
            for (int pass = 0; pass < 2; pass++)
                for (int p = 0; p < c; p++)
                {
                    double dot = TensorPrimitives.Dot<double>(vectors[p], v);
                    if (dot != 0) TensorPrimitives.MultiplyAdd<double>(vectors[p], -dot, v, v);
                }
            double after = Math.Sqrt(TensorPrimitives.Dot<double>(v, v));
            if (after <= 1e-10 * before) Array.Clear(v);
            else TensorPrimitives.Multiply<double>(v, 1 / after, v);
        }
        return vectors;
    }

    /// <summary>SplitMix64 with Box-Muller normals: small, fast, fixed across platforms and .NET versions.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;
        private double? _spare;

        public double NextGaussian()
        {
            if (_spare is { } s)
            {
                _spare = null;
                return s;
            }
            double u1 = (NextUInt64() >> 11) * (1.0 / (1UL << 53)), u2 = (NextUInt64() >> 11) * (1.0 / (1UL << 53));
            double radius = Math.Sqrt(-2 * Math.Log(1 - u1));
            _spare = radius * Math.Sin(2 * Math.PI * u2);
            return radius * Math.Cos(2 * Math.PI * u2);
        }

        private ulong NextUInt64()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
