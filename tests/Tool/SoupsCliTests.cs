namespace DotnetMerge.Tool.Tests;

public sealed class SoupsCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string[]> ModelsAsync()
        => new[] { await _ws.FineTuneAsync("a", "mlp", 0), await _ws.FineTuneAsync("b", "self_attn", 0), await _ws.FineTuneAsync("c", "", 1) };

    /// <summary>An evaluator that prints the next line of a scores file on each call (the call order is known).</summary>
    private string ScriptedEvaluator(params string[] scores)
    {
        _ws.Write("scores", string.Join("\n", scores) + "\n");
        _ws.Write("eval.sh", $"n=$(cat '{_ws.PathOf("counter")}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{_ws.PathOf("counter")}'\n" +
                             $"test -f \"$1/config.json\" || exit 4\necho \"model $1\"\nsed -n \"${{n}}p\" '{_ws.PathOf("scores")}'\n");
        return $"sh '{_ws.PathOf("eval.sh")}' {{model}}";
    }

    [Fact]
    public async Task Different_vocabularies_name_the_models_and_suggest_what_these_commands_can_do()
    {
        // Used to point at "soup.yaml(7,12)", a file that does not exist, and to suggest --allow-crimes or tokenizer_source.
        var a = await _ws.FineTuneAsync("a", "mlp", 0);
        var wide = await _ws.FineTuneAsync("wide", "mlp", 0, TestWorkspace.SmallSpec with { Vocab = 128 });
        foreach (var args in new[]
        {
            new[] { "soup", a, wide, "-o", _ws.PathOf("soup"), "--no-progress" },
            new[] { "average", a, wide, "-o", _ws.PathOf("avg"), "--no-progress" },
            new[] { "extract", "--base", a, "--model", wide, "-o", _ws.PathOf("tv") },
        })
        {
            var r = await CliRunner.RunAsync(args);
            Assert.True(r.ExitCode == ExitCodes.InvalidInput, r.ToString());
            Assert.Contains("DMRG0703", r.Err);
            Assert.Contains($"model '{wide}'", r.Err);
            Assert.DoesNotContain("soup.yaml", r.Err);
            Assert.DoesNotContain("--allow-crimes", r.Err);
            Assert.Contains("tokenizer_source and run `dotnet merge run`", r.Err);
        }
    }

    [SkippableFact]
    public async Task Soup_Greedy_PrintsTheStepsAndWritesTheMeanOfTheKeptIngredients()
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator scripts are POSIX sh (soup runs --eval through cmd /c on Windows)");
        var models = await ModelsAsync();
        // ingredients a, b, c score 0.5, 0.7, 0.6 -> order b, c, a; b+c scores 0.72 (kept), b+c+a 0.71 (rejected)
        var eval = ScriptedEvaluator("0.5", "0.7", "0.6", "0.72", "0.71");
        var output = _ws.PathOf("soup");
        var result = await CliRunner.RunAsync(new[] { "soup" }.Concat(models).Concat(new[] { "--eval", eval, "-o", output, "--no-progress" }).ToArray());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"\| 1 \| `[^`]*/b` \| 0\.7 \| 0\.7 \| start", result.Out);
        Assert.Matches(@"\| 2 \| `[^`]*/c` \| 0\.6 \| 0\.72 \| kept \| 2 \|", result.Out);
        Assert.Matches(@"\| 3 \| `[^`]*/a` \| 0\.5 \| 0\.71 \| rejected \| 2 \|", result.Out);
        Assert.Contains("greedy soup of 2 of 3 ingredients, score 0.72", result.Out);
        Assert.Contains("| 3 | `", File.ReadAllText(Path.Combine(output, "README.md")));

        foreach (var name in new[] { "model.layers.1.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight" })
        {
            var b = TestWorkspace.ReadTensor(models[1], name);
            var c = TestWorkspace.ReadTensor(models[2], name);
            Bf16Reference.AssertEqual(b.Zip(c, (x, y) => (x + y) / 2).ToArray(), TestWorkspace.ReadRaw(output, name).Bytes, name);
        }
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_ws.Root), p => Path.GetFileName(p).StartsWith(".soup", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Soup_Uniform_IsTheMeanOfAll()
    {
        var models = await ModelsAsync();
        var output = _ws.PathOf("soup");
        var result = await CliRunner.RunAsync(new[] { "soup", "--uniform" }.Concat(models).Concat(new[] { "-o", output, "--no-progress" }).ToArray());
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("uniform soup of 3 of 3 ingredients", result.Out);
        const string name = "model.layers.2.mlp.down_proj.weight";
        var inputs = models.Select(m => TestWorkspace.ReadTensor(m, name)).ToList();
        Bf16Reference.AssertEqual(inputs[0].Select((_, i) => inputs.Sum(x => x[i]) / 3).ToArray(), TestWorkspace.ReadRaw(output, name).Bytes, name);
    }

    [SkippableTheory]
    // The timeout is generous unless the case is about the timeout: a loaded CI machine can take
    // longer than half a second just to start `sh`, which would turn the failure into a timeout.
    [InlineData("echo oops >&2; exit 5", "60s", "exited with code 5")]
    [InlineData("echo 'score: good'", "60s", "is not a number")]
    [InlineData("sleep 5; echo 1", "0.5s", "timed out after 0.5 s")]
    public async Task Soup_EvaluatorProblems_ExitWith3AndLeaveNothing(string body, string timeout, string message)
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator scripts are POSIX sh (soup runs --eval through cmd /c on Windows)");
        var models = await ModelsAsync();
        _ws.Write("bad.sh", body + "\n");
        var output = _ws.PathOf("soup");
        var result = await CliRunner.RunAsync(new[] { "soup" }.Concat(models).Concat(new[]
            { "--eval", $"sh '{_ws.PathOf("bad.sh")}' {{model}}", "--eval-timeout", timeout, "-o", output, "--no-progress" }).ToArray());
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.True(result.Err.Contains(message, StringComparison.Ordinal), result.ToString());
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task Soup_GreedyWithoutEvaluator_IsACommandLineError()
    {
        var models = await ModelsAsync();
        var result = await CliRunner.RunAsync(new[] { "soup", "--greedy" }.Concat(models).Concat(new[] { "-o", _ws.PathOf("soup") }).ToArray());
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("needs an evaluator", result.Err);
    }

    [Fact]
    public async Task Average_TrainingDirectory_LastTwoCheckpointsBySteps()
    {
        var run = _ws.PathOf("run");
        foreach (var (step, name) in new[] { (500, "a"), (1500, "b"), (1000, "c") })
        {
            var dir = await _ws.FineTuneAsync(name, "", 0);
            Directory.CreateDirectory(run);
            Directory.Move(dir, Path.Combine(run, $"checkpoint-{step}"));
        }
        var output = _ws.PathOf("avg");
        var result = await CliRunner.RunAsync("average", run, "--last", "2", "--ema", "0.5", "-o", output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("averaged 2 checkpoints", result.Out);
        const string name2 = "model.layers.1.mlp.gate_proj.weight";
        var c1000 = TestWorkspace.ReadTensor(Path.Combine(run, "checkpoint-1000"), name2);
        var c1500 = TestWorkspace.ReadTensor(Path.Combine(run, "checkpoint-1500"), name2);
        // decay 0.5: the last (1500) weighs 1, the one before 0.5 -> 2/3 and 1/3
        Bf16Reference.AssertEqual(c1000.Zip(c1500, (x, y) => (0.5 * x + y) / 1.5).ToArray(), TestWorkspace.ReadRaw(output, name2).Bytes, name2);
    }

    [Fact]
    public async Task SoupIngredientsMayBeHuggingFaceIds_ResolvedThroughTheHubCache_NotTakenForLocalPaths()
    {
        var models = await ModelsAsync();
        var id = "dotnet-merge-tests/never-cached-" + Guid.NewGuid().ToString("N")[..8];
        var result = await CliRunner.RunAsync("soup", models[0], id, "-o", _ws.PathOf("soup"), "--offline", "--no-progress");
        Assert.True(result.ExitCode == ExitCodes.InvalidInput, result.ToString());
        Assert.Contains($"model '{id}' is not fully in the Hugging Face cache", result.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_ws.PathOf("soup")));
    }
}
