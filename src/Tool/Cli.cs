using System.CommandLine;
using System.CommandLine.Help;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Planning;
using DotnetMerge.Tool.Commands;

namespace DotnetMerge.Tool;

/// <summary>Composes the commands and turns failures into one-line messages and exit codes.</summary>
public static class Cli
{
    public static RootCommand CreateRootCommand(ToolConsole console)
    {
        var root = RunCommand.CreateRoot(console);
        root.Subcommands.Add(RunCommand.Create(console));
        root.Subcommands.Add(MultiCommand.Create(console));
        root.Subcommands.Add(CheckCommand.Create(console));
        root.Subcommands.Add(PlanCommand.Create(console));
        root.Subcommands.Add(InspectCommand.Create(console));
        root.Subcommands.Add(DemoCommand.Create(console));
        root.Subcommands.Add(SoupCommand.Create(console));
        root.Subcommands.Add(AverageCommand.Create(console));
        root.Subcommands.Add(ExtractCommand.Create(console));
        root.Subcommands.Add(ApplyCommand.Create(console));
        root.Subcommands.Add(DoctorCommand.Create(console));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, ToolConsole console, CancellationToken cancellationToken = default)
    {
        var root = CreateRootCommand(console);
        var parse = root.Parse(args);
        // Signals are the caller's (Program registers TerminationSignals for the whole run): System.CommandLine's own
        // handler starts only at an action's first await, and ends the process 2 s after a signal, cleanup or not.
        var config = new InvocationConfiguration
        {
            Output = console.Out, Error = console.Err, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
        };
        // Help, and the help printed after a command-line error, get their usage line rewritten.
        if (parse.Action is not (HelpAction or System.CommandLine.Invocation.ParseErrorAction)) return await parse.InvokeAsync(config, cancellationToken);
        var help = new StringWriter();
        config.Output = help;
        int code = await parse.InvokeAsync(config, cancellationToken);
        console.Out.Write(RewriteUsage(help.ToString(), root.Name));
        // System.CommandLine exits with 1 on a command-line error; 1 is this tool's "unexpected error (a bug)".
        return parse.Action is System.CommandLine.Invocation.ParseErrorAction ? ExitCodes.InvalidDefinition : code;
    }

    /// <summary>The usage line as users type it: <c>dotnet merge soup MODELS...</c>. System.CommandLine writes the
    /// root's own CONFIG and OUTPUT arguments before every subcommand (<c>dotnet-merge &lt;config&gt; &lt;output&gt;
    /// soup ...</c>), which reads as if a subcommand needed them.</summary>
    internal static string RewriteUsage(string help, string rootName)
    {
        string rootUsage = $"  {rootName} <config> <output> ";
        var lines = help.Split('\n');
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i - 1].TrimEnd() != "Usage:" || !lines[i].StartsWith(rootUsage, StringComparison.Ordinal)) continue;
            string rest = lines[i][rootUsage.Length..];
            bool subcommand = !rest.StartsWith('[');
            lines[i] = "  dotnet merge " + (subcommand ? rest : "<config> <output> " + rest);
        }
        return string.Join('\n', lines);
    }

    /// <summary>What a cancelled command prints (exit code 130).</summary>
    public const string CancelledMessage = "cancelled; nothing was written";

    /// <summary>Runs a command body, mapping anticipated failures to exit codes (the one place that does).</summary>
    public static async Task<int> Guard(ToolConsole console, Verbosity verbosity, Func<Task<int>> body, CancellationToken ct)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            console.Err.WriteLine(CancelledMessage);
            return ExitCodes.Cancelled;
        }
        catch (DefinitionErrorsException e)
        {
            PrintDiagnostics(console, e.Diagnostics, verbosity);
            return ExitCodes.InvalidDefinition;
        }
        catch (PlanningException e)
        {
            foreach (var f in e.Findings.Where(f => f.IsError || verbosity >= Verbosity.Minimal)) console.Err.WriteLine(f.ToString());
            return ExitCode(e.Kind);
        }
        catch (MergeException e)
        {
            console.Err.WriteLine("error: " + e.Message);
            if (verbosity >= Verbosity.Diagnostic) console.Err.WriteLine(e);
            return ExitCode(e.Kind);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            console.Err.WriteLine("error: " + e.Message);
            return ExitCodes.InvalidDefinition;
        }
        catch (Exception e)
        {
            console.Err.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message}");
            console.Err.WriteLine(verbosity >= Verbosity.Diagnostic ? e.ToString() : "(run again with -v diag for the stack trace, and please report it)");
            return ExitCodes.Unexpected;
        }
    }

    public static int ExitCode(MergeErrorKind kind) => kind switch
    {
        MergeErrorKind.Definition => ExitCodes.InvalidDefinition,
        MergeErrorKind.Input => ExitCodes.InvalidInput,
        MergeErrorKind.Output => ExitCodes.OutputError,
        MergeErrorKind.Device => ExitCodes.DeviceUnavailable,
        _ => ExitCodes.Unexpected,
    };

    public static void PrintDiagnostics(ToolConsole console, IEnumerable<DefinitionDiagnostic> diagnostics, Verbosity verbosity)
    {
        foreach (var d in diagnostics)
        {
            if (d.Severity != DiagnosticSeverity.Error && verbosity < Verbosity.Minimal) continue;
            if (d.Severity == DiagnosticSeverity.Info && verbosity < Verbosity.Detailed) continue;
            console.Err.WriteLine(d.ToString()); // includes the hint
        }
    }
}
