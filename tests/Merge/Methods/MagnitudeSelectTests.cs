using DotnetMerge.Kernels;

namespace DotnetMerge.Tests.Methods;

public class MagnitudeSelectTests
{
    private static FloatSource From(float[] values) => (start, destination) => values.AsSpan((int)start, destination.Length).CopyTo(destination);

    private static float[] Data(int n, int distinct, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => distinct > 0 ? random.Next(distinct) * 0.25f - 3 : (float)(random.NextDouble() * 2 - 1) * 1e3f).ToArray();
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(1000, 0)]
    [InlineData(5000, 7)]
    [InlineData(70000, 0)]
    [InlineData(70000, 50)]
    public void Kth_largest_and_smallest_match_a_sort(int n, int distinct)
    {
        var values = Data(n, distinct, n + distinct);
        var sorted = values.OrderBy(v => v).ToArray();
        var settings = new ExecutionSettings(3, 4096);
        foreach (long k in new long[] { 1, 2, n / 3 + 1, n / 2 + 1, n })
        {
            if (k > n) continue;
            Assert.Equal(sorted[n - k], MagnitudeSelect.KthLargest(n, k, From(values), settings));
            Assert.Equal(sorted[k - 1], MagnitudeSelect.KthSmallest(n, k, From(values), settings));
        }
    }

    [Theory]
    [InlineData(20000, 3, 1, 1024)]
    [InlineData(20000, 3, 4, 65536)]
    [InlineData(9999, 40, 2, 333)]
    [InlineData(9999, 0, 2, 1000)]
    public void Top_set_equals_the_first_k_of_a_stable_descending_sort(int n, int distinct, int threads, int chunk)
    {
        var values = Data(n, distinct, 11);
        var settings = new ExecutionSettings(threads, chunk);
        var order = Enumerable.Range(0, n).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();
        foreach (long k in new long[] { 0, 1, n / 10, n / 2, n - 1, n })
        {
            var expected = new bool[n];
            foreach (int i in order.Take((int)k)) expected[i] = true;
            var set = MagnitudeSelect.SelectTop(n, k, From(values), settings);
            for (int i = 0; i < n; i++)
                if (expected[i] != set.Contains(values[i], i)) Assert.Fail($"k = {k}, element {i}");
        }
    }

    [Fact]
    public void Magnitudes_of_an_input_tensor()
    {
        var values = new double[] { 0.5, -4, 2, -2, 3, 1 };
        var c = Reference.GtaFixture.Build([6], global::DotnetMerge.Numerics.Dtype.F32, [values], -1, new Dictionary<string, object>(), [new Dictionary<string, object>()]);
        Assert.Equal(4f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 1, c.Context.Settings));
        Assert.Equal(2f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 4, c.Context.Settings));
        Assert.Equal(0.5f, MagnitudeSelect.KthLargestMagnitude(c.Context.Inputs[0], 6, c.Context.Settings));
    }
}
