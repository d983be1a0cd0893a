using System.Runtime.InteropServices;

namespace DotnetMerge.Tool.Hosting;

/// <summary>Turns Ctrl+C / SIGINT and SIGTERM into cancellation for the whole run, from the first line of Main.
/// <para>System.CommandLine registers its own handler only once a command's action has reached its first
/// <c>await</c>, so a signal in the synchronous start of an action (planning, the first evaluator launch) used to end
/// the process with code 130 but without cleanup or message. Here the first signal cancels the token: the command
/// stops, removes what it staged and exits with 130. A second signal more than <see cref="Grace"/> later ends the
/// process at once (for a step that does not respond); a repeat within the grace period is the same interrupt delivered
/// twice (a terminal's Ctrl+C reaches both the launcher and the relaunched child, and the launcher forwards it).</para></summary>
internal sealed class TerminationSignals : IDisposable
{
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly TextWriter _error;
    private long _firstTicks = -1;

    private TerminationSignals(TextWriter error) => _error = error;

    public CancellationToken Token => _cts.Token;

    /// <summary>An instance that no signal reaches (tests drive <see cref="Handle"/>).</summary>
    internal static TerminationSignals Unregistered(TextWriter error) => new(error);

    /// <summary>Registers for SIGINT and SIGTERM where the platform has them (otherwise the token never cancels).</summary>
    public static TerminationSignals Register(TextWriter error)
    {
        var signals = Unregistered(error);
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try { signals._registrations.Add(PosixSignalRegistration.Create(signal, signals.OnSignal)); }
            catch (PlatformNotSupportedException) { }
        }
        return signals;
    }

    private void OnSignal(PosixSignalContext context) => Handle(context, Environment.TickCount64);

    /// <summary>The decision for one signal arriving at <paramref name="now"/> (milliseconds).</summary>
    internal void Handle(PosixSignalContext context, long now)
    {
        long first = Interlocked.CompareExchange(ref _firstTicks, now, -1);
        if (first == -1)
        {
            context.Cancel = true;
            // Cancel off the signal thread: cancellation callbacks may take a while, and a later signal must still arrive.
            ThreadPool.UnsafeQueueUserWorkItem(static cts => cts.Cancel(), _cts, preferLocal: false);
            return;
        }
        if (now - first < (long)Grace.TotalMilliseconds) { context.Cancel = true; return; }
        _error.WriteLine("interrupted again: stopping at once. A hidden .NAME.partial-* staging directory may remain beside the output; the next run into that output removes it (nothing reads it).");
        _error.Flush();
        context.Cancel = false; // the default action ends the process
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
