namespace DotnetMerge.Tool;

/// <summary>MSBuild's verbosity vocabulary (q[uiet], m[inimal], n[ormal], d[etailed], diag[nostic]).</summary>
public enum Verbosity { Quiet, Minimal, Normal, Detailed, Diagnostic }

public static class VerbosityParser
{
    public static readonly string[] Accepted = { "q", "quiet", "m", "minimal", "n", "normal", "d", "detailed", "diag", "diagnostic" };

    public static Verbosity Parse(string? value) => value?.ToLowerInvariant() switch
    {
        null or "" or "n" or "normal" => Verbosity.Normal,
        "q" or "quiet" => Verbosity.Quiet,
        "m" or "minimal" => Verbosity.Minimal,
        "d" or "detailed" => Verbosity.Detailed,
        "diag" or "diagnostic" => Verbosity.Diagnostic,
        _ => throw new ArgumentException($"unknown verbosity '{value}' (use q, m, n, d or diag)"),
    };
}
