using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class ArceeFusionTests
{
    private static readonly ArceeFusion Method = new();

    [Theory]
    [MemberData(nameof(ShapeCases), MemberType = typeof(GeometricTestContext))]
    public void MatchesReference(int shape, Dtype dtype)
    {
        var family = Family(131 + shape, Shapes[shape], dtype, 2);
        var c = new GeometricCase(Shapes[shape], dtype, [family[1], family[0]], 1, null, Parameters());
        var expected = GeometricReference.ArceeFusion(family[0], family[1], Shapes[shape], out var importance, out double threshold);
        var single = Run(Method, c, threads: 1);
        Assert.Equal(single, Run(Method, c, threads: 4));
        var actual = Decode(single, dtype, expected.Length);

        // Outputs are the base or the donor value exactly; an element whose importance ties the threshold within
        // float32 rounding may fall either way (must be rare).
        int ties = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (actual[i] == expected[i]) continue;
            Assert.True(Math.Abs(importance[i] - threshold) <= 1e-6 * Math.Abs(threshold), $"element {i}");
            ties++;
        }
        Assert.True(ties <= 1, $"{ties} ties");
        if (expected.Length > 100)
        {
            int kept = expected.Where((v, i) => v != family[0][i]).Count();
            Assert.InRange(kept, 1, expected.Length / 4); // the outlier rule keeps a minority of the donor's values
        }
    }

    [Theory]
    [InlineData(100.0, true)]
    [InlineData(10.5, true)]
    [InlineData(9.9, false)] // kept under torch.quantile's interpolation (threshold 9.75), not under mergekit's index rule
    public void OutlierRuleHandComputed(double outlier, bool kept)
    {
        // One row; a = 0, so I = K·|b| with K = KL > 0. Sorted |b| = 1..7, outlier: Q1 = x[⌊1.75⌋] = 2,
        // median = x[⌊3.5⌋] = 4, Q3 = x[⌊5.25⌋] = 6: threshold = (4 + 1.5·4)·K = 10K; only the outlier can pass.
        double[] a = new double[8], b = [3, 1, outlier, 7, 2, 6, 4, 5];
        var c = new GeometricCase([1, 8], Dtype.F32, [a, b], 0, null, Parameters());
        RunAndCompare(Method, c, [0, 0, kept ? outlier : 0, 0, 0, 0, 0, 0]);
    }

    [Fact]
    public void SingleElementTakesTheDonor()
    {
        // One element: KL = 0, I = 0 = threshold, and I ≥ threshold keeps the donor.
        var c = new GeometricCase([1, 1], Dtype.F32, [[0.5], [0.25]], 0, null, Parameters());
        RunAndCompare(Method, c, [0.25]);
    }

    [Fact]
    public void WritesThePlannedOutputDtype()
    {
        var family = Family(141, [64, 48], Dtype.F32, 2);
        var expected = GeometricReference.ArceeFusion(family[0], family[1], [64, 48], out _, out _);
        var c = new GeometricCase([64, 48], Dtype.F32, family, 0, null, Parameters(), OutputDtype: Dtype.BF16);
        RunAndCompare(Method, c, expected);
    }

    [Fact]
    public void SelectFindsOrderStatistics()
    {
        var random = new Random(5);
        foreach (int n in new[] { 1, 2, 3, 10, 1000, 4097 })
        {
            // Many duplicates, to exercise equal keys.
            var values = Enumerable.Range(0, n).Select(_ => (float)random.Next(0, 50)).ToArray();
            var sorted = values.OrderBy(v => v).ToArray();
            foreach (int k in new[] { 0, n / 4, n / 2, n - 1 })
            {
                var copy = (float[])values.Clone();
                Assert.Equal(sorted[k], ArceeFusion.Select(copy, k));
                Assert.All(copy[..k], v => Assert.True(v <= sorted[k]));
                Assert.All(copy[(k + 1)..], v => Assert.True(v >= sorted[k]));
            }
        }
    }
}
