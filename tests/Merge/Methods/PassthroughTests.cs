using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GtaFixture;

namespace DotnetMerge.Tests.Methods;

public class PassthroughTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Scales_or_copies(int shape, Dtype dtype)
    {
        var s = Shapes[shape];
        var values = LlamaLike(3, s.Aggregate(1L, (a, d) => a * d), 0);
        foreach (double? scale in new double?[] { null, 0.5, -1.7 })
        {
            var c = Build(s, dtype, values, -1, Params(), [scale is { } v ? Params(("scale", v)) : Params()]);
            new PassthroughMerge().Merge(c.Context);
            AssertMatches(c, GtaReference.Passthrough(c.Values[0], scale ?? 1));
            if (scale is null) Assert.Equal(Write(dtype, c.Values[0]), c.Output);
        }
    }

    [Fact]
    public void More_than_one_input_is_an_error()
    {
        var c = Build([2], Dtype.F32, [[1, 2], [3, 4]], -1, Params(), [Params(), Params()]);
        Assert.Throws<InvalidOperationException>(() => new PassthroughMerge().Merge(c.Context));
    }
}
