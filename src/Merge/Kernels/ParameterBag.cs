using System.Globalization;

namespace DotnetMerge.Kernels;

/// <summary>Resolved parameter values for one tensor (and one model, for per-model parameters).
/// Values are double, bool or string; defaults come from the method catalog and are already applied.</summary>
public sealed class ParameterBag
{
    private readonly Dictionary<string, object> _values;

    public ParameterBag(IDictionary<string, object>? values = null)
        => _values = values is null ? new(StringComparer.Ordinal) : new(values, StringComparer.Ordinal);

    public static ParameterBag Empty { get; } = new();

    public IReadOnlyDictionary<string, object> Values => _values;

    public bool Contains(string name) => _values.ContainsKey(name);

    public double GetDouble(string name) => _values.TryGetValue(name, out var v) ? ToDouble(name, v)
        : throw new KeyNotFoundException($"parameter '{name}' has no value");

    public double GetDouble(string name, double fallback) => _values.TryGetValue(name, out var v) ? ToDouble(name, v) : fallback;

    public bool GetBool(string name) => _values.TryGetValue(name, out var v) ? ToBool(name, v)
        : throw new KeyNotFoundException($"parameter '{name}' has no value");

    public bool GetBool(string name, bool fallback) => _values.TryGetValue(name, out var v) ? ToBool(name, v) : fallback;

    public string? GetString(string name) => _values.TryGetValue(name, out var v) ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;

    private static double ToDouble(string name, object v) => v switch
    {
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException($"parameter '{name}' is not a number: {v}"),
    };

    private static bool ToBool(string name, object v) => v switch
    {
        bool b => b,
        double d => d != 0,
        int i => i != 0,
        long l => l != 0,
        _ => throw new InvalidCastException($"parameter '{name}' is not a boolean: {v}"),
    };

    public override string ToString() => string.Join(", ", _values.OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => p.Key + "=" + Convert.ToString(p.Value, CultureInfo.InvariantCulture)));
}
