using DotnetMerge.Moe;

namespace DotnetMerge.Tests.Moe;

/// <summary>The router-matrix condition number behind mergekit's "prompts may be too similar" warning (DMRG0949),
/// against closed forms: two unit rows with cosine c have σ² = 1 ± c.</summary>
public sealed class MoeGatesTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.95)]
    public void Two_unit_rows_at_cosine_c_have_condition_root_of_one_plus_c_over_one_minus_c(double c)
    {
        var rows = new double[] { 1, 0, 0, c, Math.Sqrt(1 - c * c), 0 };
        Assert.Equal(Math.Sqrt((1 + c) / (1 - c)), MoeGates.ConditionNumber(rows, 2, 3), 9);
    }

    [Fact]
    public void Scaled_axes_have_the_ratio_of_their_scales_and_dependent_rows_are_infinite()
    {
        var rows = new double[] { 0, 1, 0, 0, 0, 0, 2, 0, 4, 0, 0, 0 }; // rows e2, 2·e3, 4·e1 of R⁴
        Assert.Equal(4.0, MoeGates.ConditionNumber(rows, 3, 4), 9);
        Assert.Equal(double.PositiveInfinity, MoeGates.ConditionNumber([1, 2, 2, 4], 2, 2));
    }
}
