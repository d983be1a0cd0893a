using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GtaFixture;

namespace DotnetMerge.Tests.Methods;

public class LinearTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference(int shape, Dtype dtype)
    {
        foreach (var (weights, normalize) in new (double[], bool)[] { ([0.5, 0.3, 0.2], true), ([1, 2, 3], true), ([1, -0.5, 0.25], false), ([0.7, 0.7, -0.4], true) })
        {
            var s = Shapes[shape];
            var values = LlamaLike(shape + 1, s.Aggregate(1L, (a, d) => a * d), 2);
            var c = Build(s, dtype, values, 0, Params(("normalize", normalize)), weights.Select(w => (IDictionary<string, object>)Params(("weight", w))).ToList());
            new LinearMerge().Merge(c.Context);
            AssertMatches(c, GtaReference.Linear(c.Values, weights, normalize));
        }
    }

    [Fact]
    public void Zero_weight_sum_with_normalize_is_an_error()
    {
        var c = Build([4], Dtype.F32, [[1, 2, 3, 4], [1, 1, 1, 1]], -1, Params(("normalize", true)), [Params(("weight", 1.0)), Params(("weight", -1.0))]);
        var e = Assert.Throws<InvalidOperationException>(() => new LinearMerge().Merge(c.Context));
        Assert.Contains("normalize: false", e.Message);
    }

    [Fact]
    public void Is_registered() => Assert.IsType<LinearMerge>(MethodRegistry.Find("linear"));
}
