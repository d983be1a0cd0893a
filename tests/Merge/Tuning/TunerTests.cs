using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Tests.Soups;
using DotnetMerge.Tuning;

namespace DotnetMerge.Tests.Tuning;

/// <summary>Searches whose optimum is known: task arithmetic of a zero base and two fine-tunes whose norm tensors are the
/// unit vectors e0 and e1, so the merged norm is (w1, w2, 0, 0); the evaluator reads that tensor (decoding it itself) and
/// scores −‖(m0, m1) − target‖².</summary>
public sealed class TunerTests : IDisposable
{
    private readonly SoupFixture _fx = new();
    private const double T1 = 0.3, T2 = -0.4;

    public void Dispose() => _fx.Dispose();

    private string Definition(string w1, string w2)
    {
        var zeros = new double[4];
        _fx.Write("base", Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, zeros));
        _fx.Write("a", Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, new double[] { 1, 0, 0, 0 }));
        _fx.Write("b", Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, new double[] { 0, 1, 0, 0 }));
        return $"""
            # two searched weights
            merge_method: task_arithmetic
            base_model: {_fx.PathOf("base")}
            models:
              - model: {_fx.PathOf("a")}
                parameters:
                  weight: {w1}   # first
              - model: {_fx.PathOf("b")}
                parameters:
                  weight:
                    search: {w2}
            dtype: float32
            """;
    }

    private static double Score(double m0, double m1) => -((m0 - T1) * (m0 - T1) + (m1 - T2) * (m1 - T2));

    private static Func<string, CancellationToken, Task<double>> Evaluator(List<string>? calls = null, int failAfter = int.MaxValue)
        => (dir, _) =>
        {
            lock (calls ?? new List<string>())
            {
                if (calls is not null && calls.Count >= failAfter) throw new OperationCanceledException("stopped");
                calls?.Add(dir);
            }
            var m = SoupFixture.Read(dir, SoupFixture.Norm);
            return Task.FromResult(Score(m[0], m[1]));
        };

    private TuneOptions Options(string strategy, int budget, ulong seed = 0, string output = "out") => new()
    {
        OutputDirectory = _fx.PathOf(output),
        Budget = budget,
        Strategy = strategy,
        Seed = seed,
        WorkDirectory = _fx.Root,
    };

    private SearchSpace Space(string text) => SearchSpace.Parse(text, Path.Combine(_fx.Root, "tune.yaml"), out _);

    [Fact]
    public async Task Grid_FindsTheGridOptimumExactly_AndWritesItWithItsDefinitionCardAndReport()
    {
        var space = Space(Definition("{search: [0.0, 1.0]}", "[-1.0, 1.0]"));
        var calls = new List<string>();
        var result = await Tuner.RunAsync(space, Evaluator(calls), Options("grid", 25));

        // The grid is 5 × 5 (the largest that fits 25): w1 in {0, .25, .5, .75, 1}, w2 in {-1, -.5, 0, .5, 1}; its optimum by
        // enumeration in float64:
        var grid = from i in Enumerable.Range(0, 5) from j in Enumerable.Range(0, 5) select (W1: i / 4.0, W2: -1 + j * 0.5);
        var expected = grid.OrderByDescending(p => Score(p.W1, p.W2)).First();
        Assert.Equal(25, calls.Count);
        Assert.Equal(25, result.Trials.Count);
        Assert.Equal(expected.W1, (double)result.Best.Values[0]);
        Assert.Equal(expected.W2, (double)result.Best.Values[1]);
        Assert.Equal(Score(expected.W1, expected.W2), result.Best.Score!.Value, 6);
        var merged = SoupFixture.Read(result.OutputDirectory, SoupFixture.Norm);
        Assert.Equal(new[] { expected.W1, expected.W2, 0, 0 }, merged);

        // The definition recorded in the output is the user's text with the values written in (comments kept).
        var recorded = File.ReadAllText(Path.Combine(result.OutputDirectory, "mergekit_config.yml"));
        Assert.Contains("weight: 0.25   # first", recorded);
        Assert.DoesNotContain("search:", recorded);
        var card = File.ReadAllText(Path.Combine(result.OutputDirectory, "README.md"));
        Assert.Contains("### Tuning", card);
        Assert.Equal(25, card.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\| (\*\*)?\d+(\*\*)? \|")));
        var html = File.ReadAllText(Path.Combine(result.OutputDirectory, TuneReport.ReportFile));
        Assert.Contains("<svg", html);
        Assert.Equal(25, System.Text.RegularExpressions.Regex.Matches(html, "<circle").Count);
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, TuneReport.ChartFile)));
        // Candidates were deleted once scored.
        Assert.Empty(Directory.GetDirectories(_fx.Root, ".out.tune-*"));
    }

    [Fact]
    public async Task Grid_OverASetAndARange_ReturnsTheSetValueOfTheOptimum()
    {
        var space = Space(Definition("{search: {values: [0.1, 0.3, 0.5]}}", "[-1.0, 1.0]"));
        var result = await Tuner.RunAsync(space, Evaluator(), Options("grid", 15) with { GridPoints = 5 });
        Assert.Equal(15, result.Trials.Count);
        Assert.Equal(0.3, (double)result.Best.Values[0]);
        Assert.Equal(-0.5, (double)result.Best.Values[1]);
    }

    [Theory]
    [InlineData("random", 60, 0.15)]
    [InlineData("cma-es", 60, 0.05)]
    public async Task RandomAndCmaEs_FindTheOptimumWithinTolerance_DeterministicallyForASeed(string strategy, int budget, double tolerance)
    {
        var text = Definition("{search: [0.0, 1.0]}", "[-1.0, 1.0]");
        var first = await Tuner.RunAsync(Space(text), Evaluator(), Options(strategy, budget, seed: 42, output: "one"));
        var again = await Tuner.RunAsync(Space(text), Evaluator(), Options(strategy, budget, seed: 42, output: "two"));

        double w1 = (double)first.Best.Values[0], w2 = (double)first.Best.Values[1];
        Assert.True(Math.Sqrt((w1 - T1) * (w1 - T1) + (w2 - T2) * (w2 - T2)) < tolerance, $"{strategy} best ({w1}, {w2}) is not within {tolerance} of ({T1}, {T2})");
        Assert.Equal(budget, first.Trials.Count);
        Assert.Equal(first.Trials.Select(t => t.Values.Cast<double>().ToArray()), again.Trials.Select(t => t.Values.Cast<double>().ToArray()));
        Assert.Equal(first.Trials.Select(t => t.Score), again.Trials.Select(t => t.Score));
        var other = await Tuner.RunAsync(Space(text), Evaluator(), Options(strategy, budget, seed: 7, output: "three"));
        Assert.NotEqual(first.Trials.Select(t => (double)t.Values[0]), other.Trials.Select(t => (double)t.Values[0]));
    }

    [Fact]
    public async Task Parallel_GivesTheSameTrialsAsOneAtATime()
    {
        var text = Definition("{search: [0.0, 1.0]}", "[-1.0, 1.0]");
        var serial = await Tuner.RunAsync(Space(text), Evaluator(), Options("cma-es", 24, seed: 3, output: "serial"));
        var parallel = await Tuner.RunAsync(Space(text), Evaluator(), Options("cma-es", 24, seed: 3, output: "parallel") with { Parallel = 4 });
        Assert.Equal(serial.Trials.Select(t => t.Score), parallel.Trials.Select(t => t.Score));
    }

    [Fact]
    public async Task Resume_ContinuesWithoutRerunningFinishedTrials()
    {
        var text = Definition("{search: [0.0, 1.0]}", "[-1.0, 1.0]");
        var complete = await Tuner.RunAsync(Space(text), Evaluator(), Options("cma-es", 20, seed: 5, output: "complete"));

        var firstCalls = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Tuner.RunAsync(Space(text), Evaluator(firstCalls, failAfter: 9), Options("cma-es", 20, seed: 5)));
        Assert.Equal(9, firstCalls.Count);
        Assert.False(Directory.Exists(_fx.PathOf("out")));
        var log = TuneOptions.DefaultLogPath(_fx.PathOf("out"));
        Assert.Equal(1 + 9, File.ReadAllLines(log).Length); // the header and the nine finished trials

        // Without --resume an existing log is refused; with it, only the eleven missing trials run.
        await Assert.ThrowsAsync<MergeException>(() => Tuner.RunAsync(Space(text), Evaluator(), Options("cma-es", 20, seed: 5)));
        var secondCalls = new List<string>();
        var resumed = await Tuner.RunAsync(Space(text), Evaluator(secondCalls), Options("cma-es", 20, seed: 5) with { Resume = true });
        Assert.Equal(11, secondCalls.Count);
        Assert.Equal(11, resumed.Evaluated);
        Assert.Equal(9, resumed.Resumed);
        Assert.Equal(complete.Trials.Select(t => t.Score), resumed.Trials.Select(t => t.Score));
        Assert.Equal(complete.Best.Number, resumed.Best.Number);

        // A log of another search (another seed) is refused.
        var e = await Assert.ThrowsAsync<MergeException>(() => Tuner.RunAsync(Space(text), Evaluator(), Options("cma-es", 20, seed: 6, output: "out") with { Resume = true, Merge = new MergeOptions { Force = true } } ));
        Assert.Equal(ErrorIds.TuneLogMismatch, e.Id);
    }

    [Fact]
    public async Task Resume_OfAGrid_WithAnotherBudget_ContinuesTheSameGrid_AndNamesAChangedOne()
    {
        // One searched range and one set of 3: --budget 12 fits 4 points per range (3·4 = 12), --budget 15 fits 5.
        var text = Definition("{search: {values: [0.1, 0.3, 0.5]}}", "[-1.0, 1.0]");
        var firstCalls = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Tuner.RunAsync(Space(text), Evaluator(firstCalls, failAfter: 5), Options("grid", 12)));
        Assert.Equal(5, firstCalls.Count);

        // A larger budget that makes another grid is refused, naming the grid and how to keep it.
        var e = await Assert.ThrowsAsync<MergeException>(() => Tuner.RunAsync(Space(text), Evaluator(), Options("grid", 15) with { Resume = true }));
        Assert.Equal(ErrorIds.TuneLogMismatch, e.Id);
        Assert.Contains("the grid had 4 points per range, now 5", e.Message);
        Assert.Contains("--grid-points 4", e.Message);

        // The same grid with that budget continues: the 5 logged trials are kept, and the grid of 12 runs to its end.
        var calls = new List<string>();
        var resumed = await Tuner.RunAsync(Space(text), Evaluator(calls), Options("grid", 15) with { Resume = true, GridPoints = 4 });
        Assert.Equal(7, calls.Count);
        Assert.Equal((5, 7, 12), (resumed.Resumed, resumed.Evaluated, resumed.Trials.Count));
        var complete = await Tuner.RunAsync(Space(text), Evaluator(), Options("grid", 12, output: "complete"));
        Assert.Equal(complete.Trials.Select(t => t.Score), resumed.Trials.Select(t => t.Score));

        // A smaller budget on the same grid (given explicitly) stops at it, taking the logged trials.
        calls.Clear();
        var shorter = await Tuner.RunAsync(Space(text), Evaluator(calls), Options("grid", 3) with { Resume = true, GridPoints = 4, Merge = new MergeOptions { Force = true } });
        Assert.Empty(calls);
        Assert.Equal(3, shorter.Trials.Count);

        // Another strategy is named as such.
        var other = await Assert.ThrowsAsync<MergeException>(() => Tuner.RunAsync(Space(text), Evaluator(), Options("random", 12) with { Resume = true, Merge = new MergeOptions { Force = true } }));
        Assert.Contains("--strategy was \"grid\", now \"random\"", other.Message);
    }

    [Fact]
    public async Task Keep_LeavesEveryCandidate()
    {
        var space = Space(Definition("{search: {values: [0.1, 0.3]}}", "[0.0, 1.0]"));
        await Tuner.RunAsync(space, Evaluator(), Options("grid", 4) with { Keep = true, GridPoints = 2 });
        var kept = Directory.GetDirectories(_fx.PathOf("out") + ".trials");
        Assert.Equal(4, kept.Length);
        Assert.Equal(0.1, SoupFixture.Read(Path.Combine(_fx.PathOf("out") + ".trials", "trial-0001"), SoupFixture.Norm)[0], 6);
    }

    [Fact]
    public void NoSearchForm_IsADefinitionError()
    {
        var e = Assert.Throws<MergeException>(() => Space(Definition("0.5", "[0.0, 1.0]").Replace("search: [0.0, 1.0]", "0.5")));
        Assert.Equal(ErrorIds.NothingToSearch, e.Id);
        Assert.Equal(MergeErrorKind.Definition, e.Kind);
    }

    [Fact]
    public async Task BudgetBelowOne_IsRefused()
    {
        var space = Space(Definition("{search: [0.0, 1.0]}", "[-1.0, 1.0]"));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Tuner.RunAsync(space, Evaluator(), Options("grid", 0)));
        Assert.Contains("--budget 0", e.Message);
    }
}
