using System.Diagnostics;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>A real tmpfs mount (a small disk, or a read-only one) for the duration of a test. Mounting needs root
/// (CI runs as root); where it is not possible the test is skipped with the reason mount gave.</summary>
public sealed class Tmpfs : IDisposable
{
    private Tmpfs(string path) => Path = path;

    public string Path { get; }

    /// <summary>Mounts a tmpfs with <paramref name="options"/> (e.g. <c>size=64k</c>, <c>ro</c>) at <paramref name="path"/>.</summary>
    public static Tmpfs Mount(string path, string options)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "tmpfs mounts are Linux-only");
        Directory.CreateDirectory(path);
        var (code, output) = Exec("mount", "-t", "tmpfs", "-o", options, "tmpfs", path);
        Skip.If(code != 0, $"cannot mount a tmpfs here (needs root): {output.Trim()}");
        return new Tmpfs(path);
    }

    private static (int Code, string Output) Exec(string file, params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string output = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }

    /// <summary>Changes the mount's options (e.g. <c>ro</c> once the test has filled it).</summary>
    public void Remount(string options)
    {
        var (code, output) = Exec("mount", "-o", "remount," + options, Path);
        Assert.True(code == 0, $"remount {options}: {output}");
    }

    public void Dispose() => Exec("umount", "-l", Path);
}
