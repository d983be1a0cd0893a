using System.Diagnostics;
using DotnetMerge.Soups;

namespace DotnetMerge.Tests.Soups;

public sealed class CommandEvaluatorTests : IDisposable
{
    private readonly SoupFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private string Script(string name, string body)
    {
        var path = _fx.PathOf(name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        return path;
    }

    private static bool Unix => !OperatingSystem.IsWindows();

    [Fact]
    public async Task Score_IsTheNumberOnTheLastNonEmptyLine_AndTheModelPathArrivesQuoted()
    {
        if (!Unix) return;
        var script = Script("ok.sh", "echo \"loading $1\"; echo \"arg=$1\" >&2; printf '0.5\\n  0.8125 \\n\\n'; test -d \"$1\" || exit 9");
        var model = Directory.CreateDirectory(_fx.PathOf("it's a model")).FullName;
        var evaluate = CommandEvaluator.Create($"sh {script} {{model}}");
        Assert.Equal(0.8125, await evaluate(model, CancellationToken.None));
    }

    [Fact]
    public async Task NonZeroExit_ReportsTheCodeAndTheLastLinesOfStderr()
    {
        if (!Unix) return;
        var script = Script("fail.sh", "echo first >&2; echo 'CUDA out of memory' >&2; exit 7");
        var e = await Assert.ThrowsAsync<EvaluatorException>(() => CommandEvaluator.Create($"sh {script} {{model}}")(_fx.Root, CancellationToken.None));
        Assert.Contains("exited with code 7", e.Message);
        Assert.Contains("CUDA out of memory", e.Message);
        Assert.Equal(DotnetMerge.Engine.MergeErrorKind.Input, e.Kind);
    }

    [Theory]
    [InlineData("echo 'accuracy: high'", "'accuracy: high' is not a number")]
    [InlineData("true", "printed nothing")]
    [InlineData("echo nan", "is not a number")]
    public async Task NonNumericOutput_IsAClearError(string body, string expected)
    {
        if (!Unix) return;
        var script = Script("text.sh", body);
        var e = await Assert.ThrowsAsync<EvaluatorException>(() => CommandEvaluator.Create($"sh {script} {{model}}")(_fx.Root, CancellationToken.None));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task Timeout_KillsTheProcessTree()
    {
        if (!Unix) return;
        var marker = _fx.PathOf("survived");
        // the child (a subshell) would write the marker after 3 s if it were not killed with its parent
        var script = Script("slow.sh", $"(sleep 3; touch '{marker}') & wait; echo 1");
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<EvaluatorException>(() =>
            CommandEvaluator.Create($"sh {script} {{model}}", TimeSpan.FromMilliseconds(300))(_fx.Root, CancellationToken.None));
        Assert.Contains("timed out after 0.3 s", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"took {clock.Elapsed}");
        await Task.Delay(3500);
        Assert.False(File.Exists(marker), "a child of the evaluator survived the timeout");
    }

    [Fact]
    public void Create_RequiresThePlaceholder()
        => Assert.Throws<ArgumentException>(() => CommandEvaluator.Create("python eval.py"));
}
