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

    private const string UnixOnly = "the evaluator scripts are POSIX sh (the evaluator runs commands through cmd /c on Windows)";

    [SkippableFact]
    public async Task Score_IsTheNumberOnTheLastNonEmptyLine_AndTheModelPathArrivesQuoted()
    {
        Skip.If(OperatingSystem.IsWindows(), UnixOnly);
        var script = Script("ok.sh", "echo \"loading $1\"; echo \"arg=$1\" >&2; printf '0.5\\n  0.8125 \\n\\n'; test -d \"$1\" || exit 9");
        var model = Directory.CreateDirectory(_fx.PathOf("it's a model")).FullName;
        var evaluate = CommandEvaluator.Create($"sh {script} {{model}}");
        Assert.Equal(0.8125, await evaluate(model, CancellationToken.None));
    }

    [SkippableFact]
    public async Task NonZeroExit_ReportsTheCodeAndTheLastLinesOfStderr()
    {
        Skip.If(OperatingSystem.IsWindows(), UnixOnly);
        var script = Script("fail.sh", "echo first >&2; echo 'CUDA out of memory' >&2; exit 7");
        var e = await Assert.ThrowsAsync<EvaluatorException>(() => CommandEvaluator.Create($"sh {script} {{model}}")(_fx.Root, CancellationToken.None));
        Assert.Contains("exited with code 7", e.Message);
        Assert.Contains("CUDA out of memory", e.Message);
        Assert.Equal(DotnetMerge.Engine.MergeErrorKind.Input, e.Kind);
    }

    [SkippableTheory]
    [InlineData("echo 'accuracy: high'", "'accuracy: high' is not a number")]
    [InlineData("true", "printed nothing")]
    [InlineData("echo nan", "is not a number")]
    public async Task NonNumericOutput_IsAClearError(string body, string expected)
    {
        Skip.If(OperatingSystem.IsWindows(), UnixOnly);
        var script = Script("text.sh", body);
        var e = await Assert.ThrowsAsync<EvaluatorException>(() => CommandEvaluator.Create($"sh {script} {{model}}")(_fx.Root, CancellationToken.None));
        Assert.Contains(expected, e.Message);
    }

    /// <summary>On timeout the evaluator returns while its script is still running, having killed the script and the
    /// script's child: both processes (their ids written by the script as it starts) are gone, and the child never
    /// reaches the line after its sleep.</summary>
    [SkippableFact]
    public async Task Timeout_KillsTheProcessTree()
    {
        Skip.If(OperatingSystem.IsWindows(), UnixOnly);
        var marker = _fx.PathOf("survived");
        var pids = _fx.PathOf("pids");
        // the script and its subshell write their process ids; the subshell would then sleep 60 s and write the marker
        var script = Script("slow.sh", $"echo $$ > '{pids}'; (sh -c 'echo $PPID' >> '{pids}'; sleep 60; touch '{marker}') & wait; echo 1");
        var e = await Assert.ThrowsAsync<EvaluatorException>(() =>
            CommandEvaluator.Create($"sh {script} {{model}}", TimeSpan.FromSeconds(1.5))(_fx.Root, CancellationToken.None));
        Assert.Contains("timed out after 1.5 s", e.Message);
        int[] ids = File.ReadAllLines(pids).Where(l => l.Length > 0).Select(l => int.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(ids.Length == 2, $"the script and its subshell did not both start within the timeout: {string.Join(", ", ids)}");
        // a killed process can linger as a zombie until its new parent reaps it: wait (bounded) for each to be dead
        foreach (int id in ids)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (IsAlive(id) && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(IsAlive(id), $"process {id} of the evaluator survived the timeout");
        }
        Assert.False(File.Exists(marker), "a child of the evaluator ran on after the timeout");
    }

    /// <summary>Running (not exited, not a zombie), from /proc on Linux or `kill -0` elsewhere.</summary>
    private static bool IsAlive(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            string stat;
            try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return true; }
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        using var probe = Process.Start(new ProcessStartInfo("kill", ["-0", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            { RedirectStandardError = true })!;
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    [Fact]
    public void Create_RequiresThePlaceholder()
        => Assert.Throws<ArgumentException>(() => CommandEvaluator.Create("python eval.py"));
}
