using System.Runtime.InteropServices;
using DotnetMerge.Engine;

namespace DotnetMerge.Output;

/// <summary>Turns a file-system failure while writing the output (disk full, read-only file system, a path under a
/// regular file, a directory that cannot hold files, too many open files) into the output error it is: exit code 5,
/// with the path, instead of an "unexpected" error.</summary>
internal static partial class OutputErrors
{
    private const int EMFile = 24, ENFile = 23;

    /// <summary>The output error for <paramref name="e"/>, or null when it is not a file-system failure (or already
    /// an anticipated error, or a cancellation).</summary>
    public static MergeException? From(Exception e, string path)
    {
        if (e is MergeException or OperationCanceledException) return null;
        if (e is not (IOException or UnauthorizedAccessException)) return null;
        return new MergeException(MergeErrorKind.Output, ErrorIds.OutputWriteFailed, $"cannot write the output '{path}': {e.Message}{OpenFilesHint(e)}", e);
    }

    /// <summary>True for "too many open files" (of the process or of the system).</summary>
    public static bool IsOpenFileLimit(Exception? e) => e is IOException { HResult: EMFile or ENFile };

    /// <summary>For "too many open files": the limit, and how to raise it.</summary>
    public static string OpenFilesHint(Exception e)
    {
        if (!IsOpenFileLimit(e)) return "";
        return OpenFileLimit() is { } limit
            ? $" (this process may open at most {limit} files; raise the limit with `ulimit -n`, or merge fewer models at once)"
            : " (raise the open-file limit with `ulimit -n`, or merge fewer models at once)";
    }

    /// <summary>The soft RLIMIT_NOFILE of this process (Linux), or null.</summary>
    public static ulong? OpenFileLimit()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            Span<ulong> limits = stackalloc ulong[2];
            return GetRLimit(7 /* RLIMIT_NOFILE */, ref MemoryMarshal.GetReference(limits)) == 0 ? limits[0] : null;
        }
        catch (EntryPointNotFoundException) { return null; }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, ref ulong limits);
}
