namespace DotnetMerge.Definitions;

/// <summary>Optional inputs of validation. The library never touches the file system itself.</summary>
public sealed class ValidationOptions
{
    /// <summary>Answers whether a local path exists; when null, local paths are not checked.</summary>
    public Func<string, bool>? PathExists { get; init; }

    /// <summary>Directory that relative local paths are resolved against (usually the definition file's directory).</summary>
    public string? BaseDirectory { get; init; }
}
