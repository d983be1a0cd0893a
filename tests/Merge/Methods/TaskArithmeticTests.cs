using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class TaskArithmeticTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new TaskArithmeticMerge();
        GtaCheck.Run(m, RefSparsify.None, false, s, dtype, [1.0, 0.5], 1);
        GtaCheck.Run(m, RefSparsify.None, false, s, dtype, [0.6, 0.4, 0.3], 1, normalize: true, lambda: 1.3);
        // Capability removal: a negative weight without normalization subtracts the task vector.
        GtaCheck.Run(m, RefSparsify.None, false, s, dtype, [1.0, -1.0], 1, lambda: 0.7);
        // density is not used by task_arithmetic.
        GtaCheck.Run(m, RefSparsify.None, false, s, dtype, [0.5, 0.5], 0.3, rescale: true);
    }

    [Fact]
    public void Negative_weight_subtracts_exactly()
    {
        var base_ = new double[] { 1, 2, 3, 4 };
        var tuned = new double[] { 1.5, 2, 2, 5 };
        var c = GtaFixture.Build([4], Dtype.F32, [base_, tuned], 0,
            GtaFixture.Params(("normalize", false), ("lambda", 1.0), ("rescale", false)), [GtaFixture.Params(), GtaFixture.Params(("weight", -1.0), ("density", 1.0))]);
        new TaskArithmeticMerge().Merge(c.Context);
        Assert.Equal([0.5, 2, 4, 3], c.Result());
    }

    [Fact]
    public void Without_a_base_model_it_is_an_error()
    {
        var c = GtaFixture.Build([2], Dtype.F32, [[1, 2], [3, 4]], -1, GtaFixture.Params(("normalize", false), ("lambda", 1.0)),
            [GtaFixture.Params(("weight", 1.0)), GtaFixture.Params(("weight", 1.0))]);
        Assert.Contains("base_model", Assert.Throws<InvalidOperationException>(() => new TaskArithmeticMerge().Merge(c.Context)).Message);
    }

    [Fact]
    public void Every_variant_is_registered()
    {
        foreach (var name in new[] { "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "sce", "ram", "ramplus_tl", "passthrough", "linear" })
            Assert.Equal(name, MethodRegistry.Find(name)?.Name);
    }
}
