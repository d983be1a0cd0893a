using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class NearswapTests
{
    private static readonly Nearswap Method = new();

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void MatchesReference(int shape, Dtype dtype)
    {
        var family = Family(121 + shape, Shapes[shape], dtype, 2);
        foreach (double t in new[] { 0.001, 0.004 })
        {
            var c = new GeometricCase(Shapes[shape], dtype, [family[1], family[0]], 1, null, Parameters(("t", t)));
            RunAndCompare(Method, c, GeometricReference.Nearswap(t, family[0], family[1]));
        }
    }

    [Fact]
    public void HandComputedValues()
    {
        // t = 0.1: |a−b| = 0.5 → w = 0.2; |a−b| = 0 → w = 1; |a−b| = 0.25 → w = 0.4; |a−b| = 2 → w = 0.05.
        double[] a = [0, 1, 2, -1], b = [0.5, 1, 2.25, 1];
        var c = new GeometricCase([4], Dtype.F32, [a, b], 0, null, Parameters(("t", 0.1)));
        RunAndCompare(Method, c, [0.1, 1, 2.1, -0.9]);
    }

    [Fact]
    public void LargeThresholdTakesTheSecondModel()
    {
        var family = Family(122, [37, 129], Dtype.BF16, 2);
        var c = new GeometricCase([37, 129], Dtype.BF16, family, 0, null, Parameters(("t", 1.0)));
        Assert.Equal(Encode(family[1], Dtype.BF16), Run(Method, c, threads: 4));
    }
}
