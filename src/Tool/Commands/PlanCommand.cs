using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge plan CONFIG</c>: what a run would do, tensor by tensor, without doing it.</summary>
public static class PlanCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("plan", "Show the merge plan: per tensor its inputs, resolved parameters, dtype and shard; bytes to read, write and download from the hub; estimated peak memory.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition (mergekit YAML)." };
        var json = new Option<bool>("--json") { Description = "Print the plan as JSON." };
        var options = new CommonOptions();
        command.Arguments.Add(config);
        var parts = new Option<int?>("--parts") { Description = "Also show the merge split into N parts (run --part i/N): per part its shards, bytes to read and write, time at --bandwidth and peak memory (docs/cluster.md)." };
        var bandwidth = new Option<string>("--bandwidth") { Description = "With --parts: each machine's storage bandwidth (read and write together), e.g. 2GB/s. Default 1GB/s.", DefaultValueFactory = _ => "1GB/s" };
        parts.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && (n < 1 || n > Partitioning.PartSpec.MaxCount))
                r.AddError($"--parts {n}: give a count from 1 to {Partitioning.PartSpec.MaxCount}");
        });
        command.Options.Add(json);
        command.Options.Add(parts);
        command.Options.Add(bandwidth);
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
                // hub models: headers only, no weights downloaded
                var checking = DotnetMerge.Hub.HubPrecheck.ForChecking(mergeOptions, ct);
                var downloads = checking.Hub!.Downloads!;
                using var multi = StagePlanner.Plan(graph, checking, everyStage: true);
                foreach (var w in multi.Warnings) console.Err.WriteLine(w);
                if (result.GetValue(parts) is int n)
                {
                    PrintParts(console.Out, multi.Final, mergeOptions, n, ParseBandwidth(result.GetValue(bandwidth)!), result.GetValue(json));
                    return Task.FromResult(ExitCodes.Success);
                }
                if (!graph.IsMultiStage)
                {
                    if (result.GetValue(json)) console.Out.WriteLine(ToJson(multi.Final, mergeOptions, downloads).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                    else PrintText(console.Out, multi.Final, mergeOptions, downloads);
                }
                else if (result.GetValue(json))
                    console.Out.WriteLine(new JsonObject
                    {
                        ["stages"] = new JsonArray(multi.Stages.Select(s => (JsonNode)new JsonObject
                        {
                            ["name"] = s.Stage.Name,
                            ["final"] = s.Stage.IsFinal,
                            ["uses"] = new JsonArray(s.Stage.Dependencies.Select(d => (JsonNode)JsonValue.Create(d.Name!)).ToArray()),
                            ["plan"] = ToJson(s.Plan!, mergeOptions, downloads),
                        }).ToArray()),
                    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                else
                    foreach (var stage in multi.Stages)
                    {
                        var uses = stage.Stage.Dependencies.Count == 0 ? "" : " (uses " + string.Join(", ", stage.Stage.Dependencies.Select(d => "'" + d.Name + "'")) + ")";
                        console.Out.WriteLine($"== stage {(stage.Stage.IsFinal ? "final" : "'" + stage.Stage.Name + "'")}{uses}: "
                            + (stage.Stage.IsFinal ? "the output" : "computed in the same pass (written only with --intermediate-dir)"));
                        PrintText(console.Out, stage.Plan!, mergeOptions, downloads);
                        console.Out.WriteLine();
                    }
                return Task.FromResult(ExitCodes.Success);
            }, ct);
        });
        return command;
    }

    /// <summary>Bytes per second from <c>2GB/s</c>, <c>500MB/s</c> (the /s may be left out); must be positive.</summary>
    internal static double ParseBandwidth(string text)
    {
        var bytes = text.Trim();
        if (bytes.EndsWith("/s", StringComparison.OrdinalIgnoreCase)) bytes = bytes[..^2];
        long value;
        try { value = ShardSize.Parse(bytes); }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            throw new ArgumentException($"--bandwidth '{text}' is not a rate; give bytes per second with a unit, e.g. 2GB/s or 500MB/s", e);
        }
        return value > 0 ? value : throw new ArgumentException($"--bandwidth '{text}' must be more than 0 bytes per second, e.g. 2GB/s");
    }

    /// <summary><c>plan --parts N</c>: the assignment run --part uses, with each part's I/O, time at the bandwidth and peak memory.</summary>
    private static void PrintParts(TextWriter output, MergePlan plan, MergeOptions options, int parts, double bandwidth, bool json)
    {
        var rows = Partitioning.PartitionedRun.Summarize(plan, parts).Select(p =>
        {
            var jobs = Partitioning.PartAssignment.Assign(plan, parts).Where(w => w.Part == p.Part).SelectMany(w => w.Jobs).ToList();
            long peak = jobs.Count == 0 ? 0 : EstimatePeakBytes(plan.WithJobs(jobs), options);
            return (p.Part, p.Shards, p.BytesToRead, p.BytesToWrite, Seconds: (p.BytesToRead + p.BytesToWrite) / bandwidth, Peak: peak);
        }).ToList();
        if (json)
        {
            output.WriteLine(new JsonObject
            {
                ["parts"] = parts, ["bandwidth_bytes_per_second"] = bandwidth, ["shards"] = plan.Shards.Count,
                ["per_part"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                {
                    ["part"] = r.Part, ["shards"] = r.Shards, ["bytes_to_read"] = r.BytesToRead, ["bytes_to_write"] = r.BytesToWrite,
                    ["estimated_seconds"] = r.Seconds, ["peak_memory_bytes"] = r.Peak,
                }).ToArray()),
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{plan.Shards.Count} shards in {parts} parts (run --part i/{parts}), at {ShardSize.Format((long)bandwidth)}/s per machine (reads and writes share it):"));
        output.WriteLine("  part  shards        read       write      time   peak memory");
        foreach (var r in rows)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Part,4}  {r.Shards,6}  {ShardSize.Format(r.BytesToRead),10}  {ShardSize.Format(r.BytesToWrite),10}  {TimeSpan.FromSeconds(Math.Ceiling(r.Seconds)),8:c}  {ShardSize.Format(r.Peak),12}"));
        double slowest = rows.Max(r => r.Seconds);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"the array takes about {TimeSpan.FromSeconds(Math.Ceiling(slowest)):c} (its slowest part), then join reads every shard once to check its sha256 ({ShardSize.Format(plan.BytesToWrite)})"));
    }

    /// <summary>Peak memory estimate: the pipeline holds at most the budget, and at least the largest job, plus per-thread
    /// chunk buffers and the runtime itself.</summary>
    public static long EstimatePeakBytes(MergePlan plan, MergeOptions options)
    {
        long budget = options.MaxMemoryBytes ?? MemoryBudget.DefaultCapacity();
        long inFlight = plan.Jobs.Count == 0 ? 0 : Math.Max(plan.LargestJobBytes, Math.Min(budget, 3 * plan.LargestJobBytes));
        int maxInputs = plan.Jobs.Count == 0 ? 0 : plan.Jobs.Max(j => j.Inputs.Count);
        long chunkBuffers = (long)options.Threads * (maxInputs + 1) * ExecutionSettings.Default.ChunkElements * sizeof(float);
        const long runtime = 80L << 20;
        return inFlight + chunkBuffers + runtime;
    }

    private static void PrintText(TextWriter w, MergePlan plan, MergeOptions options, DotnetMerge.Hub.HubDownloadLedger downloads)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine($"method: {plan.Method.Name} ({plan.Method.PrettyName})");
        w.WriteLine("models: " + string.Join(", ", plan.Models.Select(m => m + (m.Reference.Equals(plan.Definition.BaseModel) ? " (base)" : ""))));
        w.WriteLine($"config from: {plan.ConfigDonor.Name}; tokenizer from: {plan.TokenizerDonor?.Name ?? "(none)"}; seed: {plan.Seed.ToString(inv)}");
        w.WriteLine();
        foreach (var job in plan.Jobs)
        {
            var shard = plan.Shards.First(s => s.Tensors.Any(t => t.Name == job.OutputName)).FileName;
            w.WriteLine($"{job.OutputName}  {job.OutputDtype.HeaderName()} {TensorShape.Format(job.OutputShape)}  -> {shard}" + (job.Kind == JobKind.Copy ? "  (copy)" : ""));
            if (job.Global.Values.Count > 0) w.WriteLine($"    {job.Global}");
            foreach (var input in job.Inputs)
            {
                var extra = input.Parameters.Values.Count > 0 ? "  " + input.Parameters : "";
                var crop = input.CropShape is null ? "" : "  cropped to " + TensorShape.Format(input.CropShape);
                var adapted = input.Model.Adapter?.Describe(input.TensorName) is { } change ? "  " + change : "";
                var aligned = input.Gather is { } g ? $"  rows aligned to the output vocabulary from {TensorShape.Format(g.Raw.Tensor.Shape)}" : "";
                w.WriteLine($"    {(input.IsBase ? "base " : "")}{input.Model}: {input.TensorName} {input.Tensor.Dtype.HeaderName()} {TensorShape.Format(input.Tensor.Shape)}{adapted}{aligned}{crop}{extra}");
            }
        }
        w.WriteLine();
        w.WriteLine($"{plan.Jobs.Count} tensors in {plan.Shards.Count} shard(s): " + string.Join(", ", plan.Shards.Select(s => s.FileName)));
        w.WriteLine($"to read: {ShardSize.Format(plan.BytesToRead)}; to write: {ShardSize.Format(plan.BytesToWrite)}; largest tensor job: {ShardSize.Format(plan.LargestJobBytes)}; estimated peak memory: {ShardSize.Format(EstimatePeakBytes(plan, options))}");
        if (DotnetMerge.Hub.HubDownloadLedger.Describe(downloads.Among(plan.Models)) is { } download) w.WriteLine(download);
        foreach (var model in plan.Models.Where(m => m.Adapter is not null))
            w.WriteLine($"adapter {model}: {model.Adapter!.AdaptedTensorCount} tensors changed in the read stage; adapter bytes to read: {ShardSize.Format(model.Adapter.BytesToRead)}; delta FLOPs: {model.Adapter.Flops.ToString("N0", inv)}");
        if (plan.OutputLayerCount is { } layers) w.WriteLine($"output layers: {layers}");
        if (plan.ConfigDonor.Layout.Stacks.Count > 1)
            w.WriteLine($"layer stacks of {plan.ConfigDonor.Name}: " + string.Join("; ", plan.ConfigDonor.Layout.Stacks));
        if (plan.Modules.Count > 0)
            w.WriteLine("modules: " + string.Join("; ", plan.Modules.Select(m => $"{m.Module} = {m.Stack}")));
        if (plan.OutputVocabSize is { } vocab) w.WriteLine($"output vocab_size: {vocab}");
        if (plan.Vocabulary is { } vocabulary) w.WriteLine(vocabulary.Describe());
    }

    private static JsonObject ToJson(MergePlan plan, MergeOptions options, DotnetMerge.Hub.HubDownloadLedger downloads)
    {
        var tensors = new JsonArray();
        foreach (var job in plan.Jobs)
        {
            var inputs = new JsonArray();
            foreach (var input in job.Inputs)
                inputs.Add(new JsonObject
                {
                    ["model"] = input.Model.Name,
                    ["adapter"] = input.Model.Reference.LoraPath,
                    ["adapter_change"] = input.Model.Adapter?.Describe(input.TensorName),
                    ["tensor"] = input.TensorName,
                    ["dtype"] = input.Tensor.Dtype.HeaderName(),
                    ["shape"] = Shape(input.Tensor.Shape),
                    ["is_base"] = input.IsBase,
                    ["crop"] = input.CropShape is null ? null : Shape(input.CropShape),
                    ["aligned_from"] = input.Gather is { } g ? Shape(g.Raw.Tensor.Shape) : null,
                    ["parameters"] = Params(input.Parameters),
                });
            tensors.Add(new JsonObject
            {
                ["name"] = job.OutputName,
                ["kind"] = job.Kind == JobKind.Copy ? "copy" : "merge",
                ["dtype"] = job.OutputDtype.HeaderName(),
                ["shape"] = Shape(job.OutputShape),
                ["shard"] = plan.Shards.First(s => s.Tensors.Any(t => t.Name == job.OutputName)).FileName,
                ["parameters"] = Params(job.Global),
                ["inputs"] = inputs,
            });
        }
        return new JsonObject
        {
            ["method"] = plan.Method.Name,
            ["models"] = new JsonArray(plan.Models.Select(m => (JsonNode)JsonValue.Create(m.Name)!).ToArray()),
            ["adapters"] = new JsonArray(plan.Models.Where(m => m.Adapter is not null).Select(m => (JsonNode)new JsonObject
            {
                ["model"] = m.Name,
                ["adapter"] = m.Reference.LoraPath,
                ["tensors_changed"] = m.Adapter!.AdaptedTensorCount,
                ["bytes_to_read"] = m.Adapter.BytesToRead,
                ["flops"] = m.Adapter.Flops,
            }).ToArray()),
            ["base_model"] = plan.Definition.BaseModel?.Path,
            ["config_donor"] = plan.ConfigDonor.Name,
            ["tokenizer_donor"] = plan.TokenizerDonor?.Name,
            ["vocabulary"] = plan.Vocabulary?.Describe(),
            ["seed"] = plan.Seed,
            ["shards"] = new JsonArray(plan.Shards.Select(s => (JsonNode)new JsonObject
            {
                ["file"] = s.FileName,
                ["tensors"] = s.Tensors.Count,
                ["bytes"] = s.Tensors.Sum(t => t.ByteLength),
            }).ToArray()),
            ["bytes_to_read"] = plan.BytesToRead,
            ["bytes_to_write"] = plan.BytesToWrite,
            ["bytes_to_download"] = downloads.Among(plan.Models).Sum(d => d.Bytes),
            ["downloads"] = new JsonArray(downloads.Among(plan.Models).Select(d => (JsonNode)new JsonObject
            {
                ["model"] = d.Model.ToString(),
                ["commit"] = d.Commit,
                ["bytes"] = d.Bytes,
                ["files"] = d.Files,
            }).ToArray()),
            ["largest_job_bytes"] = plan.LargestJobBytes,
            ["estimated_peak_bytes"] = EstimatePeakBytes(plan, options),
            ["output_layers"] = plan.OutputLayerCount,
            ["output_vocab_size"] = plan.OutputVocabSize,
            ["tensors"] = tensors,
        };
    }

    private static JsonArray Shape(long[] shape) => new(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray());

    private static JsonObject Params(ParameterBag bag)
    {
        var o = new JsonObject();
        foreach (var (k, v) in bag.Values.OrderBy(p => p.Key, StringComparer.Ordinal))
            o[k] = v switch { double d => d, bool b => b, long l => l, int i => i, _ => Convert.ToString(v, CultureInfo.InvariantCulture) };
        return o;
    }
}
