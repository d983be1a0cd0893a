using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class DellaTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Della_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new DellaMerge();
        GtaCheck.Run(m, RefSparsify.Della, true, s, dtype, [1.0, 0.5, 0.8], 0.3, epsilon: 0.15, normalize: true, rescale: true);
        GtaCheck.Run(m, RefSparsify.Della, true, s, dtype, [1.0, -0.5], 0.5, epsilon: 0.1, lambda: 1.2, rescale: "inverse");
        GtaCheck.Run(m, RefSparsify.Della, true, s, dtype, [1.0, 0.5], 1.0, epsilon: 0.15, normalize: true, rescale: true);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Della_linear_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new DellaLinearMerge();
        GtaCheck.Run(m, RefSparsify.Della, false, s, dtype, [0.6, 0.4], 0.3, epsilon: 0.2, rescale: true);
        GtaCheck.Run(m, RefSparsify.Della, false, s, dtype, [0.6, 0.4], 0.4, epsilon: 0.05, rescale: false, normalize: true);
    }

    [Fact]
    public void Larger_magnitudes_survive_more_often()
    {
        var c = GtaCheck.Run(new DellaLinearMerge(), RefSparsify.Della, false, [16, 4096], Dtype.F32, [1.0], 0.5, epsilon: 0.4);
        var result = c.Result();
        var delta = c.Values[0].Select((v, i) => Math.Abs(v - c.Values[1][i])).ToArray();
        double median = delta.OrderBy(v => v).ElementAt(delta.Length / 2);
        double KeptFraction(Func<double, bool> which)
        {
            var idx = Enumerable.Range(0, delta.Length).Where(i => which(delta[i])).ToArray();
            return idx.Count(i => result[i] != c.Values[1][i]) / (double)idx.Length;
        }
        Assert.True(KeptFraction(d => d > median) > KeptFraction(d => d <= median) + 0.3);
    }

    [Fact]
    public void A_first_model_with_density_zero_keeps_the_chunks_on_whole_rows()
    {
        // Rows of 100 with chunks of 1024: only the DELLA pruner of the second model knows the rows. A zero-density
        // first model contributes nothing, exactly as a model equal to the base would.
        long[] shape = [12, 100];
        var random = new Random(5);
        double[] Values() => Enumerable.Range(0, 1200).Select(_ => random.NextDouble() - 0.5).ToArray();
        var b = Values();
        var ft1 = Values();
        var ft2 = Values();
        var global = GtaFixture.Params(("normalize", true), ("lambda", 1.0));
        var dropped = GtaFixture.Build(shape, Dtype.F32, [b, ft1, ft2], 0, global,
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.0), ("epsilon", 0.1)),
             GtaFixture.Params(("weight", 0.7), ("density", 0.5), ("epsilon", 0.1))]);
        var unchanged = GtaFixture.Build(shape, Dtype.F32, [b, b, ft2], 0, global,
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.5), ("epsilon", 0.1)),
             GtaFixture.Params(("weight", 0.7), ("density", 0.5), ("epsilon", 0.1))]);
        new DellaMerge().Merge(dropped.Context);
        new DellaMerge().Merge(unchanged.Context);
        Assert.Equal(unchanged.Result(), dropped.Result());
        Assert.Contains(dropped.Result().Select((v, i) => v != b[i]), changed => changed);
    }

    [Fact]
    public void Density_plus_epsilon_outside_the_unit_interval_is_an_error()
    {
        var c = GtaFixture.Build([4], Dtype.F32, [new double[4], [1, 2, 3, 4]], 0,
            GtaFixture.Params(("normalize", true), ("rescale", true), ("lambda", 1.0)),
            [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.9), ("epsilon", 0.15))]);
        Assert.Contains("epsilon", Assert.Throws<ArgumentException>(() => new DellaMerge().Merge(c.Context)).Message);
    }
}
