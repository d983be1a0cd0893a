using System.Collections.Immutable;

namespace DotnetMerge.Plans;

/// <summary>Parameter values a typed plan sets on top of its definition (immutable; every change returns a copy).
/// A value replaces the whole setting it overrides: a scalar given here wins over gradients and filters. Values are
/// stored typed (<see cref="ParameterValue"/>), not boxed.</summary>
public sealed class PlanOverrides : IEquatable<PlanOverrides>
{
    private PlanOverrides(ImmutableSortedDictionary<string, ParameterValue> globals, ImmutableSortedDictionary<(string Model, string Name), ParameterValue> perModel)
    {
        Globals = globals;
        PerModel = perModel;
    }

    /// <summary>No overrides: the plan runs as defined.</summary>
    public static PlanOverrides Empty { get; } = new(
        ImmutableSortedDictionary.Create<string, ParameterValue>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<(string Model, string Name), ParameterValue>(KeyComparer.Instance));

    /// <summary>Method-wide parameters by name.</summary>
    public ImmutableSortedDictionary<string, ParameterValue> Globals { get; }

    /// <summary>Per-model parameters by (model reference, name).</summary>
    public ImmutableSortedDictionary<(string Model, string Name), ParameterValue> PerModel { get; }

    public bool IsEmpty => Globals.Count == 0 && PerModel.Count == 0;

    /// <summary>Sets a method-wide parameter (a double, bool, int or string, converted implicitly).</summary>
    public PlanOverrides WithGlobal(string name, ParameterValue value)
        => new(Globals.SetItem(name ?? throw new ArgumentNullException(nameof(name)), value), PerModel);

    /// <summary>Sets a per-model parameter of <paramref name="model"/>.</summary>
    public PlanOverrides WithPerModel(PlanModel model, string name, ParameterValue value)
        => new(Globals, PerModel.SetItem(((model ?? throw new ArgumentNullException(nameof(model))).Reference, name ?? throw new ArgumentNullException(nameof(name))), value));

    /// <summary>Removes the override of a method-wide parameter (the definition's setting applies again).</summary>
    public PlanOverrides WithoutGlobal(string name) => new(Globals.Remove(name), PerModel);

    /// <summary>Removes the override of a per-model parameter of <paramref name="model"/>.</summary>
    public PlanOverrides WithoutPerModel(PlanModel model, string name) => new(Globals, PerModel.Remove((model.Reference, name)));

    /// <summary>Value equality: the same parameters overridden with equal values (so plans that merge the same compare equal).</summary>
    public bool Equals(PlanOverrides? other)
        => other is not null && Globals.Count == other.Globals.Count && PerModel.Count == other.PerModel.Count
            && Globals.All(p => other.Globals.TryGetValue(p.Key, out var v) && v == p.Value)
            && PerModel.All(p => other.PerModel.TryGetValue(p.Key, out var v) && v == p.Value);

    public override bool Equals(object? obj) => Equals(obj as PlanOverrides);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (key, value) in Globals)
            hash.Add((key, value));
        foreach (var (key, value) in PerModel)
            hash.Add((key.Model, key.Name, value));
        return hash.ToHashCode();
    }

    private sealed class KeyComparer : IComparer<(string Model, string Name)>
    {
        public static readonly KeyComparer Instance = new();

        public int Compare((string Model, string Name) x, (string Model, string Name) y)
        {
            var c = string.CompareOrdinal(x.Model, y.Model);
            return c != 0 ? c : string.CompareOrdinal(x.Name, y.Name);
        }
    }
}
