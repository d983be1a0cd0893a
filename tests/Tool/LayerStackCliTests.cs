using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests;

/// <summary>`inspect` and `plan` show a model's layer stacks (a vision-language model's language layers and vision blocks).</summary>
public sealed class LayerStackCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> TwoStackModelAsync(string name = "vlm", float fill = 0)
    {
        var dir = _ws.PathOf(name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"architectures\": [\"X\"], \"model_type\": \"x\"}");
        var tensors = new List<OutputTensor> { new("model.embed_tokens.weight", Dtype.F32, [4, 2]) };
        for (int i = 0; i < 4; i++) tensors.Add(new($"model.language_model.layers.{i}.mlp.weight", Dtype.F32, [2, 2]));
        for (int i = 0; i < 3; i++) tensors.Add(new($"model.visual.blocks.{i}.attn.weight", Dtype.F32, [2, 2]));
        await using var writer = SafetensorsWriter.Create(Path.Combine(dir, "model.safetensors"), tensors);
        foreach (var t in tensors)
            await writer.WriteTensorAsync(t.Name, Enumerable.Repeat(fill, (int)t.Shape.Aggregate(1L, (a, b) => a * b)).SelectMany(BitConverter.GetBytes).ToArray());
        await writer.CompleteAsync();
        return dir;
    }

    [Fact]
    public async Task Inspect_and_plan_list_every_layer_stack()
    {
        var model = await TwoStackModelAsync();
        const string stacks = "model.language_model.layers.0-3 (4 layers, 4 tensors); model.visual.blocks.0-2 (3 layers, 3 tensors)";

        var inspect = await CliRunner.RunAsync("inspect", model);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Contains("layer stacks: " + stacks, inspect.Out, StringComparison.Ordinal);
        var json = await CliRunner.RunAsync("inspect", model, "--json");
        Assert.Contains("\"prefix\": \"model.visual.blocks.\"", json.Out, StringComparison.Ordinal);

        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: vlm\n    parameters: {weight: [0, 1]}\n");
        var plan = await CliRunner.RunAsync("plan", config);
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("layer stacks of vlm: " + stacks, plan.Out, StringComparison.Ordinal);
        Assert.Contains("vlm: model.visual.blocks.1.attn.weight F32 [2, 2]  weight=0.5", plan.Out, StringComparison.Ordinal);
    }

    /// <summary>A <c>modules:</c> definition from the command line: <c>plan</c> names each module's stack, <c>run</c> merges
    /// each stack with its own weights (models filled with 1 and 5, so the mix is plain arithmetic), and a stack without
    /// a module is a located error with exit code 3 before anything is written.</summary>
    [Fact]
    public async Task A_modules_definition_plans_runs_and_reports_a_missing_module()
    {
        await TwoStackModelAsync("one", 1f);
        await TwoStackModelAsync("five", 5f);
        var config = _ws.Write("mod.yaml", """
            merge_method: linear
            modules:
              text_decoder:
                models:
                  - {model: one, parameters: {weight: 3}}
                  - {model: five, parameters: {weight: 1}}
              vision_tower:
                slices:
                  - sources:
                      - {model: one, layer_range: [0, 3]}
                      - {model: five, layer_range: [0, 3]}
                parameters: {weight: 1}
            dtype: float32
            """);
        var plan = await CliRunner.RunAsync("plan", config);
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("modules: text_decoder = model.language_model.layers.0-3 (4 layers, 4 tensors); vision_tower = model.visual.blocks.0-2 (3 layers, 3 tensors)",
            plan.Out, StringComparison.Ordinal);

        var output = _ws.PathOf("out");
        var run = await CliRunner.RunAsync(config, output, "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(TestWorkspace.ReadTensor(output, "model.language_model.layers.2.mlp.weight"), v => Assert.Equal((3 * 1 + 1 * 5) / 4.0, v, 6));
        Assert.All(TestWorkspace.ReadTensor(output, "model.visual.blocks.1.attn.weight"), v => Assert.Equal((1 + 5) / 2.0, v, 6));
        Assert.All(TestWorkspace.ReadTensor(output, "model.embed_tokens.weight"), v => Assert.Equal(2.0, v, 6)); // the text module, t = 0

        var partial = _ws.Write("partial.yaml", "merge_method: linear\nmodules:\n  text_decoder:\n    models: [{model: one, parameters: {weight: 1}}]\n");
        var check = await CliRunner.RunAsync("check", partial);
        Assert.Equal(3, check.ExitCode);
        Assert.Contains("partial.yaml(2,1): error DMRG1071: the stack model.visual.blocks.0-2 (3 layers, 3 tensors) of model 'one' is in no module: add a module 'visual'",
            check.Out + check.Err, StringComparison.Ordinal);
    }
}
