using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DotnetMerge.Definitions;

/// <summary>Resolves YAML scalars the way a YAML loader would (null, booleans, integers, floats, strings),
/// always with the invariant culture. Quoted scalars and scalars tagged <c>!!str</c> are strings.</summary>
internal static class YamlScalars
{
    private static readonly Regex FloatPattern = new(
        @"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant);

    private static readonly Regex HexPattern = new(@"^0x[0-9a-fA-F]+$", RegexOptions.CultureInvariant);

    public static bool IsPlain(YamlScalarNode node)
        => node.Style is ScalarStyle.Plain or ScalarStyle.Any && !IsStringTagged(node);

    private static bool IsStringTagged(YamlScalarNode node)
        => !node.Tag.IsEmpty && node.Tag.Value is "tag:yaml.org,2002:str" or "!!str";

    public static bool IsNull(YamlScalarNode node)
        => IsPlain(node) && (node.Value is null or "" or "~" or "null" or "Null" or "NULL");

    /// <summary>null, bool, double or string.</summary>
    public static object? Resolve(YamlScalarNode node)
    {
        var text = node.Value ?? string.Empty;
        if (!IsPlain(node))
            return text;
        if (IsNull(node))
            return null;
        if (TryBoolean(text, out var b))
            return b;
        if (TryNumber(text, out var d))
            return d;
        return text;
    }

    private static bool TryBoolean(string text, out bool value)
    {
        switch (text)
        {
            case "true": case "True": case "TRUE": case "yes": case "Yes": case "YES": case "on": case "On": case "ON":
                value = true;
                return true;
            case "false": case "False": case "FALSE": case "no": case "No": case "NO": case "off": case "Off": case "OFF":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    public static bool TryNumber(string text, out double value)
    {
        value = 0;
        switch (text)
        {
            case ".inf": case ".Inf": case ".INF": case "+.inf": case "+.Inf": case "+.INF":
                value = double.PositiveInfinity;
                return true;
            case "-.inf": case "-.Inf": case "-.INF":
                value = double.NegativeInfinity;
                return true;
            case ".nan": case ".NaN": case ".NAN":
                value = double.NaN;
                return true;
        }

        if (HexPattern.IsMatch(text))
        {
            value = ulong.Parse(text.Substring(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            return true;
        }

        if (!FloatPattern.IsMatch(text))
            return false;
        return double.TryParse(text.Replace("_", string.Empty), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A plain scalar that is a whole number in the range of <see cref="long"/>.</summary>
    public static bool TryInteger(YamlScalarNode node, out long value)
    {
        value = 0;
        if (!IsPlain(node))
            return false;
        var text = (node.Value ?? string.Empty).Replace("_", string.Empty);
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }
}
