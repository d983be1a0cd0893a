using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GtaFixture;

namespace DotnetMerge.Tests.Methods;

public class RamTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    /// <summary>Fine-tunes that leave about half of the positions untouched, so unique and shared changes both occur.</summary>
    private static double[][] Sparse(long n, int fineTunes, int seed)
    {
        var values = LlamaLike(seed, n, fineTunes);
        var random = new Random(seed);
        for (int m = 1; m < values.Length; m++)
            for (long i = 0; i < n; i++)
                if (random.NextDouble() < 0.5) values[m][i] = values[0][i];
        return values;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ram_matches_reference(int shape, Dtype dtype)
    {
        var s = Shapes[shape];
        foreach (double epsilon in new[] { 1e-5, 2e-3 })
        {
            var values = Sparse(s.Aggregate(1L, (a, d) => a * d), 3, shape);
            var c = Build(s, dtype, values, 0, Params(("epsilon", epsilon)), values.Select(_ => (IDictionary<string, object>)Params()).ToList());
            new RamMerge().Merge(c.Context);
            AssertMatches(c, GtaReference.Ram(c.Values, 0, epsilon));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ramplus_tl_matches_reference(int shape, Dtype dtype)
    {
        var s = Shapes[shape];
        foreach (var (r, alpha) in new[] { (0.1, 0.2), (0.5, 3.0) })
        {
            var values = Sparse(s.Aggregate(1L, (a, d) => a * d), 3, shape + 5);
            var c = Build(s, dtype, values, 0, Params(("epsilon", 1e-5), ("r", r), ("alpha", alpha)), values.Select(_ => (IDictionary<string, object>)Params()).ToList());
            new RamPlusTlMerge().Merge(c.Context);
            AssertMatches(c, GtaReference.Ram(c.Values, 0, 1e-5, r, alpha));
        }
    }

    [Fact]
    public void Unique_changes_add_and_shared_changes_average()
    {
        var c = Build([3], Dtype.F32, [[0, 0, 0], [1, 2, 0], [0, 4, 0]], 0, Params(("epsilon", 1e-5)), [Params(), Params(), Params()]);
        new RamMerge().Merge(c.Context);
        Assert.Equal([1, 3, 0], c.Result());
    }
}
