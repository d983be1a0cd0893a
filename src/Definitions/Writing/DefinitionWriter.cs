using System.Globalization;
using System.Text;

namespace DotnetMerge.Definitions;

/// <summary>Writes a <see cref="MergeDefinition"/> as mergekit YAML: the keys the definition sets, in mergekit's order,
/// block style, plain scalars where YAML reads them back unchanged and double-quoted strings elsewhere. What it writes
/// parses back (with <see cref="DefinitionParser"/>, and with PyYAML: every float has a '.' and a signed exponent) to the
/// same definition. Used for a definition that no longer has the text it was parsed from (overrides applied, built in code).</summary>
public static class DefinitionWriter
{
    public static string Write(MergeDefinition definition)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        var w = new StringBuilder();
        w.Append("merge_method: ").Append(Scalar(definition.MergeMethod)).Append('\n');
        if (definition.BaseModel is { } baseModel)
            w.Append("base_model: ").Append(Reference(baseModel)).Append('\n');
        if (definition.Models is { Count: > 0 } models)
            WriteModels(w, models, string.Empty);
        if (definition.Slices is { Count: > 0 } slices)
            WriteSlices(w, slices, string.Empty);
        if (definition.Modules is { Count: > 0 } modules)
        {
            w.Append("modules:\n");
            foreach (var module in modules)
            {
                w.Append("  ").Append(Scalar(module.Name)).Append(":\n");
                if (module.Models is { Count: > 0 } moduleModels)
                    WriteModels(w, moduleModels, "    ");
                if (module.Slices is { Count: > 0 } moduleSlices)
                    WriteSlices(w, moduleSlices, "    ");
                WriteParameters(w, module.Parameters, "    ");
            }
        }

        WriteParameters(w, definition.Parameters, string.Empty);
        WriteOptional(w, "dtype", definition.Dtype);
        WriteOptional(w, "out_dtype", definition.OutDtype);
        WriteOptional(w, "tokenizer_source", definition.TokenizerSource);
        if (definition.Tokenizer is { } tokenizer)
            WriteTokenizer(w, tokenizer);
        WriteOptional(w, "chat_template", definition.ChatTemplate);
        if (definition.Seed is { } seed)
            w.Append("seed: ").Append(seed.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return w.ToString();
    }

    private static void WriteModels(StringBuilder w, IReadOnlyList<InputModel> models, string indent)
    {
        w.Append(indent).Append("models:\n");
        foreach (var m in models)
        {
            w.Append(indent).Append("  - model: ").Append(Reference(m.Model)).Append('\n');
            if (m.Name is not null)
                w.Append(indent).Append("    name: ").Append(Scalar(m.Name)).Append('\n');
            WriteParameters(w, m.Parameters, indent + "    ");
        }
    }

    private static void WriteSlices(StringBuilder w, IReadOnlyList<OutputSlice> slices, string indent)
    {
        w.Append(indent).Append("slices:\n");
        foreach (var slice in slices)
        {
            w.Append(indent).Append("  - sources:\n");
            foreach (var source in slice.Sources)
            {
                w.Append(indent).Append("      - model: ").Append(Reference(source.Model)).Append('\n');
                w.Append(indent).Append("        layer_range: [").Append(source.LayerStart.ToString(CultureInfo.InvariantCulture)).Append(", ")
                    .Append(source.LayerEnd.ToString(CultureInfo.InvariantCulture)).Append("]\n");
                WriteParameters(w, source.Parameters, indent + "        ");
            }

            if (slice.BaseModel is { } sliceBase)
                w.Append(indent).Append("    base_model: ").Append(Reference(sliceBase)).Append('\n');
            WriteParameters(w, slice.Parameters, indent + "    ");
        }
    }

    private static void WriteTokenizer(StringBuilder w, TokenizerSettings tokenizer)
    {
        w.Append("tokenizer:\n  source: ").Append(Scalar(tokenizer.Source)).Append('\n');
        if (tokenizer.PadToMultipleOf is { } pad)
            w.Append("  pad_to_multiple_of: ").Append(pad.ToString(CultureInfo.InvariantCulture)).Append('\n');
        if (tokenizer.Tokens.Count == 0)
            return;
        w.Append("  tokens:\n");
        foreach (var rule in tokenizer.Tokens)
        {
            w.Append("    ").Append(DoubleQuoted(rule.Token)).Append(':');
            if (rule.Kind is null && !rule.Force)
            {
                w.Append(" {}\n");
                continue;
            }
            w.Append('\n');
            switch (rule.Kind)
            {
                case TokenEmbeddingKind.Model:
                    w.Append("      source: ").Append(Reference(rule.Model!)).Append('\n');
                    break;
                case TokenEmbeddingKind.Zero:
                    w.Append("      source: {kind: zero}\n");
                    break;
                case TokenEmbeddingKind.ModelToken:
                    w.Append("      source: {kind: model_token, model: ").Append(Reference(rule.Model!)).Append(", ")
                        .Append(rule.SourceTokenId is { } id ? "token_id: " + id.ToString(CultureInfo.InvariantCulture) : "token: " + DoubleQuoted(rule.SourceToken ?? ""))
                        .Append("}\n");
                    break;
            }
            if (rule.Force)
                w.Append("      force: true\n");
        }
    }

    private static void WriteOptional(StringBuilder w, string key, string? value)
    {
        if (value is not null)
            w.Append(key).Append(": ").Append(Scalar(value)).Append('\n');
    }

    private static void WriteParameters(StringBuilder w, ParameterMap parameters, string indent)
    {
        if (parameters.Count == 0)
            return;
        w.Append(indent).Append("parameters:\n");
        foreach (var pair in parameters)
            w.Append(indent).Append("  ").Append(pair.Key).Append(": ").Append(Setting(pair.Value)).Append('\n');
    }

    private static string Setting(ParameterSetting setting) => setting switch
    {
        ScalarSetting s => Value(s.Value),
        SearchSetting search => search.ToYaml(),
        GradientSetting g => "[" + string.Join(", ", g.Values.Select(v => Number(v))) + "]",
        StepSetting s => "[" + string.Join(", ", s.Values.Select(Value)) + "]",
        ConditionalSetting c => "[" + string.Join(", ", c.Entries.Select(e =>
            "{" + (e.Filter is null ? string.Empty : "filter: " + Scalar(e.Filter) + ", ") + "value: " + Setting(e.Value) + "}")) + "]",
        _ => throw new ArgumentException("unknown parameter setting " + setting.GetType().Name, nameof(setting)),
    };

    private static string Value(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => Number(d),
        string s => Scalar(s),
        _ => throw new ArgumentException("unknown parameter value " + value.GetType().Name, nameof(value)),
    };

    private static string Reference(ModelReference reference)
    {
        if (reference.OverrideArchitecture is null)
            return Scalar(reference.ToString());
        var path = "{path: " + Scalar(reference.Path) + (reference.Revision is null ? string.Empty : ", revision: " + Scalar(reference.Revision)) + "}";
        return "{model: " + path + ", override_architecture: " + Scalar(reference.OverrideArchitecture) + "}";
    }

    /// <summary>Round-trippable and a float to every YAML loader: "0.5", "1.0", "1.0e-05", ".inf".</summary>
    internal static string Number(double d)
    {
        if (double.IsNaN(d)) return ".nan";
        if (double.IsPositiveInfinity(d)) return ".inf";
        if (double.IsNegativeInfinity(d)) return "-.inf";
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E');
        var mantissa = e < 0 ? text : text.Substring(0, e);
        if (mantissa.IndexOf('.') < 0)
            mantissa += ".0";
        if (e < 0)
            return mantissa;
        var exponent = text.Substring(e + 1);
        return mantissa + "e" + (exponent.StartsWith("-", StringComparison.Ordinal) || exponent.StartsWith("+", StringComparison.Ordinal) ? exponent : "+" + exponent);
    }

    /// <summary>A string as a plain scalar when YAML reads it back as the same string, otherwise double-quoted.</summary>
    internal static string Scalar(string value)
    {
        if (IsPlainSafe(value))
            return value;
        return DoubleQuoted(value);
    }

    /// <summary>A double-quoted string with <c>"</c>, <c>\</c>, control and line-separator characters escaped: the same
    /// text is a YAML double-quoted scalar and a JSON string (the schema writer uses it too).</summary>
    internal static string DoubleQuoted(string value)
    {
        var b = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                default:
                    if (c < ' ' || c == '\u0085' || c == '\u2028' || c == '\u2029')
                        b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        b.Append(c);
                    break;
            }
        }

        return b.Append('"').ToString();
    }

    private static bool IsPlainSafe(string value)
    {
        if (value.Length == 0 || !(char.IsLetter(value[0]) || value[0] == '_' || value[0] == '.' || value[0] == '/'))
            return false;
        if (value == "." || value.StartsWith(".inf", StringComparison.OrdinalIgnoreCase) || value.StartsWith(".nan", StringComparison.OrdinalIgnoreCase))
            return false;
        foreach (var c in value)
        {
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or '@' or '+')))
                return false;
        }

        // Words YAML 1.1 loaders resolve to booleans or null.
        switch (value.ToLowerInvariant())
        {
            case "true": case "false": case "yes": case "no": case "on": case "off": case "y": case "n": case "null":
                return false;
            default:
                return true;
        }
    }
}
