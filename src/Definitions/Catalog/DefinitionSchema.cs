using System.Globalization;
using System.Text;

namespace DotnetMerge.Definitions;

/// <summary>A JSON schema (draft-07) of the definition language, generated from the method catalog, for YAML editors with
/// schema support (keys, methods and parameter names complete; a typo is underlined). The validator stays the
/// authority: the schema knows names, types and ranges, not cross-field rules. docs/merge.schema.json is this output.</summary>
public static class DefinitionSchema
{
    private static readonly string[] DtypeNames = { "bfloat16", "float16", "float32", "float64", "half", "float", "double" };

    /// <summary>The schema as indented JSON ('\n' line endings).</summary>
    public static string Write()
    {
        var w = new StringBuilder();
        WriteValue(w, Build(), 0);
        return w.Append('\n').ToString();
    }

    private static Obj Build()
    {
        var methods = MethodCatalog.All;
        var parameters = methods.SelectMany(m => m.Parameters).GroupBy(p => p.Name, StringComparer.Ordinal).ToList();
        var parameterProperties = new Obj();
        foreach (var group in parameters)
        {
            var owners = methods.Where(m => m.FindParameter(group.Key) is not null).Select(m => m.Name).ToList();
            var first = group.First();
            var settings = group.Select(Setting).Distinct(JsonComparer.Instance).ToList();
            var schema = settings.Count == 1 ? (Obj)settings[0] : new Obj { ["anyOf"] = settings };
            schema["description"] = first.Description + " (" + string.Join(", ", owners) + ")";
            parameterProperties[group.Key] = schema;
        }

        var modelReference = new Obj
        {
            ["description"] = "A model: a local directory or a Hugging Face id, path[@revision], or the dict form.",
            ["anyOf"] = new List<object?>
            {
                new Obj { ["type"] = "string", ["minLength"] = 1 },
                new Obj
                {
                    ["type"] = "object",
                    ["properties"] = new Obj
                    {
                        ["model"] = new Obj
                        {
                            ["anyOf"] = new List<object?>
                            {
                                new Obj { ["type"] = "string" },
                                Closed(new Obj { ["path"] = new Obj { ["type"] = "string" }, ["revision"] = new Obj { ["type"] = "string" } }, "path"),
                            },
                        },
                        ["lora"] = new Obj(),
                        ["override_architecture"] = new Obj { ["type"] = "string" },
                    },
                    ["required"] = new List<object?> { "model" },
                    ["additionalProperties"] = false,
                },
            },
        };

        var parametersRef = new Obj { ["$ref"] = "#/definitions/parameters" };
        var modelRef = new Obj { ["$ref"] = "#/definitions/modelReference" };
        var dtype = new Obj { ["enum"] = DtypeNames.Cast<object?>().ToList() };
        var models = new Obj
        {
            ["description"] = "Whole models to merge (or use slices).",
            ["type"] = "array",
            ["minItems"] = 1,
            ["items"] = Closed(new Obj
            {
                ["model"] = modelRef,
                ["name"] = new Obj { ["description"] = "dotnet-merge: the C# member name of this model in a typed plan.", ["type"] = "string" },
                ["lora"] = new Obj { ["description"] = "A PEFT LoRA adapter directory applied to this model while reading (as model: base+adapter)." },
                ["parameters"] = parametersRef,
            }, "model"),
        };
        var slices = new Obj
        {
            ["description"] = "Output slices of layer ranges (or use models).",
            ["type"] = "array",
            ["minItems"] = 1,
            ["items"] = Closed(new Obj
            {
                ["sources"] = new Obj
                {
                    ["type"] = "array",
                    ["items"] = Closed(new Obj
                    {
                        ["model"] = modelRef,
                        ["layer_range"] = new Obj
                        {
                            ["description"] = "[start, end): half-open.",
                            ["type"] = "array",
                            ["items"] = new Obj { ["type"] = "integer", ["minimum"] = 0 },
                            ["minItems"] = 2,
                            ["maxItems"] = 2,
                        },
                        ["parameters"] = parametersRef,
                    }, "model", "layer_range"),
                },
                ["base_model"] = modelRef,
                ["parameters"] = parametersRef,
                ["residual_weight"] = new Obj { ["type"] = "number" },
            }, "sources"),
        };
        var root = new Obj
        {
            ["$schema"] = "http://json-schema.org/draft-07/schema#",
            ["$id"] = "https://dotnet-merge.invalid/merge.schema.json",
            ["title"] = "dotnet-merge merge definition (mergekit YAML)",
            ["description"] = "Generated from the dotnet-merge method catalog (DotnetMerge.Definitions.DefinitionSchema). dotnet merge check reports everything this schema cannot express.",
            ["type"] = "object",
            ["required"] = new List<object?> { "merge_method" },
            ["additionalProperties"] = false,
            ["properties"] = new Obj
            {
                ["merge_method"] = new Obj
                {
                    ["description"] = "The merge method.",
                    ["enum"] = methods.Select(m => (object?)m.Name).ToList(),
                },
                ["base_model"] = modelRef,
                ["models"] = models,
                ["slices"] = slices,
                ["modules"] = new Obj
                {
                    ["description"] = "Multi-module models (vision-language, encoder-decoder): module name (a layer stack: its name such as visual or language_model, its prefix, or text_decoder / vision_tower) to that module's models or slices and parameters.",
                    ["type"] = "object",
                    ["minProperties"] = 1,
                    ["additionalProperties"] = Closed(new Obj
                    {
                        ["models"] = models,
                        ["slices"] = slices,
                        ["parameters"] = parametersRef,
                    }),
                },
                ["parameters"] = parametersRef,
                ["dtype"] = dtype,
                ["out_dtype"] = dtype,
                ["tokenizer_source"] = new Obj { ["description"] = "union, base, or one of the models.", ["anyOf"] = new List<object?> { new Obj { ["type"] = "string" }, modelRef } },
                ["tokenizer"] = Closed(new Obj
                {
                    ["source"] = new Obj { ["description"] = "union (default), base, or one of the models.", ["anyOf"] = new List<object?> { new Obj { ["type"] = "string" }, modelRef } },
                    ["pad_to_multiple_of"] = new Obj { ["description"] = "Pad the embedding rows up to a multiple of this.", ["type"] = "integer", ["minimum"] = 1 },
                    ["tokens"] = new Obj
                    {
                        ["description"] = "Per-token embedding rules, keyed by the token's text.",
                        ["type"] = "object",
                        ["additionalProperties"] = Closed(new Obj
                        {
                            ["source"] = new Obj
                            {
                                ["anyOf"] = new List<object?>
                                {
                                    modelRef,
                                    Closed(new Obj { ["kind"] = new Obj { ["enum"] = new List<object?> { "zero" } } }, "kind"),
                                    Closed(new Obj
                                    {
                                        ["kind"] = new Obj { ["enum"] = new List<object?> { "model_token" } },
                                        ["model"] = modelRef,
                                        ["token"] = new Obj { ["type"] = "string" },
                                        ["token_id"] = new Obj { ["type"] = "integer", ["minimum"] = 0 },
                                    }, "kind", "model"),
                                },
                            },
                            ["force"] = new Obj { ["type"] = "boolean" },
                        }),
                    },
                }),
                ["chat_template"] = new Obj { ["description"] = "auto, a built-in name, or a Jinja template.", ["type"] = "string" },
                ["seed"] = new Obj { ["description"] = "Seed of the randomized methods.", ["type"] = "integer", ["minimum"] = 0 },
                ["name"] = new Obj { ["description"] = "The stage name of one document of a multi-stage file; later documents use its output by this name.", ["type"] = "string" },
            },
            ["allOf"] = methods.Select(m => (object?)ForMethod(m)).ToList(),
            ["definitions"] = new Obj
            {
                ["modelReference"] = modelReference,
                ["parameters"] = new Obj
                {
                    ["description"] = "Parameters of the merge method.",
                    ["type"] = "object",
                    ["properties"] = parameterProperties,
                    ["additionalProperties"] = false,
                },
            },
        };
        return root;
    }

    /// <summary>For one method: only its parameters at the top level, only its per-model ones under a model.</summary>
    private static Obj ForMethod(MethodDescriptor method)
    {
        var all = method.Parameters.Select(p => (object?)p.Name).ToList();
        var perModel = method.Parameters.Where(p => p.Scope == ParameterScope.PerModel).Select(p => (object?)p.Name).ToList();
        var modelsOfMethod = new Obj
        {
            ["items"] = new Obj { ["properties"] = new Obj { ["parameters"] = new Obj { ["propertyNames"] = new Obj { ["enum"] = perModel } } } },
        };
        return new Obj
        {
            ["if"] = new Obj { ["properties"] = new Obj { ["merge_method"] = new Obj { ["const"] = method.Name } }, ["required"] = new List<object?> { "merge_method" } },
            ["then"] = new Obj
            {
                ["properties"] = new Obj
                {
                    ["parameters"] = new Obj { ["propertyNames"] = new Obj { ["enum"] = all } },
                    ["models"] = modelsOfMethod,
                    ["modules"] = new Obj
                    {
                        ["additionalProperties"] = new Obj
                        {
                            ["properties"] = new Obj
                            {
                                ["parameters"] = new Obj { ["propertyNames"] = new Obj { ["enum"] = all } },
                                ["models"] = modelsOfMethod,
                            },
                        },
                    },
                },
            },
        };
    }

    /// <summary>The forms a parameter takes: a value, a gradient or step list, filtered entries, a search form (for tune).</summary>
    private static object Setting(ParameterDescriptor p)
    {
        var scalar = Scalar(p);
        var search = Search(p, scalar);
        var valueOrList = new Obj { ["anyOf"] = new List<object?> { scalar, ListOf(scalar), search } };
        var entry = Closed(new Obj { ["filter"] = new Obj { ["type"] = "string" }, ["value"] = valueOrList }, "value");
        return new Obj { ["anyOf"] = new List<object?> { scalar, ListOf(scalar), ListOf(entry), entry, search } };
    }

    /// <summary><c>{search: [min, max]}</c> (numbers only) or <c>{search: {values: [...]}}</c>.</summary>
    private static Obj Search(ParameterDescriptor p, Obj scalar)
    {
        var set = Closed(new Obj { ["values"] = ListOf(scalar) }, "values");
        var forms = p.Type == ParameterType.Number
            ? new Obj { ["anyOf"] = new List<object?> { new Obj { ["type"] = "array", ["minItems"] = 2, ["maxItems"] = 2, ["items"] = scalar }, set } }
            : set;
        return Closed(new Obj { ["search"] = forms }, "search");
    }

    private static Obj Scalar(ParameterDescriptor p)
    {
        switch (p.Type)
        {
            case ParameterType.Number:
            {
                var s = new Obj { ["type"] = "number" };
                if (p.Min is { } min) s[p.MinExclusive ? "exclusiveMinimum" : "minimum"] = min;
                if (p.Max is { } max) s[p.MaxExclusive ? "exclusiveMaximum" : "maximum"] = max;
                return s;
            }

            case ParameterType.Integer:
                return new Obj { ["type"] = "integer" };
            case ParameterType.Boolean when p.AllowedValues is { Count: > 0 } allowed:
                return new Obj { ["anyOf"] = new List<object?> { new Obj { ["type"] = "boolean" }, new Obj { ["enum"] = allowed.Cast<object?>().ToList() } } };
            case ParameterType.Boolean:
                return new Obj { ["type"] = "boolean" };
            default:
                return p.AllowedValues is { Count: > 0 } values ? new Obj { ["enum"] = values.Cast<object?>().ToList() } : new Obj { ["type"] = "string" };
        }
    }

    private static Obj ListOf(object items) => new() { ["type"] = "array", ["minItems"] = 1, ["items"] = items };

    private static Obj Closed(Obj properties, params string[] required) => new()
    {
        ["type"] = "object",
        ["properties"] = properties,
        ["required"] = required.Cast<object?>().ToList(),
        ["additionalProperties"] = false,
    };

    /// <summary>An ordered JSON object.</summary>
    private sealed class Obj : List<KeyValuePair<string, object?>>
    {
        public object? this[string key]
        {
            get => this.First(p => p.Key == key).Value;
            set
            {
                var i = FindIndex(p => p.Key == key);
                if (i >= 0) this[i] = new KeyValuePair<string, object?>(key, value);
                else Add(new KeyValuePair<string, object?>(key, value));
            }
        }
    }

    private sealed class JsonComparer : IEqualityComparer<object>
    {
        public static readonly JsonComparer Instance = new();

        public new bool Equals(object? x, object? y) => Text(x) == Text(y);

        public int GetHashCode(object obj) => StringComparer.Ordinal.GetHashCode(Text(obj));

        private static string Text(object? value)
        {
            var w = new StringBuilder();
            WriteValue(w, value, 0);
            return w.ToString();
        }
    }

    private static void WriteValue(StringBuilder w, object? value, int indent)
    {
        switch (value)
        {
            case null: w.Append("null"); break;
            case bool b: w.Append(b ? "true" : "false"); break;
            case string s: WriteString(w, s); break;
            case int i: w.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case double d: w.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
            case Obj o:
                if (o.Count == 0) { w.Append("{}"); break; }
                w.Append("{\n");
                for (var k = 0; k < o.Count; k++)
                {
                    w.Append(' ', 2 * (indent + 1));
                    WriteString(w, o[k].Key);
                    w.Append(": ");
                    WriteValue(w, o[k].Value, indent + 1);
                    w.Append(k + 1 < o.Count ? ",\n" : "\n");
                }

                w.Append(' ', 2 * indent).Append('}');
                break;
            case System.Collections.IEnumerable list:
                var items = list.Cast<object?>().ToList();
                if (items.All(x => x is string or bool or int or double))
                {
                    w.Append('[');
                    for (var k = 0; k < items.Count; k++)
                    {
                        if (k > 0) w.Append(", ");
                        WriteValue(w, items[k], indent);
                    }

                    w.Append(']');
                    break;
                }

                w.Append("[\n");
                for (var k = 0; k < items.Count; k++)
                {
                    w.Append(' ', 2 * (indent + 1));
                    WriteValue(w, items[k], indent + 1);
                    w.Append(k + 1 < items.Count ? ",\n" : "\n");
                }

                w.Append(' ', 2 * indent).Append(']');
                break;
            default:
                throw new ArgumentException("not a JSON value: " + value.GetType().Name, nameof(value));
        }
    }

    private static void WriteString(StringBuilder w, string s) => w.Append(DefinitionWriter.DoubleQuoted(s));
}
