using System.CommandLine;
using System.Globalization;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Partitioning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary>The commands of a merge split across machines (docs/cluster.md): <c>run --part i/N</c> and <c>run --resume</c>
/// (through <see cref="RunAsync"/>), <c>prepare</c> and <c>join</c>.</summary>
public static class PartCommands
{
    internal static async Task<int> RunAsync(ToolConsole console, Verbosity verbosity, ProgressReporter reporter, StageGraph graph, string config,
        string output, MergeOptions options, string? partText, bool resume, CancellationToken ct)
    {
        if (partText is null)
        {
            var (part, joined) = await reporter.RunAsync(p => PartitionedRun.RunResumableAsync(graph, config, output, options, p, ct));
            if (verbosity >= Verbosity.Minimal)
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"merged {joined.TensorCount} tensors into {joined.OutputDirectory} ({joined.ShardCount} shard{(joined.ShardCount == 1 ? "" : "s")}): " +
                    $"{part.Computed.Count} shards computed, {part.Kept.Count} kept from the interrupted run; read {ShardSize.Format(part.BytesRead)}, wrote {ShardSize.Format(part.BytesWritten)}"));
            return ExitCodes.Success;
        }
        var spec = PartSpec.Parse(partText, Environment.GetEnvironmentVariable);
        if (verbosity >= Verbosity.Normal && spec.Source != "--part") console.Err.WriteLine($"--part {partText}: part {spec} from {spec.Source}");
        var result = await reporter.RunAsync(p => PartitionedRun.RunPartAsync(graph, config, output, options, spec, resume, p, ct));
        if (verbosity >= Verbosity.Minimal)
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"part {spec} ({spec.Source}): {result.Computed.Count} shards computed, {result.Kept.Count} kept, {result.WrittenByOthers.Count} finished by another worker; " +
                $"read {ShardSize.Format(result.BytesRead)}, wrote {ShardSize.Format(result.BytesWritten)} into {Path.Combine(output, PartFiles.DirectoryName)}; " +
                $"when every part is done: dotnet merge join '{output}'"));
        return ExitCodes.Success;
    }

    public static Command CreateJoin(ToolConsole console)
    {
        var command = new Command("join",
            "After every part of a partitioned run (`run CONFIG OUT --part i/N`): check every shard against its part's record (its size, and read " +
            "back the XxHash128 the part computed while writing it; with --verify also the sha256), " +
            "write the index, config, tokenizer and model card, and only then make OUT the model (one rename). A missing or corrupt shard is " +
            "named with its part and the command that reruns it (exit code 3). The output options (shard size, dtypes, seed, tokenizer, model card) " +
            "are the ones the parts recorded; run join from the directory the parts ran in (relative model paths). See docs/cluster.md.");
        var output = new Argument<DirectoryInfo>("output") { Description = "The output directory the parts wrote into." };
        var verify = new Option<bool>("--verify")
        {
            Description = "Also recompute every shard's sha256 and compare it with the recorded one (about 0.8 CPU s more per GB; " +
                          "the default check, size and XxHash128 read back, already finds a truncated or corrupt shard).",
        };
        var options = new CommonOptions();
        command.Arguments.Add(output);
        command.Options.Add(verify);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console, reportDevice: false);
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var check = result.GetValue(verify) ? PartFiles.ShardCheck.ReadBackWithSha256 : PartFiles.ShardCheck.ReadBack;
                var joined = await reporter.RunAsync(p => PartitionedRun.JoinAsync(result.GetValue(output)!.FullName, mergeOptions, p, ct, check));
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"joined {joined.TensorCount} tensors ({joined.ShardCount} shard{(joined.ShardCount == 1 ? "" : "s")}, {ShardSize.Format(joined.Stats.BytesWritten)}) into {joined.OutputDirectory}"));
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }

    public static Command CreatePrepare(ToolConsole console)
    {
        var command = new Command("prepare",
            "Before the parts of a partitioned run: compute the whole-model statistics the merge needs (TIES trim_scope: model) into " +
            "OUT/.dotnet-merge-parts/stats.json, keyed by the plan's hash; parts refuse to start without it. For other merges there is nothing to prepare.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition the parts run." };
        var output = new Argument<DirectoryInfo>("output") { Description = "The output directory the parts will write into." };
        var options = new CommonOptions();
        command.Arguments.Add(config);
        command.Arguments.Add(output);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console, reportDevice: false);
                var graph = MultiStageRunner.LoadStages(result.GetValue(config)!.FullName, mergeOptions.WorkingDirectory, out var diagnostics,
                    result.GetValue(options.AllowUnknownKeys), ct);
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                bool wrote = await reporter.RunAsync(p => Task.Run(() => PartitionedRun.Prepare(graph, result.GetValue(config)!.FullName, result.GetValue(output)!.FullName, mergeOptions, p, ct), ct));
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine(wrote
                        ? $"wrote the whole-model statistics into {Path.Combine(result.GetValue(output)!.FullName, PartFiles.DirectoryName, "stats.json")}"
                        : "this merge needs no whole-model statistics: nothing to prepare, the parts can start");
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
