using DotnetMerge.Execution;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>Makes the run throw at one point and/or stall at another (see IExecutionFaults).</summary>
internal sealed class Faults : IExecutionFaults
{
    private readonly (FaultPoint Point, int Index)? _throwAt;
    private readonly Func<Exception>? _error;
    private readonly (FaultPoint Point, int Index)? _blockAt;

    public Faults((FaultPoint, int)? throwAt = null, Func<Exception>? error = null, (FaultPoint, int)? blockAt = null)
    {
        _throwAt = throwAt; _error = error; _blockAt = blockAt;
    }

    /// <summary>Completed when the run reached the blocking point (and stalls there until its token is cancelled).</summary>
    public TaskCompletionSource Blocked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void At(FaultPoint point, int tensorIndex, CancellationToken ct)
    {
        if (_throwAt == (point, tensorIndex)) throw _error!();
        if (_blockAt != (point, tensorIndex)) return;
        Blocked.TrySetResult();
        ct.WaitHandle.WaitOne();
        ct.ThrowIfCancellationRequested();
    }
}
