using System.Collections;

namespace DotnetMerge.Definitions;

/// <summary>Parameters by name (ordinal), in the order written, with the location of each key.</summary>
public sealed class ParameterMap : IReadOnlyDictionary<string, ParameterSetting>
{
    private readonly Dictionary<string, ParameterSetting> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourceLocation> _keyLocations = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    public ParameterMap()
    {
    }

    public ParameterMap(IEnumerable<KeyValuePair<string, ParameterSetting>> values, SourceLocation location = default)
    {
        Location = location;
        foreach (var pair in values)
            Add(pair.Key, pair.Value, pair.Value.Location);
    }

    public static ParameterMap Empty { get; } = new();

    /// <summary>Location of the mapping itself (or of the key that introduced it).</summary>
    public SourceLocation Location { get; internal set; }

    internal void Add(string name, ParameterSetting value, SourceLocation keyLocation)
    {
        if (!_values.ContainsKey(name))
            _order.Add(name);
        _values[name] = value;
        _keyLocations[name] = keyLocation;
    }

    /// <summary>Location of the key <paramref name="name"/>, or the map's location.</summary>
    public SourceLocation GetKeyLocation(string name) => _keyLocations.TryGetValue(name, out var l) ? l : Location;

    /// <summary>The setting for <paramref name="name"/> evaluated for a tensor, or null when absent or not applicable.</summary>
    public object? Evaluate(string name, string tensorName, double t)
        => _values.TryGetValue(name, out var s) ? s.Evaluate(tensorName, t) : null;

    public ParameterSetting this[string key] => _values[key];

    public IEnumerable<string> Keys => _order;

    public IEnumerable<ParameterSetting> Values => _order.Select(k => _values[k]);

    public int Count => _order.Count;

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, out ParameterSetting value) => _values.TryGetValue(key, out value!);

    public IEnumerator<KeyValuePair<string, ParameterSetting>> GetEnumerator()
        => _order.Select(k => new KeyValuePair<string, ParameterSetting>(k, _values[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
