namespace DotnetMerge.Execution;

/// <summary>Receives progress of a running merge. Implementations must be thread-safe and cheap.</summary>
public interface IMergeProgress
{
    /// <summary>The run starts: how many tensors and bytes will be read and written.</summary>
    void Started(int tensorCount, long bytesToRead, long bytesToWrite);

    /// <summary>One output tensor has been written.</summary>
    void TensorWritten(string name, long bytesRead, long bytesWritten);

    /// <summary>A stage of the run begins (checking, planning, writing files...).</summary>
    void Stage(string description);

    /// <summary>Something the user should know, not an error.</summary>
    void Warning(string message);
}

/// <summary>Progress that goes nowhere.</summary>
public sealed class NullProgress : IMergeProgress
{
    public static NullProgress Instance { get; } = new();
    public void Started(int tensorCount, long bytesToRead, long bytesToWrite) { }
    public void TensorWritten(string name, long bytesRead, long bytesWritten) { }
    public void Stage(string description) { }
    public void Warning(string message) { }
}
