using System.Text.Json.Nodes;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Output;

/// <summary>Resolves the definition's <c>chat_template</c>: <c>auto</c> (the template most inputs share), a built-in
/// name, or a literal Jinja template.</summary>
public static class ChatTemplates
{
    /// <summary>Built-in templates (written for dotnet-merge; the formats are the public conventions of each family).</summary>
    public static readonly IReadOnlyDictionary<string, string> BuiltIn = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["chatml"] = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        ["alpaca"] = "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}",
        ["llama3"] = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
        ["mistral"] = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
    };

    public static string? Resolve(MergePlan plan)
    {
        var value = plan.Definition.ChatTemplate;
        if (value is null) return null;
        if (value == "auto")
        {
            var templates = plan.Models.Select(m => ReadTemplate(m.Directory)).Where(t => t is not null).Select(t => t!.Trim()).ToList();
            return templates.Count == 0 ? null
                : templates.GroupBy(t => t, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
        }
        if (BuiltIn.TryGetValue(value, out var builtIn)) return builtIn;
        if (value.Length >= 20 && value.Contains('{')) return value;
        throw new MergeException(MergeErrorKind.Definition, ErrorIds.ChatTemplate,
            $"chat_template '{value}' is neither `auto`, a built-in name ({string.Join(", ", BuiltIn.Keys)}) nor a Jinja template");
    }

    private static string? ReadTemplate(string directory)
    {
        var path = Path.Combine(directory, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && o["chat_template"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        }
        catch (System.Text.Json.JsonException) { return null; }
    }
}
