namespace DotnetMerge.Plans;

/// <summary>What a typed plan and each stage of a multi-stage plan have in common: the parameter values set on top of a
/// definition (<see cref="Overrides"/>) and the accessors the generated properties use. An immutable record: every
/// <c>Set...</c> returns a modified copy.</summary>
/// <typeparam name="TSelf">The generated record.</typeparam>
public abstract record PlanParameters<TSelf>
    where TSelf : PlanParameters<TSelf>
{
    protected PlanParameters(PlanOverrides overrides)
        => Overrides = overrides ?? throw new ArgumentNullException(nameof(overrides));

    /// <summary>The values this plan sets on top of the definition.</summary>
    public PlanOverrides Overrides { get; protected init; }

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
}
