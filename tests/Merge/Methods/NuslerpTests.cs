using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class NuslerpTests
{
    private static readonly Nuslerp Method = new();

    public static TheoryData<int, Dtype, bool, bool, bool> Cases()
    {
        var data = new TheoryData<int, Dtype, bool, bool, bool>();
        for (int s = 0; s < Shapes.Length; s++)
            foreach (var dtype in new[] { Dtype.F32, Dtype.BF16 })
                foreach (var (flatten, rowWise) in new[] { (true, false), (false, false), (false, true) })
                    foreach (bool withBase in new[] { false, true })
                        data.Add(s, dtype, flatten, rowWise, withBase);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(int shape, Dtype dtype, bool flatten, bool rowWise, bool withBase)
    {
        var family = Family(41 + shape, Shapes[shape], dtype, 3);
        // With a base, the two merged models come first and the base is the third input.
        double[][] inputs = withBase ? [family[1], family[2], family[0]] : [family[1], family[2]];
        var c = new GeometricCase(Shapes[shape], dtype, inputs, withBase ? 2 : -1, withBase ? [0.3, 0.7, 1.0] : [0.3, 0.7],
            Parameters(("nuslerp_flatten", flatten), ("nuslerp_row_wise", rowWise)));
        var expected = GeometricReference.Nuslerp(family[1], family[2], withBase ? family[0] : null, Shapes[shape], 0.3, 0.7, flatten, rowWise);
        RunAndCompare(Method, c, expected);
    }

    [Fact]
    public void RowsAndColumnsAreSlerpedIndependently()
    {
        // Rows: row 0 of v0 and v1 are orthogonal unit vectors, row 1 identical; columns mirror that.
        double[] v0 = [1, 0, 3, 4], v1 = [0, 1, 3, 4];
        double s = Math.Sin(Math.PI / 4); // t = 0.5, θ = π/2: both weights sin(π/4)/1
        var rows = new GeometricCase([2, 2], Dtype.F32, [v0, v1], -1, [1, 1],
            Parameters(("nuslerp_flatten", false), ("nuslerp_row_wise", false)));
        RunAndCompare(Method, rows, [s, s, 3, 4]);

        double[] c0 = [1, 3, 0, 4], c1 = [0, 3, 1, 4]; // the same, transposed
        var columns = new GeometricCase([2, 2], Dtype.F32, [c0, c1], -1, [1, 1],
            Parameters(("nuslerp_flatten", false), ("nuslerp_row_wise", true)));
        RunAndCompare(Method, columns, [s, 3, s, 4]);
    }

    [Fact]
    public void WeightsThatCancelMeanHalfway()
    {
        var family = Family(7, [64, 48], Dtype.F32, 2);
        var c = new GeometricCase([64, 48], Dtype.F32, family, -1, [1, -1],
            Parameters(("nuslerp_flatten", true), ("nuslerp_row_wise", false)));
        RunAndCompare(Method, c, GeometricReference.NuslerpKernel(0.5, family[0], family[1]));
    }

    [Fact]
    public void ZeroWeightOnTheSecondModelReturnsTheFirst()
    {
        var family = Family(8, [37, 129], Dtype.BF16, 3);
        var c = new GeometricCase([37, 129], Dtype.BF16, [family[1], family[2], family[0]], 2, [1, 0, 1],
            Parameters(("nuslerp_flatten", true), ("nuslerp_row_wise", false)));
        Assert.Equal(Encode(family[1], Dtype.BF16), Run(Method, c, threads: 4));
    }

    [Fact]
    public void BaseMustBeAThirdModel()
    {
        var family = Family(9, [8], Dtype.F32, 2);
        var c = new GeometricCase([8], Dtype.F32, family, 0, [1, 1],
            Parameters(("nuslerp_flatten", true), ("nuslerp_row_wise", false)));
        Assert.Throws<InvalidOperationException>(() => Run(Method, c, threads: 1));
    }
}
