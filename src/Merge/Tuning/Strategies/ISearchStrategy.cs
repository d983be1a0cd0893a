namespace DotnetMerge.Tuning.Strategies;

/// <summary>A search over the unit cube [0, 1]^d (a <see cref="SearchSpace"/> maps it to the searched values), asked for
/// batches of points and told their scores (higher is better; null: the candidate was invalid). Every strategy is
/// deterministic for its seed: its points depend only on the seed and the scores told, never on timing, so a search
/// replayed from its log proposes the same points.</summary>
public interface ISearchStrategy
{
    /// <summary>"grid", "random", "cma-es".</summary>
    string Name { get; }

    /// <summary>The next points to score, at most <paramref name="remaining"/> (&gt; 0); empty when the strategy has no more.</summary>
    IReadOnlyList<double[]> Next(int remaining);

    /// <summary>The scores of the points of the last <see cref="Next"/>, in the same order.</summary>
    void Tell(IReadOnlyList<double[]> points, IReadOnlyList<double?> scores);
}

/// <summary>The strategies by name.</summary>
public static class SearchStrategies
{
    public static readonly IReadOnlyList<string> Names = ["grid", "random", "cma-es"];

    /// <summary>A strategy for <paramref name="space"/>. <paramref name="gridPoints"/>: points per range in a grid (null:
    /// as many as the budget allows).</summary>
    public static ISearchStrategy Create(string name, SearchSpace space, int budget, ulong seed, int? gridPoints = null) => name switch
    {
        "grid" => new GridSearch(space, budget, gridPoints),
        "random" => new RandomSearch(space.Dimensions.Count, seed),
        "cma-es" or "cmaes" => new CmaEs(space.Dimensions.Count, seed),
        _ => throw new ArgumentException($"--strategy '{name}' is not one of {string.Join(", ", Names)}"),
    };
}
