using System.CommandLine;
using System.Globalization;
using DotnetMerge.Soups;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge average CHECKPOINT... -o OUT [--last N] [--ema DECAY]</c>: checkpoint averaging.</summary>
public static class AverageCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("average",
            "Average checkpoints of one training run: give the checkpoint directories in training order, or one output directory " +
            "containing checkpoint-STEP folders (sorted by step).");
        var checkpoints = new Argument<string[]>("checkpoints") { Description = "Checkpoint directories, or one directory of checkpoint-* folders.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the averaged model (created; must be empty unless --force).", Required = true };
        var last = new Option<int?>("--last") { Description = "Average only the last N checkpoints." };
        var ema = new Option<double?>("--ema") { Description = "Exponential weighting: the i-th checkpoint from the end weighs DECAY^i (normalised), e.g. 0.9." };
        var options = new CommonOptions();
        command.Arguments.Add(checkpoints);
        foreach (var o in new Option[] { output, last, ema }) command.Options.Add(o);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var average = new AverageOptions { Last = result.GetValue(last), EmaDecay = result.GetValue(ema) };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var (merge, weights) = await reporter.RunAsync(p => CheckpointAverage.RunAsync(result.GetValue(checkpoints)!, result.GetValue(output)!,
                    average, options.GetMergeOptions(result, console), p, ct));
                if (verbosity >= Verbosity.Minimal)
                {
                    foreach (var w in weights) console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,8:F4}  {1}", w.Weight, w.Model));
                    console.Out.WriteLine($"averaged {CheckpointAverage.Checkpoints(weights.Count)} into {merge.OutputDirectory}");
                }
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
