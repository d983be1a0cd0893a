namespace DotnetMerge.Execution;

/// <summary>A point of a run where a test can make the run fail or stall (<see cref="IExecutionFaults"/>).</summary>
public enum FaultPoint
{
    /// <summary>The reader stage, before it reads the inputs of a tensor.</summary>
    Read,
    /// <summary>The compute stage, before it merges a tensor.</summary>
    Compute,
    /// <summary>The writer stage, before it writes a tensor into its shard.</summary>
    Write,
    /// <summary>Copying the tokenizer files (tensor index 0).</summary>
    Tokenizer,
    /// <summary>Writing the model card (tensor index 0).</summary>
    Card,
    /// <summary>Just before the staging directory is renamed into place (tensor index 0).</summary>
    Commit,
    /// <summary>After an existing output was moved aside under --force, before the new one is renamed in (index 0).</summary>
    CommitRename,
}

/// <summary>Fault injection for tests: the run calls <see cref="At"/> at each <see cref="FaultPoint"/>, and the
/// implementation may throw (a failure of that stage) or block until the token it is given is cancelled (a stage that
/// stalls). Null in every real run (<see cref="Engine.MergeOptions.Faults"/>): each call site is one null check.</summary>
internal interface IExecutionFaults
{
    void At(FaultPoint point, int tensorIndex, CancellationToken ct);
}
