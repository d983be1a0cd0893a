using System.Runtime.InteropServices;

namespace DotnetMerge.Output;

/// <summary>Renames a directory only if nothing is at the target: <c>renameat2(RENAME_NOREPLACE)</c> on Linux, which
/// decides it atomically; elsewhere (or on a file system that lacks it) an existence check then a rename, which
/// refuses a non-empty target on every POSIX system and leaves only an empty target directory unprotected.</summary>
internal static partial class AtomicRename
{
    private const int AtFdCwd = -100, RenameNoReplace = 1;
    private const int EExist = 17, ENotEmpty = 39, EInval = 22, ENoSys = 38, ENotSup = 95;

    /// <summary>True when <paramref name="source"/> now is <paramref name="target"/>; false when the target exists.
    /// Other failures throw an <see cref="IOException"/> naming both paths.</summary>
    public static bool TryMoveNoReplace(string source, string target)
    {
        if (OperatingSystem.IsLinux())
        {
            int result;
            try { result = RenameAt2(AtFdCwd, source, AtFdCwd, target, RenameNoReplace); }
            catch (EntryPointNotFoundException) { result = -2; } // a libc older than 2.28
            if (result == 0) return true;
            if (result == -1)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is EExist or ENotEmpty) return false;
                if (errno is not (EInval or ENoSys or ENotSup))
                    throw new IOException($"cannot rename '{source}' to '{target}': {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        if (Directory.Exists(target) || File.Exists(target)) return false;
        try
        {
            Directory.Move(source, target);
            return true;
        }
        catch (IOException) when (Directory.Exists(target) || File.Exists(target))
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);
}
