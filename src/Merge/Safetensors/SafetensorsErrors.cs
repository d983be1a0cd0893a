namespace DotnetMerge.Safetensors;

/// <summary>What is wrong with a safetensors file; one kind per rule of the reference reader
/// (reference/formats-and-papers.md §A.4), plus the stricter checks this reader adds.</summary>
public enum SafetensorsError
{
    /// <summary>The file is shorter than the 8-byte header length prefix.</summary>
    HeaderTooSmall,
    /// <summary>The header length N exceeds 100,000,000 bytes.</summary>
    HeaderTooLarge,
    /// <summary>8 + N is past the end of the file.</summary>
    InvalidHeaderLength,
    /// <summary>The header bytes are not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>The header is not the expected JSON (syntax, field types, arity, missing fields, trailing content).</summary>
    InvalidJson,
    /// <summary>A tensor's dtype is not one of the safetensors names.</summary>
    UnknownDtype,
    /// <summary>The same tensor name appears twice in the header.</summary>
    DuplicateName,
    /// <summary>A tensor entry uses the reserved name <c>__metadata__</c>.</summary>
    ReservedName,
    /// <summary>Tensor byte ranges are not contiguous from 0 (a hole, an overlap, or END &lt; BEGIN).</summary>
    InvalidOffset,
    /// <summary>shape × element bits overflows.</summary>
    ValidationOverflow,
    /// <summary>A sub-byte tensor does not fill a whole number of bytes.</summary>
    MisalignedSlice,
    /// <summary>END − BEGIN differs from the byte size implied by shape and dtype.</summary>
    TensorInvalidInfo,
    /// <summary>The tensors do not cover the data section exactly (truncated file or trailing bytes).</summary>
    MetadataIncompleteBuffer,
    /// <summary>A requested tensor is not in the file.</summary>
    TensorNotFound,
    /// <summary>Reading the file failed or returned fewer bytes than the header promises.</summary>
    Io,
}

/// <summary>A safetensors file is malformed or cannot be read. The message is one line naming the file, the tensor
/// (when there is one) and the problem.</summary>
public sealed class SafetensorsFormatException : Exception
{
    public SafetensorsFormatException(SafetensorsError error, string filePath, string? tensorName, string detail, Exception? inner = null)
        : base(FormatMessage(filePath, tensorName, detail), inner)
    {
        Error = error; FilePath = filePath; TensorName = tensorName;
    }

    public SafetensorsError Error { get; }
    public string FilePath { get; }
    public string? TensorName { get; }

    private static string FormatMessage(string filePath, string? tensorName, string detail) =>
        tensorName is null ? $"{filePath}: {detail}" : $"{filePath}: tensor '{tensorName}': {detail}";
}

/// <summary>A model directory's set of safetensors files is inconsistent (index vs shards, missing files,
/// a tensor in two shards, no safetensors at all).</summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string path, string message, Exception? inner = null) : base(message, inner) => Path = path;

    /// <summary>The directory or file the problem is about.</summary>
    public string Path { get; }
}
