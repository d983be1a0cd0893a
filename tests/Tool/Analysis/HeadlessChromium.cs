using System.Diagnostics;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary>Debian's <c>chromium</c> run headless (dump the DOM, take a screenshot) for the report page tests.</summary>
internal static class HeadlessChromium
{
    public const string Missing = "Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)";

    public static string? Find()
        => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    /// <summary>Runs it with <paramref name="args"/> and a fresh profile in <paramref name="profile"/>; fails after two minutes.</summary>
    public static (int ExitCode, string Out, string Err) Run(string chromium, string profile, params string[] args)
    {
        var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0",
                     "--user-data-dir=" + profile }.Concat(args))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(true);
            throw new TimeoutException("chromium did not finish");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A screenshot of <paramref name="url"/> at <paramref name="width"/> × <paramref name="height"/>, checked to
    /// be a PNG of that width and more than a blank page; returns its bytes.</summary>
    public static byte[] Screenshot(string chromium, string profile, string url, string png, int width, int height)
    {
        var shot = Run(chromium, profile, "--hide-scrollbars", $"--window-size={width},{height}", "--screenshot=" + png, url);
        Assert.True(shot.ExitCode == 0 && File.Exists(png), shot.Err);
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.Equal(width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16))); // IHDR width
        Assert.True(bytes.Length > 50_000, $"a {bytes.Length}-byte screenshot is too plain to hold the charts");
        return bytes;
    }
}
