using DotnetMerge.Engine;

namespace DotnetMerge.Output;

/// <summary>Everything of a run is written into a hidden staging directory beside the output and renamed into place
/// only when complete, so a failure or Ctrl+C never leaves a partial model, and an existing output is replaced only
/// with <c>--force</c> (and only after the new one is complete).</summary>
public sealed class OutputTransaction : IDisposable
{
    private bool _committed;

    private OutputTransaction(string outputDirectory, string stagingDirectory)
    {
        OutputDirectory = outputDirectory; StagingDirectory = stagingDirectory;
    }

    public string OutputDirectory { get; }
    public string StagingDirectory { get; }

    /// <summary>Checks the output location and creates the staging directory.</summary>
    public static OutputTransaction Begin(string outputDirectory, bool force, IEnumerable<string> inputDirectories)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        CheckLocation(output, force, inputDirectories);
        var parent = Path.GetDirectoryName(output) ?? throw new MergeException(MergeErrorKind.Output, $"cannot write a model to the root directory '{output}'");
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(output)}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        return new OutputTransaction(output, staging);
    }

    /// <summary>Refuses outputs that would overwrite something it should not.</summary>
    public static void CheckLocation(string outputDirectory, bool force, IEnumerable<string> inputDirectories)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        if (File.Exists(output))
            throw new MergeException(MergeErrorKind.Output, $"the output '{output}' is a file; give a directory path for the merged model");
        foreach (var input in inputDirectories)
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(input));
            if (IsSameOrInside(output, full))
                throw new MergeException(MergeErrorKind.Output, $"the output '{output}' is inside the input model '{full}'; choose a directory outside every input");
            if (IsSameOrInside(full, output))
                throw new MergeException(MergeErrorKind.Output, $"the input model '{full}' is inside the output '{output}', which would be replaced; choose another output directory");
        }
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !force)
            throw new MergeException(MergeErrorKind.Output, $"the output directory '{output}' is not empty; replace it with MergeOptions.Force (--force on the command line), or choose another directory");
    }

    private static bool IsSameOrInside(string path, string directory)
        => path.Equals(directory, StringComparison.Ordinal)
           || path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>Moves the completed staging directory into place (replacing an existing output).</summary>
    public void Commit()
    {
        string? old = null;
        if (Directory.Exists(OutputDirectory))
        {
            old = Path.Combine(Path.GetDirectoryName(OutputDirectory)!, $".{Path.GetFileName(OutputDirectory)}.old-{Guid.NewGuid():N}");
            Directory.Move(OutputDirectory, old);
        }
        try
        {
            Directory.Move(StagingDirectory, OutputDirectory);
        }
        catch
        {
            if (old is not null) Directory.Move(old, OutputDirectory);
            throw;
        }
        _committed = true;
        if (old is not null) TryDelete(old);
    }

    public void Dispose()
    {
        if (!_committed) TryDelete(StagingDirectory);
    }

    private static void TryDelete(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
