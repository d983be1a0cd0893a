using System.Diagnostics;
using DotnetMerge.Engine;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Real signals to real processes (issue 14, items 10, 11 and 18): kill -9 of the worker and of the AVX-512
/// launcher at random moments, SIGTERM to a running merge, and the second Ctrl+C. Afterwards the output is either
/// absent or the complete model, no process is left running, and the next run removes what a killed one left.</summary>
public sealed class KillAndSignalTests(MergeFixture fixture) : IClassFixture<MergeFixture>
{
    private string Root => fixture.Workspace.Root;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static byte[] Model(string directory) => File.ReadAllBytes(Path.Combine(directory, "model.safetensors"));

    private string[] Leftovers(string output) => Directory.GetFileSystemEntries(Root, $".{Path.GetFileName(output)}.*");

    /// <summary>The output is absent or byte-identical to the reference; then a rerun with --force succeeds, says what it
    /// removed, and leaves nothing hidden behind.</summary>
    private void AssertRecoverable(string output, string reference, string context)
    {
        if (Directory.Exists(output)) Assert.True(Model(reference).AsSpan().SequenceEqual(Model(output)), $"{context}: a partial or wrong model was committed");
        bool leftover = Leftovers(output).Any(p => p.Contains(".partial-", StringComparison.Ordinal));
        var rerun = ToolProcess.Run(Root, fixture.Definition, output, "--no-progress", "--force");
        Assert.True(rerun.ExitCode == 0, $"{context}: rerun\n{rerun}");
        if (leftover) Assert.Contains("removed the stale staging directory", rerun.Err);
        Assert.Empty(Leftovers(output));
        Assert.Equal(Model(reference), Model(output));
    }

    private async Task<string> ReferenceAsync()
    {
        string reference = fixture.Workspace.PathOf("reference");
        if (!Directory.Exists(reference)) Assert.Equal(0, (await fixture.RunAsync(reference, new MergeOptions())).ExitCode);
        return reference;
    }

    [SkippableTheory]
    [InlineData("0")]       // the worker itself
    [InlineData("always")]  // the launcher, with its relaunched child doing the work
    public async Task Kill_9_at_random_moments_leaves_no_partial_model_and_no_running_merge(string relaunch)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "kill -9 and /proc");
        string reference = await ReferenceAsync();
        var random = new Random(relaunch.Length * 7919);
        for (int round = 0; round < 6; round++)
        {
            string output = fixture.Workspace.PathOf($"killed-{relaunch}-{round}");
            int delay = random.Next(0, 1500);
            using var process = Process.Start(ToolProcess.StartInfo(Root, relaunch, [fixture.Definition, output, "--no-progress"]))!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            await Task.Delay(delay);
            var children = ToolProcess.ChildrenOf(process.Id);
            process.Kill(); // SIGKILL
            Assert.True(process.WaitForExit(Bound));
            // A relaunched child must not outlive its launcher (it used to finish and commit later).
            var watch = Stopwatch.StartNew();
            while (ToolProcess.ChildrenOf(process.Id).Count > 0 && watch.Elapsed < Bound) await Task.Delay(100);
            Assert.True(ToolProcess.ChildrenOf(process.Id).Count == 0, $"round {round} ({delay} ms): the child outlived the launcher");
            AssertRecoverable(output, reference, $"relaunch={relaunch} round {round}, killed after {delay} ms ({children.Count} child(ren) seen)");
        }
    }

    [SkippableFact]
    public async Task Kill_9_of_the_launcher_stops_its_child_at_once()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "PR_SET_PDEATHSIG is Linux-only");
        string output = fixture.Workspace.PathOf("orphan-soup");
        // A greedy soup waits on its evaluator (which never answers): a deterministic moment inside the child.
        var start = ToolProcess.StartInfo(Root, "always", ["soup", fixture.Workspace.PathOf("models", "ft1"), fixture.Workspace.PathOf("models", "ft2"),
            "--greedy", "--eval", "sleep 60 # {model}", "-o", output, "--no-progress"]);
        using var launcher = Process.Start(start)!;
        _ = launcher.StandardOutput.ReadToEndAsync();
        string? line;
        while ((line = await launcher.StandardError.ReadLineAsync().WaitAsync(Bound)) is not null && !line.Contains("scoring ingredient")) { }
        Assert.NotNull(line);
        var children = ToolProcess.ChildrenOf(launcher.Id);
        Assert.Single(children);
        launcher.Kill();
        var watch = Stopwatch.StartNew();
        while (ToolProcess.ChildrenOf(launcher.Id).Count > 0 && watch.Elapsed < Bound) await Task.Delay(100);
        Assert.True(ToolProcess.ChildrenOf(launcher.Id).Count == 0, "the relaunched child outlived its launcher");
        Assert.False(Directory.Exists(output), "the orphaned child committed an output");
    }

    /// <summary>A run held inside the tokenizer copy: the donor's merges.txt is a FIFO, whose open blocks until a writer
    /// comes (as a hung network file system would).</summary>
    private (Process Process, string Output, string Fifo) StartHeldInTokenizerCopy(string name)
    {
        string modelCopy = fixture.Workspace.PathOf($"fifo-{name}", "base");
        Directory.CreateDirectory(modelCopy);
        foreach (var f in Directory.GetFiles(fixture.Workspace.PathOf("models", "base"))) File.Copy(f, Path.Combine(modelCopy, Path.GetFileName(f)));
        string fifo = Path.Combine(modelCopy, "merges.txt");
        using (var mkfifo = Process.Start("mkfifo", [fifo])!) mkfifo.WaitForExit();
        Skip.IfNot(File.Exists(fifo), "mkfifo failed");
        string definition = fixture.Workspace.Write($"fifo-{name}/merge.yaml", File.ReadAllText(fixture.Definition).Replace("models/base", modelCopy, StringComparison.Ordinal));
        string output = fixture.Workspace.PathOf($"fifo-{name}", "out");
        var process = Process.Start(ToolProcess.StartInfo(Root, "0", [definition, output, "--no-progress"]))!;
        return (process, output, fifo);
    }

    private static async Task<string> WaitForLineAsync(Process process, string text)
    {
        var seen = new System.Text.StringBuilder();
        string? line;
        while ((line = await process.StandardError.ReadLineAsync().WaitAsync(Bound)) is not null)
        {
            seen.AppendLine(line);
            if (line.Contains(text, StringComparison.Ordinal)) return seen.ToString();
        }
        throw new Xunit.Sdk.XunitException($"'{text}' never came; stderr:\n{seen}");
    }

    [SkippableFact]
    public async Task Sigterm_to_a_running_merge_cancels_it_with_130_and_writes_nothing()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "POSIX signals and FIFOs");
        var (process, output, fifo) = StartHeldInTokenizerCopy("term");
        using (process)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            string before = await WaitForLineAsync(process, "writing config, tokenizer and model card");
            await Task.Delay(300);
            ToolProcess.Signal(process.Id, "TERM");
            await Task.Delay(300);
            // Let the blocked open return (an empty merges.txt): the run must then notice the signal and stop.
            await Task.Run(() => { using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write); }).WaitAsync(Bound);
            string rest = await process.StandardError.ReadToEndAsync().WaitAsync(Bound);
            Assert.True(process.WaitForExit(Bound), "the run did not stop after SIGTERM");
            Assert.True(process.ExitCode == ExitCodes.Cancelled, $"exit {process.ExitCode}\n{before}{rest}");
            Assert.Contains(Cli.CancelledMessage, rest);
            MergeFixture.AssertNothingWritten(output, "SIGTERM");
        }
    }

    [SkippableFact]
    public async Task A_second_ctrl_c_stops_a_step_that_does_not_respond_and_the_next_run_cleans_up()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "POSIX signals and FIFOs");
        var (process, output, fifo) = StartHeldInTokenizerCopy("twice");
        int pid = process.Id;
        using (process)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            await WaitForLineAsync(process, "writing config, tokenizer and model card");
            await Task.Delay(300);
            ToolProcess.Signal(process.Id, "INT");
            await Task.Delay(TerminationSignals_Grace + TimeSpan.FromMilliseconds(500));
            Assert.False(process.HasExited, "the first Ctrl+C cannot end a step blocked in open()");
            ToolProcess.Signal(process.Id, "INT");
            string rest = await process.StandardError.ReadToEndAsync().WaitAsync(Bound);
            Assert.True(process.WaitForExit(Bound), "the second Ctrl+C did not stop the process");
            Assert.Equal(130, process.ExitCode); // killed by SIGINT: 128 + 2
            Assert.Contains("interrupted again: stopping at once", rest);
        }
        Assert.False(Directory.Exists(output));
        var staging = Directory.GetDirectories(Path.GetDirectoryName(output)!, ".out.partial-*");
        Assert.Single(staging); // what the killed run could not remove...
        File.Delete(fifo);
        var rerun = ToolProcess.Run(Root, Path.Combine(Path.GetDirectoryName(output)!, "merge.yaml"), output, "--no-progress");
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Contains($"removed the stale staging directory '{staging[0]}' of process {pid}", rerun.Err); // ...the next run removes
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(output)!, ".out.*"));
    }

    private static readonly TimeSpan TerminationSignals_Grace = Hosting.TerminationSignals.Grace;
}
