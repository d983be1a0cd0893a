namespace DotnetMerge.Tool.Tests;

/// <summary>Multi-stage definitions on the command line: `multi`, and `run`/the root command, `check` and `plan` on a
/// file of several YAML documents (no silent first-document merge).</summary>
public sealed class MultiStageCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private const string TwoStages = """
        name: soup
        merge_method: linear
        models:
          - model: models/a
            parameters: {weight: 1}
          - model: models/b
            parameters: {weight: 1}
        ---
        merge_method: task_arithmetic
        base_model: models/base
        models:
          - model: soup
            parameters: {weight: 0.5}
          - model: models/c
            parameters: {weight: 0.5}
        """;

    private async Task ModelsAsync()
    {
        await _ws.BaseAsync();
        await _ws.FineTuneAsync("a", "mlp", 0);
        await _ws.FineTuneAsync("b", "self_attn", 1);
        await _ws.FineTuneAsync("c", "", 2);
    }

    [Fact]
    public async Task RootRunAndMulti_MergeEveryStage_AndGiveTheSameBytesAsTheStagedRun()
    {
        await ModelsAsync();
        var config = _ws.Write("two.yaml", TwoStages);
        var root = await CliRunner.RunAsync(config, _ws.PathOf("root"), "--no-progress");
        Assert.True(root.ExitCode == 0, root.ToString());
        var multi = await CliRunner.RunAsync("multi", config, _ws.PathOf("multi"), "--no-progress", "--intermediate-dir", _ws.PathOf("inter"));
        Assert.True(multi.ExitCode == 0, multi.ToString());
        Assert.True(File.Exists(_ws.PathOf("inter", "soup", "model.safetensors")), "the intermediate stage should be written to DIR/<name>");

        // The result is the two-stage merge, not the first document: final = base + 0.5 (soup - base) + 0.5 (c - base),
        // soup = a + b (linear, weights 1 and 1, normalized: (a + b) / 2); computed here in float64 from the inputs.
        const string name = "model.layers.2.mlp.up_proj.weight";
        var (bs, a, b, c) = (Read("models/base"), Read("models/a"), Read("models/b"), Read("models/c"));
        var merged = TestWorkspace.ReadTensor(_ws.PathOf("root"), name);
        for (int i = 0; i < merged.Length; i++)
        {
            double soup = (a[i] + b[i]) / 2;
            double expected = bs[i] + 0.5 * (soup - bs[i]) + 0.5 * (c[i] - bs[i]);
            Assert.True(Math.Abs(merged[i] - expected) <= 1e-2 * Math.Max(1, Math.Abs(expected)), $"element {i}: {merged[i]} vs {expected}");
        }
        Assert.Equal(File.ReadAllBytes(_ws.PathOf("root", "model.safetensors")), File.ReadAllBytes(_ws.PathOf("multi", "model.safetensors")));

        // By hand: each stage as its own file and its own `dotnet merge` run, the second reading the first's output.
        var documents = TwoStages.Split("---\n");
        var first = _ws.Write("s1.yaml", documents[0].Replace("name: soup\n", ""));
        var second = _ws.Write("s2.yaml", documents[1].Replace("model: soup", "model: hand/soup"));
        foreach (var (file, output) in new[] { (first, "hand/soup"), (second, "hand/final") })
        {
            var step = await CliRunner.RunAsync(file, _ws.PathOf(output), "--no-progress");
            Assert.True(step.ExitCode == 0, step.ToString());
        }
        foreach (var file in new[] { "model.safetensors", "config.json", "tokenizer.json" })
        {
            Assert.Equal(File.ReadAllBytes(_ws.PathOf("hand", "final", file)), File.ReadAllBytes(_ws.PathOf("root", file)));
            Assert.Equal(File.ReadAllBytes(_ws.PathOf("hand", "final", file)), File.ReadAllBytes(_ws.PathOf("multi", file)));
            Assert.Equal(File.ReadAllBytes(_ws.PathOf("hand", "soup", file)), File.ReadAllBytes(_ws.PathOf("inter", "soup", file)));
        }

        double[] Read(string model) => TestWorkspace.ReadTensor(_ws.PathOf(model), name);
    }

    [Fact]
    public async Task CheckAndPlan_ShowEveryStage()
    {
        await ModelsAsync();
        var config = _ws.Write("two.yaml", TwoStages);
        var check = await CliRunner.RunAsync("check", config);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("stage 'soup': ok:", check.Out);
        Assert.Contains("stage 'final stage': ok:", check.Out);
        var plan = await CliRunner.RunAsync("plan", config);
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("== stage 'soup'", plan.Out);
        Assert.Contains("== stage final (uses 'soup')", plan.Out);
        Assert.Contains("soup: model.layers.0.mlp.up_proj.weight", plan.Out);
    }

    [Fact]
    public async Task DefinitionErrorsOfStages_ExitWith2_AtTheirLocation()
    {
        var cycle = _ws.Write("cycle.yaml", """
            name: x
            merge_method: linear
            models:
              - model: y
                parameters: {weight: 1}
            ---
            name: y
            merge_method: linear
            models:
              - model: x
                parameters: {weight: 1}
            ---
            merge_method: linear
            models:
              - model: y
                parameters: {weight: 1}
            """);
        var result = await CliRunner.RunAsync(cycle, _ws.PathOf("out"), "--no-progress");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("cycle.yaml(10,12): error DMRG0803: the stages form a cycle: x -> y -> x", result.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));

        var both = await CliRunner.RunAsync("multi", cycle, _ws.PathOf("out"), "--lazy", "--no-lazy");
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--lazy and --no-lazy", both.Err);
    }
}
