using System.Collections.Immutable;

namespace DotnetMerge.Plans;

/// <summary>The overrides of a multi-stage typed plan: one <see cref="PlanOverrides"/> per stage, keyed by the stage's
/// <c>name:</c> ("" for the unnamed final document). Immutable, compared by value; a stage without overrides has no entry.</summary>
public sealed class StageOverrides : IEquatable<StageOverrides>
{
    private StageOverrides(ImmutableSortedDictionary<string, PlanOverrides> stages) => Stages = stages;

    /// <summary>No overrides: every stage runs as defined.</summary>
    public static StageOverrides Empty { get; } = new(ImmutableSortedDictionary.Create<string, PlanOverrides>(StringComparer.Ordinal));

    /// <summary>The overrides of each stage that has some, by stage key.</summary>
    public ImmutableSortedDictionary<string, PlanOverrides> Stages { get; }

    public bool IsEmpty => Stages.Count == 0;

    /// <summary>The overrides of one stage (<see cref="PlanOverrides.Empty"/> when it has none).</summary>
    public PlanOverrides For(string stageKey)
        => Stages.TryGetValue(stageKey ?? throw new ArgumentNullException(nameof(stageKey)), out var overrides) ? overrides : PlanOverrides.Empty;

    /// <summary>A copy whose stage <paramref name="stageKey"/> has <paramref name="overrides"/> (none: the entry is removed).</summary>
    public StageOverrides With(string stageKey, PlanOverrides overrides)
    {
        ArgumentNullException.ThrowIfNull(stageKey);
        ArgumentNullException.ThrowIfNull(overrides);
        return new(overrides.IsEmpty ? Stages.Remove(stageKey) : Stages.SetItem(stageKey, overrides));
    }

    public bool Equals(StageOverrides? other)
        => other is not null && Stages.Count == other.Stages.Count
            && Stages.All(p => other.Stages.TryGetValue(p.Key, out var o) && p.Value.Equals(o));

    public override bool Equals(object? obj) => Equals(obj as StageOverrides);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (key, value) in Stages)
            hash.Add((key, value));
        return hash.ToHashCode();
    }
}
