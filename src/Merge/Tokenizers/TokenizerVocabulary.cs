using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;

namespace DotnetMerge.Tokenizers;

/// <summary>One token of a tokenizer.json: its text, its id and, for an added token, its entry of <c>added_tokens</c>
/// (special, lstrip, rstrip, normalized, single_word), carried into the output tokenizer.</summary>
public sealed record VocabularyToken(string Content, int Id, JsonObject? Added)
{
    public bool IsAdded => Added is not null;
}

/// <summary>The vocabulary of one model, read from its tokenizer.json with System.Text.Json: <c>model.vocab</c> (a
/// text→id object for BPE, WordPiece and WordLevel; a list of [piece, score] whose index is the id for Unigram) and
/// <c>added_tokens</c>. Microsoft.ML.Tokenizers is not needed to build the row maps: they only need text and ids, and
/// a plain read keeps the vocabulary's order and every added-token flag. Ids at or above <see cref="Rows"/> (the rows of
/// the model's embedding) are dropped, as mergekit drops tokens past <c>vocab_size</c>.</summary>
public sealed class TokenizerVocabulary
{
    private readonly Dictionary<string, int> _ids;

    private TokenizerVocabulary(string path, long rows, List<VocabularyToken> tokens, Dictionary<string, int> ids, int dropped)
    {
        Path = path; Rows = rows; Tokens = tokens; _ids = ids; Dropped = dropped;
    }

    /// <summary>The tokenizer.json read.</summary>
    public string Path { get; }

    /// <summary>Rows of the model's embedding matrix (the tensor's rows, else its config's vocab_size).</summary>
    public long Rows { get; }

    /// <summary>Every token with an id below <see cref="Rows"/>, in id order (normal tokens, then added ones when ids tie).</summary>
    public IReadOnlyList<VocabularyToken> Tokens { get; }

    /// <summary>Tokens whose id is at or above <see cref="Rows"/> (not in <see cref="Tokens"/>).</summary>
    public int Dropped { get; }

    /// <summary>True when <paramref name="id"/> is the id of one of <see cref="Tokens"/> (a real row, not padding).</summary>
    public bool IsTokenId(long id) => id >= 0 && id < Rows && (_real ??= RealIds())[id];

    private bool[]? _real;

    private bool[] RealIds()
    {
        var real = new bool[Rows];
        foreach (var t in Tokens) real[t.Id] = true;
        return real;
    }

    public bool TryGetId(string content, out int id) => _ids.TryGetValue(content, out id);

    /// <summary>Reads <c>tokenizer.json</c> of <paramref name="directory"/>.</summary>
    /// <exception cref="MergeException">The file is missing (only tokenizer.model) or not a tokenizer.json.</exception>
    public static TokenizerVocabulary Read(string directory, string modelName, long rows)
    {
        var path = System.IO.Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path))
        {
            var why = File.Exists(System.IO.Path.Combine(directory, "tokenizer.model"))
                ? "it has only a SentencePiece tokenizer.model; save the model's fast tokenizer (tokenizer.json) with transformers first"
                : "it has no tokenizer.json";
            throw new MergeException(MergeErrorKind.Input, ErrorIds.VocabularyUnreadable, $"model '{modelName}': a tokenizer rule needs the model's vocabulary, but {why}");
        }
        JsonObject root;
        try
        {
            using var stream = File.OpenRead(path);
            root = JsonNode.Parse(stream, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                ?? throw new JsonException("the top level is not an object");
        }
        catch (JsonException e)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.VocabularyUnreadable, $"'{path}' is not a valid tokenizer.json: {e.Message}", e);
        }

        var tokens = new List<VocabularyToken>();
        var vocab = root["model"]?["vocab"];
        if (vocab is JsonObject map)
        {
            foreach (var (content, value) in map)
                if (value?.GetValueKind() == JsonValueKind.Number && value.GetValue<long>() is var id and >= 0 and <= int.MaxValue)
                    tokens.Add(new VocabularyToken(content, (int)id, null));
                else throw Invalid(path, $"model.vocab['{content}'] is not a token id");
        }
        else if (vocab is JsonArray pieces)
        {
            // Unigram: [[piece, score], ...], the index is the id.
            for (int i = 0; i < pieces.Count; i++)
            {
                var piece = (pieces[i] as JsonArray)?.FirstOrDefault();
                if (piece?.GetValueKind() != JsonValueKind.String) throw Invalid(path, $"model.vocab[{i}] is not [piece, score]");
                tokens.Add(new VocabularyToken(piece.GetValue<string>(), i, null));
            }
        }
        else throw Invalid(path, "it has no model.vocab (an object of token ids or a list of pieces)");

        if (root["added_tokens"] is JsonArray added)
            foreach (var entry in added)
            {
                if (entry is not JsonObject o || o["content"]?.GetValueKind() != JsonValueKind.String || o["id"]?.GetValueKind() != JsonValueKind.Number)
                    throw Invalid(path, "an added_tokens entry has no content or id");
                long id = o["id"]!.GetValue<long>();
                if (id < 0 || id > int.MaxValue) throw Invalid(path, $"added token id {id} is out of range");
                tokens.Add(new VocabularyToken(o["content"]!.GetValue<string>(), (int)id, (JsonObject)o.DeepClone()));
            }

        // An added token may repeat a vocabulary entry (same text, same id); the added entry wins, it has the flags.
        var ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        var kept = new List<VocabularyToken>(tokens.Count);
        var byContent = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        int dropped = 0;
        foreach (var t in tokens)
        {
            if (t.Id >= rows) { dropped++; continue; }
            if (byContent.TryGetValue(t.Content, out var at))
            {
                if (t.IsAdded) kept[at] = t;
                ids[t.Content] = kept[at].Id;
                continue;
            }
            byContent[t.Content] = kept.Count;
            kept.Add(t);
            ids[t.Content] = t.Id;
        }
        kept.Sort((a, b) => a.Id.CompareTo(b.Id));
        return new TokenizerVocabulary(path, rows, kept, ids, dropped);
    }

    private static MergeException Invalid(string path, string why) => new(MergeErrorKind.Input, ErrorIds.VocabularyUnreadable, $"'{path}' is not a valid tokenizer.json: {why}");
}
