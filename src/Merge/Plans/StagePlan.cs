namespace DotnetMerge.Plans;

/// <summary>Base of the record the generator emits for each stage of a multi-stage typed plan (<c>plan.First</c>): the
/// same parameter properties and <c>With...</c> methods as a single-stage plan, over that stage's document. A stage is
/// a value: change it with <c>with</c> or <c>With...</c> and put it back into its plan (<c>plan with { First = ... }</c>).</summary>
/// <typeparam name="TSelf">The generated stage record.</typeparam>
public abstract record StagePlan<TSelf> : PlanParameters<TSelf>
    where TSelf : StagePlan<TSelf>
{
    protected StagePlan(string? stageName, PlanOverrides overrides)
        : base(overrides)
        => StageName = stageName;

    /// <summary>The stage's <c>name:</c>; null for the unnamed (final) document.</summary>
    public string? StageName { get; }

    /// <summary>The key of this stage in <see cref="StageOverrides"/>: its name, or "" for the unnamed document.</summary>
    public string StageKey => StageName ?? string.Empty;
}
