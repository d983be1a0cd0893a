using System.Globalization;
using DotnetMerge.Cuda.Tests.Infrastructure;

namespace DotnetMerge.Cuda.Tests;

/// <summary>kernels/reduce.cuh's block sum, run by the shim with one real thread per CUDA thread meeting at __syncthreads.</summary>
public sealed class ReduceShimTests
{
    [SkippableTheory]
    [InlineData(1000, 3, 64)]
    [InlineData(4099, 4, 128)]
    [InlineData(10, 2, 32)]
    public void Block_sums_equal_the_exact_sums_of_each_blocks_elements(int count, int grid, int block)
    {
        HostCompiler.SkipIfUnavailable();
        var random = new Random(count);
        // small integers: every partial sum is exact, so any summation order gives the same double
        double[] data = Enumerable.Range(0, count).Select(_ => (double)random.Next(-1000, 1000)).ToArray();
        string folder = HostCompiler.NewWorkFolder("reduce");
        string file = Path.Combine(folder, "data.f64");
        File.WriteAllBytes(file, data.SelectMany(BitConverter.GetBytes).ToArray());

        var (code, stdout, stderr) = HostCompiler.Run(HostCompiler.Build("reduce_driver.cpp"),
            [file, grid.ToString(CultureInfo.InvariantCulture), block.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(code == 0, stderr);
        double[] sums = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ParseHexDouble).ToArray();

        Assert.Equal(grid, sums.Length);
        for (int b = 0; b < grid; b++)
        {
            double expected = 0;
            for (long i = (long)b * block; i < count; i += (long)grid * block)
                for (int t = 0; t < block && i + t < count; t++) expected += data[i + t];
            Assert.Equal(expected, sums[b]);
        }
    }

    private static double ParseHexDouble(string text)
    {
        // printf("%a"): [-]0x1.hhhp+e, or 0x0p+0
        text = text.Trim();
        bool negative = text.StartsWith('-');
        if (negative) text = text[1..];
        int p = text.IndexOf('p');
        string mantissa = text[2..p];
        int exponent = int.Parse(text[(p + 1)..], CultureInfo.InvariantCulture);
        string[] parts = mantissa.Split('.');
        double value = long.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (parts.Length == 2)
            for (int i = 0; i < parts[1].Length; i++)
                value += int.Parse(parts[1][i].ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) * Math.ScaleB(1, -4 * (i + 1));
        value = Math.ScaleB(value, exponent);
        return negative ? -value : value;
    }
}
