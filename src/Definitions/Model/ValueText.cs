using System.Globalization;

namespace DotnetMerge.Definitions;

/// <summary>Invariant-culture formatting of parameter values for messages and documentation.</summary>
public static class ValueText
{
    /// <summary>"0.5", "true", "'l1'", "null".</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => "'" + s + "'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>"a number", "a boolean", "a string", "null".</summary>
    public static string Kind(object? value) => value switch
    {
        null => "null",
        bool => "a boolean",
        double => "a number",
        string => "a string",
        _ => "a " + value.GetType().Name,
    };
}
