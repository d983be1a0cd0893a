using System.Diagnostics;
using System.Globalization;

namespace DotnetMerge.Bench;

/// <summary>Wall time and peak resident memory of one child process.</summary>
internal sealed record Measurement(double Seconds, long PeakRssBytes, double CpuSeconds, int ExitCode, string Output);

/// <summary>Runs a command as a separate process and measures it: with <c>/usr/bin/time -v</c>-style accounting when
/// GNU time is installed (max RSS of the child), else by sampling VmHWM in /proc/&lt;pid&gt;/status while it runs.</summary>
internal static class ProcessTimer
{
    private const string GnuTime = "/usr/bin/time";

    public static bool HasGnuTime => File.Exists(GnuTime);

    public static Measurement Run(string fileName, IReadOnlyList<string> arguments, string workingDirectory)
    {
        string? timeFile = HasGnuTime ? Path.GetTempFileName() : null;
        var psi = new ProcessStartInfo(timeFile is null ? fileName : GnuTime)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (timeFile is not null)
        {
            foreach (var a in new[] { "-f", "%M %U %S", "-o", timeFile, fileName }) psi.ArgumentList.Add(a);
        }
        foreach (var a in arguments) psi.ArgumentList.Add(a);

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long sampled = 0;
        while (!process.WaitForExit(20))
            sampled = Math.Max(sampled, ReadHighWaterMark(process.Id));
        process.WaitForExit();
        double seconds = watch.Elapsed.TotalSeconds;
        long peak = sampled;
        double cpu = double.NaN;
        if (timeFile is not null)
        {
            var lines = File.ReadAllLines(timeFile);
            File.Delete(timeFile);
            // GNU time prints "Command exited with non-zero status N" first on failure; the figures are the last line.
            var fields = lines.Length > 0 ? lines[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            if (fields.Length == 3 && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kib))
            {
                peak = kib * 1024;
                cpu = double.Parse(fields[1], CultureInfo.InvariantCulture) + double.Parse(fields[2], CultureInfo.InvariantCulture);
            }
        }
        return new Measurement(seconds, peak, cpu, process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>VmHWM of a process in bytes (0 when it is gone or /proc is not there).</summary>
    private static long ReadHighWaterMark(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    /// <summary>Output of a shell command (for machine facts), or "" when it fails.</summary>
    public static string Shell(string command)
    {
        try
        {
            var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(command);
            using var p = Process.Start(psi)!;
            string text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return text.Trim();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "";
        }
    }
}
