using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests;

/// <summary>`inspect` and `plan` show a model's layer stacks (a vision-language model's language layers and vision blocks).</summary>
public sealed class LayerStackCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> TwoStackModelAsync()
    {
        var dir = _ws.PathOf("vlm");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"architectures\": [\"X\"], \"model_type\": \"x\"}");
        var tensors = new List<OutputTensor> { new("model.embed_tokens.weight", Dtype.F32, [4, 2]) };
        for (int i = 0; i < 4; i++) tensors.Add(new($"model.language_model.layers.{i}.mlp.weight", Dtype.F32, [2, 2]));
        for (int i = 0; i < 3; i++) tensors.Add(new($"model.visual.blocks.{i}.attn.weight", Dtype.F32, [2, 2]));
        await using var writer = SafetensorsWriter.Create(Path.Combine(dir, "model.safetensors"), tensors);
        foreach (var t in tensors) await writer.WriteTensorAsync(t.Name, new byte[t.Shape.Aggregate(4L, (a, b) => a * b)]);
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
}
