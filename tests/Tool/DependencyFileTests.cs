using DotnetMerge.Demo;
using DotnetMerge.Tests.Adapters;

namespace DotnetMerge.Tool.Tests;

/// <summary><c>run</c>/<c>check --deps-file</c>: the list of every file the merge reads, which the MSBuild step uses as its
/// Inputs. The expected lists are written out here by hand from what the fixtures contain.</summary>
public sealed class DependencyFileTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static readonly string[] ModelFiles = { "README.md", "config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json" };

    /// <summary>A sharded model whose index names a shard without the .safetensors extension (no glob of the directory
    /// finds it), next to a .safetensors file the index does not name (not read, so not listed).</summary>
    private async Task<(string Directory, string[] Shards)> ShardedWithNestedShardAsync()
    {
        var dir = await _ws.FineTuneAsync("sharded", "mlp", 0, TestWorkspace.SmallSpec with { MaxShardBytes = 40_000 });
        var index = Path.Combine(dir, "model.safetensors.index.json");
        var shards = Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.True(shards.Length >= 2, "the fixture should be sharded");
        File.Move(Path.Combine(dir, shards[^1]!), Path.Combine(dir, "last-shard"));
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"" + shards[^1] + "\"", "\"last-shard\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dir, "unrelated.safetensors"), "not read");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not read");
        return (dir, [.. shards[..^1].Select(s => Path.Combine(dir, s!)), Path.Combine(dir, "last-shard")]);
    }

    private string[] Expected(string definition, params (string Directory, string[] Shards)[] models)
    {
        var files = new List<string> { definition };
        foreach (var (dir, shards) in models)
        {
            files.AddRange(ModelFiles.Select(f => Path.Combine(dir, f)));
            files.AddRange(shards);
            if (File.Exists(Path.Combine(dir, "model.safetensors.index.json"))) files.Add(Path.Combine(dir, "model.safetensors.index.json"));
        }
        return [.. files.Distinct().Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task RunAndCheck_ListEveryFileTheMergeReads_ShardsNamedByTheIndexIncluded_OfEveryStage()
    {
        var baseDir = await _ws.BaseAsync();
        var (sharded, shards) = await ShardedWithNestedShardAsync();
        var other = await _ws.FineTuneAsync("other", "self_attn", 1);
        var definition = _ws.Write("two.yaml", """
            name: soup
            merge_method: linear
            models:
              - model: models/sharded
                parameters: {weight: 1}
              - model: models/base
                parameters: {weight: 1}
            ---
            merge_method: task_arithmetic
            base_model: models/base
            models:
              - model: soup
                parameters: {weight: 0.5}
              - model: models/other
                parameters: {weight: 0.5}
            """);
        var expected = Expected(definition, (baseDir, [Path.Combine(baseDir, "model.safetensors")]), (sharded, shards),
            (other, [Path.Combine(other, "model.safetensors")]));

        var checkDeps = _ws.PathOf("obj", "check.deps");
        var check = await CliRunner.RunAsync("check", definition, "--deps-file", checkDeps);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal(string.Join("\n", expected), string.Join("\n", File.ReadAllLines(checkDeps)));

        var runDeps = _ws.PathOf("obj", "run.deps");
        var run = await CliRunner.RunAsync("run", definition, _ws.PathOf("out"), "--no-progress", "--deps-file", runDeps);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(string.Join("\n", expected), string.Join("\n", File.ReadAllLines(runDeps)));
    }

    [Fact]
    public async Task AnAdapter_IsListedWithItsConfigAndWeights()
    {
        using var fx = new AdapterFixture();
        await fx.BaseAsync();
        const string q = "model.layers.0.self_attn.q_proj";
        await fx.AdapterAsync("lora", new Dictionary<string, object?> { ["peft_type"] = "LORA", ["r"] = 2, ["lora_alpha"] = 4, ["target_modules"] = new[] { "q_proj" } },
            [($"{q}.lora_A.weight", [2, AdapterFixture.Hidden], AdapterFixture.Values(2 * AdapterFixture.Hidden, 41, 0.25)),
             ($"{q}.lora_B.weight", [AdapterFixture.Hidden, 2], AdapterFixture.Values(AdapterFixture.Hidden * 2, 42, 0.25))]);
        var definition = fx.PathOf("m.yaml");
        File.WriteAllText(definition, "merge_method: linear\nmodels:\n  - model: base\n    parameters: {weight: 0.5}\n  - model: base+lora\n    parameters: {weight: 0.5}\n");
        var deps = fx.PathOf("m.deps");

        var check = await CliRunner.RunAsync("check", definition, "--deps-file", deps);

        Assert.True(check.ExitCode == 0, check.ToString());
        var listed = File.ReadAllLines(deps);
        Assert.Contains(Path.Combine(fx.PathOf("lora"), "adapter_config.json"), listed);
        Assert.Contains(Path.Combine(fx.PathOf("lora"), "adapter_model.safetensors"), listed);
        Assert.Contains(definition, listed);
        Assert.All(Directory.GetFiles(fx.PathOf("base"), "*.safetensors"), shard => Assert.Contains(shard, listed));
    }

    [Fact]
    public async Task AFailedRun_WritesNoDependencyFile_AndAnUnwritableOneExits5()
    {
        await _ws.BaseAsync();
        var definition = _ws.Write("bad.yaml", "merge_method: linear\nmodels:\n  - model: models/base\n  - model: models/missing\n");
        var deps = _ws.PathOf("bad.deps");
        var run = await CliRunner.RunAsync("run", definition, _ws.PathOf("out"), "--no-progress", "--deps-file", deps);
        Assert.NotEqual(0, run.ExitCode);
        Assert.False(File.Exists(deps));

        var good = _ws.Write("good.yaml", "merge_method: linear\nmodels:\n  - model: models/base\n    parameters: {weight: 1}\n");
        _ws.Write("blocker", "a file where a directory should be");
        var unwritable = await CliRunner.RunAsync("check", good, "--deps-file", _ws.PathOf("blocker", "x.deps"));
        Assert.True(unwritable.ExitCode == 5, unwritable.ToString());
        Assert.Contains(_ws.PathOf("blocker", "x.deps") + ": cannot write the dependency file", unwritable.Err, StringComparison.Ordinal);
    }
}
