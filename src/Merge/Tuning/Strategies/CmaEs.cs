using DotnetMerge.Numerics;
namespace DotnetMerge.Tuning.Strategies;

/// <summary>CMA-ES, the covariance matrix adaptation evolution strategy, written from N. Hansen, "The CMA Evolution
/// Strategy: A Tutorial" (arXiv:1604.00772), with its default parameters: each generation samples λ = 4 + ⌊3 ln n⌋ points
/// x = m + σ·B·D·z (z standard normal), ranks them by score, moves the mean to the weighted mean of the best μ = ⌊λ/2⌋,
/// and adapts the step size σ (cumulative step-size adaptation) and the covariance C (rank-one and rank-μ updates).
/// It searches the unit cube: it starts at the centre with σ = 0.3, and a point outside is repaired onto the cube (the
/// repaired point is both scored and used in the update). A set dimension is a coordinate whose interval picks a value.
/// An invalid candidate (null score) ranks last.</summary>
public sealed class CmaEs : ISearchStrategy
{
    private readonly int _n;
    private readonly Random _random;
    private readonly int _lambda, _mu;
    private readonly double[] _weights;
    private readonly double _muEff, _cc, _cs, _c1, _cmu, _damps, _chiN;
    private double[] _mean;
    private double _sigma = 0.3;
    private readonly double[] _pc, _ps;
    private double[,] _c, _b;
    private double[] _d;
    private int _generation;
    private double[][]? _pending;

    public CmaEs(int dimensions, ulong seed)
    {
        if (dimensions < 1) throw new ArgumentException("CMA-ES needs at least one dimension");
        _n = dimensions;
        _random = new Random(RandomSearch.SeedOf(seed));
        _lambda = 4 + (int)Math.Floor(3 * Math.Log(_n));
        _mu = _lambda / 2;
        var raw = Enumerable.Range(1, _mu).Select(i => Math.Log((_lambda + 1) / 2.0) - Math.Log(i)).ToArray();
        double sum = raw.Sum();
        _weights = raw.Select(w => w / sum).ToArray();
        _muEff = 1 / _weights.Sum(w => w * w);
        _cc = (4 + _muEff / _n) / (_n + 4 + 2 * _muEff / _n);
        _cs = (_muEff + 2) / (_n + _muEff + 5);
        _c1 = 2 / ((_n + 1.3) * (_n + 1.3) + _muEff);
        _cmu = Math.Min(1 - _c1, 2 * (_muEff - 2 + 1 / _muEff) / ((_n + 2) * (_n + 2) + _muEff));
        _damps = 1 + 2 * Math.Max(0, Math.Sqrt((_muEff - 1) / (_n + 1)) - 1) + _cs;
        _chiN = Math.Sqrt(_n) * (1 - 1.0 / (4 * _n) + 1.0 / (21.0 * _n * _n));
        _mean = Enumerable.Repeat(0.5, _n).ToArray();
        _pc = new double[_n];
        _ps = new double[_n];
        _c = Identity(_n);
        _b = Identity(_n);
        _d = Enumerable.Repeat(1.0, _n).ToArray();
    }

    public string Name => "cma-es";

    /// <summary>Points per generation (λ).</summary>
    public int PopulationSize => _lambda;

    /// <summary>The current mean (unit coordinates) and step size, for tests and the report.</summary>
    public IReadOnlyList<double> Mean => _mean;

    public double Sigma => _sigma;

    public IReadOnlyList<double[]> Next(int remaining)
    {
        var points = new double[_lambda][];
        for (int k = 0; k < _lambda; k++)
        {
            var z = Enumerable.Range(0, _n).Select(_ => Gaussian()).ToArray();
            var x = new double[_n];
            for (int i = 0; i < _n; i++)
            {
                double bdz = 0;
                for (int j = 0; j < _n; j++) bdz += _b[i, j] * _d[j] * z[j];
                x[i] = Math.Clamp(_mean[i] + _sigma * bdz, 0, 1);
            }
            points[k] = x;
        }
        _pending = points;
        return points.Take(remaining).ToList();
    }

    /// <summary>Updates from a whole generation; a generation cut short by the budget ends the search, so it changes nothing.</summary>
    public void Tell(IReadOnlyList<double[]> points, IReadOnlyList<double?> scores)
    {
        if (_pending is null || points.Count < _lambda) return;
        var order = Enumerable.Range(0, _lambda).OrderByDescending(k => scores[k] ?? double.NegativeInfinity).ThenBy(k => k).ToArray();
        var old = _mean;
        _mean = new double[_n];
        for (int r = 0; r < _mu; r++)
            for (int i = 0; i < _n; i++) _mean[i] += _weights[r] * points[order[r]][i];
        var yw = Enumerable.Range(0, _n).Select(i => (_mean[i] - old[i]) / _sigma).ToArray();

        // p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) · C^(−1/2) y_w, with C^(−1/2) = B D⁻¹ Bᵀ.
        var bty = new double[_n];
        for (int j = 0; j < _n; j++)
            for (int i = 0; i < _n; i++) bty[j] += _b[i, j] * yw[i];
        double norm = Math.Sqrt(_cs * (2 - _cs) * _muEff);
        for (int i = 0; i < _n; i++)
        {
            double s = 0;
            for (int j = 0; j < _n; j++) s += _b[i, j] * bty[j] / _d[j];
            _ps[i] = (1 - _cs) * _ps[i] + norm * s;
        }
        double psNorm = Math.Sqrt(_ps.Sum(v => v * v));
        _generation++;
        bool hsig = psNorm / Math.Sqrt(1 - Math.Pow(1 - _cs, 2 * _generation)) / _chiN < 1.4 + 2.0 / (_n + 1);
        double pcNorm = Math.Sqrt(_cc * (2 - _cc) * _muEff);
        for (int i = 0; i < _n; i++) _pc[i] = (1 - _cc) * _pc[i] + (hsig ? pcNorm * yw[i] : 0);

        // C ← (1 − c1 − cμ) C + c1 (p_c p_cᵀ + δ(hσ) C) + cμ Σ wᵢ yᵢ yᵢᵀ, δ(hσ) = (1 − hσ) c_c (2 − c_c).
        double delta = hsig ? 0 : _cc * (2 - _cc);
        var c = new double[_n, _n];
        for (int i = 0; i < _n; i++)
            for (int j = 0; j < _n; j++)
            {
                double rankMu = 0;
                for (int r = 0; r < _mu; r++)
                {
                    var x = points[order[r]];
                    rankMu += _weights[r] * (x[i] - old[i]) / _sigma * (x[j] - old[j]) / _sigma;
                }
                c[i, j] = (1 - _c1 - _cmu) * _c[i, j] + _c1 * (_pc[i] * _pc[j] + delta * _c[i, j]) + _cmu * rankMu;
            }
        _c = c;
        _sigma *= Math.Exp(_cs / _damps * (psNorm / _chiN - 1));
        _sigma = Math.Min(_sigma, 1.0); // the whole cube is 1 wide: a larger step only repairs onto the faces
        (_d, _b) = SymmetricEigen.Decompose(_c);
        for (int i = 0; i < _n; i++) _d[i] = Math.Sqrt(Math.Max(_d[i], 1e-20));
        _pending = null;
    }

    /// <summary>A standard normal draw (Box–Muller on two uniform draws).</summary>
    private double Gaussian()
    {
        double u1 = 1.0 - _random.NextDouble(), u2 = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static double[,] Identity(int n)
    {
        var m = new double[n, n];
        for (int i = 0; i < n; i++) m[i, i] = 1;
        return m;
    }
}
