using System.CommandLine;
using DotnetMerge.Engine;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge check CONFIG</c>: every check of a run (definition, inputs, architecture, tokenizer, tensors,
/// shapes, parameters) without reading any tensor data.</summary>
public static class CheckCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("check", "Validate a definition and its input models without merging: reports every problem at once.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition (mergekit YAML)." };
        var scan = new Option<bool>("--scan")
        {
            Description = "Also read every input tensor and report those holding NaN or infinite values, with counts (reads all the weights).",
        };
        var options = new CommonOptions();
        var depsFile = DependencyFile.CreateOption();
        command.Arguments.Add(config);
        command.Options.Add(scan);
        command.Options.Add(depsFile);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console, reportDevice: false);
                var graph = MultiStageRunner.LoadStages(result.GetValue(config)!.FullName, mergeOptions.WorkingDirectory, out var diagnostics,
                    result.GetValue(options.AllowUnknownKeys), ct);
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                // Every stage of a multi-stage file is checked, the ones the output does not use included.
                // hub models: headers only, no weights downloaded
                var checking = DotnetMerge.Hub.HubPrecheck.ForChecking(mergeOptions, ct);
                using var multi = StagePlanner.Plan(graph, checking, everyStage: true);
                foreach (var w in multi.Warnings) console.Err.WriteLine(w);
                foreach (var stage in multi.Stages)
                {
                    var plan = stage.Plan!;
                    var scanned = result.GetValue(scan) ? Checks.InputScan.Run(plan, ct) : null;
                    foreach (var f in scanned?.Findings ?? []) console.Err.WriteLine(f.ToString());
                    var scanNote = scanned is null ? "" : $"; scanned {scanned.Tensors} input tensors ({ShardSize.Format(scanned.Bytes)}): " +
                        (scanned.Findings.Count == 0 ? "all finite" : $"{scanned.Findings.Count} hold NaN or infinite values");
                    var download = DotnetMerge.Hub.HubDownloadLedger.Describe(checking.Hub!.Downloads!.Among(plan.Models));
                    scanNote += download is null ? "" : "; " + download;
                    var prefix = graph.IsMultiStage ? $"stage '{stage.Stage.DisplayName}': " : "";
                    if (verbosity >= Verbosity.Minimal)
                        console.Out.WriteLine($"{prefix}ok: {plan.Models.Count} models, {plan.Jobs.Count} output tensors with {plan.Method.Name}; no errors{scanNote}");
                }
                if (result.GetValue(depsFile) is { } deps)
                    DependencyFile.Write(deps.FullName, DependencyFile.Collect(result.GetValue(config)!.FullName, multi, mergeOptions.Hub));
                return Task.FromResult(ExitCodes.Success);
            }, ct);
        });
        return command;
    }
}
