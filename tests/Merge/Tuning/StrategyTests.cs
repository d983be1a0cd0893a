using DotnetMerge.Tuning.Strategies;

namespace DotnetMerge.Tests.Tuning;

/// <summary>The strategies alone, on functions of the unit cube whose optimum is known.</summary>
public sealed class StrategyTests
{
    [Fact]
    public void SymmetricEigen_Reconstructs_TheMatrix()
    {
        var a = new double[,] { { 4, 1, 0.5 }, { 1, 3, -0.25 }, { 0.5, -0.25, 2 } };
        var (values, v) = DotnetMerge.Numerics.SymmetricEigen.Decompose(a);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                double sum = 0; // (V·diag(values)·Vᵀ)[i, j], in float64
                for (int k = 0; k < 3; k++) sum += v[i, k] * values[k] * v[j, k];
                Assert.Equal(a[i, j], sum, 12);
            }
        Assert.Equal(9.0, values.Sum(), 12); // the trace
    }

    [Theory]
    [InlineData(25, 1, 2, 5)]   // 5² = 25
    [InlineData(24, 1, 2, 4)]   // 5² > 24
    [InlineData(11, 1, 1, 11)]
    [InlineData(15, 3, 1, 5)]
    [InlineData(3, 3, 2, 2)]    // even 2² · 3 exceeds the budget: the grid is cut at the budget
    public void Grid_PointsPerRange_AreTheLargestThatFitTheBudget(int budget, long sets, int ranges, int expected)
        => Assert.Equal(expected, GridSearch.FittingCount(budget, sets, ranges));

    /// <summary>A shifted sphere in 3 dimensions, optimum (0.2, 0.7, 0.45); 400 evaluations bring the mean within 1e-3.</summary>
    [Fact]
    public void CmaEs_ConvergesOnASphere()
    {
        double[] optimum = { 0.2, 0.7, 0.45 };
        var es = new CmaEs(3, seed: 11);
        Assert.Equal(7, es.PopulationSize); // 4 + ⌊3 ln 3⌋
        for (int generation = 0; generation < 60; generation++)
        {
            var points = es.Next(es.PopulationSize);
            es.Tell(points, points.Select(p => (double?)-p.Zip(optimum, (x, o) => (x - o) * (x - o)).Sum()).ToList());
        }
        for (int i = 0; i < 3; i++) Assert.Equal(optimum[i], es.Mean[i], 3);
        Assert.True(es.Sigma < 0.01, $"sigma {es.Sigma}");
    }

    [Fact]
    public void CmaEs_RanksInvalidCandidatesLast()
    {
        // Everything right of 0.5 is invalid; the optimum of the valid part is its edge.
        var es = new CmaEs(1, seed: 2);
        for (int generation = 0; generation < 40; generation++)
        {
            var points = es.Next(es.PopulationSize);
            es.Tell(points, points.Select(p => p[0] > 0.5 ? null : (double?)p[0]).ToList());
        }
        Assert.InRange(es.Mean[0], 0.45, 0.5);
    }

    [Fact]
    public void Random_IsTheSameSequenceForTheSameSeed()
    {
        var a = new RandomSearch(2, 9).Next(10);
        var b = new RandomSearch(2, 9).Next(10);
        Assert.Equal(a, b);
        Assert.All(a.SelectMany(p => p), x => Assert.InRange(x, 0, 1));
        Assert.NotEqual(a, new RandomSearch(2, 10).Next(10));
    }
}
