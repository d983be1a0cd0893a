using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class KarcherTests
{
    private static readonly Karcher Method = new();

    private static Dictionary<string, object> Settings(int maxIter = 10, double tol = 1e-5)
        => Parameters(("max_iter", (double)maxIter), ("tol", tol));

    /// <summary>Three models spread far enough apart that the mean takes several iterations.</summary>
    private static double[][] Spread(int seed, long[] shape, Dtype dtype)
        => [Gaussian(seed, shape, 0.02, dtype), Gaussian(seed + 1, shape, 0.03, dtype), Gaussian(seed + 2, shape, 0.01, dtype)];

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void ThreeModelsMatchReference(int shape, Dtype dtype)
    {
        var models = Spread(71 + shape * 3, Shapes[shape], dtype);
        var c = new GeometricCase(Shapes[shape], dtype, models, -1, null, Settings());
        RunAndCompare(Method, c, GeometricReference.Karcher(models, 10, 1e-5, out _));
    }

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void CloseFineTunesMatchReference(int shape, Dtype dtype)
    {
        var models = Family(81 + shape, Shapes[shape], dtype, 3);
        var c = new GeometricCase(Shapes[shape], dtype, models, 0, null, Settings()); // the base is just another input
        RunAndCompare(Method, c, GeometricReference.Karcher(models, 10, 1e-5, out _));
    }

    [Fact]
    public void ConvergesToAPointWhereTheTangentVanishes()
    {
        long[] shape = [64, 48];
        var models = Spread(91, shape, Dtype.F32);
        var expected = GeometricReference.Karcher(models, 200, 1e-9, out int iterations);
        Assert.InRange(iterations, 2, 199); // it iterated, and it stopped by itself
        var c = new GeometricCase(shape, Dtype.F32, models, -1, null, Settings(200, 1e-9));
        var output = RunAndCompare(Method, c, expected);

        // At the Karcher mean u, Σ θ_i/sin θ_i (u_i − cos θ_i u) = 0 (the first-order condition), up to float32 rounding.
        var u = GeometricReference.Scale(output, 1 / GeometricReference.Norm(output));
        var tangent = new double[u.Length];
        foreach (var m in models)
        {
            var unit = GeometricReference.Scale(m, 1 / GeometricReference.Norm(m));
            double cos = GeometricReference.Dot(u, unit), theta = Math.Acos(cos);
            tangent = GeometricReference.Add(tangent, GeometricReference.Scale(GeometricReference.Sub(unit, GeometricReference.Scale(u, cos)), theta / Math.Sin(theta)));
        }
        Assert.True(GeometricReference.Norm(tangent) < 1e-5, $"tangent norm {GeometricReference.Norm(tangent)}");
        // The output norm is the mean of the input norms.
        Assert.Equal(models.Average(GeometricReference.Norm), GeometricReference.Norm(output), 5);
    }

    [Fact]
    public void TwoModelsGiveTheGeodesicMidpoint()
    {
        // e0 (norm 2) and e1 (norm 4): direction (e0 + e1)/√2, norm 3.
        double[] x0 = [2, 0, 0, 0], x1 = [0, 4, 0, 0];
        var c = new GeometricCase([4], Dtype.F32, [x0, x1], -1, null, Settings());
        double h = 3 / Math.Sqrt(2);
        RunAndCompare(Method, c, [h, h, 0, 0]);
    }

    [Fact]
    public void ZeroInputCountsOnlyInTheNorm()
    {
        // A zero tensor does not pull the direction, but it is one of the N inputs of the mean norm.
        double[] x0 = [2, 0, 0], x1 = [0, 2, 0], zero = [0, 0, 0];
        var c = new GeometricCase([3], Dtype.F32, [x0, x1, zero], -1, null, Settings());
        double h = (4.0 / 3) / Math.Sqrt(2);
        RunAndCompare(Method, c, [h, h, 0]);
    }
}
