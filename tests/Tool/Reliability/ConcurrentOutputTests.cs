using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Issue 14.9: two merges into one output directory never both succeed; the first result is never lost.</summary>
public sealed class ConcurrentOutputTests(MergeFixture fixture) : IClassFixture<MergeFixture>
{
    /// <summary>Holds a run just before its commit until released.</summary>
    private sealed class PauseAtCommit : IExecutionFaults
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ManualResetEventSlim Release { get; } = new();

        public void At(FaultPoint point, int tensorIndex, CancellationToken ct)
        {
            if (point != FaultPoint.Commit) return;
            Reached.TrySetResult();
            Release.Wait(ct);
        }
    }

    private static byte[] Model(string directory) => File.ReadAllBytes(Path.Combine(directory, "model.safetensors"));

    [Fact]
    public async Task An_output_that_appeared_while_a_merge_ran_is_not_replaced()
    {
        string output = fixture.Workspace.PathOf("shared-in-process");
        var pause = new PauseAtCommit();
        var first = fixture.RunAsync(output, new MergeOptions { Faults = pause });
        await pause.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60));

        var second = await fixture.RunAsync(output, new MergeOptions(), definition: fixture.WriteDefinition("second.yaml", 0.9));
        Assert.True(second.ExitCode == 0, second.ToString());
        var secondModel = Model(output);

        pause.Release.Set();
        var late = await first.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(late.ExitCode == ExitCodes.OutputError, late.ToString());
        Assert.Contains("was created by someone else while this merge ran", late.Err);
        Assert.Equal(secondModel, Model(output));
        Assert.Empty(Directory.GetFileSystemEntries(fixture.Workspace.Root, ".shared-in-process.*"));
    }

    [Fact]
    public async Task Two_processes_racing_on_one_output_one_wins_the_other_exits_5_and_the_output_is_the_winners()
    {
        string defA = fixture.WriteDefinition("race-a.yaml", 0.2), defB = fixture.WriteDefinition("race-b.yaml", 0.8);
        string refA = fixture.Workspace.PathOf("ref-a"), refB = fixture.Workspace.PathOf("ref-b");
        Assert.Equal(0, (await fixture.RunAsync(refA, new MergeOptions(), definition: defA)).ExitCode);
        Assert.Equal(0, (await fixture.RunAsync(refB, new MergeOptions(), definition: defB)).ExitCode);
        Assert.NotEqual(Model(refA), Model(refB));

        for (int round = 0; round < 3; round++)
        {
            string output = fixture.Workspace.PathOf($"race-{round}");
            var runs = await Task.WhenAll(
                Task.Run(() => ToolProcess.Run(fixture.Workspace.Root, defA, output, "--no-progress")),
                Task.Run(() => ToolProcess.Run(fixture.Workspace.Root, defB, output, "--no-progress")));
            string both = $"round {round}\nA: {runs[0]}\nB: {runs[1]}";
            Assert.True(runs.Count(r => r.ExitCode == 0) == 1 && runs.Count(r => r.ExitCode == ExitCodes.OutputError) == 1, both);
            Assert.Equal(Model(runs[0].ExitCode == 0 ? refA : refB), Model(output));
            Assert.Empty(Directory.GetFileSystemEntries(fixture.Workspace.Root, $".race-{round}.*"));
        }
    }
}
