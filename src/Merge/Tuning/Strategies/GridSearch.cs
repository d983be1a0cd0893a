using DotnetMerge.Definitions;

namespace DotnetMerge.Tuning.Strategies;

/// <summary>Every combination of the values of a grid, the first dimension varying slowest: each set of values in full,
/// each range at <c>k</c> evenly spaced points from min to max (both included). Without an explicit k, k is the largest
/// count (at least 2) whose full grid fits the budget; a grid larger than the budget is cut at the budget.</summary>
public sealed class GridSearch : ISearchStrategy
{
    private readonly List<double[]> _points;
    private int _next;

    public GridSearch(SearchSpace space, int budget, int? pointsPerRange = null)
    {
        if (pointsPerRange is < 2) throw new ArgumentException($"--grid-points {pointsPerRange} must be at least 2 (min and max of each range)");
        var dims = space.Dimensions;
        long sets = dims.Where(d => d.Setting.Kind == SearchKind.Choice).Aggregate(1L, (p, d) => p * d.Setting.Choices.Count);
        int ranges = dims.Count(d => d.Setting.Kind == SearchKind.Range);
        PointsPerRange = pointsPerRange ?? FittingCount(budget, sets, ranges);
        var axes = dims.Select(d => d.Setting.Kind == SearchKind.Range
            ? Enumerable.Range(0, PointsPerRange).Select(j => (double)j / (PointsPerRange - 1)).ToArray()
            : Enumerable.Range(0, d.Setting.Choices.Count).Select(j => (j + 0.5) / d.Setting.Choices.Count).ToArray()).ToList();
        FullSize = axes.Aggregate(1.0, (p, a) => p * a.Length);
        _points = new List<double[]>();
        var index = new int[axes.Count];
        while (_points.Count < budget)
        {
            _points.Add(index.Select((j, i) => axes[i][j]).ToArray());
            int k = axes.Count - 1;
            while (k >= 0 && ++index[k] == axes[k].Length) index[k--] = 0;
            if (k < 0) break;
        }
    }

    public string Name => "grid";

    /// <summary>Points per range dimension.</summary>
    public int PointsPerRange { get; }

    /// <summary>The number of points of the whole grid (may exceed the budget).</summary>
    public double FullSize { get; }

    /// <summary>The largest k ≥ 2 with sets·k^ranges ≤ budget (2 when even that does not fit).</summary>
    public static int FittingCount(int budget, long sets, int ranges)
    {
        if (ranges == 0) return 2;
        int k = 2;
        while (Math.Pow(k + 1, ranges) * sets <= budget) k++;
        return k;
    }

    public IReadOnlyList<double[]> Next(int remaining)
    {
        var batch = _points.Skip(_next).Take(remaining).ToList();
        _next += batch.Count;
        return batch;
    }

    public void Tell(IReadOnlyList<double[]> points, IReadOnlyList<double?> scores) { }
}
