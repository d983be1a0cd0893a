using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Plans;

/// <summary>Base of the typed plan generated from a multi-stage <c>*.merge.yaml</c> (several YAML documents,
/// mergekit-multi): one member per stage (a <see cref="StagePlan{TSelf}"/> record with that stage's parameters), and a
/// run of the whole stage graph as the CLI's <c>run</c> does it (<see cref="MultiStageRunner"/>: intermediate stages
/// computed in the same pass as the final one, unless <see cref="MultiStageOptions.IntermediateDirectory"/> is set). An
/// immutable record: plans with the same definition, path and overrides are equal.</summary>
/// <typeparam name="TSelf">The generated plan record.</typeparam>
public abstract record TypedMultiStagePlan<TSelf>
    where TSelf : TypedMultiStagePlan<TSelf>
{
    /// <param name="definitionText">The YAML.</param>
    /// <param name="definitionPath">The definition's path, relative to the project (resolved with <see cref="TypedPlanPaths.Resolve"/>) or absolute.</param>
    /// <param name="overrides">The values set on top of the definition.</param>
    protected TypedMultiStagePlan(string definitionText, string definitionPath, StageOverrides overrides)
    {
        DefinitionText = definitionText ?? throw new ArgumentNullException(nameof(definitionText));
        DefinitionPath = TypedPlanPaths.Resolve(definitionPath ?? throw new ArgumentNullException(nameof(definitionPath)), GetType().Assembly);
        Overrides = overrides ?? throw new ArgumentNullException(nameof(overrides));
    }

    /// <summary>The YAML the plan was generated from (every document).</summary>
    public string DefinitionText { get; }

    /// <summary>The definition's full path at run time (the generated <c>DefinitionFile</c>, relative to the project,
    /// resolved by <see cref="TypedPlanPaths.Resolve"/>): relative model paths resolve against its directory (then against
    /// <see cref="MergeOptions.WorkingDirectory"/> or the current directory).</summary>
    public string DefinitionPath { get; init; }

    /// <summary>The values this plan sets on top of each stage's document.</summary>
    public StageOverrides Overrides { get; protected init; }

    /// <summary>A copy whose relative model paths resolve against the directory of <paramref name="definitionPath"/>.</summary>
    public TSelf WithDefinitionPath(string definitionPath)
        => (TSelf)(this with { DefinitionPath = definitionPath ?? throw new ArgumentNullException(nameof(definitionPath)) });

    /// <summary>Parses the file as stages, applies each stage's overrides and checks the result (every document with the
    /// validator the compiler and the CLI use, then the stage graph). Throws <see cref="DefinitionErrorsException"/>
    /// listing every error. With overrides, the graph's <see cref="StageGraph.SourceText"/> (recorded in the model card) is
    /// the file as overridden: the documents with overrides written out, the others as you wrote them.</summary>
    /// <param name="workingDirectory">Where a stage name is also looked up as a model directory (a warning when one
    /// exists); null: the current directory.</param>
    public StageGraph BuildStages(string? workingDirectory = null)
    {
        var graph = MultiStageRunner.ParseStages(DefinitionText, DefinitionPath, workingDirectory, out _);
        return Overrides.IsEmpty ? graph : DefinitionOverrides.Apply(graph, Overrides);
    }

    /// <summary>Runs every stage the final one needs, fused (no intermediate model is written), into
    /// <paramref name="outputDirectory"/>: the same bytes as <c>dotnet merge run FILE OUT</c>.</summary>
    public Task<MergeRunner.MergeResult> RunAsync(string outputDirectory, MergeOptions? options = null, IMergeProgress? progress = null,
        CancellationToken cancellationToken = default)
        => RunAsync(outputDirectory, new MultiStageOptions(), options, progress, cancellationToken);

    /// <summary>As <see cref="RunAsync(string, MergeOptions?, IMergeProgress?, CancellationToken)"/>, with
    /// <paramref name="stages"/> saying whether (and where) the intermediate stages are written (<c>--intermediate-dir</c>,
    /// <c>--lazy</c>).</summary>
    public Task<MergeRunner.MergeResult> RunAsync(string outputDirectory, MultiStageOptions stages, MergeOptions? options = null,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stages);
        options ??= new MergeOptions();
        return MultiStageRunner.RunAsync(BuildStages(options.WorkingDirectory), outputDirectory, options, stages, progress, cancellationToken);
    }

    /// <summary>The overrides of one stage (for the generated stage members).</summary>
    protected PlanOverrides OverridesOf(string stageKey) => Overrides.For(stageKey);

    /// <summary>For <c>init</c> accessors of the stage members: <paramref name="overrides"/> with stage
    /// <paramref name="stageKey"/>'s overrides replaced by <paramref name="stage"/>'s.</summary>
    protected static StageOverrides WithStage(StageOverrides overrides, string stageKey, PlanOverrides stage)
        => (overrides ?? throw new ArgumentNullException(nameof(overrides))).With(stageKey, stage ?? throw new ArgumentNullException(nameof(stage)));

    public sealed override string ToString()
        => System.IO.Path.GetFileName(DefinitionPath) + (Overrides.IsEmpty ? string.Empty : " (with overrides)");
}
