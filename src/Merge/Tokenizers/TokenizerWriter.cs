using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Output;

namespace DotnetMerge.Tokenizers;

/// <summary>Writes the output tokenizer of a tokenizer rule the way transformers saves a fast tokenizer: the donor's
/// tokenizer.json with the tokens it lacks appended to <c>added_tokens</c> (ids after its largest), tokenizer_config.json
/// with the same entries in <c>added_tokens_decoder</c>, and the donor's special_tokens_map.json. Tokens the donor
/// has past its embedding rows are removed from both. The donor's other tokenizer files are copied, except
/// added_tokens.json, which the new entries would contradict.</summary>
public static class TokenizerWriter
{
    private static readonly string[] Rewritten = { "tokenizer.json", "tokenizer_config.json", "added_tokens.json" };

    /// <summary>Writes the files into <paramref name="directory"/>; returns their names.</summary>
    public static IReadOnlyList<string> Write(OutputVocabulary vocabulary, string donorDirectory, long donorRows, string directory)
    {
        var written = new List<string>();
        foreach (var file in ModelFiles.TokenizerFiles)
        {
            if (Rewritten.Contains(file)) continue;
            var source = Path.Combine(donorDirectory, file);
            if (!File.Exists(source)) continue;
            File.Copy(source, Path.Combine(directory, file));
            written.Add(file);
        }

        var tokenizer = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(donorDirectory, "tokenizer.json")))!;
        if (tokenizer["model"]?["vocab"] is JsonObject vocab)
            foreach (var key in vocab.Where(p => p.Value!.GetValue<long>() >= donorRows).Select(p => p.Key).ToList()) vocab.Remove(key);
        var added = tokenizer["added_tokens"] as JsonArray ?? new JsonArray();
        tokenizer["added_tokens"] = added;
        for (int i = added.Count - 1; i >= 0; i--)
            if (added[i]?["id"]?.GetValue<long>() >= donorRows) added.RemoveAt(i);
        foreach (var entry in vocabulary.AddedTokens) added.Add(Ordered(entry));
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(ModelFiles.JsonOptions) + "\n");
        written.Add("tokenizer.json");

        var configPath = Path.Combine(donorDirectory, "tokenizer_config.json");
        var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? new JsonObject() : new JsonObject();
        var decoder = config["added_tokens_decoder"] as JsonObject ?? new JsonObject();
        foreach (var key in decoder.Select(p => p.Key).Where(k => long.TryParse(k, out var id) && id >= donorRows).ToList()) decoder.Remove(key);
        // transformers lists every added token there, the donor's own included.
        foreach (var entry in added.OfType<JsonObject>())
        {
            var id = entry["id"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (decoder.ContainsKey(id)) continue;
            var item = new JsonObject();
            foreach (var key in new[] { "content", "lstrip", "normalized", "rstrip", "single_word", "special" })
                item[key] = entry[key]?.DeepClone();
            decoder[id] = item;
        }
        config["added_tokens_decoder"] = SortById(decoder);
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(ModelFiles.JsonOptions) + "\n");
        written.Add("tokenizer_config.json");
        return written;
    }

    /// <summary>An added_tokens entry with tokenizers' key order.</summary>
    private static JsonObject Ordered(JsonObject entry)
    {
        var o = new JsonObject();
        foreach (var key in new[] { "id", "content", "single_word", "lstrip", "rstrip", "normalized", "special" })
            o[key] = entry[key]?.DeepClone() ?? (key is "normalized" ? true : false);
        foreach (var (key, value) in entry) if (!o.ContainsKey(key)) o[key] = value?.DeepClone();
        return o;
    }

    private static JsonObject SortById(JsonObject decoder)
    {
        var sorted = new JsonObject();
        foreach (var (key, value) in decoder.OrderBy(p => long.TryParse(p.Key, out var id) ? id : long.MaxValue).ToList())
            sorted[key] = value?.DeepClone();
        return sorted;
    }
}
