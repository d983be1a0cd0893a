namespace DotnetMerge.Tool.Tests;

/// <summary>`dotnet merge tune` end to end. The evaluator is a POSIX sh script that reads the weight written into the
/// candidate's recorded definition (mergekit_config.yml) and prints −(w − 0.3)²: its optimum is known, w = 0.3.
/// (tests/Merge/Tuning scores the merged tensors themselves.)</summary>
public sealed class TuneCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> DefinitionAsync(string search = "{search: [0.0, 1.0]}")
    {
        var b = await _ws.BaseAsync();
        var a = await _ws.FineTuneAsync("a", "mlp", 0);
        return _ws.Write("tune.yaml", $"""
            merge_method: task_arithmetic
            base_model: {b}
            models:
              - model: {a}
                parameters:
                  weight: {search}
            """ + "\n");
    }

    /// <summary>Counts its calls in a file; with a limit, fails (exit 1) on the calls past it.</summary>
    private string Evaluator(int failAfter = int.MaxValue)
    {
        var counter = _ws.PathOf("calls");
        _ws.Write("eval.sh", $"n=$(cat '{counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{counter}'\n" +
                             $"if [ $n -gt {failAfter} ]; then echo 'stopped' >&2; exit 1; fi\n" +
                             "w=$(sed -n 's/^ *weight: *\\([-+0-9.eE]*\\).*/\\1/p' \"$1/mergekit_config.yml\" | tail -n 1)\n" +
                             "awk -v w=\"$w\" 'BEGIN { printf \"%.17g\\n\", -(w - 0.3) * (w - 0.3) }'\n");
        return $"sh '{_ws.PathOf("eval.sh")}' {{model}}";
    }

    private int Calls() => int.Parse(File.ReadAllText(_ws.PathOf("calls")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    [SkippableFact]
    public async Task Grid_FindsTheKnownOptimum_AndWritesTheModelWithItsValueCardAndReport()
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator script is POSIX sh (tune runs --eval through cmd /c on Windows)");
        var config = await DefinitionAsync();
        var output = _ws.PathOf("best");
        var r = await CliRunner.RunAsync("tune", config, "--eval", Evaluator(), "--budget", "11", "--strategy", "grid", "-o", output, "--no-progress");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(11, Calls());
        Assert.True(r.Out.Contains("best score 0 (trial 4)"), r.ToString()); // 0, 0.1, 0.2, 0.3: the fourth point of the 11-point grid
        Assert.Contains("weight: 0.3", File.ReadAllText(Path.Combine(output, "mergekit_config.yml")));
        Assert.Contains("| **4** | 0.3 | **0** |", File.ReadAllText(Path.Combine(output, "README.md")));
        Assert.True(File.Exists(Path.Combine(output, "tune-report.html")));
        Assert.Equal(12, File.ReadAllLines(output + ".tune.jsonl").Length);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_ws.Root), p => Path.GetFileName(p).StartsWith(".best.tune", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Resume_AfterAFailedEvaluation_RunsOnlyTheMissingTrials()
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator script is POSIX sh");
        var config = await DefinitionAsync();
        var output = _ws.PathOf("best");
        var args = new[] { "tune", config, "--budget", "12", "--strategy", "cma-es", "--seed", "3", "-o", output, "--no-progress" };
        var stopped = await CliRunner.RunAsync(args.Concat(new[] { "--eval", Evaluator(failAfter: 5) }).ToArray());
        Assert.True(stopped.ExitCode == ExitCodes.InvalidInput, stopped.ToString());
        Assert.Contains("DMRG1012", stopped.Err);
        Assert.False(Directory.Exists(output));
        Assert.Equal(1 + 5, File.ReadAllLines(output + ".tune.jsonl").Length);

        File.Delete(_ws.PathOf("calls"));
        var again = await CliRunner.RunAsync(args.Concat(new[] { "--eval", Evaluator() }).ToArray());
        Assert.True(again.ExitCode == ExitCodes.OutputError, again.ToString()); // the log exists: --resume or --force
        Assert.Contains("--resume", again.Err);

        var resumed = await CliRunner.RunAsync(args.Concat(new[] { "--eval", Evaluator(), "--resume" }).ToArray());
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(7, Calls());
        Assert.Contains("(7 evaluated, 5 from the log)", resumed.Out);
    }

    [Theory]
    [InlineData("{search: [0.0, 1.0]}", new[] { "--budget", "0" }, "--budget 0 must be at least 1")]
    [InlineData("{search: [0.0, 1.0]}", new[] { "--budget", "4", "--parallel", "0" }, "--parallel 0 must be at least 1")]
    [InlineData("{search: [0.0, 1.0]}", new[] { "--budget", "4", "--strategy", "bayes" }, "bayes")]
    [InlineData("{search: [1.0, 0.2]}", new[] { "--budget", "4" }, "tune.yaml(6,15): error DMRG0331")]
    [InlineData("{search: [0.0, .inf]}", new[] { "--budget", "4" }, "tune.yaml(6,30): error DMRG0320")]
    [InlineData("0.5", new[] { "--budget", "4" }, "DMRG0990")]
    public async Task BadInputs_AreLocatedErrors_WithExitCode2(string search, string[] options, string expected)
    {
        var config = await DefinitionAsync(search);
        var r = await CliRunner.RunAsync(new[] { "tune", config, "--eval", "true {model}", "-o", _ws.PathOf("best"), "--no-progress" }.Concat(options).ToArray());
        Assert.True(r.ExitCode == ExitCodes.InvalidDefinition, r.ToString());
        Assert.True(r.Err.Contains(expected), r.ToString());
        Assert.False(Directory.Exists(_ws.PathOf("best")));
    }

    [Fact]
    public async Task RunAndCheck_RefuseASearchForm_NamingTune()
    {
        var config = await DefinitionAsync();
        foreach (var args in new[] { new[] { "run", config, _ws.PathOf("out"), "--no-progress" }, new[] { "check", config } })
        {
            var r = await CliRunner.RunAsync(args);
            Assert.True(r.ExitCode == ExitCodes.InvalidDefinition, r.ToString());
            Assert.Contains("tune.yaml(6,15): error DMRG0330", r.Err + r.Out);
            Assert.Contains("dotnet merge tune", r.Err + r.Out);
        }
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }

    [Fact]
    public async Task Help_ExplainsTheSearchForms()
    {
        var r = await CliRunner.RunAsync("tune", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var word in new[] { "{search: [min, max]}", "--budget", "--strategy", "--resume", "--parallel", "--keep", "--seed" })
            Assert.Contains(word, r.Out);
    }
}
