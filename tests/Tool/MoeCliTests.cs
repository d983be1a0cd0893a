using System.Text.Json.Nodes;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests;

/// <summary><c>dotnet merge moe CONFIG OUT</c> through the CLI: a Mixtral written with the summary line, paths relative
/// to the config, exit codes by kind of failure (2 config, 3 models, 5 output), nothing written on failure, and --help.</summary>
public sealed class MoeCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task ModelsAsync()
    {
        await _ws.BaseAsync(TestWorkspace.SmallSpec, "base");
        await _ws.FineTuneAsync("math", "mlp", 0);
        await _ws.FineTuneAsync("code", "mlp", 0);
    }

    private string Config(string gate = "cheap_embed", string baseModel = "models/base") => _ws.Write("moe.yml", $"""
        base_model: {baseModel}
        gate_mode: {gate}
        experts:
          - source_model: models/math
            positive_prompts: ["w3 w4 w5"]
          - source_model: models/code
            positive_prompts: ["w20 w21"]
            negative_prompts: ["w3"]

        """);

    [Fact]
    public async Task A_config_with_relative_paths_writes_a_mixtral_and_says_what_it_wrote()
    {
        await ModelsAsync();
        var output = _ws.PathOf("out");
        var r = await CliRunner.RunAsync("moe", Config(), output, "--no-progress");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("MixtralForCausalLM with 2 experts (2 per token) over 4 layers, gate mode cheap_embed", r.Out, StringComparison.Ordinal);
        var config = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("mixtral", (string)config["model_type"]!);
        using var checkpoint = ModelCheckpoint.Open(output);
        Assert.Contains("model.layers.3.block_sparse_moe.experts.1.w2.weight", checkpoint.TensorNames);
        Assert.DoesNotContain(checkpoint.TensorNames, n => n.Contains(".mlp.", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(output, "mergekit_moe_config.yml")));

        var again = await CliRunner.RunAsync("moe", Config(), output, "--no-progress");
        Assert.Equal(5, again.ExitCode);
        Assert.Contains("DMRG0710", again.Err, StringComparison.Ordinal);
        Assert.Equal(0, (await CliRunner.RunAsync("moe", Config(), output, "--no-progress", "--force")).ExitCode);
    }

    [Fact]
    public async Task A_config_error_is_exit_2_located_and_a_missing_model_exit_3_and_neither_writes()
    {
        await ModelsAsync();
        var output = _ws.PathOf("out");
        var r = await CliRunner.RunAsync("moe", Config(gate: "hiddn"), output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("moe.yml(2,12): error DMRG0944: unknown gate_mode 'hiddn'", r.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));

        var missing = await CliRunner.RunAsync("moe", Config(gate: "random", baseModel: "models/nothing"), output);
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("error DMRG0701", missing.Err, StringComparison.Ordinal);
        Assert.Contains("moe.yml(1,13)", missing.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));

        var noFile = await CliRunner.RunAsync("moe", _ws.PathOf("none.yml"), output);
        Assert.Equal(2, noFile.ExitCode);
        Assert.Contains("DMRG0006", noFile.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_names_the_gate_modes_and_architectures()
    {
        var r = await CliRunner.RunAsync("moe", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var word in new[] { "cheap_embed", "uniform_random", "Mixtral", "Qwen2-MoE", "Qwen3-MoE", "model+adapter", "--allow-crimes", "--random-seed", "--i-understand-this-is-not-useful-without-training", "docs/moe.md" })
            Assert.Contains(word, r.Out, StringComparison.Ordinal);
        // Its own two arguments, once each: not the root command's CONFIG and OUTPUT of the same names as well.
        Assert.Single(r.Out.Split('\n'), l => l.StartsWith("  <config>", StringComparison.Ordinal));
        Assert.Single(r.Out.Split('\n'), l => l.StartsWith("  <output>", StringComparison.Ordinal));
        Assert.DoesNotContain("The merge definition", r.Out, StringComparison.Ordinal);
    }
}
