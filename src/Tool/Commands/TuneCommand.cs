using System.CommandLine;
using System.Globalization;
using DotnetMerge.Engine;
using DotnetMerge.Soups;
using DotnetMerge.Tuning;
using DotnetMerge.Tuning.Strategies;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge tune CONFIG --eval CMD --budget N -o OUT</c>: search the definition's <c>{search: ...}</c> values
/// for the best score of an evaluator.</summary>
public static class TuneCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("tune",
            "Search the values a definition marks with {search: [min, max]} (a range) or {search: {values: [a, b]}} (a set) for the best score " +
            "of an evaluator: each candidate is merged into a scratch directory, scored and deleted; every trial is logged (--resume continues); " +
            "the best model is written to OUT with its definition (the values filled in), a table of every trial in the model card and " +
            "tune-report.html. See docs/tune.md.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition with search forms." };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the best model (created; must be empty unless --force).", Required = true };
        var eval = new Option<string>("--eval")
        {
            Description = "Evaluator command; {model} is replaced by the quoted model directory, and the number on the last non-empty line of its " +
                          "output is the score (higher is better). Runs through /bin/sh -c (cmd /c on Windows).",
            Required = true,
        };
        var budget = new Option<int>("--budget") { Description = "Trials at most (each one merge and one evaluation), at least 1.", Required = true };
        var strategy = new Option<string?>("--strategy")
        {
            Description = "grid (every combination; ranges at evenly spaced points), random (uniform draws) or cma-es (an evolution strategy " +
                          "for continuous ranges). Default: grid when every searched value is a set, cma-es otherwise.",
        };
        strategy.AcceptOnlyFromAmong([.. SearchStrategies.Names, "cmaes"]);
        var parallel = new Option<int>("--parallel") { Description = "Candidates merged and evaluated at the same time (default 1).", DefaultValueFactory = _ => 1 };
        var keep = new Option<bool>("--keep") { Description = "Keep every candidate in OUT.trials/ instead of deleting it once scored." };
        var resume = new Option<bool>("--resume") { Description = "Continue the search of the trial log: logged trials are not run again." };
        var logFile = new Option<string?>("--log") { Description = "The trial log (default: OUT.tune.jsonl beside the output)." };
        var workDir = new Option<string?>("--work-dir") { Description = "Parent of the scratch directory (default: /dev/shm when the candidates fit, else beside the output)." };
        var gridPoints = new Option<int?>("--grid-points") { Description = "grid: points per searched range, min and max included (default: as many as the budget allows)." };
        var timeout = new Option<string?>("--eval-timeout") { Description = "Time limit of one evaluation, e.g. 90, 90s, 15m, 2h (default: none); the evaluator's process tree is killed." };
        var options = new CommonOptions();
        options.Seed.Description = "Seed of the search (random points, CMA-ES samples) and of randomised methods (DARE, DELLA). Default 0.";
        command.Arguments.Add(config);
        foreach (var o in new Option[] { output, eval, budget, strategy, parallel, keep, resume, logFile, workDir, gridPoints, timeout }) command.Options.Add(o);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                int n = result.GetValue(budget), k = result.GetValue(parallel);
                if (n < 1) throw new ArgumentException($"--budget {n} must be at least 1 (the number of trials)");
                if (k < 1) throw new ArgumentException($"--parallel {k} must be at least 1");
                if (result.GetValue(gridPoints) is < 2 and var g) throw new ArgumentException($"--grid-points {g} must be at least 2 (min and max of each range)");
                var evaluator = CommandEvaluator.Create(result.GetValue(eval)!, SoupCommand.ParseTimeout(result.GetValue(timeout)));
                var mergeOptions = options.GetMergeOptions(result, console);
                var path = result.GetValue(config)!.FullName;
                var space = SearchSpace.Parse(DefinitionFile.Read(path, ct), path, out var diagnostics, result.GetValue(options.AllowUnknownKeys));
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                var tune = new TuneOptions
                {
                    OutputDirectory = result.GetValue(output)!,
                    Budget = n,
                    Strategy = result.GetValue(strategy) is "cmaes" ? "cma-es" : result.GetValue(strategy),
                    Seed = mergeOptions.Seed ?? space.Definition.Seed ?? 0,
                    Parallel = k,
                    Keep = result.GetValue(keep),
                    Resume = result.GetValue(resume),
                    LogPath = result.GetValue(logFile) is { } l ? Path.GetFullPath(l) : null,
                    WorkDirectory = result.GetValue(workDir),
                    GridPoints = result.GetValue(gridPoints),
                    Merge = mergeOptions,
                };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var tuned = await reporter.RunAsync(p => Tuner.RunAsync(space, evaluator, tune, p, ct));
                if (verbosity >= Verbosity.Minimal)
                {
                    console.Out.Write(TuneReport.CardSection(tuned).Replace("![score per trial](" + TuneReport.ChartFile + ")\n\n", "", StringComparison.Ordinal));
                    console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                        "tuned {0} value{1} in {2} trials ({3} evaluated, {4} from the log): best score {5} (trial {6}) written to {7}; report {8}",
                        tuned.Labels.Count, tuned.Labels.Count == 1 ? "" : "s", tuned.Trials.Count, tuned.Evaluated, tuned.Resumed,
                        Trial.FormatScore(tuned.Best.Score), tuned.Best.Number, tuned.OutputDirectory, Path.Combine(tuned.OutputDirectory, TuneReport.ReportFile)));
                }
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
