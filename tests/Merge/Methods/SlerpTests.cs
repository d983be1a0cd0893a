using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class SlerpTests
{
    private static readonly Slerp Method = new();

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void MatchesReferenceForSeveralT(int shape, Dtype dtype)
    {
        var models = Family(11 + shape, Shapes[shape], dtype, 2);
        foreach (double t in new[] { 0.1, 0.5, 0.7, 1.3 })
        {
            var c = new GeometricCase(Shapes[shape], dtype, models, 0, null, Parameters(("t", t)));
            RunAndCompare(Method, c, GeometricReference.Slerp(t, models[0], models[1]));
        }
    }

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void BaseIsTheTZeroEndWhereverItIsListed(int shape, Dtype dtype)
    {
        var models = Family(21 + shape, Shapes[shape], dtype, 2);
        // The base is listed second: t = 0.3 still measures from the base.
        var c = new GeometricCase(Shapes[shape], dtype, [models[1], models[0]], 1, null, Parameters(("t", 0.3)));
        RunAndCompare(Method, c, GeometricReference.Slerp(0.3, models[0], models[1]));
    }

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void EndpointsAreExact(int shape, Dtype dtype)
    {
        var models = Family(31 + shape, Shapes[shape], dtype, 2);
        var atZero = Run(Method, new GeometricCase(Shapes[shape], dtype, models, 0, null, Parameters(("t", 0.0))), threads: 2);
        var atOne = Run(Method, new GeometricCase(Shapes[shape], dtype, models, 0, null, Parameters(("t", 1.0))), threads: 2);
        Assert.Equal(Encode(models[0], dtype), atZero);
        Assert.Equal(Encode(models[1], dtype), atOne);
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(-1.0)]
    [InlineData(0.5)]
    public void ColinearInputsAreInterpolatedLinearly(double factor)
    {
        long[] shape = [64, 48];
        var v0 = Gaussian(5, shape, 0.02, Dtype.F32);
        var v1 = v0.Select(x => x * factor).ToArray(); // exact: power-of-two factors
        var c = new GeometricCase(shape, Dtype.F32, [v0, v1], 0, null, Parameters(("t", 0.25)));
        // Hand-computed lerp: (1 - t)·v0 + t·factor·v0.
        var lerp = v0.Select(x => 0.75 * x + 0.25 * factor * x).ToArray();
        RunAndCompare(Method, c, lerp);
        Assert.Equal(lerp, GeometricReference.Slerp(0.25, v0, v1));
    }

    [Fact]
    public void OrthogonalUnitVectorsFollowTheGreatCircle()
    {
        // v0 = e0, v1 = e1: slerp(t) = cos(tπ/2)·e0 + sin(tπ/2)·e1.
        double[] v0 = [1, 0, 0, 0], v1 = [0, 1, 0, 0];
        var c = new GeometricCase([4], Dtype.F32, [v0, v1], 0, null, Parameters(("t", 1.0 / 3)));
        RunAndCompare(Method, c, [Math.Cos(Math.PI / 6), Math.Sin(Math.PI / 6), 0, 0]);
    }

    [Fact]
    public void SingleInputIsReturnedUnchanged()
    {
        var v = Gaussian(3, [37, 129], 0.02, Dtype.BF16);
        var c = new GeometricCase([37, 129], Dtype.BF16, [v], 0, null, Parameters(("t", 0.5)));
        Assert.Equal(Encode(v, Dtype.BF16), Run(Method, c, threads: 4));
    }

    [Fact]
    public void RequiresTheBaseAmongTheTwoModels()
    {
        var models = Family(1, [8], Dtype.F32, 2);
        var c = new GeometricCase([8], Dtype.F32, models, -1, null, Parameters(("t", 0.5)));
        Assert.Throws<InvalidOperationException>(() => Run(Method, c, threads: 1));
    }
}
