using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

/// <summary>All-bf16 inputs take the one-pass raw-word kernels (Kernels/GeometryBf16.cs); the same values stored as
/// float32 take the decoded chunk path. Both must give the same bytes (same operations, same summation order), and
/// the float64 reference.</summary>
public sealed class GeometryPathTests
{
    // 125,700 elements: two Gram spans of 65,536, and a tail that is not a multiple of any vector width.
    private static readonly long[] Shape = [300, 419];

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Slerp_raw_bf16_path_equals_the_decoded_path(int threads)
    {
        var models = Family(71, Shape, Dtype.BF16, 2);
        var parameters = Parameters(("t", 0.35));
        var fromBf16 = Run(new Slerp(), new GeometricCase(Shape, Dtype.BF16, models, 0, null, parameters), threads, 1 << 14);
        var fromF32 = Run(new Slerp(), new GeometricCase(Shape, Dtype.F32, models, 0, null, parameters, Dtype.BF16), threads, 1 << 14);
        Assert.Equal(fromF32, fromBf16);
        AssertMatches(GeometricReference.Slerp(0.35, models[0], models[1]), fromBf16, Dtype.BF16);
    }

    [Fact]
    public void Model_stock_raw_bf16_path_equals_the_decoded_path()
    {
        var family = Family(72, Shape, Dtype.BF16, 3);
        var shared = Gaussian(9, Shape, 0.004, Dtype.F64);
        var models = new[] { family[0] }.Concat(family.Skip(1).Select(m => Representable(GeometricReference.Add(m, shared), Dtype.BF16))).ToArray();
        var parameters = Parameters(("filter_wise", false));
        var fromBf16 = Run(new ModelStock(), new GeometricCase(Shape, Dtype.BF16, models, 0, null, parameters), 2, 1 << 14);
        var fromF32 = Run(new ModelStock(), new GeometricCase(Shape, Dtype.F32, models, 0, null, parameters, Dtype.BF16), 2, 1 << 14);
        Assert.Equal(fromF32, fromBf16);
        AssertMatches(GeometricReference.ModelStock(models[0], models.Skip(1).ToArray(), Shape, filterWise: false), fromBf16, Dtype.BF16);
    }
}
