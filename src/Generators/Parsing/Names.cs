using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace DotnetMerge.Generators.Parsing;

/// <summary>C# identifiers from file names, model paths and snake_case parameter names.</summary>
internal static class Names
{
    /// <summary>"blend-v2" → "BlendV2", "normalize_weights" → "NormalizeWeights", "7b" → "_7b". Empty → "".</summary>
    public static string Pascal(string text)
    {
        var builder = new StringBuilder(text.Length);
        var upperNext = true;
        foreach (var c in text)
        {
            if (c < 128 && char.IsLetterOrDigit(c))
            {
                builder.Append(upperNext ? char.ToUpperInvariant(c) : c);
                upperNext = false;
            }
            else
            {
                upperNext = true;
            }
        }

        if (builder.Length > 0 && char.IsDigit(builder[0]))
            builder.Insert(0, '_');
        return builder.ToString();
    }

    /// <summary>The class name: the <c>PlanName</c> metadata when given (made a valid identifier), otherwise the file name
    /// without <c>.merge.yaml</c> in PascalCase plus "MergePlan".</summary>
    public static string ClassName(string path, string? planName)
    {
        if (planName is not null)
        {
            var given = Pascal(planName);
            if (given.Length > 0)
                return char.IsUpper(planName[0]) && IsIdentifier(planName) ? planName : given;
        }

        var file = System.IO.Path.GetFileName(path);
        var stem = file.EndsWith(MergePlanGenerator.FileSuffix, StringComparison.OrdinalIgnoreCase)
            ? file.Substring(0, file.Length - MergePlanGenerator.FileSuffix.Length)
            : file;
        var name = Pascal(stem);
        return (name.Length == 0 ? "Unnamed" : name) + "MergePlan";
    }

    /// <summary>Types of the System namespace that a member of the plan would hide inside it (a model directory named
    /// <c>math</c> must not make <c>Math.Max</c> in the plan's partial class mean the model).</summary>
    private static readonly HashSet<string> SystemTypes = new(StringComparer.Ordinal)
    {
        "Action", "Activator", "Array", "Attribute", "BitConverter", "Boolean", "Buffer", "Byte", "Char", "Console", "Convert",
        "DateTime", "DateTimeOffset", "Decimal", "Delegate", "Double", "Enum", "Environment", "Exception", "Func", "GC", "Guid",
        "Half", "HashCode", "Index", "Int16", "Int32", "Int64", "Lazy", "Math", "MathF", "Memory", "Nullable", "Object", "Random",
        "Range", "Single", "Span", "String", "StringComparer", "StringComparison", "TimeSpan", "Tuple", "Type", "UInt16", "UInt32",
        "UInt64", "Uri", "ValueTuple", "Version", "Void",
    };

    /// <summary>The member name of a model: the entry's <c>name:</c> when given, otherwise its last path segment (directory
    /// name), in PascalCase ("Model" appended when it would hide a System type such as Math), made unique.</summary>
    public static string ModelIdentifier(string reference, string? given, ISet<string> taken)
    {
        var path = reference.Split('@', '+')[0].TrimEnd('/', '\\');
        var slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        var name = Pascal(given is { Length: > 0 } ? given : slash >= 0 ? path.Substring(slash + 1) : path);
        if (name.Length == 0 || name[0] == '_')
            name = "Model" + name.TrimStart('_');
        if (taken.Contains(name) || SystemTypes.Contains(name))
            name += "Model";
        return Unique(name, taken);
    }

    /// <summary><paramref name="name"/>, or with 2, 3, ... appended, whichever is not taken yet; then taken.</summary>
    public static string Unique(string name, ISet<string> taken)
    {
        var unique = name;
        for (var i = 2; taken.Contains(unique); i++)
            unique = name + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        taken.Add(unique);
        return unique;
    }

    private static bool IsIdentifier(string text)
    {
        if (text.Length == 0 || !(char.IsLetter(text[0]) || text[0] == '_'))
            return false;
        foreach (var c in text)
        {
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c == '_')))
                return false;
        }

        return true;
    }

    /// <summary><paramref name="path"/> relative to <paramref name="directory"/>, '/'-separated ("merges/blend.merge.yaml",
    /// "../shared/x.merge.yaml"); only the file name when there is no directory or the two have no common root (another
    /// drive). String work only: a generator reads no file system.</summary>
    public static string RelativePath(string? directory, string path)
    {
        var target = Segments(path);
        if (directory is null || target.Count == 0)
            return target.Count == 0 ? path : target[target.Count - 1];
        var from = Segments(directory);
        var ignoreCase = target[0].EndsWith(":", StringComparison.Ordinal) || path.IndexOf('\\') >= 0;
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var rooted = path.StartsWith("/", StringComparison.Ordinal) == directory.StartsWith("/", StringComparison.Ordinal);
        var common = 0;
        while (common < from.Count && common < target.Count - 1 && string.Equals(from[common], target[common], comparison))
            common++;
        if (!rooted || common == 0)
            return target[target.Count - 1];
        return string.Join("/", Enumerable.Repeat("..", from.Count - common).Concat(target.Skip(common)));
    }

    private static List<string> Segments(string path)
    {
        var segments = new List<string>();
        foreach (var part in path.Split('/', '\\'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..")
                segments.RemoveAt(segments.Count - 1);
            else
                segments.Add(part);
        }

        return segments;
    }

    /// <summary>A C# regular string literal ("a\"b\n").</summary>
    public static string Literal(string value)
    {
        var builder = new StringBuilder(value.Length + 2);
        builder.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\0': builder.Append("\\0"); break;
                default:
                    if (c < ' ' || c == '\u2028' || c == '\u2029' || c == '\u0085')
                        builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else
                        builder.Append(c);
                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>A C# verbatim string literal (@"..."), keeping line breaks readable.</summary>
    public static string Verbatim(string value) => "@\"" + value.Replace("\"", "\"\"") + "\"";

    /// <summary>Text safe inside an XML doc comment.</summary>
    public static string Xml(string value) => value.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")
        .Replace("\r", " ").Replace("\n", " ");
}
