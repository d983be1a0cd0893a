using DotnetMerge.Tests.Pickle;

namespace DotnetMerge.Tool.Tests;

/// <summary>What a mergekit user notices in the outputs and messages: the model card's front matter, JSON as
/// transformers writes it, .bin-only inputs, and the soup and average summaries.</summary>
public sealed class MergekitOutputsTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> LinearConfigAsync(string extra = "")
    {
        await _ws.BaseAsync(TestWorkspace.SmallSpec, "a");
        await _ws.FineTuneAsync("b", "mlp", 0, TestWorkspace.SmallSpec);
        return _ws.Write("linear.yaml", """
            merge_method: linear
            models:
              - model: models/a
                parameters: {weight: 0.5}
              - model: models/b
                parameters: {weight: 0.5}
            dtype: bfloat16

            """ + extra);
    }

    [Fact]
    public async Task The_model_card_has_mergekits_tags_and_lists_the_inputs_as_base_models()
    {
        string config = await LinearConfigAsync();
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        string card = File.ReadAllText(_ws.PathOf("out", "README.md")).Replace("\r\n", "\n");
        string frontMatter = card[..card.IndexOf("\n---\n", 4, StringComparison.Ordinal)];
        var lines = frontMatter.Split('\n').ToList();
        int tags = lines.IndexOf("tags:");
        Assert.True(tags > 0, frontMatter);
        Assert.Equal(["- mergekit", "- merge"], lines.Skip(tags + 1).Take(2));
        Assert.Contains("- dotnet-merge", lines.Skip(tags + 1));
        // models/a and models/b are named like hub ids (org/name) and are not directories of the working directory,
        // which is how mergekit, too, tells a hub model from a local one
        int bases = lines.IndexOf("base_model:");
        Assert.True(bases > 0, frontMatter);
        Assert.Equal(["- models/a", "- models/b"], lines.Skip(bases + 1).TakeWhile(l => l.StartsWith("- ", StringComparison.Ordinal)).Take(2));
    }

    [Fact]
    public async Task Json_files_are_written_with_relaxed_escaping_as_transformers_writes_them()
    {
        const string template = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}{% endfor %}";
        string config = await LinearConfigAsync("chat_template: \"" + template.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"\n");
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        string json = File.ReadAllText(_ws.PathOf("out", "tokenizer_config.json"));
        // JSON escapes only the backslash of '\n' in the template; ', <, > and + are written as they are
        Assert.Contains("\"chat_template\": \"" + template.Replace("\\", "\\\\") + "\"", json);
        Assert.DoesNotContain("\\u0027", json);
        Assert.DoesNotContain("\\u003C", json, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\\u002B", File.ReadAllText(_ws.PathOf("out", "config.json")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_bin_only_model_is_read_from_its_bin_and_a_broken_one_is_named_with_its_error()
    {
        string config = await LinearConfigAsync();
        string b = _ws.PathOf("models", "b");
        TorchZipWriter.ConvertModelToBin(b);
        var ok = await CliRunner.RunAsync("check", config);
        Assert.True(ok.ExitCode == 0, ok.ToString());

        // Only a zip signature: read as torch's format (no "convert first"), and refused as a broken archive.
        File.WriteAllBytes(Path.Combine(b, "pytorch_model.bin"), [0x50, 0x4B, 0x03, 0x04]);
        var result = await CliRunner.RunAsync("check", config);
        Assert.True(result.ExitCode == ExitCodes.InvalidInput, result.ToString());
        Assert.True(result.Err.Contains("error DMRG0731: " + Path.Combine(b, "pytorch_model.bin") + ": ", StringComparison.Ordinal), result.Err);
    }

    [Fact]
    public async Task A_soup_score_of_negative_zero_prints_as_zero()
    {
        if (OperatingSystem.IsWindows()) return;
        var models = new[] { await _ws.FineTuneAsync("a", "mlp", 0), await _ws.FineTuneAsync("b", "self_attn", 0) };
        _ws.Write("eval.sh", "echo -0.0\n");
        var result = await CliRunner.RunAsync(["soup", "--uniform", .. models, "--eval", $"sh '{_ws.PathOf("eval.sh")}' {{model}}", "-o", _ws.PathOf("soup"), "--no-progress"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotMatch(@"\| -0 \|", result.Out);
        Assert.Contains("score 0 ", result.Out);
        Assert.DoesNotContain("-0", File.ReadAllText(_ws.PathOf("soup", "README.md")).Split("### Configuration")[0].Replace("dotnet-merge", ""));
    }

    [Fact]
    public async Task Average_says_checkpoint_for_one_and_says_when_last_asks_for_more_than_there_are()
    {
        var run = _ws.PathOf("run");
        Directory.CreateDirectory(run);
        foreach (var (step, name) in new[] { (100, "a"), (200, "b"), (300, "c") })
            Directory.Move(await _ws.FineTuneAsync(name, "", 0), Path.Combine(run, $"checkpoint-{step}"));

        var one = await CliRunner.RunAsync("average", run, "--last", "1", "-o", _ws.PathOf("one"), "--no-progress");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.Contains("averaged 1 checkpoint into", one.Out);

        var nine = await CliRunner.RunAsync("average", run, "--last", "9", "-o", _ws.PathOf("nine"), "--no-progress");
        Assert.True(nine.ExitCode == 0, nine.ToString());
        Assert.Contains("--last 9: there are only 3 checkpoints", nine.Err);
        Assert.Contains("averaged 3 checkpoints into", nine.Out);
    }
}
