using DotnetMerge.Checks;
using DotnetMerge.Engine;
using DotnetMerge.Models;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Planning;

/// <summary>Models with more than one numbered stack (a vision-language model's language layers and vision blocks):
/// every stack is found, and with <c>models:</c> a gradient places a tensor of the second stack in its own stack, not
/// at t = 0 as if it were an embedding.</summary>
public sealed class LayerStackTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-stacks", Guid.NewGuid().ToString("N"));

    public LayerStackTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const int LanguageLayers = 4, VisionBlocks = 3;

    private static IEnumerable<(string Name, long[] Shape)> Tensors()
    {
        yield return ("model.embed_tokens.weight", [4, 2]);
        for (int i = 0; i < LanguageLayers; i++)
        {
            yield return ($"model.language_model.layers.{i}.mlp.weight", [2, 2]);
            yield return ($"model.language_model.layers.{i}.norm.weight", [2]);
        }
        for (int i = 0; i < VisionBlocks; i++) yield return ($"model.visual.blocks.{i}.attn.weight", [2, 3]);
        yield return ("lm_head.weight", [4, 2]);
    }

    private static double[] Values(string name, long count, int seed) => StackedModelFixture.Values(name, count, seed);

    private Task<string> ModelAsync(string name, int seed) => StackedModelFixture.WriteAsync(Path.Combine(_root, name), Tensors(), seed);

    [Fact]
    public void Infer_finds_every_stack_main_first()
    {
        var layout = LayerLayout.Infer(Tensors().Select(t => t.Name));
        Assert.Equal("model.language_model.layers.", layout.Prefix);
        Assert.Equal(new[] { ("model.language_model.layers.", 4, 8), ("model.visual.blocks.", 3, 3) },
            layout.Stacks.Select(s => (s.Prefix, s.LayerCount, s.TensorCount)));
        Assert.Equal(0.5, layout.PositionInOtherStack("model.visual.blocks.1.attn.weight"));
        Assert.Equal(1.0, layout.PositionInOtherStack("model.visual.blocks.2.attn.weight"));
        Assert.Null(layout.PositionInOtherStack("model.language_model.layers.1.mlp.weight"));
        Assert.Null(layout.PositionInOtherStack("lm_head.weight"));
        Assert.Single(LayerLayout.Infer(["model.layers.0.a", "model.layers.1.a", "model.norm.weight"]).Stacks);
    }

    [Fact]
    public async Task A_gradient_runs_over_each_stack_on_its_own_and_the_merge_gives_the_float64_mix()
    {
        var a = await ModelAsync("a", 1);
        var b = await ModelAsync("b", 2);
        var path = Path.Combine(_root, "m.yaml");
        File.WriteAllText(path, $"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: [0.0, 1.0]}}\n  - model: {b}\n    parameters: {{weight: [1.0, 0.0]}}\ndtype: float32\n");
        var definition = MergeRunner.LoadDefinition(path, out _);

        double WeightOfA(string tensor) => tensor switch
        {
            _ when tensor.StartsWith("model.visual.blocks.", StringComparison.Ordinal) => Layer(tensor) / (double)(VisionBlocks - 1),
            _ when tensor.StartsWith("model.language_model.layers.", StringComparison.Ordinal) => Layer(tensor) / (double)(LanguageLayers - 1),
            _ => 0.0, // embeddings and head: t = 0
        };

        using (var plan = MergeRunner.Plan(definition, new MergeOptions()))
        {
            foreach (var job in plan.Jobs)
                Assert.True(Math.Abs(job.Inputs[0].Parameters.GetDouble("weight") - WeightOfA(job.OutputName)) < 1e-12,
                    $"{job.OutputName}: weight of a is {job.Inputs[0].Parameters.GetDouble("weight")}, expected {WeightOfA(job.OutputName)}");
            Assert.DoesNotContain(plan.Warnings, w => w.Contains(CheckIds.OtherLayerStacks, StringComparison.Ordinal));
        }

        var output = Path.Combine(_root, "out");
        await MergeRunner.RunAsync(definition, output, new MergeOptions());
        foreach (var (name, shape) in Tensors())
        {
            long count = shape.Aggregate(1L, (x, y) => x * y);
            var va = Values(name, count, 1);
            var vb = Values(name, count, 2);
            double wa = WeightOfA(name), wb = 1 - wa;
            var got = Soups.SoupFixture.Read(output, name);
            for (int i = 0; i < count; i++)
            {
                double expected = (wa * va[i] + wb * vb[i]) / (wa + wb);
                Assert.True(Math.Abs(got[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{name}[{i}]: {got[i]} vs {expected}");
            }
        }
    }

    [Fact]
    public async Task Slices_over_a_model_with_two_stacks_warn_that_only_the_main_one_is_sliced()
    {
        var a = await ModelAsync("a", 1);
        var b = await ModelAsync("b", 2);
        var path = Path.Combine(_root, "s.yaml");
        File.WriteAllText(path, $"merge_method: passthrough\nslices:\n  - sources:\n      - model: {a}\n        layer_range: [0, 2]\n  - sources:\n      - model: {b}\n        layer_range: [2, 4]\n");
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions());
        var warning = Assert.Single(plan.Warnings, w => w.Contains(CheckIds.OtherLayerStacks, StringComparison.Ordinal));
        Assert.Contains("model.visual.blocks.0-2 (3 layers, 3 tensors)", warning, StringComparison.Ordinal);
        Assert.Contains("s.yaml(2,1): warning DMRG0713", warning, StringComparison.Ordinal);
        // The vision blocks come whole from the last slice's model (they follow the layers in the checkpoint).
        var block = plan.Jobs.Single(j => j.OutputName == "model.visual.blocks.1.attn.weight");
        Assert.Equal(b, Assert.Single(block.Inputs).Model.Directory);
    }

    private static int Layer(string name) => LayerLayout.TrySplit(name, out _, out var layer, out _) ? layer : throw new ArgumentException(name);
}
