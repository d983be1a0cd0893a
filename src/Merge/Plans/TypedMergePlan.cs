using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Plans;

/// <summary>Base of every generated typed plan (<c>XMergePlan</c> from <c>x.merge.yaml</c>): holds the definition text,
/// where it came from and the overrides; builds the definition to run and runs it with the engine. An immutable record:
/// plans with the same definition, path and overrides are equal, and every <c>With...</c> method, like a <c>with</c>
/// expression (<c>plan with { Lambda = 0.9 }</c>), returns a modified copy.</summary>
/// <typeparam name="TSelf">The generated plan record.</typeparam>
public abstract record TypedMergePlan<TSelf>
    where TSelf : TypedMergePlan<TSelf>
{
    protected TypedMergePlan(string definitionText, string definitionPath, PlanOverrides overrides)
    {
        DefinitionText = definitionText ?? throw new ArgumentNullException(nameof(definitionText));
        DefinitionPath = definitionPath ?? throw new ArgumentNullException(nameof(definitionPath));
        Overrides = overrides ?? throw new ArgumentNullException(nameof(overrides));
    }

    /// <summary>The YAML the plan was generated from.</summary>
    public string DefinitionText { get; }

    /// <summary>The definition's path: relative model paths resolve against its directory (then against
    /// <see cref="MergeOptions.WorkingDirectory"/> or the current directory).</summary>
    public string DefinitionPath { get; init; }

    /// <summary>The values this plan sets on top of the definition.</summary>
    public PlanOverrides Overrides { get; protected init; }

    /// <summary>A copy whose relative model paths resolve against the directory of <paramref name="definitionPath"/>
    /// (for running the plan where the models live somewhere else than next to the compiled definition).</summary>
    public TSelf WithDefinitionPath(string definitionPath)
        => (TSelf)(this with { DefinitionPath = definitionPath ?? throw new ArgumentNullException(nameof(definitionPath)) });

    /// <summary>Parses the definition, applies the overrides and validates the result (with the same validator as the
    /// compiler and the CLI). Throws <see cref="DefinitionErrorsException"/> listing every error.</summary>
    public MergeDefinition BuildDefinition()
    {
        var parsed = MergeRunner.ParseDefinition(DefinitionText, DefinitionPath, out _);
        if (Overrides.IsEmpty)
            return parsed;
        var definition = DefinitionOverrides.Apply(parsed, Overrides);
        var diagnostics = DefinitionValidator.Validate(definition);
        if (diagnostics.Any(d => d.IsError))
            throw new DefinitionErrorsException(diagnostics);
        return definition;
    }

    /// <summary>Runs the merge into <paramref name="outputDirectory"/> (see <see cref="MergeRunner.RunAsync"/>).</summary>
    public Task<MergeRunner.MergeResult> RunAsync(string outputDirectory, MergeOptions? options = null, IMergeProgress? progress = null,
        CancellationToken cancellationToken = default)
        => MergeRunner.RunAsync(BuildDefinition(), outputDirectory, options ?? new MergeOptions(), progress, cancellationToken);

    /// <summary>The override of a method-wide parameter, or <paramref name="definitionValue"/>.</summary>
    protected T GetGlobal<T>(string name, T definitionValue)
        => Overrides.Globals.TryGetValue(name, out var value) ? (T)value : definitionValue;

    /// <summary>The override of a per-model parameter, or <paramref name="definitionValue"/>.</summary>
    protected T GetPerModel<T>(PlanModel model, string name, T definitionValue)
        => Overrides.PerModel.TryGetValue((model.Reference, name), out var value) ? (T)value : definitionValue;

    /// <summary>A copy with a method-wide parameter set to <paramref name="value"/>.</summary>
    protected TSelf SetGlobal(string name, object value) => (TSelf)(this with { Overrides = Overrides.WithGlobal(name, value) });

    /// <summary>A copy with a per-model parameter of <paramref name="model"/> set to <paramref name="value"/>.</summary>
    protected TSelf SetPerModel(PlanModel model, string name, object value) => (TSelf)(this with { Overrides = Overrides.WithPerModel(model, name, value) });

    /// <summary>For <c>init</c> accessors: <paramref name="overrides"/> with a method-wide parameter set to
    /// <paramref name="value"/>, or without its override when the value is null or what the definition says (so that
    /// <c>plan with { X = plan.X }</c> equals <c>plan</c>).</summary>
    protected static PlanOverrides Global(PlanOverrides overrides, string name, object? value, object? definitionValue)
        => value is null || Equals(value, definitionValue) ? overrides.WithoutGlobal(name) : overrides.WithGlobal(name, value);

    /// <summary>As <see cref="Global"/>, for a per-model parameter.</summary>
    protected static PlanOverrides PerModel(PlanOverrides overrides, PlanModel model, string name, object? value, object? definitionValue)
        => value is null || Equals(value, definitionValue) ? overrides.WithoutPerModel(model, name) : overrides.WithPerModel(model, name, value);

    public sealed override string ToString()
        => System.IO.Path.GetFileName(DefinitionPath) + (Overrides.IsEmpty ? string.Empty : " (with overrides)");
}
