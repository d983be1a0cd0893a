using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Methods.Reference;
using static DotnetMerge.Tests.Methods.Reference.GeometricTestContext;

namespace DotnetMerge.Tests.Methods;

public sealed class ModelStockTests
{
    private static readonly ModelStock Method = new();

    public static TheoryData<int, Dtype, int, bool> Cases()
    {
        var data = new TheoryData<int, Dtype, int, bool>();
        for (int s = 0; s < Shapes.Length; s++)
            foreach (var dtype in new[] { Dtype.F32, Dtype.BF16 })
                foreach (int fineTunes in new[] { 2, 3 })
                    foreach (bool filterWise in new[] { false, true })
                        data.Add(s, dtype, fineTunes, filterWise);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(int shape, Dtype dtype, int fineTunes, bool filterWise)
    {
        var family = Family(101 + shape, Shapes[shape], dtype, fineTunes + 1);
        // Correlated fine-tunes (a shared delta) so that t is far from 0.
        var shared = Gaussian(7, Shapes[shape], 0.004, Dtype.F64);
        var models = family.Skip(1).Select(m => Representable(GeometricReference.Add(m, shared), dtype)).ToArray();
        var c = new GeometricCase(Shapes[shape], dtype, [models[0], family[0], .. models[1..]], 1, null,
            Parameters(("filter_wise", filterWise)));
        RunAndCompare(Method, c, GeometricReference.ModelStock(family[0], models, Shapes[shape], filterWise));
    }

    [Fact]
    public void OrthogonalOffsetsKeepTheBase()
    {
        // Offsets on disjoint elements: cos θ = 0, t = 0, output = base exactly.
        var w0 = Gaussian(111, [64, 48], 0.02, Dtype.BF16);
        var w1 = w0.Select((v, i) => i % 2 == 0 ? v + 0.25 : v).ToArray();
        var w2 = w0.Select((v, i) => i % 2 == 1 ? v - 0.25 : v).ToArray();
        var c = new GeometricCase([64, 48], Dtype.BF16, new[] { w0, w1, w2 }.Select(v => Representable(v, Dtype.BF16)).ToArray(), 0, null,
            Parameters(("filter_wise", false)));
        Assert.Equal(Encode(w0, Dtype.BF16), Run(Method, c, threads: 4));
    }

    [Fact]
    public void IdenticalOffsetsGiveTheFineTune()
    {
        // cos θ = 1: t = 2/(1 + 1) = 1, output = mean of the two (identical) fine-tunes.
        var w0 = Gaussian(112, [37, 129], 0.02, Dtype.F32);
        var w1 = Gaussian(113, [37, 129], 0.004, Dtype.F32, w0);
        var c = new GeometricCase([37, 129], Dtype.F32, [w0, w1, w1], 0, null, Parameters(("filter_wise", true)));
        RunAndCompare(Method, c, w1);
    }

    [Fact]
    public void NeedsTwoFineTunes()
    {
        var family = Family(114, [8], Dtype.F32, 2);
        var c = new GeometricCase([8], Dtype.F32, family, 0, null, Parameters(("filter_wise", false)));
        Assert.Throws<InvalidOperationException>(() => Run(Method, c, threads: 1));
    }
}
