namespace DotnetMerge.Tool.Tests;

/// <summary>Runs the CLI in-process with captured output.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    public static async Task<Result> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    public static async Task<Result> RunAsync(CancellationToken ct, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Cli.RunAsync(args, new ToolConsole(output, error, interactive: false), ct);
        return new Result(code, output.ToString(), error.ToString());
    }
}
