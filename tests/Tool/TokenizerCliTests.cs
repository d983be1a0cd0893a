using System.Text.Json.Nodes;
using DotnetMerge.Tests.Tokenizers;
using static DotnetMerge.Tests.Tokenizers.VocabularyFixture;

namespace DotnetMerge.Tool.Tests;

/// <summary>Tokenizer rules through the command line: check and plan report the output vocabulary from the tokenizer
/// files alone, a union run writes the tokenizer with the added tokens, and the failures have their exit codes.</summary>
public sealed class TokenizerCliTests : IDisposable
{
    private readonly VocabularyFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private async Task<string> Definition(string rule = "tokenizer_source: union")
    {
        if (!Directory.Exists(_fx.PathOf("base")))
        {
            await _fx.ModelAsync("base", 1, Words(12), []);
            await _fx.ModelAsync("chat", 2, Words(12), ["<|im_start|>", "<|im_end|>"]);
        }
        var path = _fx.PathOf("m.yaml");
        File.WriteAllText(path, $"merge_method: linear\nbase_model: base\n{rule}\nmodels:\n  - model: base\n    parameters: {{weight: 0.5}}\n  - model: chat\n    parameters: {{weight: 0.5}}\n");
        return path;
    }

    [Fact]
    public async Task Check_and_plan_report_the_output_vocabulary_and_the_run_writes_the_matching_tokenizer()
    {
        var path = await Definition();
        var check = await CliRunner.RunAsync("check", path);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("DMRG0515", check.Err, StringComparison.Ordinal);
        Assert.Contains("14 tokens, 14 embedding rows; 2 added: '<|im_start|>', '<|im_end|>'", check.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("DMRG0703", check.Err, StringComparison.Ordinal); // different vocabularies are normal input here

        var plan = await CliRunner.RunAsync("plan", path);
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("base: model.embed_tokens.weight F32 [14, 4]  rows aligned to the output vocabulary from [12, 4]", plan.Out, StringComparison.Ordinal);
        Assert.Contains("output vocab_size: 14", plan.Out, StringComparison.Ordinal);

        var output = _fx.PathOf("out");
        var run = await CliRunner.RunAsync(path, output, "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer.json")))!;
        var added = tokenizer["added_tokens"]!.AsArray().Select(a => (a!["content"]!.GetValue<string>(), a["id"]!.GetValue<int>())).ToList();
        Assert.Equal(new[] { ("<|im_start|>", 12), ("<|im_end|>", 13) }, added);
        Read(output, "model.embed_tokens.weight", out var shape);
        Assert.Equal(new long[] { 14, Hidden }, shape);
    }

    [Fact]
    public async Task A_model_without_tokenizer_json_exits_3_and_a_bad_token_rule_exits_2()
    {
        var path = await Definition();
        File.Delete(_fx.PathOf("chat/tokenizer.json"));
        var missing = await CliRunner.RunAsync("check", path);
        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.True(missing.Err.Contains("m.yaml(7,12): error DMRG0511: model 'chat': a tokenizer rule needs the model's vocabulary, but it has no tokenizer.json", StringComparison.Ordinal), missing.ToString());

        var bad = await Definition("tokenizer:\n  tokens:\n    \"<x>\": {source: {kind: zer0}}");
        var rule = await CliRunner.RunAsync("check", bad);
        Assert.True(rule.ExitCode == 2, rule.ToString());
        Assert.Contains("error DMRG0510", rule.Err, StringComparison.Ordinal);
    }
}
