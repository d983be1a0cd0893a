using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Output;

/// <summary>The non-tensor files of a merged model: config.json from the donor (with dtype, layer count and vocabulary
/// size updated to what was written), tokenizer files and generation_config.json from the tokenizer donor.</summary>
public static class ModelFiles
{
    /// <summary>Tokenizer-related files copied verbatim from the tokenizer donor.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles = new[]
    {
        "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "added_tokens.json",
        "merges.txt", "vocab.json", "chat_template.jinja", "chat_template.json", "generation_config.json",
    };

    /// <summary>config.json keys that hold the number of layers, in the order they are looked for.</summary>
    private static readonly string[] LayerCountKeys = { "num_hidden_layers", "n_layer", "num_layers", "n_layers" };

    /// <summary>How every JSON file of a merged model is written: indented by two spaces, and escaped only where JSON
    /// requires it, as transformers writes them (a chat template keeps its <c>'</c>, <c>&lt;</c> and <c>&gt;</c>, not
    /// <c>\u0027</c>, <c>\u003C</c>, <c>\u003E</c>).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WriteConfig(MergePlan plan, string directory)
    {
        var donor = plan.ConfigDonor.Config;
        if (donor is null) return;
        var config = (JsonObject)donor.DeepClone();
        if (plan.OutputTorchDtype is { } dtype) config["torch_dtype"] = dtype.TorchName();
        if (plan.OutputLayerCount is { } layers)
        {
            var key = LayerCountKeys.FirstOrDefault(config.ContainsKey) ?? "num_hidden_layers";
            config[key] = layers;
        }
        if (plan.OutputVocabSize is { } vocab)
        {
            if (config["text_config"] is JsonObject text && text.ContainsKey("vocab_size")) text["vocab_size"] = vocab;
            else config["vocab_size"] = vocab;
        }
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(JsonOptions) + "\n");
    }

    /// <summary>Copies the tokenizer donor's files; applies <c>chat_template</c> when the definition sets one.</summary>
    public static IReadOnlyList<string> CopyTokenizer(MergePlan plan, string directory)
    {
        var donor = plan.TokenizerDonor;
        if (donor is null) return Array.Empty<string>();
        var copied = new List<string>();
        if (plan.Vocabulary is { } vocabulary && vocabulary.Rewrites)
            copied.AddRange(Tokenizers.TokenizerWriter.Write(vocabulary, donor.Directory, vocabulary.DonorRows, directory));
        else foreach (var file in TokenizerFiles)
        {
            var source = Path.Combine(donor.Directory, file);
            if (!File.Exists(source)) continue;
            File.Copy(source, Path.Combine(directory, file));
            copied.Add(file);
        }
        var template = ChatTemplates.Resolve(plan);
        if (template is not null) ApplyChatTemplate(directory, template);
        return copied;
    }

    private static void ApplyChatTemplate(string directory, string template)
    {
        var path = Path.Combine(directory, "tokenizer_config.json");
        var config = File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? new JsonObject() : new JsonObject();
        config["chat_template"] = template;
        File.WriteAllText(path, config.ToJsonString(JsonOptions) + "\n");
        var jinja = Path.Combine(directory, "chat_template.jinja");
        if (File.Exists(jinja)) File.WriteAllText(jinja, template);
    }
}
