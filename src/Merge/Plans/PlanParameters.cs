using System.Runtime.CompilerServices;

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
        => Overrides.Globals.TryGetValue(name, out var value) ? value.As<T>() : definitionValue;

    /// <summary>The override of a per-model parameter, or <paramref name="definitionValue"/>.</summary>
    protected T GetPerModel<T>(PlanModel model, string name, T definitionValue)
        => Overrides.PerModel.TryGetValue((model.Reference, name), out var value) ? value.As<T>() : definitionValue;

    /// <summary>A copy with a method-wide parameter set to <paramref name="value"/>.</summary>
    protected TSelf SetGlobal(string name, ParameterValue value) => (TSelf)(this with { Overrides = Overrides.WithGlobal(name, value) });

    /// <summary>A copy with a per-model parameter of <paramref name="model"/> set to <paramref name="value"/>.</summary>
    protected TSelf SetPerModel(PlanModel model, string name, ParameterValue value) => (TSelf)(this with { Overrides = Overrides.WithPerModel(model, name, value) });

    /// <summary>For <c>init</c> accessors: <paramref name="overrides"/> with a method-wide parameter set to
    /// <paramref name="value"/>, or without its override when the value is null or what the definition says (so that
    /// <c>plan with { X = plan.X }</c> equals <c>plan</c>).</summary>
    protected static PlanOverrides Global<T>(PlanOverrides overrides, string name, T value, T definitionValue)
        => value is null || EqualityComparer<T>.Default.Equals(value, definitionValue) ? overrides.WithoutGlobal(name) : overrides.WithGlobal(name, ValueOf(value));

    /// <summary>As <see cref="Global"/>, for a per-model parameter.</summary>
    protected static PlanOverrides PerModel<T>(PlanOverrides overrides, PlanModel model, string name, T value, T definitionValue)
        => value is null || EqualityComparer<T>.Default.Equals(value, definitionValue) ? overrides.WithoutPerModel(model, name) : overrides.WithPerModel(model, name, ValueOf(value));

    /// <summary>A property's value (double, bool, int, string or their nullable forms, not null) as an override value.</summary>
    private static ParameterValue ValueOf<T>(T value)
    {
        if (typeof(T) == typeof(double)) return Unsafe.As<T, double>(ref value);
        if (typeof(T) == typeof(double?)) return Unsafe.As<T, double?>(ref value)!.Value;
        if (typeof(T) == typeof(bool)) return Unsafe.As<T, bool>(ref value);
        if (typeof(T) == typeof(bool?)) return Unsafe.As<T, bool?>(ref value)!.Value;
        if (typeof(T) == typeof(int)) return Unsafe.As<T, int>(ref value);
        if (typeof(T) == typeof(int?)) return Unsafe.As<T, int?>(ref value)!.Value;
        if (value is string text) return text;
        throw new ArgumentException("a parameter value is a double, a bool, an int or a string, not " + typeof(T).Name, nameof(value));
    }
}
