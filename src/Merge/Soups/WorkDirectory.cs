namespace DotnetMerge.Soups;

/// <summary>A hidden scratch directory beside the output (same file system, so large candidates do not fill /tmp),
/// deleted when disposed: after success, failure or Ctrl+C alike.</summary>
internal sealed class WorkDirectory : IDisposable
{
    private WorkDirectory(string path) => Path = path;

    public string Path { get; }

    /// <param name="outputDirectory">The final output; the scratch directory goes next to it.</param>
    /// <param name="parent">An explicit parent directory instead.</param>
    /// <param name="purpose">A word in the directory's name ("soup", "tune").</param>
    public static WorkDirectory Create(string outputDirectory, string? parent, string purpose = "soup")
    {
        var output = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(outputDirectory));
        var root = parent is not null ? System.IO.Path.GetFullPath(parent) : System.IO.Path.GetDirectoryName(output) ?? System.IO.Path.GetTempPath();
        var path = System.IO.Path.Combine(root, $".{System.IO.Path.GetFileName(output)}.{purpose}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return new WorkDirectory(path);
    }

    public void Dispose() => TryDelete(Path);

    public static void TryDelete(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
