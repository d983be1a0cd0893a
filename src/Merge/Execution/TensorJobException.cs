namespace DotnetMerge.Execution;

/// <summary>A tensor job failed in a way no check anticipated: a bug (exit code 1). The message names the method and
/// the tensor; <see cref="Exception.InnerException"/> is the original failure with its stack.</summary>
public sealed class TensorJobException : Exception
{
    public TensorJobException(string message, Exception inner) : base(message, inner) { }
}
