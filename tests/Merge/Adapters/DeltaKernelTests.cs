using DotnetMerge.Adapters;

namespace DotnetMerge.Tests.Adapters;

/// <summary>The LoRA delta kernel (<see cref="AdaptedTensor.DeltaRows"/>) against a scalar float64 reference written
/// here: Σₖ L[i, k]·R[k, j] with k ascending, each product rounded before it is added, so equality is exact. The
/// shapes exercise the register-tiled path (blocks of four rows, columns in two-vector steps plus a scalar tail), the
/// one-row path, and a block with a zero factor, which skips that term (an infinite R entry times zero adds nothing).</summary>
public sealed class DeltaKernelTests
{
    private static double[] Random(int count, int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    private static double Reference(double[] left, double[] right, int rank, int cols, int row, int col)
    {
        double sum = 0;
        for (int k = 0; k < rank; k++)
        {
            double l = left[row * rank + k];
            if (l != 0) sum += right[k * cols + col] * l;
        }
        return sum;
    }

    [Theory]
    [InlineData(9, 37, 5)]
    [InlineData(8, 64, 16)]
    [InlineData(4, 3, 1)]
    [InlineData(13, 129, 8)]
    public void EveryRowEqualsTheScalarReference_InAnyBlock(int rows, int cols, int rank)
    {
        var left = Random(rows * rank, 1);
        var right = Random(rank * cols, 2);
        left[5 * rank % left.Length] = 0; // one block with a zero factor takes the one-row path
        var delta = Enumerable.Range(0, AdaptedTensor.RowBlock).Select(_ => new double[cols]).ToArray();
        for (int first = 0; first < rows; first += AdaptedTensor.RowBlock)
        {
            int count = Math.Min(AdaptedTensor.RowBlock, rows - first);
            AdaptedTensor.DeltaRows(first, count, left, right, rank, cols, delta);
            for (int i = 0; i < count; i++)
                for (int j = 0; j < cols; j++)
                    Assert.Equal(Reference(left, right, rank, cols, first + i, j), delta[i][j]);
        }
        // A row computed alone equals the same row computed in its block.
        var single = Enumerable.Range(0, AdaptedTensor.RowBlock).Select(_ => new double[cols]).ToArray();
        AdaptedTensor.DeltaRows(rows - 1, 1, left, right, rank, cols, single);
        for (int j = 0; j < cols; j++) Assert.Equal(Reference(left, right, rank, cols, rows - 1, j), single[0][j]);
    }

    [Fact]
    public void AZeroFactorSkipsItsTerm_SoAnInfiniteEntryTimesZeroIsNotNaN()
    {
        const int rows = 4, cols = 16, rank = 2;
        var left = Enumerable.Repeat(0.5, rows * rank).ToArray();
        var right = Enumerable.Repeat(1.0, rank * cols).ToArray();
        right[cols + 3] = double.PositiveInfinity; // R[1, 3]
        left[2 * rank + 1] = 0;                    // L[2, 1]: row 2 never uses R[1, :]
        var delta = Enumerable.Range(0, AdaptedTensor.RowBlock).Select(_ => new double[cols]).ToArray();
        AdaptedTensor.DeltaRows(0, rows, left, right, rank, cols, delta);
        Assert.Equal(0.5, delta[2][3]);
        Assert.Equal(double.PositiveInfinity, delta[0][3]);
        Assert.Equal(1.0, delta[0][4]);
    }
}
