using DotnetMerge.Checks;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Models;

namespace DotnetMerge.Planning;

/// <summary>One stage of a <see cref="MultiStagePlan"/>: planned (an intermediate's plan lives in its
/// <see cref="Output"/>), or reused from a complete model already in the intermediate directory.</summary>
public sealed class PlannedStage
{
    private readonly MergePlan? _finalPlan;

    internal PlannedStage(Stage stage, StageOutput? output, MergePlan? finalPlan, string? reusedDirectory)
    {
        Stage = stage; Output = output; _finalPlan = finalPlan; ReusedDirectory = reusedDirectory;
    }

    public Stage Stage { get; }

    /// <summary>An intermediate stage's output, as its consumers see it; null for the final stage and reused stages.</summary>
    public StageOutput? Output { get; }

    /// <summary>The stage's plan; null when the stage is reused.</summary>
    public MergePlan? Plan => Output?.Plan ?? _finalPlan;

    /// <summary>Set when the stage is not planned because this complete model is used instead (lazy reuse).</summary>
    public string? ReusedDirectory { get; }
}

/// <summary>Every stage of a multi-stage definition, planned: later stages see earlier stages' outputs as input models
/// whose headers (names, dtypes, shapes), config.json and tokenizer come from the earlier plans, so they are checked
/// against what those stages will produce before any tensor is read.</summary>
public sealed class MultiStagePlan : IDisposable
{
    internal MultiStagePlan(StageGraph graph, IReadOnlyList<PlannedStage> stages, IReadOnlyList<string> warnings)
    {
        Graph = graph; Stages = stages; Warnings = warnings;
    }

    public StageGraph Graph { get; }

    /// <summary>The planned (or reused) stages in execution order; the final stage is last.</summary>
    public IReadOnlyList<PlannedStage> Stages { get; }

    public MergePlan Final => Stages[^1].Plan!;

    /// <summary>Every stage's warnings, each prefixed with its stage.</summary>
    public IReadOnlyList<string> Warnings { get; }

    public void Dispose()
    {
        foreach (var stage in Stages.Reverse())
        {
            if (stage.Output is { } output) output.Dispose();
            else if (stage.Stage.IsFinal) stage.Plan?.Dispose();
        }
    }
}

/// <summary>Plans the stages of a <see cref="StageGraph"/> in dependency order (DESIGN.md: stages are a planner
/// concept). A reference to an earlier stage becomes that stage's <see cref="StageOutput"/> (computed in the same
/// pass) or, when the stage's model is on disk, that model directory.</summary>
public static class StagePlanner
{
    /// <summary>Plans the final stage and the stages it needs (<paramref name="everyStage"/>: every stage of the file).
    /// <paramref name="reuse"/> may name, for a stage, a complete model directory to use instead of planning it.
    /// Every stage's problems are reported together (<see cref="PlanningException"/>); a stage whose inputs include a
    /// failed stage is not planned (its problems would follow from the first).</summary>
    public static MultiStagePlan Plan(StageGraph graph, MergeOptions options, bool everyStage = false, Func<Stage, string?>? reuse = null)
    {
        var selected = everyStage ? graph.Stages : graph.NeededByFinal();
        var planned = new List<PlannedStage>();
        var byStage = new Dictionary<Stage, PlannedStage>();
        var failed = new HashSet<Stage>();
        var findings = new List<CheckFinding>();
        var warnings = new List<string>();
        MergeException? otherFailure = null;
        try
        {
            // The final stage is planned last, whatever its place in the file.
            foreach (var stage in selected.Where(s => !s.IsFinal).Append(graph.Final))
            {
                if (stage.Dependencies.Any(failed.Contains))
                {
                    failed.Add(stage);
                    continue;
                }
                if (!stage.IsFinal && reuse?.Invoke(stage) is { } existing)
                {
                    Add(stage, new PlannedStage(stage, null, null, existing));
                    continue;
                }
                MergePlan plan;
                try
                {
                    plan = MergePlanner.Plan(stage.Definition, options, r => OpenStageOutput(graph, r, byStage));
                }
                catch (PlanningException e)
                {
                    findings.AddRange(e.Findings.Select(f => graph.IsMultiStage ? InStage(f, stage) : f));
                    failed.Add(stage);
                    continue;
                }
                catch (MergeException e) when (e is not PlanningException)
                {
                    otherFailure ??= graph.IsMultiStage ? e.WithPrefix(Prefix(stage)) : e;
                    failed.Add(stage);
                    continue;
                }
                warnings.AddRange(plan.Warnings.Select(w => graph.IsMultiStage ? Prefix(stage) + w : w));
                if (stage.IsFinal)
                {
                    Add(stage, new PlannedStage(stage, null, plan, null));
                    continue;
                }
                var files = Path.Combine(Path.GetTempPath(), "dotnet-merge-stages", $"{stage.Name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
                var output = new StageOutput(stage, plan, files);
                Add(stage, new PlannedStage(stage, output, null, null));
                Directory.CreateDirectory(files);
                // The files the stage writes beside its tensors, as it writes them into DIR/<name> (same title).
                MergeRunner.WriteModelFiles(plan, files, options, stage.Name!);
            }
            if (findings.Any(f => f.IsError)) throw new PlanningException(findings);
            if (otherFailure is not null) throw otherFailure;
            return new MultiStagePlan(graph, planned, warnings);
        }
        catch
        {
            new MultiStagePlan(graph, planned, warnings).Dispose();
            throw;
        }

        void Add(Stage stage, PlannedStage p)
        {
            planned.Add(p);
            byStage[stage] = p;
        }
    }

    /// <summary>Plans one stage reading every earlier stage it uses from disk (<paramref name="outputDirectory"/>: where
    /// each stage's model is), as a stage-by-stage run does.</summary>
    public static MergePlan PlanReadingOutputs(Stage stage, StageGraph graph, MergeOptions options, Func<Stage, string> outputDirectory)
        => MergePlanner.Plan(stage.Definition, options,
            r => graph.StageFor(r) is { } s && s != stage ? ModelSource.Open(r, outputDirectory(s)) : null);

    private static ModelSource? OpenStageOutput(StageGraph graph, ModelReference reference, Dictionary<Stage, PlannedStage> planned)
    {
        if (graph.StageFor(reference) is not { } stage) return null;
        var p = planned[stage];
        return p.ReusedDirectory is { } directory ? ModelSource.Open(reference, directory) : ModelSource.ForStage(reference, p.Output!);
    }

    private static string Prefix(Stage stage) => $"stage '{stage.DisplayName}': ";

    /// <summary>Findings located in the file already point into the stage's document; the others name the stage.</summary>
    private static CheckFinding InStage(CheckFinding finding, Stage stage)
        => finding.Location is { IsEmpty: false } ? finding : finding with { Message = Prefix(stage) + finding.Message };
}
