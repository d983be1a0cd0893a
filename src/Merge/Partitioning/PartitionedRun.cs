using System.Globalization;
using System.Text.Json.Nodes;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Planning;

namespace DotnetMerge.Partitioning;

/// <summary>A merge split into parts (<c>run --part i/N</c> on the machines of a job array), its whole-model statistics
/// (<c>prepare</c>), the <c>join</c> that makes the output a model, and <c>run --resume</c> (one part of one, then join)
/// on one machine. See docs/cluster.md.</summary>
public static class PartitionedRun
{
    /// <summary>What a part run did.</summary>
    public sealed record PartResult(PartSpec Part, IReadOnlyList<string> Computed, IReadOnlyList<string> Kept, IReadOnlyList<string> WrittenByOthers,
        long BytesRead, long BytesWritten);

    /// <summary>The plan of a definition as every part sees it, with its fingerprint.</summary>
    internal sealed class Planned : IDisposable
    {
        public required MultiStagePlan Multi { get; init; }
        public required StageGraph Graph { get; init; }
        public required string DefinitionPath { get; init; }
        public required MergeOptions Options { get; init; }
        public required PlanFingerprint Fingerprint { get; init; }
        public MergePlan Plan => Multi.Final;
        public void Dispose() => Multi.Dispose();
    }

    /// <summary>Plans as <c>run</c> does: hub models are checked on their headers before any weight is downloaded.</summary>
    internal static Planned PlanFor(StageGraph graph, string definitionPath, MergeOptions options, IMergeProgress progress, CancellationToken ct)
    {
        options = Hub.HubPrecheck.Cancellable(options, ct, progress);
        if (graph.Stages.Any(s => Hub.HubPrecheck.Needed(s.Definition, options)))
            using (MultiStageRunner.Plan(graph, Hub.HubPrecheck.ForChecking(options, ct), new MultiStageOptions())) { }
        var multi = MultiStageRunner.Plan(graph, options, new MultiStageOptions());
        return new Planned
        {
            Multi = multi, Graph = graph, DefinitionPath = Path.GetFullPath(definitionPath), Options = options,
            Fingerprint = PlanFingerprint.Of(multi.Final, graph.SourceText, options),
        };
    }

    /// <summary>The per-part figures of <c>plan --parts N</c>: shards, bytes to read and to write.</summary>
    public static IReadOnlyList<(int Part, int Shards, long BytesToRead, long BytesToWrite, long LargestJobBytes)> Summarize(MergePlan plan, int parts)
    {
        var work = PartAssignment.Assign(plan, parts);
        return Enumerable.Range(0, parts).Select(p =>
        {
            var mine = work.Where(w => w.Part == p).ToList();
            var jobs = mine.SelectMany(w => w.Jobs).ToList();
            return (p, mine.Count, mine.Sum(w => w.BytesToRead), mine.Sum(w => w.BytesToWrite),
                jobs.Count == 0 ? 0L : jobs.Max(j => j.InputBytes + j.OutputBytes + j.UpstreamWorkingBytes));
        }).ToList();
    }

    /// <summary><c>prepare</c>: computes the whole-model statistics the plan needs (TIES <c>trim_scope: model</c>) into
    /// <c>stats.json</c>; returns false (writing nothing) when the plan needs none.</summary>
    public static bool Prepare(StageGraph graph, string definitionPath, string output, MergeOptions options, IMergeProgress progress, CancellationToken ct)
    {
        using var planned = PlanFor(graph, definitionPath, options, progress, ct);
        var files = new PartFiles(output);
        CheckOutput(files, planned);
        if (!WholeModelPrePass.Applies(planned.Plan)) return false;
        WriteManifest(files, planned, parts: null, resume: false);
        WriteStats(files, planned, progress, ct);
        return true;
    }

    private static IReadOnlyDictionary<Models.ModelSource, double> WriteStats(PartFiles files, Planned planned, IMergeProgress progress, CancellationToken ct)
    {
        var thresholds = WholeModelPrePass.Thresholds(planned.Plan, progress, ct);
        var models = new JsonArray();
        for (int i = 0; i < planned.Plan.Models.Count; i++)
            if (thresholds.TryGetValue(planned.Plan.Models[i], out double t))
                models.Add(new JsonObject { ["index"] = i, ["model"] = planned.Plan.Models[i].Name, ["trim_threshold"] = t });
        PartFiles.WriteJson(files.Stats, new JsonObject
        {
            ["version"] = PartFiles.Version, ["kind"] = "trim_scope_model", ["plan_sha256"] = planned.Fingerprint.Plan, ["models"] = models,
        });
        return thresholds;
    }

    private static IReadOnlyDictionary<Models.ModelSource, double> ReadStats(PartFiles files, Planned planned, string rerun)
    {
        if (!File.Exists(files.Stats))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.StatsMissing,
                $"this merge needs whole-model statistics (trim_scope: model) and '{files.Stats}' does not exist; run `{rerun}` once before the parts (docs/cluster.md)");
        var json = PartFiles.TryReadJson(files.Stats);
        string Stale(string why) => $"the statistics file '{files.Stats}' {why}; run `{rerun}` again before the parts";
        if (json is null || (int?)json["version"] != PartFiles.Version || (string?)json["kind"] != "trim_scope_model")
            throw new MergeException(MergeErrorKind.Input, ErrorIds.StatsStale, Stale($"is unreadable or of another version (this one reads version {PartFiles.Version})"));
        if ((string?)json["plan_sha256"] != planned.Fingerprint.Plan)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.StatsStale, Stale("was computed for another plan (the definition, its options or the inputs changed since)"));
        var result = new Dictionary<Models.ModelSource, double>();
        foreach (var m in json["models"]!.AsArray())
        {
            int index = (int)m!["index"]!;
            double t = (double)m["trim_threshold"]!;
            if (index < 0 || index >= planned.Plan.Models.Count || !double.IsFinite(t) || t < 0)
                throw new MergeException(MergeErrorKind.Input, ErrorIds.StatsStale, Stale($"holds an invalid entry (model {index}, threshold {t})"));
            result[planned.Plan.Models[index]] = t;
        }
        return result;
    }

    /// <summary>The output must be absent, empty or hold only this bookkeeping (earlier parts of the same run).</summary>
    private static void CheckOutput(PartFiles files, Planned planned)
    {
        OutputTransaction.CheckLocation(files.Output, force: true, planned.Plan.Models.SelectMany(m => m.InputDirectories));
        if (Directory.Exists(files.Output) && Directory.EnumerateFileSystemEntries(files.Output).Any(e => Path.GetFileName(e) != PartFiles.DirectoryName))
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation,
                $"the output directory '{files.Output}' holds files other than a partitioned run's '{PartFiles.DirectoryName}'; parts need an empty directory (or one only they wrote); choose another one");
    }

    /// <summary>Writes the manifest (the first worker) or checks it against this worker's plan.</summary>
    private static void WriteManifest(PartFiles files, Planned planned, int? parts, bool resume)
    {
        var existing = PartFiles.TryReadJson(files.Manifest);
        if (existing is not null)
        {
            var old = new PlanFingerprint((string?)existing["definition_sha256"] ?? "", (string?)existing["inputs_sha256"] ?? "");
            int? oldParts = (int?)existing["parts"];
            bool samePlan = old == planned.Fingerprint;
            if (samePlan && (parts is null || oldParts is null || oldParts == parts)) 
            {
                if (parts is not null && oldParts is null) Write(); // prepare wrote it; the parts add their count
                return;
            }
            if (!resume)
                throw new MergeException(MergeErrorKind.Output, ErrorIds.PartsOfAnotherPlan, samePlan
                    ? $"'{files.Output}' holds a run split into {oldParts} parts, and this one says {parts}; give every worker the same N (or rerun with --resume to split it anew)"
                    : $"'{files.Output}' holds parts of another plan: {planned.Fingerprint.Changed(old)} changed since they ran; use another output directory, or --resume to replace them");
        }
        Write();
        if (existing is null && PartFiles.TryReadJson(files.Manifest) is { } written
            && ((string?)written["plan_sha256"] != planned.Fingerprint.Plan || (parts is not null && (int?)written["parts"] is int other && other != parts)))
            throw new MergeException(MergeErrorKind.Output, ErrorIds.PartsOfAnotherPlan,
                $"another worker started '{files.Output}' at the same time with another plan or part count; give every worker the same definition, inputs and N");

        void Write()
        {
            var o = planned.Options;
            var shards = new JsonArray();
            foreach (var w in PartAssignment.Assign(planned.Plan, parts ?? 1))
                shards.Add(new JsonObject { ["file"] = w.Shard.FileName, ["part"] = parts is null ? null : w.Part, ["bytes_to_read"] = w.BytesToRead, ["bytes_to_write"] = w.BytesToWrite });
            PartFiles.WriteJson(files.Manifest, new JsonObject
            {
                ["version"] = PartFiles.Version,
                ["plan_sha256"] = planned.Fingerprint.Plan, ["definition_sha256"] = planned.Fingerprint.Definition, ["inputs_sha256"] = planned.Fingerprint.Inputs,
                ["parts"] = parts,
                ["definition_path"] = planned.DefinitionPath, ["definition_text"] = planned.Graph.SourceText, ["working_directory"] = o.WorkingDirectory,
                ["options"] = new JsonObject
                {
                    ["max_shard_bytes"] = o.MaxShardBytes, ["dtype"] = o.Dtype?.TorchName(), ["out_dtype"] = o.OutDtype?.TorchName(),
                    ["seed"] = o.Seed, ["allow_crimes"] = o.AllowCrimes, ["copy_tokenizer"] = o.CopyTokenizer, ["write_model_card"] = o.WriteModelCard,
                },
                ["shards"] = shards,
            }, replace: existing is not null);
        }
    }

    /// <summary>Computes the shards of <paramref name="part"/> that are not already finished under this plan.</summary>
    public static async Task<PartResult> RunPartAsync(StageGraph graph, string definitionPath, string output, MergeOptions options, PartSpec part,
        bool resume, IMergeProgress progress, CancellationToken ct)
    {
        using var planned = PlanFor(graph, definitionPath, options, progress, ct);
        return await RunPartAsync(planned, output, part, resume, computeStats: false, progress, ct).ConfigureAwait(false);
    }

    internal static async Task<PartResult> RunPartAsync(Planned planned, string output, PartSpec part, bool resume, bool computeStats,
        IMergeProgress progress, CancellationToken ct)
    {
        var files = new PartFiles(output);
        foreach (var w in planned.Plan.Warnings) progress.Warning(w);
        CheckOutput(files, planned);
        Directory.CreateDirectory(files.Root);
        WriteManifest(files, planned, part.Count, resume);
        var plan = planned.Plan;
        // Whole-model statistics of intermediate stages (computed in the same pass) are recomputed by every part.
        foreach (var stage in planned.Multi.Stages.Take(planned.Multi.Stages.Count - 1))
            if (stage.Output is { } so && WholeModelPrePass.Applies(so.Plan))
                so.UsePlan(so.Plan.WithJobs(WholeModelPrePass.Apply(so.Plan, progress, ct)));
        if (WholeModelPrePass.Applies(plan))
        {
            string rerun = $"dotnet merge prepare '{planned.DefinitionPath}' '{files.Output}'";
            var thresholds = computeStats && !StatsCurrent(files, planned) ? WriteStats(files, planned, progress, ct) : ReadStats(files, planned, rerun);
            plan = plan.WithJobs(WholeModelPrePass.Attach(plan, thresholds));
        }

        var mine = PartAssignment.Assign(plan, part.Count).Where(w => w.Part == part.Index).ToList();
        Directory.CreateDirectory(files.Shards);
        Directory.CreateDirectory(files.Records);
        var taken = resume && part.Count == 1 ? await TakeOverPlainRunsAsync(files, planned, mine, part, progress, ct).ConfigureAwait(false) : [];
        var kept = new List<string>();
        var todo = new List<ShardWork>();
        foreach (var w in mine)
        {
            if (taken.Contains(w.Shard.FileName) || await IsFinishedAsync(files, w.Shard.FileName, planned.Fingerprint, progress, ct).ConfigureAwait(false))
                kept.Add(w.Shard.FileName);
            else todo.Add(w);
        }
        progress.Stage(string.Create(CultureInfo.InvariantCulture,
            $"part {part} ({part.Source}): {mine.Count} of {plan.Shards.Count} shards, {kept.Count} already finished, computing {todo.Count}"));

        var staging = Path.Combine(files.Staging, string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        CleanStaleStaging(files, progress);
        var computed = new List<string>();
        var others = new List<string>();
        long read = 0, written = 0;
        var partProgress = new PartProgress(progress, todo.Sum(w => w.Jobs.Count), todo.Sum(w => w.BytesToRead), todo.Sum(w => w.BytesToWrite));
        try
        {
            foreach (var w in todo)
            {
                ct.ThrowIfCancellationRequested();
                Directory.CreateDirectory(staging);
                // The shard is digested as it is written: no second read of it.
                FileDigest? digest = null;
                var stats = await MergeExecutor.ExecuteAsync(plan.WithJobs(w.Jobs), staging, planned.Options with { MaxShardBytes = 0 }, partProgress, ct,
                    ShardDigests.WithSha256, (_, d) => digest = d).ConfigureAwait(false);
                read += stats.BytesRead; written += stats.BytesWritten;
                var staged = Path.Combine(staging, Safetensors.ModelCheckpoint.SingleFileName);
                var record = new PartFiles.ShardRecord(w.Shard.FileName, digest!, planned.Fingerprint, part.Index, part.Count);
                var target = files.Shard(w.Shard.FileName);
                if (!AtomicRename.TryMoveNoReplace(staged, target))
                {
                    // Another worker of the same part finished it first: theirs stays if it is the same bytes.
                    File.Delete(staged);
                    if ((await PartFiles.CheckAsync(target, record, PartFiles.ShardCheck.ReadBackWithSha256, ct).ConfigureAwait(false)).Problem is not null)
                        throw new MergeException(MergeErrorKind.Output, ErrorIds.PartsOfAnotherPlan,
                            $"shard '{target}' was written meanwhile by another worker with other bytes (another plan?); remove '{files.Root}' and run every part again");
                    others.Add(w.Shard.FileName);
                    progress.Warning($"part {part}: shard {w.Shard.FileName} was finished meanwhile by another worker (same bytes); kept that one");
                }
                else computed.Add(w.Shard.FileName);
                files.WriteShardRecord(record);
            }
        }
        catch (Exception e) when (OutputErrors.From(e, files.Output) is { } error)
        {
            throw error;
        }
        finally
        {
            OutputTransaction.TryDelete(staging);
        }
        PartFiles.WriteJson(files.PartRecord(part), new JsonObject
        {
            ["version"] = PartFiles.Version, ["part"] = part.Index, ["parts"] = part.Count, ["plan_sha256"] = planned.Fingerprint.Plan,
            ["shards"] = new JsonArray(mine.Select(w => (JsonNode)new JsonObject
            {
                ["file"] = w.Shard.FileName, ["size"] = files.ReadShardRecord(w.Shard.FileName)?.Size, ["sha256"] = files.ReadShardRecord(w.Shard.FileName)?.Digest.Sha256,
            }).ToArray()),
        });
        return new PartResult(part, computed, kept, others, read, written);
    }

    private static bool StatsCurrent(PartFiles files, Planned planned)
        => PartFiles.TryReadJson(files.Stats) is { } json && (int?)json["version"] == PartFiles.Version && (string?)json["plan_sha256"] == planned.Fingerprint.Plan;

    /// <summary>A shard is finished when its file and record exist, the record is of this plan, and the file has the
    /// recorded size and XxHash128 (<see cref="PartFiles.CheckAsync"/>). A record of another plan is reported (saying what
    /// changed) and the shard recomputed.</summary>
    private static async Task<bool> IsFinishedAsync(PartFiles files, string shard, PlanFingerprint fingerprint, IMergeProgress progress, CancellationToken ct)
    {
        var path = files.Shard(shard);
        var record = files.ReadShardRecord(shard);
        if (record is null || !File.Exists(path))
        {
            if (File.Exists(path)) File.Delete(path); // no record: its worker died between the rename and the record
            return false;
        }
        string? why = null;
        if (record.Fingerprint != fingerprint) why = $"{fingerprint.Changed(record.Fingerprint)} changed since it was written";
        else if ((await PartFiles.CheckAsync(path, record, PartFiles.ShardCheck.ReadBack, ct).ConfigureAwait(false)).Problem is { } problem) why = $"it {problem}";
        if (why is null) return true;
        progress.Warning($"shard {shard} is recomputed: {why}");
        File.Delete(files.ShardRecordPath(shard));
        File.Delete(path);
        return false;
    }

    /// <summary>A plain <c>run</c> into OUT that was killed left its staging directory beside OUT, with a record (size,
    /// XxHash128, plan) of each shard it finished. <c>run --resume</c> moves the shards whose record is of this plan and
    /// whose file reads back as recorded into the bookkeeping (recording their sha256, read in the same pass), then removes
    /// that staging directory. Returns the shards taken over (already checked).</summary>
    private static async Task<HashSet<string>> TakeOverPlainRunsAsync(PartFiles files, Planned planned, IReadOnlyList<ShardWork> mine, PartSpec part,
        IMergeProgress progress, CancellationToken ct)
    {
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (staging, pid) in StaleStaging.Abandoned(files.Output))
        {
            var left = new PartFiles(staging);
            int before = taken.Count;
            foreach (var w in mine)
            {
                var record = left.ReadShardRecord(w.Shard.FileName);
                if (record is null || record.Fingerprint != planned.Fingerprint || File.Exists(files.Shard(w.Shard.FileName))) continue;
                var (problem, read) = await PartFiles.CheckAsync(Path.Combine(staging, w.Shard.FileName), record, PartFiles.ShardCheck.ReadBackWithSha256, ct).ConfigureAwait(false);
                if (problem is not null)
                {
                    progress.Warning($"shard {w.Shard.FileName} of the interrupted run in '{staging}' is recomputed: it {problem}");
                    continue;
                }
                if (!AtomicRename.TryMoveNoReplace(Path.Combine(staging, w.Shard.FileName), files.Shard(w.Shard.FileName))) continue;
                files.WriteShardRecord(record with { Digest = read!, Part = part.Index, Parts = part.Count });
                taken.Add(w.Shard.FileName);
            }
            OutputTransaction.TryDelete(staging);
            progress.Warning(string.Create(CultureInfo.InvariantCulture,
                $"took over {taken.Count - before} finished shards of the interrupted run in '{staging}' (process {pid}, no longer running), and removed it"));
        }
        return taken;
    }

    /// <summary>Removes staging directories this machine's dead workers left (kill -9); other machines' are theirs.</summary>
    private static void CleanStaleStaging(PartFiles files, IMergeProgress progress)
    {
        if (!Directory.Exists(files.Staging)) return;
        var prefix = Environment.MachineName + "-";
        foreach (var dir in Directory.EnumerateDirectories(files.Staging, prefix + "*").ToList())
        {
            var rest = Path.GetFileName(dir)[prefix.Length..];
            int dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId) continue;
            bool running;
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); running = !p.HasExited; }
            catch (ArgumentException) { running = false; }
            catch (InvalidOperationException) { running = false; }
            if (running) continue;
            OutputTransaction.TryDelete(dir);
            progress.Warning($"removed the staging directory '{dir}' of worker process {pid} (no longer running)");
        }
    }

    /// <summary><c>run --resume</c> on one machine: the whole merge as part 0 of 1 (keeping the shards an interrupted run
    /// finished), its statistics computed when needed, then <see cref="JoinAsync"/>.</summary>
    public static async Task<(PartResult Part, MergeRunner.MergeResult Joined)> RunResumableAsync(StageGraph graph, string definitionPath, string output,
        MergeOptions options, IMergeProgress progress, CancellationToken ct)
    {
        PartResult part;
        using (var planned = PlanFor(graph, definitionPath, options, progress, ct))
            part = await RunPartAsync(planned, output, new PartSpec(0, 1) { Source = "--resume" }, resume: true, computeStats: true, progress, ct).ConfigureAwait(false);
        // Every shard was just written (digested on its way to the file) or read back by this process: join checks sizes only.
        var joined = await JoinAsync(output, options, progress, ct, PartFiles.ShardCheck.Size).ConfigureAwait(false);
        return (part, joined);
    }

    /// <summary><c>join OUT</c>: checks every shard of the plan against its record (size, and read back the XxHash128 its
    /// part computed while writing it; with <see cref="PartFiles.ShardCheck.ReadBackWithSha256"/>, <c>--verify</c>, also the
    /// sha256), writes the index, config, tokenizer and model card, and only then renames the whole into place as OUT.</summary>
    public static async Task<MergeRunner.MergeResult> JoinAsync(string output, MergeOptions runOptions, IMergeProgress progress, CancellationToken ct,
        PartFiles.ShardCheck check = PartFiles.ShardCheck.ReadBack)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var files = new PartFiles(output);
        var parent = Path.GetDirectoryName(files.Output)!;
        var joiningPrefix = $".{Path.GetFileName(files.Output)}.joining-";
        // An earlier join that was interrupted after moving the model out of the bookkeeping: finish it.
        if (Directory.Exists(parent) && Directory.EnumerateDirectories(parent, joiningPrefix + "*").FirstOrDefault() is { } interrupted)
        {
            progress.Warning($"finishing an interrupted join: '{interrupted}' becomes '{files.Output}'");
            try { FinishRename(files, interrupted); }
            catch (Exception e) when (OutputErrors.From(e, files.Output) is { } error) { throw error; }
            using var joined = Safetensors.ModelCheckpoint.Open(files.Output);
            return new MergeRunner.MergeResult(files.Output, joined.TensorNames.Count(), Directory.GetFiles(files.Output, "*.safetensors").Length,
                new MergeExecutor.ExecutionStats(0, 0, 0, started.Elapsed), []);
        }
        if (!File.Exists(files.Manifest))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.NothingToJoin,
                $"'{files.Output}' holds no partitioned run ({Path.Combine(PartFiles.DirectoryName, "plan.json")} is missing); run the parts first: dotnet merge run CONFIG '{files.Output}' --part i/N");
        var manifest = PartFiles.ReadJson(files.Manifest, "the run's manifest");
        if ((int?)manifest["version"] != PartFiles.Version)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.PartRecordUnreadable, $"the manifest '{files.Manifest}' is of another version; this dotnet-merge reads version {PartFiles.Version}");
        var definitionPath = (string)manifest["definition_path"]!;
        var options = OptionsFrom(manifest, runOptions);
        var graph = MultiStageRunner.ParseStages((string)manifest["definition_text"]!, definitionPath, options.WorkingDirectory, out _, allowUnknownKeys: true, ct);
        progress.Stage("checking the plan and every shard against the parts' records");
        using var planned = PlanFor(graph, definitionPath, options, progress, ct);
        var recorded = new PlanFingerprint((string)manifest["definition_sha256"]!, (string)manifest["inputs_sha256"]!);
        int parts = (int?)manifest["parts"] ?? 1;
        string Rerun(int p) => $"dotnet merge run '{definitionPath}' '{files.Output}' --part {p}/{parts}";
        if (recorded != planned.Fingerprint)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.PlanChanged,
                $"{planned.Fingerprint.Changed(recorded)} changed since the parts of '{files.Output}' ran; their shards are of the old plan. Run every part again with --resume: {Rerun(0)} --resume (and so on)");

        // Every shard is checked (several at once: shared storage serves parallel reads faster than one stream).
        var work = PartAssignment.Assign(planned.Plan, parts);
        var found = new string?[work.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, work.Count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (k, token) =>
        {
            var w = work[k];
            var record = files.ReadShardRecord(w.Shard.FileName);
            var path = files.Shard(w.Shard.FileName);
            if (record is null) found[k] = "has no record (its part has not finished)";
            else if (record.Fingerprint != planned.Fingerprint) found[k] = "was written for another plan";
            else found[k] = (await PartFiles.CheckAsync(path, record, check, token).ConfigureAwait(false)).Problem;
        }).ConfigureAwait(false);
        var problems = new List<string>();
        var missingParts = new SortedSet<int>();
        for (int k = 0; k < work.Count; k++)
        {
            if (found[k] is not { } problem) continue;
            problems.Add($"part {work[k].Part}/{parts}: shard {work[k].Shard.FileName} {problem}");
            missingParts.Add(work[k].Part);
        }
        if (problems.Count > 0)
        {
            bool noRecord = problems.All(p => p.EndsWith("has no record (its part has not finished)", StringComparison.Ordinal));
            throw new MergeException(MergeErrorKind.Input, noRecord ? ErrorIds.PartMissing : ErrorIds.ShardCorrupt,
                $"cannot join '{files.Output}': {string.Join("; ", problems)}. Rerun " + string.Join(" and ", missingParts.Select(Rerun)) + ", then join again");
        }

        progress.Stage("writing the index, config, tokenizer and model card");
        try
        {
            if (planned.Plan.Shards.Count > 1) await Safetensors.ShardedModelWriter.WriteIndexAsync(files.Shards, planned.Plan.Shards, ct).ConfigureAwait(false);
            MergeRunner.WriteModelFiles(planned.Plan, files.Shards, options, Path.GetFileName(files.Output),
                graph.IsMultiStage ? MultiStageRunner.StagesCardSection(graph) : null, ct);
            ct.ThrowIfCancellationRequested();
            var joining = Path.Combine(parent, joiningPrefix + Guid.NewGuid().ToString("N"));
            Directory.Move(files.Shards, joining);
            FinishRename(files, joining);
        }
        catch (Exception e) when (OutputErrors.From(e, files.Output) is { } error)
        {
            throw error;
        }
        var zero = new MergeExecutor.ExecutionStats(0, planned.Plan.BytesToWrite, 0, started.Elapsed);
        return new MergeRunner.MergeResult(files.Output, planned.Plan.Jobs.Count, planned.Plan.Shards.Count, zero, planned.Plan.Warnings);
    }

    /// <summary>The model (moved out of the bookkeeping) becomes OUT: the bookkeeping goes, then one rename.</summary>
    private static void FinishRename(PartFiles files, string joining)
    {
        OutputTransaction.TryDelete(files.Root);
        if (Directory.Exists(files.Output) && !Directory.EnumerateFileSystemEntries(files.Output).Any()) Directory.Delete(files.Output);
        if (!AtomicRename.TryMoveNoReplace(joining, files.Output))
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputRace,
                $"'{files.Output}' holds other files, so the joined model stays in '{joining}'; move those files away and run join again");
    }

    private static MergeOptions OptionsFrom(JsonObject manifest, MergeOptions run)
    {
        var o = manifest["options"]!.AsObject();
        Dtype? D(string key) => (string?)o[key] is { } name && DtypeInfo.TryFromTorchName(name, out var d) ? d : null;
        return run with
        {
            MaxShardBytes = (long)o["max_shard_bytes"]!, Dtype = D("dtype"), OutDtype = D("out_dtype"), Seed = (ulong?)o["seed"],
            AllowCrimes = (bool)o["allow_crimes"]!, CopyTokenizer = (bool)o["copy_tokenizer"]!, WriteModelCard = (bool)o["write_model_card"]!,
            WorkingDirectory = (string?)manifest["working_directory"] ?? run.WorkingDirectory,
        };
    }

    /// <summary>Reports a part's shards (each run by the executor on its own) as one run.</summary>
    private sealed class PartProgress(IMergeProgress inner, int tensors, long read, long write) : IMergeProgress
    {
        private bool _started;
        public void Started(int tensorCount, long bytesToRead, long bytesToWrite)
        {
            if (_started) return;
            _started = true;
            inner.Started(tensors, read, write);
        }
        public void TensorWritten(string name, long bytesRead, long bytesWritten) => inner.TensorWritten(name, bytesRead, bytesWritten);
        public void Stage(string description) => inner.Stage(description);
        public void Warning(string message) => inner.Warning(message);
    }
}
