using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Soups;

namespace DotnetMerge.Tests.Soups;

public sealed class GreedySoupTests : IDisposable
{
    private readonly SoupFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private const double Target = 1.8;

    /// <summary>Ingredients whose norm tensor is the constant w; the other tensor differs per model.</summary>
    private List<string> Ingredients(double[] norms)
        => norms.Select((w, i) => _fx.Write($"m{i}", Dtype.F32,
            (SoupFixture.Norm, new long[] { 4 }, SoupFixture.Constant(4, w)),
            (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 100 + i)))).ToList();

    /// <summary>Scores a model by reading its norm tensor (independently of the product): −|mean − target|.</summary>
    private static Func<string, CancellationToken, Task<double>> Evaluator(List<string> calls)
        => (dir, _) =>
        {
            calls.Add(dir);
            return Task.FromResult(-Math.Abs(SoupFixture.Read(dir, SoupFixture.Norm).Average() - Target));
        };

    /// <summary>The greedy soup algorithm on the scalar weights, in float64: the expected kept/rejected sequence.</summary>
    private static (List<int> Order, List<bool> Kept) Reference(double[] w, bool strict)
    {
        var order = Enumerable.Range(0, w.Length).OrderByDescending(i => -Math.Abs(w[i] - Target)).ToList();
        var soup = new List<double> { w[order[0]] };
        double best = -Math.Abs(w[order[0]] - Target);
        var kept = new List<bool> { true };
        foreach (var i in order.Skip(1))
        {
            double score = -Math.Abs((soup.Sum() + w[i]) / (soup.Count + 1) - Target);
            bool keep = strict ? score > best : score >= best;
            kept.Add(keep);
            if (keep) { soup.Add(w[i]); best = score; }
        }
        return (order, kept);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Greedy_KeepsAndRejectsLikeTheReference_AndWritesTheMeanOfTheKeptIngredients(bool strict)
    {
        // m0 and m1 tie (an ingredient equal to the soup): kept with >=, rejected with --strict.
        double[] w = { 2.0, 2.0, 1.0, 3.5, 1.5 };
        var models = Ingredients(w);
        var calls = new List<string>();
        var output = _fx.PathOf("soup");
        var result = await ModelSoup.GreedyAsync(models, Evaluator(calls), new SoupOptions { OutputDirectory = output, Strict = strict });

        var (order, kept) = Reference(w, strict);
        Assert.Equal(strict ? new[] { true, false, true, false, false } : new[] { true, true, true, false, false }, kept); // the design of this case
        Assert.Equal(order.Select(i => models[i]), result.Steps.Select(s => s.Model));
        Assert.Equal(kept, result.Steps.Select(s => s.Decision != SoupDecision.Rejected));
        Assert.Equal(SoupDecision.Start, result.Steps[0].Decision);
        for (int s = 0; s < order.Count; s++) Assert.Equal(-Math.Abs(w[order[s]] - Target), result.Steps[s].Score!.Value, 12);

        // Every ingredient scored once, then one candidate per remaining ingredient; candidates are gone afterwards.
        Assert.Equal(w.Length + w.Length - 1, calls.Count);
        Assert.Equal(models, calls.Take(w.Length));
        Assert.All(calls.Skip(w.Length), c => Assert.False(Directory.Exists(c), $"candidate {c} was not removed"));
        Assert.Equal(new[] { "m0", "m1", "m2", "m3", "m4", "soup" }, Directory.GetFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order());

        // Final weights and tensors: the mean of the kept ingredients.
        var keptModels = order.Where((_, s) => kept[s]).ToHashSet();
        Assert.Equal(models.Select((_, i) => keptModels.Contains(i) ? 1.0 / keptModels.Count : 0.0), result.Weights.Select(x => x.Weight));
        foreach (var name in new[] { SoupFixture.Norm, SoupFixture.Up })
        {
            var got = SoupFixture.Read(output, name);
            var inputs = keptModels.Select(i => SoupFixture.Read(models[i], name)).ToList();
            for (int e = 0; e < got.Length; e++)
                Assert.Equal((float)(inputs.Sum(x => x[e]) / inputs.Count), (float)got[e]);
        }
        double keptMean = keptModels.Average(i => w[i]);
        Assert.Equal(-Math.Abs(keptMean - Target), result.SoupScore!.Value, 6);
        var card = File.ReadAllText(Path.Combine(output, "README.md"));
        Assert.Contains("| 2 | `" + models[order[1]] + "` |", card);
        Assert.Contains(strict ? "strictly improves" : "does not drop", card);
    }

    [Fact]
    public async Task Greedy_CandidateIsTheRunningMeanInTheModelsDtype()
    {
        // bf16 ingredients: the evaluated candidate must be the float32 running mean rounded to bf16 once.
        var a = _fx.Write("a", Dtype.BF16, (SoupFixture.Norm, new long[] { 4 }, new[] { 1.0, 2.0, 3.0, 4.0 }), (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 1)));
        var b = _fx.Write("b", Dtype.BF16, (SoupFixture.Norm, new long[] { 4 }, new[] { 1.5, 2.5, 3.5, 4.5 }), (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 2)));
        var c = _fx.Write("c", Dtype.BF16, (SoupFixture.Norm, new long[] { 4 }, new[] { 2.0, 3.0, 4.0, 5.25 }), (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 3)));
        var seen = new List<(double[] Up, Dtype Dtype)>();
        var scores = new Dictionary<string, double> { [a] = 3, [b] = 2, [c] = 1 };
        await ModelSoup.GreedyAsync(new[] { a, b, c }, (dir, _) =>
        {
            if (scores.TryGetValue(dir, out var s)) return Task.FromResult(s);
            seen.Add((SoupFixture.Read(dir, SoupFixture.Up, out var dtype), dtype));
            return Task.FromResult(10.0); // every candidate improves
        }, new SoupOptions { OutputDirectory = _fx.PathOf("out") });

        var ua = SoupFixture.Read(a, SoupFixture.Up);
        var ub = SoupFixture.Read(b, SoupFixture.Up);
        var uc = SoupFixture.Read(c, SoupFixture.Up);
        Assert.Equal(2, seen.Count);
        Assert.All(seen, s => Assert.Equal(Dtype.BF16, s.Dtype));
        for (int e = 0; e < 12; e++)
        {
            float two = (float)((ua[e] + ub[e]) / 2);
            float three = (float)((two * 2.0 + uc[e]) / 3);
            Assert.Equal(SoupFixture.Encode(Dtype.BF16, new double[] { two }), SoupFixture.Encode(Dtype.BF16, new[] { seen[0].Up[e] }));
            Assert.Equal(SoupFixture.Encode(Dtype.BF16, new double[] { three }), SoupFixture.Encode(Dtype.BF16, new[] { seen[1].Up[e] }));
        }
    }

    [Fact]
    public async Task Greedy_EvaluatorFailureOnACandidate_LeavesNoOutputAndNoScratch()
    {
        var models = Ingredients(new[] { 2.0, 1.0 });
        int calls = 0;
        var output = _fx.PathOf("soup");
        await Assert.ThrowsAsync<EvaluatorException>(() => ModelSoup.GreedyAsync(models, (_, _) =>
            ++calls <= 2 ? Task.FromResult(1.0) : throw new EvaluatorException(ErrorIds.EvaluatorFailed, "boom"), new SoupOptions { OutputDirectory = output }));
        Assert.Equal(new[] { "m0", "m1" }, Directory.GetFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Greedy_CancelledDuringEvaluation_CleansUp()
    {
        var models = Ingredients(new[] { 2.0, 1.0 });
        using var cts = new CancellationTokenSource();
        int calls = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ModelSoup.GreedyAsync(models, (_, ct) =>
        {
            if (++calls <= 2) return Task.FromResult(1.0);
            cts.Cancel();
            ct.ThrowIfCancellationRequested();
            return Task.FromResult(0.0);
        }, new SoupOptions { OutputDirectory = _fx.PathOf("soup") }, null, cts.Token));
        Assert.Equal(new[] { "m0", "m1" }, Directory.GetFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Greedy_IncompatibleIngredients_AreRefusedBeforeAnyEvaluation()
    {
        var a = _fx.Write("a", Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, SoupFixture.Constant(4, 1)), (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Random(12, 1)));
        var b = _fx.Write("b", Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, SoupFixture.Constant(4, 1)), (SoupFixture.Up, new long[] { 2, 4 }, SoupFixture.Random(8, 1)));
        int calls = 0;
        var e = await Assert.ThrowsAnyAsync<MergeException>(() => ModelSoup.GreedyAsync(new[] { a, b }, (_, _) => Task.FromResult((double)++calls),
            new SoupOptions { OutputDirectory = _fx.PathOf("soup") }));
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains(SoupFixture.Up, e.Message);
        Assert.Equal(0, calls);
    }
}
