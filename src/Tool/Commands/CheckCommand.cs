using System.CommandLine;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge check CONFIG</c>: every check of a run (definition, inputs, architecture, tokenizer, tensors,
/// shapes, parameters) without reading any tensor data.</summary>
public static class CheckCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("check", "Validate a definition and its input models without merging: reports every problem at once.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition (mergekit YAML)." };
        var options = new CommonOptions();
        command.Arguments.Add(config);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console, reportDevice: false);
                var definition = MergeRunner.LoadDefinition(result.GetValue(config)!.FullName, out var diagnostics, result.GetValue(options.AllowUnknownKeys));
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                using var plan = MergeRunner.Plan(definition, DotnetMerge.Hub.HubPrecheck.ForChecking(mergeOptions, ct)); // hub models: headers only, no weights downloaded
                foreach (var w in plan.Warnings) console.Err.WriteLine(w);
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine($"ok: {plan.Models.Count} models, {plan.Jobs.Count} output tensors with {plan.Method.Name}; no errors");
                return Task.FromResult(ExitCodes.Success);
            }, ct);
        });
        return command;
    }
}
