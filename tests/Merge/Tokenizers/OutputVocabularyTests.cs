using System.Text.Json.Nodes;
using DotnetMerge.Definitions;
using DotnetMerge.Tokenizers;

namespace DotnetMerge.Tests.Tokenizers;

/// <summary>The output vocabulary and row maps, built from tokenizer.json files written here (no tensors needed).</summary>
public sealed class OutputVocabularyTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", "outvocab-" + Guid.NewGuid().ToString("N"));

    public OutputVocabularyTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    /// <summary>A BPE-shaped tokenizer.json: <paramref name="words"/> in model.vocab, <paramref name="added"/> after them.</summary>
    private TokenizerVocabulary Vocabulary(string name, IEnumerable<string> words, string[] added, long? rows = null)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        var vocab = new JsonObject();
        int n = 0;
        foreach (var w in words) vocab[w] = n++;
        var list = new JsonArray();
        foreach (var a in added) list.Add(new JsonObject { ["id"] = n++, ["content"] = a, ["special"] = true });
        var json = new JsonObject { ["added_tokens"] = list, ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() } };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        return TokenizerVocabulary.Read(dir, name, rows ?? n);
    }

    private static OutputVocabulary Build(TokenizerSettings settings, params TokenizerVocabulary[] vocabularies)
        => OutputVocabulary.Build(settings, vocabularies.Select((_, i) => "m" + i).ToList(), vocabularies, 0, -1, r => int.Parse(r.Path[1..]));

    private static IEnumerable<string> Words(int count, string prefix = "t") => Enumerable.Range(0, count).Select(i => prefix + i);

    [Fact]
    public void Three_150k_vocabularies_build_their_maps_in_work_linear_in_the_vocabulary()
    {
        // Counted, not timed: the work of a union of three 150k-token vocabularies (each with its own extra tokens)
        // is a small constant times the rows. mergekit's loop over the vocabulary per model and per token froze here.
        const int n = 150_000;
        var a = Vocabulary("a", Words(n), ["<|a|>"]);
        var b = Vocabulary("b", Words(n).Reverse(), ["<|b1|>", "<|b2|>"]);
        var c = Vocabulary("c", Words(n - 1000).Concat(Words(1000, "c")), []);
        var union = Build(new TokenizerSettings { Source = "union" }, a, b, c);
        Assert.Equal(n + 1 + 2 + 1000, union.Tokens.Count);
        Assert.Equal(union.Tokens.Count, union.Rows);
        long inputs = a.Tokens.Count + b.Tokens.Count + c.Tokens.Count;
        Assert.InRange(union.Operations, inputs, 8 * (inputs + 3 * union.Rows));

        // b holds the same words in reverse order: its map sends each output row to the row of that text.
        Assert.True(b.TryGetId("t0", out var t0));
        Assert.Equal(n - 1, t0);
        Assert.Equal(n - 1, union.Maps[1][0]);
        Assert.Equal(OutputVocabulary.NeedsDefault, union.Maps[2][n - 1]);
        Assert.True(union.IsIdentity(0, n + 1) is false);
        Assert.True(union.IsPrefix(0) is false);
    }

    [Fact]
    public void A_padded_vocabulary_keeps_its_padding_and_new_tokens_take_the_first_padding_rows()
    {
        // Qwen-like: 10 tokens in 16 rows. A fine-tune adds two tokens at ids 10, 11.
        var b = Vocabulary("b", Words(10), [], rows: 16);
        var f = Vocabulary("f", Words(10), ["<x>", "<y>"], rows: 16);
        var union = Build(new TokenizerSettings { Source = "union" }, b, f);
        Assert.Equal(16, union.Rows);
        Assert.Equal(12, union.TokenRows);
        Assert.Equal(new[] { OutputVocabulary.NeedsDefault, OutputVocabulary.NeedsDefault }, union.Maps[0][10..12]);
        // Rows 12..15 are padding in both models: kept as they are (not recomputed), so a base-only merge is unchanged.
        Assert.Equal(new[] { 12, 13, 14, 15 }, union.Maps[0][12..]);
        Assert.Equal(new[] { 12, 13, 14, 15 }, union.Maps[1][12..]);
        Assert.Equal(new[] { new RowSource(1, 10) }, union.Defaults[10]);

        var padded = Build(new TokenizerSettings { Source = "union", PadToMultipleOf = 24 }, b, f);
        Assert.Equal(24, padded.Rows);
        Assert.All(padded.Maps[0][16..], v => Assert.Equal(OutputVocabulary.MeanPadding, v));

        // More padding than rows (pad_to_multiple_of 1000 for 16 rows) is a located error, and nothing that size is made.
        var location = new SourceLocation("m.yaml", 4, 23);
        var huge = Build(new TokenizerSettings { Source = "union", PadToMultipleOf = 1000, PadToMultipleOfLocation = location }, b, f);
        var error = Assert.Single(huge.Findings, e => e.IsError);
        Assert.Equal((TokenizerCheckIds.PaddingTooLarge, location), (error.Id, error.Location));
        Assert.Equal(16, huge.Rows);
    }

    [Fact]
    public void Token_rules_choose_the_default_and_force_replaces_every_models_row()
    {
        var b = Vocabulary("b", Words(5), []);
        var f = Vocabulary("f", Words(5), ["<x>", "<y>", "<z>"]);
        var g = Vocabulary("g", Words(5), ["<x>"]);
        var m1 = new ModelReference("m1");
        var settings = new TokenizerSettings
        {
            Source = "union",
            Tokens =
            [
                new TokenEmbeddingRule { Token = "<y>", Kind = TokenEmbeddingKind.Zero },
                new TokenEmbeddingRule { Token = "<z>", Kind = TokenEmbeddingKind.ModelToken, Model = m1, SourceToken = "t3" },
                new TokenEmbeddingRule { Token = "t1", Kind = TokenEmbeddingKind.Model, Model = new ModelReference("m2"), Force = true },
                new TokenEmbeddingRule { Token = "<new>" },
            ],
        };
        var v = Build(settings, b, f, g);
        int x = 5, y = 6, z = 7, fresh = 8;
        Assert.Equal("<new>", v.Tokens[fresh].Content);
        // <x>: in f and g, not in the base: the mean of both.
        Assert.Equal(new[] { new RowSource(1, 5), new RowSource(2, 5) }, v.Defaults[x]);
        Assert.Empty(v.Defaults[y]);                               // kind: zero
        Assert.Equal(new[] { new RowSource(1, 3) }, v.Defaults[z]); // f's row of t3
        Assert.Empty(v.Defaults[fresh]);                           // in no model: zero, with a warning
        Assert.Contains(v.Findings, f2 => f2.Id == TokenizerCheckIds.TokenInNoModel && f2.Message.Contains("'<new>'", StringComparison.Ordinal));
        // t1 forced from g: every model's row 1 is g's row 1, even the models that have t1.
        Assert.All(v.Maps, map => Assert.Equal(OutputVocabulary.NeedsDefault, map[1]));
        Assert.Equal(new[] { new RowSource(2, 1) }, v.Defaults[1]);
    }

    [Fact]
    public void A_rule_naming_a_token_its_model_lacks_is_a_located_error()
    {
        var b = Vocabulary("b", Words(5), []);
        var f = Vocabulary("f", Words(5), ["<x>"]);
        var location = new SourceLocation("m.yaml", 7, 20);
        var v = Build(new TokenizerSettings
        {
            Tokens = [new TokenEmbeddingRule { Token = "<x>", Kind = TokenEmbeddingKind.ModelToken, Model = new ModelReference("m1"), SourceTokenId = 99, SourceLocation = location }],
        }, b, f);
        var error = Assert.Single(v.Findings, e => e.IsError);
        Assert.Equal((TokenizerCheckIds.RuleNotApplicable, location), (error.Id, error.Location));
    }

    [Fact]
    public void Base_and_model_sources_take_that_vocabulary_and_ids_past_the_rows_are_dropped()
    {
        // A CodeLlama-like base: two added tokens past its 6 embedding rows.
        var b = Vocabulary("b", Words(6), ["<FIM1>", "<FIM2>"], rows: 6);
        var f = Vocabulary("f", Words(6).Reverse(), ["<x>"]);
        Assert.Equal(2, b.Dropped);
        var fromBase = Build(new TokenizerSettings { Source = "base" }, b, f);
        Assert.Equal(6, fromBase.Rows);
        Assert.True(fromBase.IsIdentity(0, 6));
        Assert.Equal(new[] { 5, 4, 3, 2, 1, 0 }, fromBase.Maps[1]);
        Assert.Empty(fromBase.AddedTokens);
        Assert.True(fromBase.Rewrites); // the FIM tokens are removed from the written tokenizer

        var fromF = OutputVocabulary.Build(new TokenizerSettings { Source = "m1" }, ["m0", "m1"], [b, f], 0, 1, _ => -1);
        Assert.Equal(7, fromF.Rows);
        Assert.Equal(1, fromF.Donor);
        Assert.Equal(new[] { 5, 4, 3, 2, 1, 0, OutputVocabulary.NeedsDefault }, fromF.Maps[0]);
        Assert.Equal(new[] { new RowSource(1, 6) }, fromF.Defaults[6]);
    }
    [Fact]
    public void Models_with_different_special_tokens_merge_and_a_token_defined_two_ways_keeps_its_first_definition()
    {
        // mergekit #139: a base and a fine-tune with seven more special tokens (32000 vs 32007 rows there). A third model
        // has one of them as a plain (non-special) added token: the first definition is kept, and the warning names both.
        string[] seven = ["<|im_start|>", "<|im_end|>", "<|tool|>", "<|/tool|>", "<|sys|>", "<|user|>", "<|bot|>"];
        var b = Vocabulary("b", Words(20), []);
        var f = Vocabulary("f", Words(20), seven);
        var dir = Path.Combine(_root, "g");
        Directory.CreateDirectory(dir);
        var vocab = new JsonObject();
        for (int i = 0; i < 20; i++) vocab["t" + i] = i;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 20, ["content"] = "<|im_end|>", ["special"] = false, ["normalized"] = false }),
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() },
        }.ToJsonString());
        var g = TokenizerVocabulary.Read(dir, "g", 21);

        var union = Build(new TokenizerSettings { Source = "union" }, b, f, g);
        Assert.Equal(27, union.Rows);
        Assert.Equal(seven, union.AddedTokens.Select(a => a["content"]!.GetValue<string>()));
        Assert.All(union.AddedTokens, a => Assert.True(a["special"]!.GetValue<bool>()));
        // g's own <|im_end|> (its row 20) is its row of that token; it lacks the other six.
        Assert.Equal(20, union.Maps[2][21]);
        Assert.Equal(6, union.Maps[2].Count(r => r == OutputVocabulary.NeedsDefault));
        var warning = Assert.Single(union.Findings, x => x.Id == TokenizerCheckIds.AddedTokenConflict);
        Assert.Equal(Definitions.DiagnosticSeverity.Warning, warning.Severity);
        Assert.Contains("'<|im_end|>' (special differ: 'm2' vs 'm1', kept)", warning.Message);
        Assert.DoesNotContain(union.Findings, x => x.IsError);
    }
}
