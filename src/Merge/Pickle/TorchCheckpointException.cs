using DotnetMerge.Engine;

namespace DotnetMerge.Pickle;

/// <summary>A PyTorch <c>.bin</c> checkpoint that cannot be read: not the zip format, a malformed archive, or a pickle
/// that asks for something a weights-only loader refuses. Always bad model input (exit 3); the message is one line
/// naming the file.</summary>
public sealed class TorchCheckpointException : MergeException
{
    /// <summary>The file is not torch's zip format (a legacy pickle stream or tar, or not a checkpoint at all).</summary>
    public const string NotZipFormat = "DMRG0730";
    /// <summary>The zip container is malformed, truncated, compressed, or lacks <c>data.pkl</c> / a storage record.</summary>
    public const string BadArchive = "DMRG0731";
    /// <summary>The pickle names a global outside the weights-only allowlist (code execution refused).</summary>
    public const string ForbiddenGlobal = "DMRG0732";
    /// <summary>The pickle uses an opcode this reader does not implement, or is truncated / structurally wrong.</summary>
    public const string BadPickle = "DMRG0733";
    /// <summary>A tensor's storage, offset, shape or strides do not fit its storage record, or its dtype is unsupported.</summary>
    public const string BadTensor = "DMRG0734";

    public TorchCheckpointException(string path, string id, string message, Exception? inner = null)
        : base(MergeErrorKind.Input, id, $"{path}: {message}", inner)
        => Path = path;

    public string Path { get; }
}
