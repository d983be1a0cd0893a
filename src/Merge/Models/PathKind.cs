using System.Runtime.InteropServices;

namespace DotnetMerge.Models;

/// <summary>What is at a path (following symbolic links), so that an error can say "is a directory", "is a named
/// pipe" or "is a symbolic link that loops" instead of "does not exist". On Linux the file type comes from
/// <c>statx</c> (its layout is the same on every architecture); elsewhere from .NET's file APIs, which tell regular
/// files, directories and links apart but not devices or pipes.</summary>
public static class PathKind
{
    public enum Kind { Missing, RegularFile, Directory, SymlinkLoop, DanglingSymlink, Fifo, CharacterDevice, BlockDevice, Socket, NoAccess, Other }

    /// <summary>The kind of entry at <paramref name="path"/>, after following links.</summary>
    public static Kind Of(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsLinux() && Statx(path) is { } kind)
            return kind;
        if (Directory.Exists(path)) return Kind.Directory;
        if (File.Exists(path)) return Kind.RegularFile;
        return LinkKind(path) ?? Kind.Missing;
    }

    /// <summary>"is a directory", "does not exist", "is a named pipe (FIFO)"... for messages.</summary>
    public static string Describe(string path) => Describe(Of(path), path);

    public static string Describe(Kind kind, string path) => kind switch
    {
        Kind.Missing => "does not exist",
        Kind.RegularFile => "is a file",
        Kind.Directory => "is a directory",
        Kind.SymlinkLoop => "is a symbolic link that loops (too many levels of symbolic links)",
        Kind.DanglingSymlink => "is a symbolic link to '" + SafeLinkTarget(path) + "', which does not exist",
        Kind.Fifo => "is a named pipe (FIFO)",
        Kind.CharacterDevice => "is a character device",
        Kind.BlockDevice => "is a block device",
        Kind.Socket => "is a socket",
        Kind.NoAccess => "cannot be examined (permission denied on the path)",
        _ => "is not a regular file or directory",
    };

    private static Kind? LinkKind(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is null) return null;
            try
            {
                return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } ? null : Kind.DanglingSymlink;
            }
            catch (IOException)
            {
                return Kind.SymlinkLoop;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static string SafeLinkTarget(string path)
    {
        try { return new FileInfo(path).LinkTarget ?? "?"; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return "?"; }
    }

    private static Kind? Statx(string path)
    {
        var buffer = new byte[256];
        int rc;
        try { rc = Linux.statx(Linux.AtFdCwd, path, 0, Linux.StatxType, buffer); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
        if (rc != 0)
        {
            return Marshal.GetLastPInvokeError() switch
            {
                Linux.ENOENT or Linux.ENOTDIR => LinkKind(path) ?? Kind.Missing,
                Linux.ELOOP => Kind.SymlinkLoop,
                Linux.EACCES => Kind.NoAccess,
                _ => null,
            };
        }
        int mode = BitConverter.ToUInt16(buffer, Linux.ModeOffset) & Linux.SIfmt;
        return mode switch
        {
            Linux.SIfreg => Kind.RegularFile,
            Linux.SIfdir => Kind.Directory,
            Linux.SIfifo => Kind.Fifo,
            Linux.SIfchr => Kind.CharacterDevice,
            Linux.SIfblk => Kind.BlockDevice,
            Linux.SIfsock => Kind.Socket,
            _ => Kind.Other,
        };
    }

    private static class Linux
    {
        public const int AtFdCwd = -100, StatxType = 1, ModeOffset = 28; // struct statx: stx_mode (u16) at byte 28
        public const int SIfmt = 0xF000, SIfsock = 0xC000, SIfreg = 0x8000, SIfblk = 0x6000, SIfdir = 0x4000, SIfchr = 0x2000, SIfifo = 0x1000;
        public const int ENOENT = 2, EACCES = 13, ENOTDIR = 20, ELOOP = 40;

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
    }
}
