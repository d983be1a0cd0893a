using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GtaFixture;

namespace DotnetMerge.Tests.Methods;

public class SceTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_reference(int shape, Dtype dtype)
    {
        var s = Shapes[shape];
        foreach (var (topk, fineTunes) in new[] { (1.0, 3), (0.3, 3), (0.5, 2), (0.3, 1) })
        {
            var values = LlamaLike(shape + 20, s.Aggregate(1L, (a, d) => a * d), fineTunes);
            var perModel = values.Select(_ => (IDictionary<string, object>)Params()).ToList();
            var c = Build(s, dtype, values, 0, Params(("select_topk", topk), ("int8_mask", false)), perModel);
            new SceMerge().Merge(c.Context);
            AssertMatches(c, GtaReference.Sce(c.Values, 0, topk));
        }
    }
}
