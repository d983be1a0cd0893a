using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Tool.Hosting;

namespace DotnetMerge.Tool.Tests;

/// <summary>The built CLI as a real process (<c>dotnet exec dotnet-merge.dll</c>): for what lives in Program.Main (the
/// SIMD relaunch, signal registration) and for faults only a process has (signals, kill -9, resource limits).</summary>
public static class ToolProcess
{
    public static string ToolPath => Path.Combine(AppContext.BaseDirectory, "dotnet-merge.dll");

    /// <summary>A start description; <paramref name="relaunch"/> sets DOTNET_MERGE_SIMD_RELAUNCH ("0": no child
    /// process; "always": a launcher and a child on any CPU; null: the default for this CPU).</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, string? relaunch, IEnumerable<string> args, string? vectorWidth = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(ToolPath);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment.Remove(SimdRelaunch.WidthVariable);
        start.Environment.Remove(SimdRelaunch.OptOutVariable);
        start.Environment.Remove(SimdRelaunch.LauncherVariable);
        if (vectorWidth is not null) start.Environment[SimdRelaunch.WidthVariable] = vectorWidth;
        if (relaunch is not null) start.Environment[SimdRelaunch.OptOutVariable] = relaunch;
        return start;
    }

    /// <summary>Runs to the end (at most two minutes) and returns the exit code and output.</summary>
    public static CliRunner.Result Run(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // the output pipes stay open while any child holds them: bound the reads as well as the exit
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)) || !Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(30)))
        {
            process.Kill(true);
            throw new TimeoutException("dotnet-merge did not finish");
        }
        return new CliRunner.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static CliRunner.Result Run(string workingDirectory, params string[] args) => Run(StartInfo(workingDirectory, "0", args));

    /// <summary>Sends a signal with kill(1).</summary>
    public static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>Ids of the live processes whose environment names <paramref name="launcherPid"/> as their launcher
    /// (the relaunched children of that launcher), read from /proc.</summary>
    public static IReadOnlyList<int> ChildrenOf(int launcherPid)
    {
        var marker = $"{SimdRelaunch.LauncherVariable}={launcherPid.ToString(CultureInfo.InvariantCulture)}";
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(marker)
                    && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("dotnet-merge", StringComparison.Ordinal) && !IsZombie(pid))
                    found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    private static bool IsZombie(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }
}
