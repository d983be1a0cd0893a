using System.CommandLine;
using System.Globalization;
using DotnetMerge.Engine;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge CONFIG OUT</c> (mergekit-yaml compatible) and its explicit form <c>dotnet merge run CONFIG OUT</c>.</summary>
public static class RunCommand
{
    public const string RootDescription =
        "Merge fine-tuned checkpoints (safetensors) of one base model with mergekit's YAML and methods: " +
        "streaming, in bounded memory, every input checked before any tensor is read.\n\n" +
        "Usage: dotnet merge CONFIG.yaml OUTPUT_DIR [options]   (same as `run`)\n\n" + ExitCodes.HelpText + "\n\n" +
        "On AVX-512 CPUs merges run in a child process with 512-bit SIMD vectors (same results, faster); " +
        "DOTNET_MERGE_SIMD_RELAUNCH=0 turns that off. See docs/performance.md.";

    public static RootCommand CreateRoot(ToolConsole console)
    {
        var root = new RootCommand(RootDescription);
        Configure(root, console);
        return root;
    }

    public static Command Create(ToolConsole console)
    {
        var command = new Command("run", "Run a merge: check, plan and write the merged model into OUTPUT_DIR (atomically).");
        Configure(command, console);
        return command;
    }

    /// <summary>The arguments, options and action of <c>run</c>, the root command and <c>multi</c>: a file of one
    /// stage or several (<see cref="MultiStageRunner"/>).</summary>
    internal static void Configure(Command command, ToolConsole console)
    {
        var config = new Argument<FileInfo>("config") { Description = "The merge definition (mergekit YAML; several documents make a multi-stage definition)." };
        var output = new Argument<DirectoryInfo>("output") { Description = "Directory for the merged model (created; must be empty unless --force)." };
        var options = new CommonOptions();
        var stageOptions = new StageOptions();
        var depsFile = DependencyFile.CreateOption();
        var part = new Option<string?>("--part")
        {
            Description = "Compute only part i of N (i from 0 to N-1) of a merge split across machines: its output shards and records, " +
                          "in OUTPUT_DIR on shared storage; `dotnet merge join OUTPUT_DIR` then makes it a model. 'auto' reads the index " +
                          "(and count) of a Slurm array task or, as auto/N, a Kubernetes Indexed Job. See docs/cluster.md.",
        };
        var resume = new Option<bool>("--resume")
        {
            Description = "Keep the shards an interrupted run finished (records whose hashes match this plan) and compute only the rest; " +
                          "without --part the whole merge then joins into OUTPUT_DIR, taking over the finished shards of a plain run into " +
                          "OUTPUT_DIR that was killed. A changed definition or input invalidates old shards.",
        };
        command.Arguments.Add(config);
        command.Options.Add(part);
        command.Options.Add(resume);
        command.Arguments.Add(output);
        command.Options.Add(depsFile);
        options.AddTo(command);
        stageOptions.AddTo(command);
        command.SetAction((result, ct) =>
        {
            PhaseTimings.Mark("command line parsed");
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console);
                var stages = stageOptions.Get(result);
                var graph = MultiStageRunner.LoadStages(result.GetValue(config)!.FullName, mergeOptions.WorkingDirectory, out var diagnostics,
                    result.GetValue(options.AllowUnknownKeys), ct);
                PhaseTimings.Mark("definition parsed and validated");
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                if (result.GetValue(part) is not null || result.GetValue(resume))
                {
                    if (stages.IntermediateDirectory is not null)
                        throw new ArgumentException("--intermediate-dir cannot be combined with --part or --resume: a partitioned run computes intermediate stages in the same pass");
                    if (mergeOptions.Force)
                        throw new ArgumentException("--force cannot be combined with --part or --resume: they add to the output directory; give an empty one (or the one the parts use)");
                    return await PartCommands.RunAsync(console, verbosity, reporter, graph, result.GetValue(config)!.FullName, result.GetValue(output)!.FullName,
                        mergeOptions, result.GetValue(part), result.GetValue(resume), ct);
                }
                var merged = await reporter.RunAsync(p => MultiStageRunner.RunAsync(graph, result.GetValue(output)!.FullName, mergeOptions, stages, p, ct));
                if (result.GetValue(depsFile) is { } deps)
                {
                    // Planned again, every stage fused, so that the list names the original inputs (headers only; hub models are cached by now).
                    using var planned = Planning.StagePlanner.Plan(graph, mergeOptions, everyStage: true);
                    DependencyFile.Write(deps.FullName, DependencyFile.Collect(result.GetValue(config)!.FullName, planned, mergeOptions.Hub));
                }
                if (verbosity >= Verbosity.Minimal)
                {
                    var s = merged.Stats;
                    double seconds = Math.Max(1e-9, s.Elapsed.TotalSeconds);
                    console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                        "merged {0} tensors into {1} ({2} shard{3}): read {4}, wrote {5} in {6:F1} s ({7}/s in), peak buffers {8}",
                        merged.TensorCount, merged.OutputDirectory, merged.ShardCount, merged.ShardCount == 1 ? "" : "s",
                        ShardSize.Format(s.BytesRead), ShardSize.Format(s.BytesWritten), seconds,
                        ShardSize.Format((long)(s.BytesRead / seconds)), ShardSize.Format(s.PeakBufferBytes)));
                }
                return ExitCodes.Success;
            }, ct);
        });
    }
}
