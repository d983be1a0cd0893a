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
        root.Subcommands.Add(AnalyzeCommand.Create(console));
        root.Subcommands.Add(PlanCommand.Create(console));
        root.Subcommands.Add(InspectCommand.Create(console));
        root.Subcommands.Add(DemoCommand.Create(console));
        root.Subcommands.Add(SoupCommand.Create(console));
        root.Subcommands.Add(TuneCommand.Create(console));
        root.Subcommands.Add(AverageCommand.Create(console));
        root.Subcommands.Add(ExtractCommand.Create(console));
        root.Subcommands.Add(ExtractLoraCommand.Create(console));
        root.Subcommands.Add(ApplyCommand.Create(console));
        root.Subcommands.Add(ConvertCommand.Create(console));
        root.Subcommands.Add(MoeCommand.Create(console));
        root.Subcommands.Add(DoctorCommand.Create(console));
        root.Subcommands.Add(PartCommands.CreatePrepare(console));
        root.Subcommands.Add(PartCommands.CreateJoin(console));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, ToolConsole console, CancellationToken cancellationToken = default)
    {
        var root = CreateRootCommand(console);
        PhaseTimings.Mark("commands built");
        args = MergekitFlags.NormalizeVerbosityCount(args);
        if (UnknownCommand(root, args) is { } unknown)
        {
            console.Err.WriteLine("error: " + unknown);
            return ExitCodes.InvalidDefinition;
        }
        var parse = root.Parse(args);
        // Signals are the caller's (Program registers TerminationSignals for the whole run): System.CommandLine's own
        // handler starts only at an action's first await, and ends the process 2 s after a signal, cleanup or not.
        var config = new InvocationConfiguration
        {
            Output = console.Out, Error = console.Err, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
        };
        // A command-line error is one line each (with "did you mean"), not the whole help; exit code 2, as for a bad
        // definition (System.CommandLine's own 1 is this tool's "unexpected error (a bug)").
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction)
        {
            foreach (var line in ParseErrorLines(parse)) console.Err.WriteLine(line);
            return ExitCodes.InvalidDefinition;
        }
        // Help gets its usage line and arguments rewritten, and the mergekit-yaml flags listed.
        if (parse.Action is not HelpAction) return await parse.InvokeAsync(config, cancellationToken);
        var help = new StringWriter();
        config.Output = help;
        int code = await parse.InvokeAsync(config, cancellationToken);
        var command = parse.CommandResult.Command;
        string text = RewriteUsage(help.ToString(), root.Name, command == root ? null : command.Arguments.Select(a => a.Name).ToList());
        if (command.Options.Any(o => o.Name == MergekitFlags.Get("--cuda").Name))
            text = text.TrimEnd('\n') + "\n\n" + MergekitFlags.HelpSection() + "\n";
        console.Out.Write(text);
        return code;
    }

    /// <summary>A first argument that is neither a command nor an existing file but reads like a command name
    /// (<c>dotnet merge chek x.yml</c>): without this check it would be taken for the definition path 'chek'.</summary>
    internal static string? UnknownCommand(RootCommand root, string[] args)
    {
        if (args.Length == 0) return null;
        string first = args[0];
        if (first.StartsWith('-') || root.Subcommands.Any(c => c.Name == first || c.Aliases.Contains(first))) return null;
        if (File.Exists(first) || Directory.Exists(first) || first.IndexOfAny(['.', '/', '\\']) >= 0) return null;
        var names = root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
        string hint = NameSuggester.Hint(NameSuggester.Suggest(first, names)) is { } h ? "; " + h : "";
        return $"'{first}' is neither a command nor a definition file{hint} (commands: {string.Join(", ", names)}; dotnet merge --help)";
    }

    /// <summary>One line per command-line error: an unknown option gets the closest option names of its command.</summary>
    internal static IEnumerable<string> ParseErrorLines(System.CommandLine.ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string helpCommand = "dotnet merge " + (command is RootCommand ? "" : command.Name + " ") + "--help";
        var optionNames = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).ToList();
        foreach (var token in parse.UnmatchedTokens.Where(t => t.StartsWith('-')))
        {
            string hint = NameSuggester.Hint(NameSuggester.Suggest(token, optionNames)) is { } h ? "; " + h : "";
            yield return $"error: unknown option '{token}'{hint} ({helpCommand} lists the options)";
        }
        foreach (var error in parse.Errors)
        {
            if (parse.UnmatchedTokens.Any(t => t.StartsWith('-') && error.Message.Contains("'" + t + "'", StringComparison.Ordinal))) continue;
            yield return $"error: {error.Message.TrimEnd('.')} ({helpCommand} shows the usage)";
        }
    }

    /// <summary>The usage line as users type it: <c>dotnet merge soup MODELS...</c>. System.CommandLine writes the
    /// root's own CONFIG and OUTPUT arguments before every subcommand (<c>dotnet-merge &lt;config&gt; &lt;output&gt;
    /// soup ...</c>) and lists them under a subcommand's Arguments, which reads as if a subcommand needed them: with
    /// <paramref name="ownArguments"/> (a subcommand's), the Arguments section keeps only those.</summary>
    internal static string RewriteUsage(string help, string rootName, IReadOnlyCollection<string>? ownArguments = null)
    {
        string rootUsage = $"  {rootName} <config> <output> ";
        var lines = help.Split('\n').ToList();
        for (int i = 1; i < lines.Count; i++)
        {
            if (lines[i - 1].TrimEnd() != "Usage:" || !lines[i].StartsWith(rootUsage, StringComparison.Ordinal)) continue;
            string rest = lines[i][rootUsage.Length..];
            bool subcommand = !rest.StartsWith('[');
            lines[i] = "  dotnet merge " + (subcommand ? rest : "<config> <output> " + rest);
        }
        if (ownArguments is null) return string.Join('\n', lines);
        int start = lines.FindIndex(l => l.TrimEnd() == "Arguments:");
        // Each argument's lines (its first and any wrapped ones); the root's come first, so where a subcommand's
        // argument has the root's name (output), the last entry of that name is the subcommand's.
        var entries = new List<(string Name, int From, int To)>();
        for (int i = start + 1; start >= 0 && i < lines.Count && lines[i].Trim().Length > 0; i++)
        {
            if (lines[i].StartsWith("  <", StringComparison.Ordinal) && lines[i].IndexOf('>') is var close and > 3)
                entries.Add((lines[i][3..close], i, i + 1));
            else if (entries.Count > 0) entries[^1] = entries[^1] with { To = i + 1 };
        }
        for (int e = entries.Count - 1; e >= 0; e--)
        {
            var (name, from, to) = entries[e];
            bool last = !entries.Skip(e + 1).Any(x => x.Name == name);
            if (!ownArguments.Contains(name) || !last) lines.RemoveRange(from, to - from);
        }
        if (start >= 0 && (start + 1 == lines.Count || lines[start + 1].Trim().Length == 0))
        {
            lines.RemoveAt(start);
            if (start < lines.Count && lines[start].Trim().Length == 0) lines.RemoveAt(start);
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
            // "error DMRG0701: ...": the canonical form MSBuild and editors read, with the id (in the message).
            console.Err.WriteLine("error " + e.Message);
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
