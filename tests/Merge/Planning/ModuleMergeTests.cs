using DotnetMerge.Checks;
using DotnetMerge.Engine;
using DotnetMerge.Models;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Planning;

/// <summary><c>modules:</c> definitions end to end on a generated two-stack (vision-language) model: each module is its
/// own stack, merged from its own models or slices with its own parameters, the tensors outside the stacks go with the
/// module they belong to, and every mistake is found from the headers before a tensor is read.</summary>
public sealed class ModuleMergeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-modules", Guid.NewGuid().ToString("N"));

    public ModuleMergeTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const int LanguageLayers = 4, VisionBlocks = 3;

    private static IEnumerable<(string Name, long[] Shape)> Tensors(bool vision = true)
    {
        yield return ("model.language_model.embed_tokens.weight", [4, 2]);
        for (int i = 0; i < LanguageLayers; i++)
        {
            yield return ($"model.language_model.layers.{i}.mlp.weight", [2, 2]);
            yield return ($"model.language_model.layers.{i}.norm.weight", [2]);
        }
        yield return ("model.language_model.norm.weight", [2]);
        if (vision)
        {
            yield return ("model.visual.patch_embed.proj.weight", [2, 3]);
            for (int i = 0; i < VisionBlocks; i++)
            {
                yield return ($"model.visual.blocks.{i}.attn.weight", [2, 3]);
                yield return ($"model.visual.blocks.{i}.mlp.weight", [3]);
            }
            yield return ("model.visual.merger.mlp.0.weight", [3, 3]);
            yield return ("model.visual.merger.mlp.2.weight", [3, 3]);
        }
        yield return ("lm_head.weight", [4, 2]);
    }

    private static double[] Values(string name, long count, int seed) => StackedModelFixture.Values(name, count, seed);

    private Task<string> ModelAsync(string name, int seed, bool vision = true)
        => StackedModelFixture.WriteAsync(Path.Combine(_root, name), Tensors(vision), seed, ", \"num_hidden_layers\": 4");

    private string Definition(string name, string yaml)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Module_names_resolve_to_stacks_by_the_documented_rules()
    {
        var layout = LayerLayout.Infer(Tensors().Select(t => t.Name));
        string? Stack(string module) => ModuleStacks.Resolve(layout, module, out _)?.Prefix;
        Assert.Equal("model.language_model.layers.", Stack("text_decoder"));
        Assert.Equal("model.language_model.layers.", Stack("language_model"));
        Assert.Equal("model.language_model.layers.", Stack("model.language_model"));
        Assert.Equal("model.visual.blocks.", Stack("vision_tower"));
        Assert.Equal("model.visual.blocks.", Stack("visual"));
        Assert.Equal("model.visual.blocks.", Stack("model.visual.blocks"));
        Assert.Equal("model.visual.merger.mlp.", Stack("model.visual.merger.mlp."));
        Assert.Null(ModuleStacks.Resolve(layout, "audio", out var problem));
        Assert.Contains("'language_model': model.language_model.layers.0-3", problem, StringComparison.Ordinal);
        Assert.Contains("'visual': model.visual.blocks.0-2", problem, StringComparison.Ordinal);
        // 'model' is the module prefix's first segment of two stacks: no rule names one of them.
        Assert.Null(ModuleStacks.Resolve(layout, "model", out _));

        // An encoder-decoder: the last segment of each module prefix.
        var t5 = LayerLayout.Infer(["shared.weight", "encoder.block.0.a", "encoder.block.1.a", "decoder.block.0.a", "decoder.block.0.b", "decoder.block.1.a", "decoder.block.1.b"]);
        Assert.Equal("encoder.block.", ModuleStacks.Resolve(t5, "encoder", out _)?.Prefix);
        Assert.Equal("decoder.block.", ModuleStacks.Resolve(t5, "decoder", out _)?.Prefix);
        Assert.Equal("decoder.block.", ModuleStacks.Resolve(t5, "text_decoder", out _)?.Prefix); // the main stack
        Assert.Null(ModuleStacks.Resolve(t5, "vision_tower", out _));
    }

    [Fact]
    public async Task Each_module_merges_its_own_stack_and_the_output_is_the_float64_mix_per_module()
    {
        var a = await ModelAsync("a", 1);
        var b = await ModelAsync("b", 2);
        var c = await ModelAsync("c", 3);
        var path = Definition("m.yaml", $"""
            merge_method: linear
            modules:
              text_decoder:
                models:
                  - model: {a}
                    parameters: {"{"}weight: [0.5, 1.0]{"}"}
                  - model: {b}
                parameters: {"{"}weight: 0.5{"}"}
              visual:
                slices:
                  - sources:
                      - {"{"}model: {b}, layer_range: [2, 3]{"}"}
                      - {"{"}model: {c}, layer_range: [0, 1]{"}"}
                    parameters:
                      weight: [{"{"}filter: attn, value: 2.0{"}"}]
                  - sources:
                      - {"{"}model: {a}, layer_range: [0, 2], parameters: {"{"}weight: 3.0{"}"}{"}"}
                      - {"{"}model: {c}, layer_range: [1, 3]{"}"}
                parameters: {"{"}weight: 0.25{"}"}
            parameters: {"{"}weight: 7.0{"}"}
            dtype: float32

            """);
        var definition = MergeRunner.LoadDefinition(path, out _);
        var models = new Dictionary<string, int> { [a] = 1, [b] = 2, [c] = 3 };

        // What each output tensor is, written from the definition by hand: (model, input tensor, weight) terms.
        IReadOnlyList<(int Seed, string Input, double Weight)> Terms(string output)
        {
            if (LayerLayout.TrySplit(output, out var prefix, out var layer, out var suffix) && prefix == "model.language_model.layers.")
                return [(1, output, 0.5 + 0.5 * layer / (LanguageLayers - 1.0)), (2, output, 0.5)]; // a's gradient over the text stack; b the module's 0.5
            if (prefix == "model.visual.blocks.")
            {
                if (layer == 0) // slice 1: b's block 2 and c's block 0; the slice's filter for attn, else the module's 0.25
                {
                    double w = suffix.StartsWith("attn", StringComparison.Ordinal) ? 2.0 : 0.25;
                    return [(2, "model.visual.blocks.2." + suffix, w), (3, "model.visual.blocks.0." + suffix, w)];
                }
                // slice 2: a's blocks 0-1 (weight 3) and c's blocks 1-2 (the module's 0.25)
                return [(1, $"model.visual.blocks.{layer - 1}.{suffix}", 3.0), (3, $"model.visual.blocks.{layer}.{suffix}", 0.25)];
            }
            if (output == "model.visual.patch_embed.proj.weight") return [(2, output, 0.25), (3, output, 0.25)];   // first slice's models, t = 0
            if (output.StartsWith("model.visual.merger.", StringComparison.Ordinal)) return [(1, output, 3.0), (3, output, 0.25)]; // last slice's models
            return [(1, output, 0.5), (2, output, 0.5)]; // embeddings, final norm, lm_head: the text module at t = 0
        }

        using (var plan = MergeRunner.Plan(definition, new MergeOptions()))
        {
            Assert.Equal(Tensors().Select(t => t.Name).Order(StringComparer.Ordinal), plan.Jobs.Select(j => j.OutputName).Order(StringComparer.Ordinal));
            foreach (var job in plan.Jobs)
            {
                var expected = Terms(job.OutputName);
                Assert.Equal(expected.Select(e => (e.Seed, e.Input)), job.Inputs.Select(i => (models[i.Model.Directory], i.TensorName)));
                for (int k = 0; k < expected.Count; k++)
                    Assert.True(Math.Abs(job.Inputs[k].Parameters.GetDouble("weight") - expected[k].Weight) < 1e-12,
                        $"{job.OutputName} input {k}: weight {job.Inputs[k].Parameters.GetDouble("weight")}, expected {expected[k].Weight}");
            }
            var warning = Assert.Single(plan.Warnings, w => w.Contains(CheckIds.StackTakenWithModule, StringComparison.Ordinal));
            Assert.Contains("model.visual.merger.mlp.0-2", warning, StringComparison.Ordinal);
            Assert.Contains("module 'visual'", warning, StringComparison.Ordinal);
            Assert.DoesNotContain(plan.Warnings, w => w.Contains(CheckIds.OtherLayerStacks, StringComparison.Ordinal));
            Assert.Null(plan.OutputLayerCount); // the main stack's module merges whole models
        }

        var output = Path.Combine(_root, "out");
        await MergeRunner.RunAsync(definition, output, new MergeOptions());
        foreach (var (name, shape) in Tensors())
        {
            long count = shape.Aggregate(1L, (x, y) => x * y);
            var terms = Terms(name);
            var inputs = terms.Select(t => Values(t.Input, count, t.Seed)).ToList();
            double total = terms.Sum(t => t.Weight);
            var got = Soups.SoupFixture.Read(output, name);
            Assert.Equal(count, got.Length);
            for (int i = 0; i < count; i++)
            {
                double expected = 0;
                for (int k = 0; k < terms.Count; k++) expected += terms[k].Weight * inputs[k][i];
                expected /= total;
                Assert.True(Math.Abs(got[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{name}[{i}]: {got[i]} vs {expected}");
            }
        }
        var written = File.ReadAllText(Path.Combine(output, "mergekit_config.yml"));
        Assert.Contains("modules:", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slicing_the_main_stack_in_a_module_sets_the_layer_count_and_another_stack_that_changes_depth_warns()
    {
        var a = await ModelAsync("a", 1);
        var b = await ModelAsync("b", 2);
        var path = Definition("p.yaml", $"""
            merge_method: passthrough
            modules:
              language_model:
                slices:
                  - sources: [{"{"}model: {a}, layer_range: [0, 3]{"}"}]
                  - sources: [{"{"}model: {b}, layer_range: [1, 4]{"}"}]
              vision_tower:
                slices:
                  - sources: [{"{"}model: {b}, layer_range: [0, 2]{"}"}]

            """);
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions());
        Assert.Equal(6, plan.OutputLayerCount);
        var layer5 = plan.Jobs.Single(j => j.OutputName == "model.language_model.layers.5.mlp.weight");
        Assert.Equal((b, "model.language_model.layers.3.mlp.weight"), (Assert.Single(layer5.Inputs).Model.Directory, layer5.Inputs[0].TensorName));
        Assert.DoesNotContain(plan.Jobs, j => j.OutputName.StartsWith("model.visual.blocks.2.", StringComparison.Ordinal));
        var warning = Assert.Single(plan.Warnings, w => w.Contains(CheckIds.ModuleLayerCountChanged, StringComparison.Ordinal));
        Assert.Contains("p.yaml(7,3): warning DMRG1074: module 'vision_tower' writes 2 layers of 'model.visual.blocks.'", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mistakes_are_found_from_the_headers_and_located()
    {
        var a = await ModelAsync("a", 1);
        var b = await ModelAsync("b", 2);
        var textOnly = await ModelAsync("text-only", 4, vision: false);

        PlanningException Fails(string name, string yaml)
            => Assert.Throws<PlanningException>(() => MergeRunner.Plan(MergeRunner.LoadDefinition(Definition(name, yaml), out _), new MergeOptions()).Dispose());

        var unknown = Fails("u.yaml", $"merge_method: linear\nmodules:\n  text_decoder: {{models: [{{model: {a}, parameters: {{weight: 1}}}}]}}\n  audio: {{models: [{{model: {a}, parameters: {{weight: 1}}}}]}}\n");
        Assert.Equal(CheckIds.ModuleStackUnknown, unknown.Id);
        Assert.Contains("u.yaml(4,3): error DMRG1070: module 'audio' names none of the model's layer stacks ('language_model': ", unknown.Message, StringComparison.Ordinal);

        var missing = Fails("m.yaml", $"merge_method: linear\nmodules:\n  text_decoder: {{models: [{{model: {a}, parameters: {{weight: 1}}}}]}}\n");
        Assert.Equal(CheckIds.StackWithoutModule, missing.Id);
        Assert.Contains("m.yaml(2,1): error DMRG1071: the stack model.visual.blocks.0-2 (3 layers, 6 tensors)", missing.Message, StringComparison.Ordinal);
        Assert.Contains("add a module 'visual'", missing.Message, StringComparison.Ordinal);

        var twice = Fails("t.yaml", $"merge_method: linear\nmodules:\n  text_decoder: {{models: [{{model: {a}, parameters: {{weight: 1}}}}]}}\n  language_model: {{models: [{{model: {b}, parameters: {{weight: 1}}}}]}}\n  visual: {{models: [{{model: {a}, parameters: {{weight: 1}}}}]}}\n");
        Assert.Equal(CheckIds.ModulesShareStack, twice.Id);
        Assert.Contains("t.yaml(4,3): error DMRG1072: modules 'text_decoder' and 'language_model' both name the stack model.language_model.layers.0-3", twice.Message, StringComparison.Ordinal);

        var lacks = Fails("l.yaml", $"merge_method: linear\nmodules:\n  text_decoder: {{models: [{{model: {a}, parameters: {{weight: 1}}}}, {{model: {textOnly}, parameters: {{weight: 1}}}}]}}\n  visual:\n    models:\n      - model: {a}\n        parameters: {{weight: 1}}\n      - model: {textOnly}\n        parameters: {{weight: 1}}\n");
        Assert.Equal(CheckIds.ModuleStackUnknown, lacks.Id);
        Assert.Contains($"l.yaml(8,16): error DMRG1070: module 'visual' is the stack 'model.visual.blocks.' of '{a}', which model '{textOnly}' does not have", lacks.Message, StringComparison.Ordinal);

        var range = Fails("r.yaml", $"merge_method: passthrough\nmodules:\n  text_decoder: {{slices: [{{sources: [{{model: {a}, layer_range: [0, 4]}}]}}]}}\n  visual: {{slices: [{{sources: [{{model: {a}, layer_range: [1, 4]}}]}}]}}\n");
        Assert.Equal(CheckIds.LayerRangeOutOfBounds, range.Id);
        Assert.Contains("goes past its 3 layers in 'model.visual.blocks.' (module 'visual')", range.Message, StringComparison.Ordinal);
    }
}
