using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class MultislerpTests
{
    private static readonly Multislerp Method = new();

    public static TheoryData<int, Dtype, int, bool, bool> Cases()
    {
        var data = new TheoryData<int, Dtype, int, bool, bool>();
        for (int s = 0; s < Shapes.Length; s++)
            foreach (var dtype in new[] { Dtype.F32, Dtype.BF16 })
                foreach (int models in new[] { 2, 3 })
                    foreach (bool withBase in new[] { false, true })
                        data.Add(s, dtype, models, withBase, models == 3);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(int shape, Dtype dtype, int count, bool withBase, bool normalize)
    {
        var family = Family(51 + shape, Shapes[shape], dtype, count + 1);
        var models = family.Skip(1).ToArray();
        double[] weights = count == 2 ? [0.4, 0.9] : [0.2, 0.5, 0.3];
        double[][] inputs = withBase ? [family[0], .. models] : models;
        double[] inputWeights = withBase ? [0.0, .. weights] : weights;
        var c = new GeometricCase(Shapes[shape], dtype, inputs, withBase ? 0 : -1, inputWeights,
            Parameters(("normalize_weights", normalize), ("eps", 1e-8)));
        RunAndCompare(Method, c, GeometricReference.Multislerp(models, weights, withBase ? family[0] : null, normalize, 1e-8));
    }

    [Fact]
    public void TwoModelsAreTheGreatCircleMidpointScaledByTheMeanNorm()
    {
        // Unit vectors e0 and e1 with norms 1 and 3: direction (e0 + e1)/√2, norm (1 + 3)/2 = 2 (eps is negligible).
        double[] x0 = [1, 0, 0], x1 = [0, 3, 0];
        var c = new GeometricCase([3], Dtype.F32, [x0, x1], -1, [1, 1], Parameters(("normalize_weights", true), ("eps", 1e-8)));
        RunAndCompare(Method, c, [Math.Sqrt(2), Math.Sqrt(2), 0]);
    }

    [Fact]
    public void AntipodalPairFallsBackToTheWeightedSum()
    {
        // x1 = −2·x0 with equal weights: the unit vectors cancel, so the result is 0.5·x0 + 0.5·x1 = −0.5·x0.
        var x0 = Gaussian(61, [64, 48], 0.02, Dtype.F32);
        var x1 = x0.Select(v => -2 * v).ToArray();
        var c = new GeometricCase([64, 48], Dtype.F32, [x0, x1], -1, [1, 1], Parameters(("normalize_weights", true), ("eps", 1e-8)));
        var expected = x0.Select(v => -0.5 * v).ToArray();
        RunAndCompare(Method, c, expected);
        Assert.Equal(expected, GeometricReference.Multislerp([x0, x1], [1, 1], null, true, 1e-8));
    }

    [Fact]
    public void ThreeModelsThatCancelAreRejected()
    {
        var x0 = Gaussian(62, [16], 0.02, Dtype.F32);
        var c = new GeometricCase([16], Dtype.F32, [x0, x0.Select(v => -v).ToArray(), new double[16]], -1, [1, 1, 1],
            Parameters(("normalize_weights", true), ("eps", 1e-8)));
        Assert.Throws<InvalidOperationException>(() => Run(Method, c, threads: 1));
    }

    [Fact]
    public void OneModelBesidesTheBaseIsReturnedUnchanged()
    {
        var family = Family(63, [37, 129], Dtype.BF16, 2);
        var c = new GeometricCase([37, 129], Dtype.BF16, family, 0, [1, 1], Parameters(("normalize_weights", true), ("eps", 1e-8)));
        Assert.Equal(Encode(family[1], Dtype.BF16), Run(Method, c, threads: 4));
    }
}
