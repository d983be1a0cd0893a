namespace DotnetMerge.Tool;

/// <summary>Where the tool writes: results to Out, diagnostics and progress to Err. Injected so tests can capture both.</summary>
public sealed class ToolConsole(TextWriter output, TextWriter error, bool interactive)
{
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    /// <summary>True when a person watches a terminal (live progress bars); false for files, pipes and CI.</summary>
    public bool Interactive { get; } = interactive;

    public static bool IsInteractiveTerminal()
        => !Console.IsErrorRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
           && Environment.GetEnvironmentVariable("TERM") != "dumb";
}
