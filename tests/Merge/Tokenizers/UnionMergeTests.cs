using System.Text.Json.Nodes;
using DotnetMerge.Engine;
using DotnetMerge.Planning;
using static DotnetMerge.Tests.Tokenizers.VocabularyFixture;

namespace DotnetMerge.Tests.Tokenizers;

/// <summary>Merges of models whose vocabularies differ, with a tokenizer rule: every row of the written embedding and
/// LM head is compared with a float64 reference computed here from the inputs by token text (mergekit's default
/// embedding rules, reference/mergekit.md §4.2), and the written tokenizer must give each token that row.</summary>
public sealed class UnionMergeTests : IDisposable
{
    private readonly VocabularyFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private static readonly string[] W = Words(12);

    private async Task<string> Merge(string yaml, string name = "out", MergeOptions? options = null)
    {
        var path = _fx.PathOf(name + ".yaml");
        File.WriteAllText(path, yaml);
        var definition = MergeRunner.LoadDefinition(path, out var diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.Severity == Definitions.DiagnosticSeverity.Error);
        var output = _fx.PathOf(name);
        await MergeRunner.RunAsync(definition, output, options ?? new MergeOptions());
        return output;
    }

    /// <summary>The written tokenizer.json's text→id map (model.vocab and added_tokens), read as JSON here.</summary>
    private static Dictionary<string, int> WrittenVocabulary(string dir)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")))!;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (k, v) in json["model"]!["vocab"]!.AsObject()) ids[k] = v!.GetValue<int>();
        foreach (var a in json["added_tokens"]!.AsArray()) ids[a!["content"]!.GetValue<string>()] = a["id"]!.GetValue<int>();
        return ids;
    }

    /// <summary>Model m's vocabulary: text → row.</summary>
    private static Dictionary<string, int> Ids(string[] words, string[] added)
        => words.Concat(added).Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);

    [Fact]
    public async Task Union_of_two_fine_tunes_with_different_chat_markers_gives_the_reference_rows_and_a_matching_tokenizer()
    {
        string[][] added = [[], ["<|im_start|>", "<|im_end|>"], ["<|im_start|>", "<tool>", "<|im_end|>"]];
        string[] names = ["base", "ft1", "ft2"];
        int[] seeds = [1, 2, 3];
        double[] weights = [0.2, 0.3, 0.5];
        for (int m = 0; m < 3; m++) await _fx.ModelAsync(names[m], seeds[m], W, added[m]);
        var output = await Merge(
            "merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n" +
            string.Join("", names.Select((n, m) => $"  - model: {n}\n    parameters: {{weight: {weights[m]}}}\n")));

        var vocab = WrittenVocabulary(output);
        // Every token of every input is in the output, at one row each.
        var all = W.Concat(added.SelectMany(a => a)).Distinct().ToList();
        Assert.Equal(all.Count, vocab.Count);
        Assert.Equal(all.Count, vocab.Values.Distinct().Count());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal(all.Count, config["vocab_size"]!.GetValue<int>());

        var models = names.Select((n, m) => Ids(W, added[m])).ToArray();
        foreach (var (tensor, offset) in new[] { ("model.embed_tokens.weight", 0), ("lm_head.weight", 100) })
        {
            var written = Read(output, tensor, out var shape);
            Assert.Equal(new long[] { all.Count, Hidden }, shape);
            foreach (var token in all)
            {
                // Reference: each model's row of the token, or its default: the one model that has it, else the
                // base's, else the mean of the models that have it.
                var holders = Enumerable.Range(0, 3).Where(m => models[m].ContainsKey(token)).ToList();
                double[] Default()
                {
                    if (holders.Count == 1) return Row(seeds[holders[0]] + offset, models[holders[0]][token]);
                    if (holders.Contains(0)) return Row(seeds[0] + offset, models[0][token]);
                    var mean = new double[Hidden];
                    foreach (var h in holders) { var r = Row(seeds[h] + offset, models[h][token]); for (int j = 0; j < Hidden; j++) mean[j] += r[j] / holders.Count; }
                    return mean.Select(x => (double)(float)x).ToArray();
                }
                var expected = new double[Hidden];
                for (int m = 0; m < 3; m++)
                {
                    var row = models[m].TryGetValue(token, out var own) ? Row(seeds[m] + offset, own) : Default();
                    for (int j = 0; j < Hidden; j++) expected[j] += weights[m] * row[j] / weights.Sum();
                }
                int outRow = vocab[token];
                for (int j = 0; j < Hidden; j++)
                    Assert.True(Math.Abs(written[outRow * Hidden + j] - expected[j]) <= 1e-6 * Math.Abs(expected[j]) + 1e-7,
                        $"{tensor} token '{token}' (row {outRow}) column {j}: {written[outRow * Hidden + j]} vs reference {expected[j]}");
            }
        }

        // The added tokens keep their flags, appear in tokenizer_config's added_tokens_decoder, and follow the base's ids.
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer_config.json")))!;
        foreach (var token in added.SelectMany(a => a).Distinct())
        {
            Assert.True(vocab[token] >= W.Length);
            var entry = tokenizerConfig["added_tokens_decoder"]![vocab[token].ToString(System.Globalization.CultureInfo.InvariantCulture)]!;
            Assert.Equal(token, entry["content"]!.GetValue<string>());
            Assert.True(entry["special"]!.GetValue<bool>());
        }
    }

    [Fact]
    public async Task Plan_reports_the_vocabulary_before_any_read_and_keeps_identical_embeddings_as_stored()
    {
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft1", 2, W, ["<|im_start|>"]);
        await _fx.ModelAsync("same", 3, W, []);
        var path = _fx.PathOf("plan.yaml");
        File.WriteAllText(path, "merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n  - model: base\n    parameters: {weight: 1}\n  - model: ft1\n    parameters: {weight: 1}\n  - model: same\n    parameters: {weight: 1}\n");
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions());
        Assert.Contains(plan.Warnings, w => w.Contains("DMRG0515", StringComparison.Ordinal) && w.Contains("13 tokens", StringComparison.Ordinal)
                                             && w.Contains("'<|im_start|>'", StringComparison.Ordinal));
        var embed = plan.Jobs.Single(j => j.OutputName == "model.embed_tokens.weight");
        Assert.All(embed.Inputs, i => Assert.Equal(new long[] { 13, Hidden }, i.Tensor.Shape));
        // ft1 has every row in order: its tensor is read as stored; base and 'same' lack one token: gathered.
        Assert.Null(embed.Inputs[1].Gather);
        Assert.NotNull(embed.Inputs[1].File);
        Assert.NotNull(embed.Inputs[0].Gather);
        Assert.Equal(13, plan.OutputVocabSize);
    }
}
