using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Any stage of a run (read, compute, write, tokenizer copy, card, commit) failing or stalling at any tensor
/// ends the run within a bounded time, with the exit code of that failure, and leaves nothing behind.</summary>
public sealed class FaultInjectionTests(MergeFixture fixture) : IClassFixture<MergeFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly FaultPoint[] PerTensor = [FaultPoint.Read, FaultPoint.Compute, FaultPoint.Write];
    private static readonly FaultPoint[] Once = [FaultPoint.Tokenizer, FaultPoint.Card, FaultPoint.Commit];

    public static TheoryData<FaultPoint, int> Points()
    {
        int last = TestWorkspace.SmallSpec.Tensors().Count - 1;
        var data = new TheoryData<FaultPoint, int>();
        foreach (var p in PerTensor)
            foreach (int i in new[] { 0, last / 2, last }) data.Add(p, i);
        foreach (var p in Once) data.Add(p, 0);
        return data;
    }

    /// <summary>What each kind of failure means: a file-system error is an input error where inputs are read, an output
    /// error where the output is written, and a bug anywhere else; anticipated errors keep their kind; other exceptions
    /// are bugs.</summary>
    private static int ExpectedForIo(FaultPoint point) => point switch
    {
        FaultPoint.Read => ExitCodes.InvalidInput,
        FaultPoint.Compute => ExitCodes.Unexpected,
        _ => ExitCodes.OutputError,
    };

    [Theory]
    [MemberData(nameof(Points))]
    public async Task A_failing_stage_ends_the_run_with_its_own_exit_code_and_writes_nothing(FaultPoint point, int index)
    {
        var cases = new (string Kind, Func<Exception> Error, int Expected)[]
        {
            ("io", () => new IOException("injected: the device failed"), ExpectedForIo(point)),
            ("bug", () => new InvalidOperationException("injected: a bug"), ExitCodes.Unexpected),
            ("device", () => new MergeException(MergeErrorKind.Device, ErrorIds.DeviceFailed, "injected: the device went away"), ExitCodes.DeviceUnavailable),
        };
        foreach (var (kind, error, expected) in cases)
        {
            string output = fixture.Workspace.PathOf($"throw-{point}-{index}-{kind}");
            var run = await fixture.RunAsync(output, new MergeOptions { Faults = new Faults(throwAt: (point, index), error: error) }).WaitAsync(Bound);
            Assert.True(run.ExitCode == expected, $"{point}[{index}] {kind}: expected exit {expected}\n{run}");
            Assert.Contains("injected", run.Err);
            MergeFixture.AssertNothingWritten(output, $"{point}[{index}] {kind}");
        }
    }

    [Theory]
    [MemberData(nameof(Points))]
    public async Task A_stalled_stage_is_cancelled_by_a_signal_and_writes_nothing(FaultPoint point, int index)
    {
        string output = fixture.Workspace.PathOf($"block-{point}-{index}");
        var faults = new Faults(blockAt: (point, index));
        using var cts = new CancellationTokenSource();
        var run = fixture.RunAsync(output, new MergeOptions { Faults = faults }, cts.Token);
        await faults.Blocked.Task.WaitAsync(Bound);
        cts.Cancel();
        var result = await run.WaitAsync(Bound);
        Assert.True(result.ExitCode == ExitCodes.Cancelled, $"{point}[{index}]\n{result}");
        MergeFixture.AssertNothingWritten(output, $"{point}[{index}]");
    }

    /// <summary>One stage stalls (waiting on a queue, as a stage behind a full channel does) while another fails: the
    /// failure must stop the stalled stage at once (issue 14.1: the run used to hang at 0% CPU).</summary>
    [Theory]
    [InlineData(FaultPoint.Write, 0, FaultPoint.Read, 5, ExitCodes.InvalidInput)]
    [InlineData(FaultPoint.Read, 10, FaultPoint.Write, 2, ExitCodes.OutputError)]
    [InlineData(FaultPoint.Compute, 3, FaultPoint.Write, 1, ExitCodes.OutputError)]
    [InlineData(FaultPoint.Write, 3, FaultPoint.Compute, 6, ExitCodes.Unexpected)]
    public async Task A_failure_in_one_stage_stops_a_stalled_one(FaultPoint blocked, int blockedIndex, FaultPoint failing, int failingIndex, int expected)
    {
        string output = fixture.Workspace.PathOf($"combo-{blocked}{blockedIndex}-{failing}{failingIndex}");
        var faults = new Faults(throwAt: (failing, failingIndex), error: () => new IOException("injected: the device failed"), blockAt: (blocked, blockedIndex));
        var result = await fixture.RunAsync(output, new MergeOptions { Faults = faults }).WaitAsync(Bound);
        Assert.True(result.ExitCode == expected, result.ToString());
        MergeFixture.AssertNothingWritten(output, $"{blocked}[{blockedIndex}] + {failing}[{failingIndex}]");
    }

    /// <summary>Without a stalled stage: a compute failure at the first tensor, with the reader ahead on a full queue
    /// (the exact deadlock of issue 14.1).</summary>
    [Fact]
    public async Task A_compute_failure_does_not_leave_the_reader_waiting_on_a_full_queue()
    {
        string output = fixture.Workspace.PathOf("deadlock");
        var faults = new Faults(throwAt: (FaultPoint.Compute, 0), error: () => new MergeException(MergeErrorKind.Input, ErrorIds.ShapeMismatch, "injected: not mergeable"));
        var result = await fixture.RunAsync(output, new MergeOptions { Faults = faults }).WaitAsync(Bound);
        Assert.True(result.ExitCode == ExitCodes.InvalidInput, result.ToString());
        Assert.Contains("error DMRG0706: injected: not mergeable", result.Err);
        MergeFixture.AssertNothingWritten(output, "compute[0]");
    }

    /// <summary>With --force over an existing model, the final rename failing puts the old model back untouched.</summary>
    [Fact]
    public async Task When_the_final_rename_fails_the_replaced_output_is_restored()
    {
        string output = fixture.Workspace.PathOf("rollback");
        Assert.Equal(0, (await fixture.RunAsync(output, new MergeOptions())).ExitCode);
        var before = Snapshot(output);
        var faults = new Faults(throwAt: (FaultPoint.CommitRename, 0), error: () => new IOException("injected: rename failed"));
        var result = await fixture.RunAsync(output, new MergeOptions { Force = true, Faults = faults }, definition: fixture.WriteDefinition("other.yaml", 0.9)).WaitAsync(Bound);
        Assert.True(result.ExitCode == ExitCodes.OutputError, result.ToString());
        Assert.Equal(before, Snapshot(output));
        var leftovers = Directory.GetFileSystemEntries(fixture.Workspace.Root, ".rollback.*");
        Assert.True(leftovers.Length == 0, string.Join(", ", leftovers));
    }

    private static Dictionary<string, string> Snapshot(string directory) => Directory.GetFiles(directory)
        .ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
}
