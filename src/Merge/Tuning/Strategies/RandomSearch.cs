namespace DotnetMerge.Tuning.Strategies;

/// <summary>Points drawn uniformly from the unit cube by a generator seeded with the search seed (System.Random with a
/// seed is a fixed sequence on every platform): the same seed, the same points.</summary>
public sealed class RandomSearch(int dimensions, ulong seed) : ISearchStrategy
{
    private readonly Random _random = new(SeedOf(seed));

    public string Name => "random";

    public IReadOnlyList<double[]> Next(int remaining)
        => Enumerable.Range(0, remaining).Select(_ => Enumerable.Range(0, dimensions).Select(_ => _random.NextDouble()).ToArray()).ToList();

    public void Tell(IReadOnlyList<double[]> points, IReadOnlyList<double?> scores) { }

    /// <summary>A 64-bit seed folded to System.Random's non-negative int.</summary>
    internal static int SeedOf(ulong seed) => (int)((seed ^ (seed >> 32)) & 0x7FFFFFFF);
}
