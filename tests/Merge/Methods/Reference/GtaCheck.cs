using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tests.Methods.Reference;

/// <summary>Runs a task-arithmetic-family method on llama-like random inputs and compares it with
/// <see cref="GtaReference.TaskArithmetic"/>.</summary>
public static class GtaCheck
{
    public static RefRescale ParseRescale(object value) => value switch
    {
        true => RefRescale.L1,
        false => RefRescale.None,
        "l1" => RefRescale.L1,
        "inverse" => RefRescale.Inverse,
        _ => RefRescale.None,
    };

    /// <summary>Base is input 1 (not first, to check the base index is honoured); one weight per fine-tune.</summary>
    public static GtaCase Run(IMergeMethod method, RefSparsify sparsify, bool consensus, long[] shape, Dtype dtype,
        double[] weights, double density, bool normalize = false, object? rescale = null, double lambda = 1,
        double gamma = 0.01, double epsilon = 0.15, int dataSeed = 7, ulong seed = 42)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var fineTunes = GtaFixture.LlamaLike(dataSeed, n, weights.Length);
        // Order: fine-tune 0, base, fine-tunes 1..
        var values = new List<double[]> { fineTunes[1], fineTunes[0] };
        values.AddRange(fineTunes.Skip(2));
        int baseIndex = 1;
        var models = new GtaReference.Model[values.Count];
        var perModel = new List<IDictionary<string, object>>();
        for (int i = 0, w = 0; i < values.Count; i++)
        {
            double weight = i == baseIndex ? 0 : weights[w++];
            models[i] = new GtaReference.Model(weight, density, gamma, epsilon);
            perModel.Add(i == baseIndex ? GtaFixture.Params()
                : GtaFixture.Params(("weight", weight), ("density", density), ("gamma", gamma), ("epsilon", epsilon)));
        }
        rescale ??= false;
        var global = GtaFixture.Params(("normalize", normalize), ("rescale", rescale), ("lambda", lambda), ("int8_mask", false));
        var c = GtaFixture.Build(shape, dtype, values.ToArray(), baseIndex, global, perModel, seed);
        method.Merge(c.Context);
        long row = shape.Length >= 2 ? shape[^1] : n;
        var expected = GtaReference.TaskArithmetic(c.Values, baseIndex, models, sparsify, consensus, normalize,
            ParseRescale(rescale), lambda, seed, GtaFixture.TensorName, row);
        GtaFixture.AssertMatches(c, expected);
        return c;
    }

    public static IEnumerable<object[]> ShapesAndDtypes()
    {
        for (int s = 0; s < GtaFixture.Shapes.Length; s++)
            foreach (var dtype in new[] { Dtype.F32, Dtype.BF16 })
                yield return [s, dtype];
    }
}
