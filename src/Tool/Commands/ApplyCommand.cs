using System.CommandLine;
using DotnetMerge.Deltas;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge apply --base B TV[:LAMBDA]... -o OUT [--force-base]</c>: base + Σ λᵢ·τᵢ.</summary>
public static class ApplyCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("apply",
            "Add scaled task vectors to a base: OUT = base + Σ λᵢ·τᵢ, in the base's dtype, rounded once. TV:-1 negates (forgets) a task; " +
            "base tensors a task vector does not have keep their value.");
        var baseModel = new Option<string>("--base") { Description = "The base model: a directory, a Hugging Face id (org/name[@rev]) or base+adapter (a LoRA-adapted model).", Required = true };
        var vectors = new Argument<string[]>("task-vectors") { Description = "Task vector directories, each optionally with :LAMBDA (default 1), e.g. tv-math:0.5 tv-toxic:-1.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the model (created; must be empty unless --force).", Required = true };
        var forceBase = new Option<bool>("--force-base") { Description = "Apply task vectors even when their recorded base fingerprint differs from --base." };
        var options = new CommonOptions();
        command.Arguments.Add(vectors);
        foreach (var o in new Option[] { baseModel, output, forceBase, options.OutShardSize, options.Force, options.NoCopyTokenizer }) command.Options.Add(o);
        options.AddTo(command, mergeOptions: false);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var scaled = result.GetValue(vectors)!.Select(ScaledTaskVector.Parse).ToList();
                var apply = new ApplyOptions { ForceBase = result.GetValue(forceBase), Merge = options.GetMergeOptions(result) };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var applied = await reporter.RunAsync(p => TaskVector.ApplyAsync(result.GetValue(baseModel)!, scaled, result.GetValue(output)!, apply, p, ct));
                foreach (var w in applied.Warnings) console.Err.WriteLine("warning: " + w);
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine($"applied {string.Join(", ", scaled)} (task-vector entries for {applied.ChangedTensors} of {applied.TensorCount} base tensors); written to {applied.OutputDirectory}");
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
