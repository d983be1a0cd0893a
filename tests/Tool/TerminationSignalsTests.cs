using System.Runtime.InteropServices;
using DotnetMerge.Tool.Hosting;

namespace DotnetMerge.Tool.Tests;

public class TerminationSignalsTests
{
    [Fact]
    public async Task The_first_signal_cancels_a_quick_repeat_is_absorbed_and_a_later_one_stops_at_once()
    {
        var error = new StringWriter();
        using var signals = TerminationSignals.Unregistered(error);
        var first = new PosixSignalContext(PosixSignal.SIGINT);
        signals.Handle(first, now: 10_000);
        Assert.True(first.Cancel, "the first signal must not end the process: the command cleans up");
        await WaitForAsync(signals.Token);

        // The same Ctrl+C delivered twice (terminal to the child, and the launcher forwarding it).
        var repeat = new PosixSignalContext(PosixSignal.SIGINT);
        signals.Handle(repeat, now: 10_000 + (long)TerminationSignals.Grace.TotalMilliseconds - 1);
        Assert.True(repeat.Cancel);
        Assert.Equal("", error.ToString());

        var again = new PosixSignalContext(PosixSignal.SIGTERM);
        signals.Handle(again, now: 10_000 + (long)TerminationSignals.Grace.TotalMilliseconds + 1);
        Assert.False(again.Cancel, "a later signal must take the default action (the process ends)");
        Assert.Contains("stopping at once", error.ToString());
    }

    private static async Task WaitForAsync(CancellationToken token)
    {
        var cancelled = new TaskCompletionSource();
        using var registration = token.Register(() => cancelled.TrySetResult());
        Assert.Same(cancelled.Task, await Task.WhenAny(cancelled.Task, Task.Delay(TimeSpan.FromSeconds(10))));
    }
}
