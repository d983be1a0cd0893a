using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class TiesTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new TiesMerge();
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [1.0, 0.5, 0.8], 0.3, normalize: true);
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [1.0, 0.5], 1.0, normalize: true);
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [1.0, -0.6, 0.4], 0.3, normalize: false, lambda: 1.5);
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [0.7, 0.3], 0.3, normalize: true, rescale: "l1");
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [0.7, 0.3], 0.3, normalize: true, rescale: "inverse");
        // Every divisor a power of two: the lanes multiply by exact reciprocals instead of dividing.
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [0.5, 0.5], 0.4, normalize: true);
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [1.0, 1.0], 0.4, normalize: true, lambda: 0.7);
        GtaCheck.Run(m, RefSparsify.Magnitude, true, s, dtype, [1.0, 1.0, -1.0], 0.6, normalize: true);
    }

    [Theory]
    [InlineData(new[] { 0.5, 0.5 }, true)]
    [InlineData(new[] { 1.0, 1.0 }, true)]
    [InlineData(new[] { 1.0, 1.0, -1.0 }, true)] // 1, 2, -1, 0 (replaced by 1)
    [InlineData(new[] { 0.25, 0.25, 0.5, -1.0 }, false)] // 0.25 - 1 = -0.75
    [InlineData(new[] { 1.0, 0.5 }, false)] // 1.5
    [InlineData(new[] { 1.0, 1.0, 1.0 }, false)] // 3
    [InlineData(new[] { 0.3, 0.7 }, false)]
    public void Power_of_two_divisors_are_recognised_only_when_every_subset_sum_is_one(double[] weights, bool expected)
    {
        bool actual = MixParameters.DivisorsArePowersOfTwo(weights);
        // Independent check: enumerate the subsets' sums and test them with Math.Log2.
        bool reference = Enumerable.Range(1, (1 << weights.Length) - 1)
            .Select(s => Enumerable.Range(0, weights.Length).Where(t => (s >> t & 1) != 0).Aggregate(0.0, (d, t) => d + weights[t]))
            .All(d => d == 0 || double.IsInteger(Math.Log2(Math.Abs(d))));
        Assert.Equal(reference, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Duplicate_magnitudes_at_the_threshold_keep_the_lowest_indices()
    {
        // δ = [1, -2, 2, 2, -2, 0.5, 2, 3]: k = 4 keeps 3 and the first three of the five |δ| = 2, in index order.
        var base_ = new double[8];
        var tuned = new double[] { 1, -2, 2, 2, -2, 0.5, 2, 3 };
        var c = GtaFixture.Build([8], Dtype.F32, [base_, tuned], 0,
            GtaFixture.Params(("normalize", true), ("lambda", 1.0), ("rescale", false)),
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.5))],
            settings: new Kernels.ExecutionSettings(2, 3));
        new TiesMerge().Merge(c.Context);
        Assert.Equal([0, -2, 2, 2, 0, 0, 0, 3], c.Result());
    }

    [Fact]
    public void Bf16_inputs_with_many_duplicates_match_a_stable_sort()
    {
        // bf16 deltas repeat a lot: the radix select must resolve ties exactly like the reference's stable sort.
        for (int seed = 0; seed < 4; seed++)
            GtaCheck.Run(new TiesMerge(), RefSparsify.Magnitude, true, [300, 257], Dtype.BF16, [1.0, 0.5], 0.37, normalize: true, dataSeed: seed);
    }

    [Fact]
    public void Sign_election_uses_weighted_deltas()
    {
        // Position 0: +1 (w 1) vs -3 (w 0.2): weighted +1 vs -0.6 -> elected +, mean over the agreeing model = 1.
        var c = GtaFixture.Build([1], Dtype.F32, [[0], [1], [-3]], 0,
            GtaFixture.Params(("normalize", true), ("lambda", 1.0), ("rescale", false)),
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 1.0)), GtaFixture.Params(("weight", 0.2), ("density", 1.0))]);
        new TiesMerge().Merge(c.Context);
        Assert.Equal([1.0], c.Result());
    }
}
