using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class BreadcrumbsTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Breadcrumbs_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new BreadcrumbsMerge();
        GtaCheck.Run(m, RefSparsify.Outliers, false, s, dtype, [1.0, 0.5], 0.3, gamma: 0.01);
        GtaCheck.Run(m, RefSparsify.Outliers, false, s, dtype, [1.0, -0.5, 0.3], 0.9, gamma: 0.2, lambda: 1.4, rescale: "l1");
        GtaCheck.Run(m, RefSparsify.Outliers, false, s, dtype, [0.5, 0.5], 0.3, gamma: 0.05, normalize: true, rescale: "inverse");
        GtaCheck.Run(m, RefSparsify.Outliers, false, s, dtype, [1.0], 1.0, gamma: 0.05);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Breadcrumbs_ties_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new BreadcrumbsTiesMerge();
        GtaCheck.Run(m, RefSparsify.Outliers, true, s, dtype, [1.0, 0.5, 0.7], 0.3, gamma: 0.01, normalize: true);
        GtaCheck.Run(m, RefSparsify.Outliers, true, s, dtype, [1.0, -0.5], 0.5, gamma: 0.1, rescale: true);
    }

    [Theory]
    // n = 10, density 0.5, gamma 0.05: n_top = 0, n_bot = 5 -> the 5 largest |δ| are kept (mergekit would zero all).
    [InlineData(0.05, new double[] { 0, -9, 0, 8, 0, 7, 0, -6, 0, 10 })]
    // n = 10, density 0.5, gamma 0.2: n_top = 2 (10 and -9 go), n_bot = 3 (1, 2, -3 go).
    [InlineData(0.2, new double[] { 0, 0, 0, 8, 0, 7, 4, -6, 5, 0 })]
    public void Removes_top_outliers_and_small_values_and_no_outliers_when_gamma_is_below_one_element(double gamma, double[] expected)
    {
        var tuned = new double[] { 1, -9, 2, 8, -3, 7, 4, -6, 5, 10 };
        var c = GtaFixture.Build([10], Dtype.F32, [new double[10], tuned], 0,
            GtaFixture.Params(("normalize", false), ("rescale", false), ("lambda", 1.0)),
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.5), ("gamma", gamma))]);
        new BreadcrumbsMerge().Merge(c.Context);
        Assert.Equal(expected, c.Result());
    }
}
