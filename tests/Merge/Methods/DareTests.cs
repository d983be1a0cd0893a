using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;

namespace DotnetMerge.Tests.Methods;

public class DareTests
{
    public static IEnumerable<object[]> Cases() => GtaCheck.ShapesAndDtypes();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dare_ties_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new DareTiesMerge();
        GtaCheck.Run(m, RefSparsify.Random, true, s, dtype, [1.0, 0.5, 0.8], 0.3, rescale: true);
        GtaCheck.Run(m, RefSparsify.Random, true, s, dtype, [1.0, 0.5], 0.3, normalize: true, rescale: "inverse", lambda: 0.8);
        GtaCheck.Run(m, RefSparsify.Random, true, s, dtype, [1.0, -0.5], 0.3, rescale: false, seed: 99);
        GtaCheck.Run(m, RefSparsify.Random, true, s, dtype, [1.0, 0.5], 1.0, rescale: true);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dare_linear_matches_reference(int shape, Dtype dtype)
    {
        var s = GtaFixture.Shapes[shape];
        var m = new DareLinearMerge();
        GtaCheck.Run(m, RefSparsify.Random, false, s, dtype, [0.6, 0.4], 0.3, rescale: "l1");
        GtaCheck.Run(m, RefSparsify.Random, false, s, dtype, [0.6, 0.4, 0.2], 0.5, normalize: true, rescale: "inverse", lambda: 1.2);
        GtaCheck.Run(m, RefSparsify.Random, false, s, dtype, [1.0, -1.0], 0.3, rescale: "none");
    }

    [Fact]
    public void Drops_about_one_minus_density()
    {
        var c = GtaCheck.Run(new DareLinearMerge(), RefSparsify.Random, false, [128, 128], Dtype.F32, [1.0], 0.3);
        var result = c.Result();
        int changed = Enumerable.Range(0, result.Length).Count(i => result[i] != c.Values[1][i]);
        Assert.InRange(changed / (double)result.Length, 0.28, 0.32);
    }

    public static IEnumerable<object[]> Randomised() =>
        new IMergeMethod[] { new DareTiesMerge(), new DareLinearMerge(), new DellaMerge(), new TiesMerge(), new BreadcrumbsTiesMerge() }.Select(m => new object[] { m.Name });

    [Theory]
    [MemberData(nameof(Randomised))]
    public void Output_bytes_do_not_depend_on_threads_or_chunk_size(string method)
    {
        byte[]? first = null;
        foreach (var settings in new[] { new ExecutionSettings(1, 1024), new ExecutionSettings(4, 1024), new ExecutionSettings(1, 65536), new ExecutionSettings(4, 65536), new ExecutionSettings(3, 4099) })
        {
            var values = GtaFixture.LlamaLike(5, 300 * 257, 3);
            var perModel = new List<IDictionary<string, object>> { GtaFixture.Params() };
            perModel.AddRange(new[] { 0.5, 0.3, 0.2 }.Select(w => (IDictionary<string, object>)GtaFixture.Params(("weight", w), ("density", 0.4), ("gamma", 0.01), ("epsilon", 0.1))));
            var c = GtaFixture.Build([300, 257], Dtype.BF16, values, 0,
                GtaFixture.Params(("normalize", true), ("rescale", true), ("lambda", 1.0)), perModel, seed: 1234, settings: settings);
            MethodRegistry.Find(method)!.Merge(c.Context);
            if (first is null) first = c.Output;
            else Assert.Equal(first, c.Output);
        }
    }

    [Fact]
    public void Seed_and_tensor_name_change_the_mask()
    {
        byte[] Run(ulong seed, string name)
        {
            var values = GtaFixture.LlamaLike(5, 1000, 1);
            var c = GtaFixture.Build([1000], Dtype.F32, values, 0, GtaFixture.Params(("normalize", false), ("rescale", false), ("lambda", 1.0)),
                [GtaFixture.Params(), GtaFixture.Params(("weight", 1.0), ("density", 0.5))], seed: seed, name: name);
            new DareLinearMerge().Merge(c.Context);
            return c.Output;
        }
        Assert.Equal(Run(1, "a"), Run(1, "a"));
        Assert.NotEqual(Run(1, "a"), Run(2, "a"));
        Assert.NotEqual(Run(1, "a"), Run(1, "b"));
    }
}
