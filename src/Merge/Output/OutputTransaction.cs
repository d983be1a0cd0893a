using System.Globalization;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Output;

/// <summary>Everything of a run is written into a hidden staging directory beside the output and renamed into place
/// only when complete, so a failure or Ctrl+C never leaves a partial model, and an existing output is replaced only
/// with <c>--force</c> (and only after the new one is complete).
/// <para>The emptiness check holds at commit time too: the staging directory is renamed with
/// <c>renameat2(RENAME_NOREPLACE)</c> (Linux; elsewhere a rename that refuses a non-empty target), so an output that
/// appeared during the run (another merge into the same directory) is never replaced without <c>--force</c>.</para>
/// <para>Staging directories are named <c>.NAME.partial-PID-GUID</c>; one left behind by a process that no longer runs
/// (kill -9, power loss) is removed by the next run into the same output (<see cref="StaleStaging"/>).</para></summary>
public sealed class OutputTransaction : IDisposable
{
    private bool _committed;

    private OutputTransaction(string outputDirectory, string stagingDirectory, bool force, IReadOnlyList<string> removed)
    {
        OutputDirectory = outputDirectory; StagingDirectory = stagingDirectory; Force = force; RemovedStale = removed;
    }

    public string OutputDirectory { get; }
    public string StagingDirectory { get; }
    public bool Force { get; }

    /// <summary>What <see cref="Begin"/> cleaned up: stale staging directories of dead processes (one line each).</summary>
    public IReadOnlyList<string> RemovedStale { get; }

    /// <summary>Fault injection for tests (null in real runs).</summary>
    internal IExecutionFaults? Faults { get; set; }

    /// <summary>Checks the output location, removes stale staging directories beside it and creates the staging directory.</summary>
    public static OutputTransaction Begin(string outputDirectory, bool force, IEnumerable<string> inputDirectories)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        CheckLocation(output, force, inputDirectories);
        var parent = Path.GetDirectoryName(output) ?? throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"cannot write a model to the root directory '{output}'");
        var staging = Path.Combine(parent, $"{StaleStaging.Prefix(output)}{Environment.ProcessId}-{Guid.NewGuid():N}");
        IReadOnlyList<string> removed;
        try
        {
            Directory.CreateDirectory(parent);
            removed = StaleStaging.Clean(output);
            Directory.CreateDirectory(staging);
        }
        catch (Exception e) when (OutputErrors.From(e, output) is { } error)
        {
            throw error;
        }
        return new OutputTransaction(output, staging, force, removed);
    }

    /// <summary>Refuses outputs that would overwrite something it should not.</summary>
    public static void CheckLocation(string outputDirectory, bool force, IEnumerable<string> inputDirectories)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        if (File.Exists(output))
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"the output '{output}' is a file; give a directory path for the merged model");
        foreach (var input in inputDirectories)
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(input));
            if (IsSameOrInside(output, full))
                throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"the output '{output}' is inside the input model '{full}'; choose a directory outside every input");
            if (IsSameOrInside(full, output))
                throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"the input model '{full}' is inside the output '{output}', which would be replaced; choose another output directory");
        }
        if (!force && !IsAbsentOrEmpty(output))
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"the output directory '{output}' is not empty; replace it with MergeOptions.Force (--force on the command line), or choose another directory");
    }

    private static bool IsAbsentOrEmpty(string directory)
    {
        try { return !Directory.Exists(directory) || !Directory.EnumerateFileSystemEntries(directory).Any(); }
        catch (Exception e) when (OutputErrors.From(e, directory) is { } error) { throw error; }
    }

    private static bool IsSameOrInside(string path, string directory)
        => path.Equals(directory, StringComparison.Ordinal)
           || path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>Moves the completed staging directory into place. Without --force the output must still be absent or
    /// empty (an empty directory is removed first; a non-empty one that appeared during the run is an error and is
    /// left as it is). With --force an existing output is moved aside, the new one renamed in, and the old one deleted;
    /// if the rename fails the old output is moved back.</summary>
    public void Commit(CancellationToken ct = default)
    {
        try
        {
            Faults?.At(FaultPoint.Commit, 0, ct);
            ct.ThrowIfCancellationRequested();
            if (!Force) CommitNew();
            else CommitReplacing();
        }
        catch (Exception e) when (OutputErrors.From(e, OutputDirectory) is { } error)
        {
            throw error;
        }
        _committed = true;
    }

    private void CommitNew()
    {
        if (Directory.Exists(OutputDirectory) && !Directory.EnumerateFileSystemEntries(OutputDirectory).Any())
        {
            try { Directory.Delete(OutputDirectory, recursive: false); }
            catch (IOException) when (Directory.Exists(OutputDirectory)) { throw Appeared(); } // filled meanwhile
        }
        if (!AtomicRename.TryMoveNoReplace(StagingDirectory, OutputDirectory)) throw Appeared();
    }

    private void CommitReplacing()
    {
        string? old = null;
        if (Directory.Exists(OutputDirectory))
        {
            old = Path.Combine(Path.GetDirectoryName(OutputDirectory)!,
                string.Create(CultureInfo.InvariantCulture, $".{Path.GetFileName(OutputDirectory)}.old-{Environment.ProcessId}-{Guid.NewGuid():N}"));
            Directory.Move(OutputDirectory, old);
        }
        try
        {
            Faults?.At(FaultPoint.CommitRename, 0, CancellationToken.None);
            if (!AtomicRename.TryMoveNoReplace(StagingDirectory, OutputDirectory)) throw Appeared();
        }
        catch
        {
            if (old is not null) AtomicRename.TryMoveNoReplace(old, OutputDirectory);
            throw;
        }
        if (old is not null) TryDelete(old);
    }

    private MergeException Appeared() => new(MergeErrorKind.Output, ErrorIds.OutputRace,
        $"the output directory '{OutputDirectory}' was created by someone else while this merge ran (another merge into the same directory?); " +
        "it was left as it is and nothing was written. " + (Force ? "Run again, or choose another directory" : "Replace it with MergeOptions.Force (--force on the command line), or choose another directory"));

    public void Dispose()
    {
        if (!_committed) TryDelete(StagingDirectory);
    }

    internal static void TryDelete(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
