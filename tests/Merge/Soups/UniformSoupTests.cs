using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using DotnetMerge.Soups;

namespace DotnetMerge.Tests.Soups;

public sealed class UniformSoupTests : IDisposable
{
    private readonly SoupFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private static readonly LlamaSpec Spec = new(Layers: 2, Hidden: 16, Intermediate: 24, Vocab: 40, Heads: 2, KvHeads: 1);

    private async Task<List<string>> FineTunesAsync()
    {
        var dirs = new List<string>();
        foreach (var (name, filter, seed) in new[] { ("a", "mlp", 5UL), ("b", "self_attn", 6UL), ("c", "", 7UL) })
        {
            var dir = _fx.PathOf(name);
            await SyntheticModels.WriteFineTuneAsync(dir, Spec, new FineTune(name, filter, 0, 0.1, 1.0, seed));
            dirs.Add(dir);
        }
        return dirs;
    }

    [Fact]
    public async Task Uniform_EqualsTheLinearMethodWithEqualWeights_AndTheFloat64Mean()
    {
        var models = await FineTunesAsync();
        var soup = _fx.PathOf("soup");
        var result = await ModelSoup.UniformAsync(models, new SoupOptions { OutputDirectory = soup });
        Assert.All(result.Weights, w => Assert.Equal(1.0 / 3, w.Weight));

        var yaml = "merge_method: linear\nmodels:\n" + string.Concat(models.Select(m => $"  - model: {m}\n    parameters: {{weight: 2.5}}\n"));
        var definition = MergeRunner.ParseDefinition(yaml, _fx.PathOf("linear.yaml"), out _);
        var linear = _fx.PathOf("linear");
        await MergeRunner.RunAsync(definition, linear, new MergeOptions());

        using var a = ModelCheckpoint.Open(soup);
        using var b = ModelCheckpoint.Open(linear);
        Assert.Equal(b.TensorNames.Order(), a.TensorNames.Order());
        foreach (var name in a.TensorNames)
            Assert.Equal(SoupFixture.Read(linear, name), SoupFixture.Read(soup, name));

        // and against the mean computed here: within half a bf16 ulp (plus float slack)
        foreach (var name in new[] { "model.layers.1.mlp.up_proj.weight", "model.embed_tokens.weight" })
        {
            var inputs = models.Select(m => SoupFixture.Read(m, name)).ToList();
            var got = SoupFixture.Read(soup, name, out var dtype);
            Assert.Equal(Dtype.BF16, dtype);
            for (int e = 0; e < got.Length; e++)
            {
                double mean = inputs.Sum(x => x[e]) / 3;
                Assert.True(Math.Abs(got[e] - mean) <= Math.Abs(mean) * Math.Pow(2, -8) * 1.001 + 1e-30, $"{name}[{e}]: {got[e]} vs {mean}");
            }
        }
        Assert.Contains("Uniform soup", File.ReadAllText(Path.Combine(soup, "README.md")));
    }

    [Fact]
    public async Task Uniform_WithEvaluator_ScoresEveryIngredientAndTheSoupBeforeCommitting()
    {
        var models = await FineTunesAsync();
        var soup = _fx.PathOf("soup");
        var calls = new List<string>();
        var result = await ModelSoup.UniformAsync(models, new SoupOptions { OutputDirectory = soup }, (dir, _) =>
        {
            calls.Add(dir);
            Assert.True(File.Exists(Path.Combine(dir, "config.json")));
            return Task.FromResult((double)calls.Count);
        });
        Assert.Equal(4, calls.Count);
        Assert.Equal(models, calls.Take(3));
        Assert.NotEqual(soup, calls[3]); // scored in scratch, then moved into place
        Assert.Equal(4.0, result.SoupScore);
        Assert.Equal(new double?[] { 1, 2, 3 }, result.Steps.Select(s => s.Score));
        Assert.Contains("the soup's score is 4", File.ReadAllText(Path.Combine(soup, "README.md")));
        Assert.True(File.Exists(Path.Combine(soup, "mergekit_config.yml")));
        Assert.Equal(new[] { "a", "b", "c", "soup" }, Directory.GetFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Average_EmaWeightsAndLastN_FollowTheDocumentedFormula()
    {
        var run = _fx.PathOf("run");
        var values = new Dictionary<int, double> { [100] = 1.0, [20] = 4.0, [3] = 16.0, [1000] = 2.0 };
        foreach (var (step, v) in values)
            _fx.Write(Path.Combine("run", $"checkpoint-{step}"), Dtype.F32, (SoupFixture.Norm, new long[] { 4 }, SoupFixture.Constant(4, v)),
                (SoupFixture.Up, new long[] { 3, 4 }, SoupFixture.Constant(12, v)));
        Directory.CreateDirectory(Path.Combine(run, "runs")); // not a checkpoint
        Assert.Equal(new[] { 3, 20, 100, 1000 }.Select(s => Path.Combine(run, $"checkpoint-{s}")), CheckpointAverage.ResolveCheckpoints(new[] { run }));

        var output = _fx.PathOf("avg");
        var (_, weights) = await CheckpointAverage.RunAsync(new[] { run }, output, new AverageOptions { Last = 3, EmaDecay = 0.5 }, new MergeOptions());
        // last three in training order: steps 20, 100, 1000 -> raw weights 0.25, 0.5, 1 -> normalised /1.75
        Assert.Equal(new[] { 0.25 / 1.75, 0.5 / 1.75, 1 / 1.75 }, weights.Select(w => w.Weight), (x, y) => Math.Abs(x - y) < 1e-15);
        double expected = (0.25 * 4.0 + 0.5 * 1.0 + 1 * 2.0) / 1.75;
        Assert.All(SoupFixture.Read(output, SoupFixture.Norm), v => Assert.Equal((float)expected, (float)v));
    }
}
