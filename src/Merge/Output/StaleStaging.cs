using System.Diagnostics;
using System.Globalization;

namespace DotnetMerge.Output;

/// <summary>Cleans up after runs that could not clean up themselves (kill -9, power loss): staging directories
/// <c>.NAME.partial-PID-GUID</c> and, from an interrupted <c>--force</c> commit, moved-aside outputs
/// <c>.NAME.old-PID-GUID</c>, beside the output NAME. One counts as stale when process PID no longer runs, or when a
/// process with that id started after the directory was made (the id was reused). A stale staging directory is
/// deleted; a stale moved-aside output is moved back when the output is missing (the interrupted commit had not
/// finished), else deleted.</summary>
internal static class StaleStaging
{
    /// <summary>How much later than a directory a process may have started and still own it (clock granularity).</summary>
    private static readonly TimeSpan StartSlack = TimeSpan.FromSeconds(2);

    public static string Prefix(string output) => $".{Path.GetFileName(output)}.partial-";

    private static string OldPrefix(string output) => $".{Path.GetFileName(output)}.old-";

    /// <summary>Cleans beside <paramref name="output"/>; returns one line per directory removed or restored.</summary>
    public static IReadOnlyList<string> Clean(string output)
    {
        var parent = Path.GetDirectoryName(output)!;
        var done = new List<string>();
        if (!Directory.Exists(parent)) return done;
        foreach (var (path, pid) in Owned(parent, OldPrefix(output)))
        {
            if (!Directory.Exists(output) && AtomicRename.TryMoveNoReplace(path, output))
                done.Add($"restored '{output}' from '{path}', moved aside by process {pid} (no longer running) when it was interrupted while replacing it");
            else if (Delete(path))
                done.Add($"removed '{path}', a previous output moved aside by process {pid} (no longer running)");
        }
        foreach (var (path, pid) in Owned(parent, Prefix(output)))
            if (Delete(path))
                done.Add($"removed the stale staging directory '{path}' of process {pid} (no longer running)");
        return done;
    }

    /// <summary>The staging directories beside <paramref name="output"/> whose process is gone (what <see cref="Clean"/>
    /// would remove), for <c>run --resume</c> to take their finished shards over first.</summary>
    public static IReadOnlyList<(string Path, int Pid)> Abandoned(string output)
    {
        var parent = Path.GetDirectoryName(output)!;
        return Directory.Exists(parent) ? Owned(parent, Prefix(output)).ToList() : [];
    }

    /// <summary>Directories named PREFIX + PID-GUID whose process is gone.</summary>
    private static IEnumerable<(string Path, int Pid)> Owned(string parent, string prefix)
    {
        foreach (var path in Directory.EnumerateDirectories(parent, prefix + "*").ToList())
        {
            var rest = Path.GetFileName(path)[prefix.Length..];
            int dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || rest.Length - dash - 1 != 32 || !rest[(dash + 1)..].All(char.IsAsciiHexDigit)) continue;
            if (!int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || IsRunning(pid, Made(path))) continue;
            yield return (path, pid);
        }
    }

    /// <summary>The earliest time the file system gives for the directory (its creation where recorded).</summary>
    private static DateTime Made(string path)
    {
        var created = Directory.GetCreationTimeUtc(path);
        var written = Directory.GetLastWriteTimeUtc(path);
        return created < written ? created : written;
    }

    private static bool IsRunning(int pid, DateTime directoryMade)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited) return false;
            return process.StartTime.ToUniversalTime() <= directoryMade + StartSlack;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; } // exited meanwhile
        catch (System.ComponentModel.Win32Exception) { return true; } // exists, but cannot be inspected: leave it
        catch (NotSupportedException) { return true; }
    }

    private static bool Delete(string path)
    {
        OutputTransaction.TryDelete(path);
        return !Directory.Exists(path);
    }
}
