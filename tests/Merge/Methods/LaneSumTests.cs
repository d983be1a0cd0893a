using DotnetMerge.Kernels;

namespace DotnetMerge.Tests.Methods;

/// <summary>LaneSum is the one summation order of every reduction (CPU and CUDA). The reference here is the rule
/// written out as plain scalar code: element j into accumulator j % 16, then the fixed tree.</summary>
public class LaneSumTests
{
    private static double ReferenceTotal(Func<int, double> term, int n)
    {
        var s = new double[16];
        for (int j = 0; j < n; j++) s[j % 16] = s[j % 16] + term(j);
        var t = new double[8];
        for (int l = 0; l < 8; l++) t[l] = s[l] + s[l + 8];
        for (int l = 0; l < 4; l++) t[l] = t[l] + t[l + 4];
        for (int l = 0; l < 2; l++) t[l] = t[l] + t[l + 2];
        return t[0] + t[1];
    }

    private static float[] Values(int n, int seed)
    {
        var random = new Random(seed);
        var v = new float[n];
        // Wide dynamic range, both signs: the order of additions shows in the last bits.
        for (int i = 0; i < n; i++) v[i] = (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-30, 30)));
        return v;
    }

    public static TheoryData<int> Lengths => [0, 1, 7, 15, 16, 17, 31, 33, 100, 1000, 4097, 65536 + 5];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Sums_follow_the_lane_rule_bit_for_bit(int n)
    {
        var v = Values(n, n + 1);
        Assert.Equal(BitConverter.DoubleToInt64Bits(ReferenceTotal(j => v[j], n)), BitConverter.DoubleToInt64Bits(LaneSum.Sum(v)));
        Assert.Equal(BitConverter.DoubleToInt64Bits(ReferenceTotal(j => Math.Abs((double)v[j]), n)), BitConverter.DoubleToInt64Bits(LaneSum.SumAbs(v)));
        Assert.Equal(BitConverter.DoubleToInt64Bits(ReferenceTotal(j => (double)v[j] * v[j], n)), BitConverter.DoubleToInt64Bits(LaneSum.SumSquares(v)));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Dot_follows_the_lane_rule_bit_for_bit(int n)
    {
        var a = Values(n, 2 * n + 3).Select(x => (double)x * 1.000000119).ToArray();
        var b = Values(n, 3 * n + 5).Select(x => (double)x / 3).ToArray();
        Assert.Equal(BitConverter.DoubleToInt64Bits(ReferenceTotal(j => a[j] * b[j], n)), BitConverter.DoubleToInt64Bits(LaneSum.Dot(a, b)));
    }

    [Fact]
    public void The_order_is_not_a_running_sum()
    {
        // 1e16 + 1 + ... : a running sum loses every 1.0 added after 1e16; spread over lanes they survive.
        var v = new float[32];
        v[0] = 1e16f;
        for (int j = 1; j < 32; j++) v[j] = 1f;
        double running = 0;
        foreach (float x in v) running += x;
        Assert.Equal(ReferenceTotal(j => v[j], 32), LaneSum.Sum(v));
        Assert.NotEqual(running, LaneSum.Sum(v));
    }

    [Fact]
    public void Total_needs_sixteen_accumulators() => Assert.Throws<ArgumentException>(() => LaneSum.Total(new double[8]));
}
