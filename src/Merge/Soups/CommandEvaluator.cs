using System.Diagnostics;
using System.Globalization;
using System.Text;
using DotnetMerge.Engine;

namespace DotnetMerge.Soups;

/// <summary>The evaluator failed, timed out or printed no score (exit code 3, like other input problems).</summary>
public sealed class EvaluatorException(string id, string message) : MergeException(MergeErrorKind.Input, id, message);

/// <summary>Scores a model directory by running a shell command: <c>{model}</c> in the command is replaced by the quoted
/// directory path, the command runs through <c>/bin/sh -c</c> (Unix) or <c>cmd /c</c> (Windows), and the number on the
/// last non-empty line of its standard output is the score (higher is better).</summary>
public static class CommandEvaluator
{
    /// <summary>The placeholder replaced by the model directory.</summary>
    public const string Placeholder = "{model}";

    /// <summary>Lines of standard error shown when the command fails.</summary>
    private const int StderrLines = 10;

    /// <summary>An evaluator delegate for <see cref="ModelSoup"/>. <paramref name="timeout"/>: per evaluation (null: none);
    /// on timeout or cancellation the whole process tree is killed.</summary>
    public static Func<string, CancellationToken, Task<double>> Create(string commandTemplate, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commandTemplate);
        if (!commandTemplate.Contains(Placeholder, StringComparison.Ordinal))
            throw new ArgumentException($"the evaluator command must contain {Placeholder} (replaced by the model directory), e.g. \"python eval.py --model {Placeholder}\"");
        if (timeout is { } t && t <= TimeSpan.Zero) throw new ArgumentException("the evaluator timeout must be positive");
        return (model, ct) => RunAsync(commandTemplate.Replace(Placeholder, Quote(model), StringComparison.Ordinal), timeout, workingDirectory, ct);
    }

    /// <summary>Quotes a path for the platform's shell.</summary>
    public static string Quote(string path)
        => OperatingSystem.IsWindows() ? "\"" + path.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The score printed on the last non-empty line of <paramref name="output"/>, or null.</summary>
    public static double? ParseScore(string output)
    {
        var last = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
        return last is not null && double.TryParse(last, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && !double.IsNaN(v) ? v : null;
    }

    private static async Task<double> RunAsync(string command, TimeSpan? timeout, string? workingDirectory, CancellationToken ct)
    {
        var start = OperatingSystem.IsWindows()
            ? new ProcessStartInfo("cmd.exe") { Arguments = "/d /s /c \"" + command + "\"" }
            : new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command } };
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;

        using var process = new Process { StartInfo = start };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        try { process.Start(); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new EvaluatorException(ErrorIds.EvaluatorStart, $"cannot start the evaluator `{command}`: {e.Message}");
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timer = timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        try
        {
            await process.WaitForExitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            throw new EvaluatorException(ErrorIds.EvaluatorTimeout,
                $"the evaluator timed out after {timeout!.Value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s and was stopped (with its child processes): `{command}`");
        }
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false); // drains the output events

        string output, errors;
        lock (stdout) output = stdout.ToString();
        lock (stderr) errors = stderr.ToString();
        if (process.ExitCode != 0)
            throw new EvaluatorException(ErrorIds.EvaluatorFailed, $"the evaluator exited with code {process.ExitCode}: `{command}`{Tail(errors)}");
        var score = ParseScore(output);
        if (score is null)
        {
            var last = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
            throw new EvaluatorException(ErrorIds.EvaluatorNoScore, last is null
                ? $"the evaluator printed nothing; it must print the score (a number such as 0.8125) on its last line: `{command}`"
                : $"the evaluator's last line '{Truncate(last)}' is not a number; it must print the score (such as 0.8125) on its last line: `{command}`");
        }
        return score.Value;
    }

    private static string Tail(string stderr)
    {
        var lines = stderr.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) return " (it wrote nothing to stderr)";
        return "; last lines of its stderr:" + string.Concat(lines.Skip(Math.Max(0, lines.Count - StderrLines)).Select(l => "\n  | " + Truncate(l)));
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "...";
}
