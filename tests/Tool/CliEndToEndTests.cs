using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Tests;

public sealed class CliEndToEndTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task Demo_WritesModelsAndAMergeThatMatchesTheTaskArithmeticReference()
    {
        var dir = _ws.PathOf("demo");
        var result = await CliRunner.RunAsync("demo", dir, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        var merged = Path.Combine(dir, "merged");
        foreach (var file in new[] { "model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "README.md", "mergekit_config.yml" })
            Assert.True(File.Exists(Path.Combine(merged, file)), $"{file} missing from the demo output");
        Assert.Contains("share of each fine-tune's task vector", result.Out);

        // merged = base + 1.0*(chat-base) + 0.8*(math-base) + w_code(layer)*(code-base); w_code = gradient [0.5, 1] on mlp, else 0.7
        var layers = new LlamaSpec().Layers;
        foreach (var (name, codeWeight) in new[]
                 {
                     ("model.layers.0.mlp.down_proj.weight", 0.5),
                     ("model.layers.2.mlp.up_proj.weight", 0.5 + 0.5 * 2 / (layers - 1.0)),
                     ("model.layers.3.self_attn.q_proj.weight", 0.7),
                     ("model.embed_tokens.weight", 0.7),
                 })
        {
            var b = TestWorkspace.ReadTensor(Path.Combine(dir, "models", "base"), name);
            var chat = TestWorkspace.ReadTensor(Path.Combine(dir, "models", "chat"), name);
            var math = TestWorkspace.ReadTensor(Path.Combine(dir, "models", "math"), name);
            var code = TestWorkspace.ReadTensor(Path.Combine(dir, "models", "code"), name);
            var expected = new double[b.Length];
            for (int i = 0; i < b.Length; i++)
                expected[i] = b[i] + 1.0 * (chat[i] - b[i]) + 0.8 * (math[i] - b[i]) + codeWeight * (code[i] - b[i]);
            Bf16Reference.AssertEqual(expected, TestWorkspace.ReadRaw(merged, name).Bytes, name);
        }
    }

    [Fact]
    public async Task Run_LinearMergeOfShardedInputs_WritesShardsIndexConfigTokenizerAndCard()
    {
        var spec = TestWorkspace.SmallSpec with { MaxShardBytes = 40_000 };
        var a = await _ws.BaseAsync(spec, "a");
        var b = await _ws.FineTuneAsync("b", "mlp", 0, spec);
        Assert.True(File.Exists(Path.Combine(a, "model.safetensors.index.json")), "fixture inputs should be sharded");
        var config = _ws.Write("linear.yaml", """
            merge_method: linear
            models:
              - model: models/a
                parameters: {weight: 3}
              - model: models/b
                parameters: {weight: 1}
            dtype: float32
            """);
        var output = _ws.PathOf("out");
        var result = await CliRunner.RunAsync(config, output, "--out-shard-size", "50KB", "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());

        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!;
        var weightMap = index["weight_map"]!.AsObject();
        var shardFiles = weightMap.Select(kv => kv.Value!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(shardFiles.Count > 1);
        Assert.All(shardFiles, f => Assert.Matches(@"^model-\d{5}-of-\d{5}\.safetensors$", f));
        Assert.All(shardFiles, f => Assert.True(new FileInfo(Path.Combine(output, f)).Length > 0));
        Assert.Equal(spec.Tensors().Count, weightMap.Count);

        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("float32", cfg["torch_dtype"]!.GetValue<string>());
        Assert.Equal(File.ReadAllText(Path.Combine(a, "tokenizer.json")), File.ReadAllText(Path.Combine(output, "tokenizer.json")));
        var card = File.ReadAllText(Path.Combine(output, "README.md"));
        Assert.Contains("linear", card);
        Assert.Contains("merge_method: linear", card);

        foreach (var name in new[] { "model.layers.1.mlp.gate_proj.weight", "model.norm.weight", "lm_head.weight" })
        {
            var x = TestWorkspace.ReadTensor(a, name);
            var y = TestWorkspace.ReadTensor(b, name);
            var got = TestWorkspace.ReadTensor(output, name);
            for (int i = 0; i < x.Length; i++)
                Assert.Equal((3 * x[i] + 1 * y[i]) / 4, got[i], 1e-6 * Math.Max(1, Math.Abs(got[i])));
        }
    }

    [Fact]
    public async Task Run_PassthroughSlices_StacksLayersAndUpdatesTheLayerCount()
    {
        var a = await _ws.BaseAsync(name: "a");
        var b = await _ws.FineTuneAsync("b", "", 0);
        var config = _ws.Write("stack.yaml", """
            slices:
              - sources:
                  - model: models/a
                    layer_range: [0, 3]
              - sources:
                  - model: models/b
                    layer_range: [2, 4]
            merge_method: passthrough
            """);
        var output = _ws.PathOf("stacked");
        var result = await CliRunner.RunAsync(config, output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal(5, cfg["num_hidden_layers"]!.GetValue<int>());
        // Output layer 3 is b's layer 2, output layer 4 is b's layer 3; embeddings from the first slice (a), head from the last (b).
        Assert.Equal(TestWorkspace.ReadRaw(b, "model.layers.2.mlp.up_proj.weight").Bytes, TestWorkspace.ReadRaw(output, "model.layers.3.mlp.up_proj.weight").Bytes);
        Assert.Equal(TestWorkspace.ReadRaw(b, "model.layers.3.self_attn.o_proj.weight").Bytes, TestWorkspace.ReadRaw(output, "model.layers.4.self_attn.o_proj.weight").Bytes);
        Assert.Equal(TestWorkspace.ReadRaw(a, "model.layers.1.input_layernorm.weight").Bytes, TestWorkspace.ReadRaw(output, "model.layers.1.input_layernorm.weight").Bytes);
        Assert.Equal(TestWorkspace.ReadRaw(a, "model.embed_tokens.weight").Bytes, TestWorkspace.ReadRaw(output, "model.embed_tokens.weight").Bytes);
        Assert.Equal(TestWorkspace.ReadRaw(b, "lm_head.weight").Bytes, TestWorkspace.ReadRaw(output, "lm_head.weight").Bytes);
        using var merged = DotnetMerge.Safetensors.ModelCheckpoint.Open(output);
        Assert.DoesNotContain(merged.TensorNames, n => n.StartsWith("model.layers.5.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_RefusesANonEmptyOutputWithoutForce_AndReplacesItWithForce()
    {
        await _ws.BaseAsync(name: "a");
        await _ws.FineTuneAsync("b", "mlp", 0);
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/a\n    parameters: {weight: 1}\n  - model: models/b\n    parameters: {weight: 1}\n");
        var output = _ws.PathOf("existing");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "precious");

        var refused = await CliRunner.RunAsync(config, output, "--no-progress");
        Assert.Equal(ExitCodes.OutputError, refused.ExitCode);
        Assert.Contains("--force", refused.Err);
        // One canonical line with the run-time id, as MSBuild and editors read it.
        Assert.Contains("\nerror DMRG0710: the output directory '" + output + "' is not empty", "\n" + refused.Err, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(output, "keep.txt")));

        var forced = await CliRunner.RunAsync(config, output, "--force", "--no-progress");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.False(File.Exists(Path.Combine(output, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(output, "model.safetensors")));
        Assert.Empty(Directory.GetDirectories(_ws.Root, ".existing.*"));
    }

    [Fact]
    public async Task Run_RefusesToWriteIntoAnInputModel()
    {
        await _ws.BaseAsync(name: "a");
        await _ws.FineTuneAsync("b", "mlp", 0);
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/a\n    parameters: {weight: 1}\n  - model: models/b\n    parameters: {weight: 1}\n");
        var result = await CliRunner.RunAsync(config, _ws.PathOf("models", "a", "merged"), "--no-progress");
        Assert.Equal(ExitCodes.OutputError, result.ExitCode);
        Assert.Contains("error DMRG0710: the output '", result.Err, StringComparison.Ordinal);
        Assert.Contains("inside the input model", result.Err);
    }

    [Fact]
    public async Task Cancellation_DuringTheMerge_LeavesNoOutputAndNoStagingDirectory()
    {
        var spec = TestWorkspace.SmallSpec with { Layers = 12 };
        await _ws.BaseAsync(spec, "a");
        await _ws.FineTuneAsync("b", "mlp", 0, spec);
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/a\n    parameters: {weight: 1}\n  - model: models/b\n    parameters: {weight: 1}\n");
        var definition = MergeRunner.LoadDefinition(config, out _);
        long oneJobAtATime; // the smallest memory bound allowed: the largest tensor job
        using (var plan = MergeRunner.Plan(definition, new MergeOptions())) oneJobAtATime = plan.LargestJobBytes;
        using var cts = new CancellationTokenSource();
        var progress = new CancelAfterFirstTensor(cts);
        var output = _ws.PathOf("cancelled");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            MergeRunner.RunAsync(definition, output, new MergeOptions { Threads = 1, MaxMemoryBytes = oneJobAtATime }, progress, cts.Token));
        Assert.True(progress.Written >= 1);
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetDirectories(_ws.Root, ".cancelled.*"));

        // The CLI reports cancellation with its own exit code.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var result = await CliRunner.RunAsync(cancelled.Token, config, output, "--no-progress");
        Assert.Equal(ExitCodes.Cancelled, result.ExitCode);
        Assert.False(Directory.Exists(output));
    }

    private sealed class CancelAfterFirstTensor(CancellationTokenSource cts) : IMergeProgress
    {
        public int Written;
        public void Started(int tensorCount, long bytesToRead, long bytesToWrite) { }
        public void TensorWritten(string name, long bytesRead, long bytesWritten) { if (Interlocked.Increment(ref Written) == 1) cts.Cancel(); }
        public void Stage(string description) { }
        public void Warning(string message) { }
    }

    [Fact]
    public async Task DefinitionError_IsReportedWithFileLineAndColumn_AndExitCode2()
    {
        var config = _ws.Write("bad.yaml", "models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: linaer\n");
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.Equal(ExitCodes.InvalidDefinition, result.ExitCode);
        Assert.Matches(@"bad\.yaml\(4,\d+\): error DMRG\d{4}: .*linaer", result.Err);
        Assert.Contains("linear", result.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }

    [Fact]
    public async Task MissingModel_IsReportedAtItsReference_WithExitCode3()
    {
        await _ws.BaseAsync(name: "a");
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/a\n    parameters: {weight: 1}\n  - model: models/nope\n    parameters: {weight: 1}\n");
        var result = await CliRunner.RunAsync("check", config);
        Assert.Equal(ExitCodes.InvalidInput, result.ExitCode);
        Assert.Matches(@"m\.yaml\(5,\d+\): error DMRG0701: .*models/nope", result.Err);
        Assert.DoesNotContain("Hugging Face", result.Err); // "models/" exists locally: no hub hint
    }

    [Fact]
    public async Task Check_ReportsADifferentArchitecture_UnlessCrimesAreAllowed()
    {
        await _ws.BaseAsync(name: "a");
        var b = await _ws.FineTuneAsync("b", "mlp", 0);
        var cfgPath = Path.Combine(b, "config.json");
        File.WriteAllText(cfgPath, File.ReadAllText(cfgPath).Replace("LlamaForCausalLM", "MistralForCausalLM", StringComparison.Ordinal));
        var config = _ws.Write("m.yaml", "merge_method: linear\nmodels:\n  - model: models/a\n    parameters: {weight: 1}\n  - model: models/b\n    parameters: {weight: 1}\n");

        var strict = await CliRunner.RunAsync("check", config);
        Assert.Equal(ExitCodes.InvalidInput, strict.ExitCode);
        Assert.Contains("DMRG0702", strict.Err);
        Assert.Contains("MistralForCausalLM", strict.Err);

        var lenient = await CliRunner.RunAsync("check", config, "--allow-crimes");
        Assert.True(lenient.ExitCode == 0, lenient.ToString());
        Assert.Contains("warning DMRG0702", lenient.Err);
    }

    [Fact]
    public async Task Plan_Json_ShowsPerLayerGradientWeightsAndShards()
    {
        await _ws.BaseAsync(name: "base");
        await _ws.FineTuneAsync("ft", "mlp", 0);
        var config = _ws.Write("ta.yaml", """
            merge_method: task_arithmetic
            base_model: models/base
            models:
              - model: models/ft
                parameters:
                  weight:
                    - filter: mlp
                      value: [0, 0.3, 0.9]
                    - value: 1
            """);
        var result = await CliRunner.RunAsync("plan", config, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var plan = JsonNode.Parse(result.Out)!;
        var tensors = plan["tensors"]!.AsArray();
        double WeightOf(string tensor) => tensors.First(t => t!["name"]!.GetValue<string>() == tensor)!["inputs"]!.AsArray()
            .First(i => i!["model"]!.GetValue<string>() == "models/ft")!["parameters"]!["weight"]!.GetValue<double>();
        // 4 layers: t = 0, 1/3, 2/3, 1 over anchors [0, 0.3, 0.9] at t = 0, 0.5, 1.
        Assert.Equal(0.0, WeightOf("model.layers.0.mlp.up_proj.weight"), 12);
        Assert.Equal(0.2, WeightOf("model.layers.1.mlp.up_proj.weight"), 12);
        Assert.Equal(0.5, WeightOf("model.layers.2.mlp.up_proj.weight"), 12);
        Assert.Equal(0.9, WeightOf("model.layers.3.mlp.up_proj.weight"), 12);
        Assert.Equal(1.0, WeightOf("model.layers.2.self_attn.q_proj.weight"), 12);
        Assert.Equal(1.0, WeightOf("model.embed_tokens.weight"), 12);
        Assert.Equal("model.safetensors", plan["shards"]![0]!["file"]!.GetValue<string>());
        Assert.True(plan["estimated_peak_bytes"]!.GetValue<long>() > 0);
    }

    [Fact]
    public async Task Inspect_Json_ListsEveryTensor()
    {
        var a = await _ws.BaseAsync(name: "a");
        var result = await CliRunner.RunAsync("inspect", a, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var doc = JsonNode.Parse(result.Out)!;
        Assert.Equal(TestWorkspace.SmallSpec.Tensors().Count, doc["tensor_count"]!.GetValue<int>());
        var embed = doc["tensors"]!.AsArray().First(t => t!["name"]!.GetValue<string>() == "model.embed_tokens.weight")!;
        Assert.Equal("BF16", embed["dtype"]!.GetValue<string>());
        Assert.Equal(new long[] { 96, 32 }, embed["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
    }

    [Fact]
    public async Task Help_ExplainsCommandsAndExitCodes()
    {
        var result = await CliRunner.RunAsync("--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var word in new[] { "check", "plan", "inspect", "demo", "run", "Exit codes", "--out-shard-size", "--allow-crimes" })
            Assert.Contains(word, result.Out);
        Assert.Contains("Usage:\n  dotnet merge <config> <output> [command] [options]", result.Out.Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("soup", "dotnet merge soup <models>... [options]")]
    [InlineData("demo", "dotnet merge demo [<directory>] [options]")]
    [InlineData("run", "dotnet merge run <config> <output> [options]")]
    public async Task Subcommand_help_shows_the_usage_users_type(string command, string usage)
    {
        // System.CommandLine writes the root's CONFIG and OUTPUT before every subcommand; the tool leaves them out.
        var result = await CliRunner.RunAsync(command, "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:\n  " + usage + "\n", result.Out.Replace("\r\n", "\n"));
        Assert.DoesNotContain("<config> <output> " + command, result.Out);
    }
}
