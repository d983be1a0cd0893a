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

    /// <summary>Default rows taken from another model's stored tensor are read by rows; rows that are not adjacent in
    /// that model (its first and last word here) each land in their own output row.</summary>
    [Fact]
    public async Task Default_rows_from_rows_that_are_not_adjacent_in_the_source_model_are_that_models_rows()
    {
        string[] ftWords = ["<x>", .. W, "<y>"];
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft", 2, ftWords, []);
        var output = await Merge("merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n" +
                                 "  - model: base\n    parameters: {weight: 0.5}\n  - model: ft\n    parameters: {weight: 0.5}\n");
        var vocab = WrittenVocabulary(output);
        foreach (var (tensor, offset) in new[] { ("model.embed_tokens.weight", 0), ("lm_head.weight", 100) })
        {
            var written = Read(output, tensor, out _);
            // Only ft has the token, so the base takes ft's row as its default and the merge is that row.
            foreach (var (token, ftRow) in new[] { ("<x>", 0), ("<y>", W.Length + 1) })
                Assert.Equal(Row(2 + offset, ftRow), written.Skip(vocab[token] * Hidden).Take(Hidden).ToArray());
        }
    }

    [SkippableFact]
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
        // Every token of every input is in the output, at one row each: the base's words keep their ids, the added
        // tokens follow in the order the models first define them.
        var all = W.Concat(added.SelectMany(a => a)).Distinct().ToList();
        var rules = all.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        Assert.Equal(rules, vocab);
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
        HfTokenizer.AssertIds(output, rules);
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

    [SkippableFact]
    public async Task Token_rules_and_padding_give_the_rows_the_rules_say()
    {
        // base: 12 words; chat: the words and <a>, <b>. Rules: <a> is zero everywhere (forced), <b> comes from the base's
        // "w5" for the base, <c> (in no model) is zero. Rows padded to a multiple of 8: 15 tokens -> 16 rows, the last one
        // the mean of each model's 15 real rows.
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("chat", 2, W, ["<a>", "<b>"]);
        var output = await Merge(
            "merge_method: linear\nbase_model: base\ntokenizer:\n  source: union\n  pad_to_multiple_of: 8\n  tokens:\n" +
            "    \"<a>\": {source: {kind: zero}, force: true}\n" +
            "    \"<b>\": {source: {kind: model_token, model: base, token: w5}}\n" +
            "    \"<c>\": {}\n" +
            "models:\n  - model: base\n    parameters: {weight: 1}\n  - model: chat\n    parameters: {weight: 3}\n");
        var vocab = WrittenVocabulary(output);
        Assert.Equal((12, 13, 14), (vocab["<a>"], vocab["<b>"], vocab["<c>"]));
        var written = Read(output, "model.embed_tokens.weight", out var shape);
        Assert.Equal(new long[] { 16, Hidden }, shape);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal(16, config["vocab_size"]!.GetValue<int>());

        // Aligned rows per model, in float64, from the rules.
        double[][] Aligned(int seed, bool isChat)
        {
            var rows = new double[16][];
            for (int r = 0; r < 12; r++) rows[r] = Row(seed, r);
            rows[12] = new double[Hidden];                                  // <a>: forced zero
            rows[13] = isChat ? Row(seed, 13) : Row(1, 5);                 // <b>: chat's own; base: base's w5
            rows[14] = new double[Hidden];                                  // <c>: in no model
            rows[15] = Enumerable.Range(0, Hidden).Select(j => (double)(float)(Enumerable.Range(0, 15).Sum(r => rows[r][j]) / 15)).ToArray();
            return rows;
        }
        var b = Aligned(1, false);
        var c = Aligned(2, true);
        for (int r = 0; r < 16; r++)
            for (int j = 0; j < Hidden; j++)
            {
                double expected = (1 * b[r][j] + 3 * c[r][j]) / 4;
                Assert.True(Math.Abs(written[r * Hidden + j] - expected) <= 1e-6 * Math.Abs(expected) + 1e-7, $"row {r} column {j}: {written[r * Hidden + j]} vs {expected}");
            }
        // The padding row has no token; the rule tokens (<c> in no model) encode to their rows.
        HfTokenizer.AssertIds(output, W.Select((t, i) => (t, i)).Concat([("<a>", 12), ("<b>", 13), ("<c>", 14)]).ToDictionary(x => x.Item1, x => x.Item2));
    }

    [Fact]
    public async Task Tied_embeddings_stay_tied_and_the_union_aligns_the_embedding_only()
    {
        await _fx.ModelAsync("base", 1, W, [], tied: true);
        await _fx.ModelAsync("chat", 2, W, ["<x>"], tied: true);
        var output = await Merge("merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n  - model: base\n    parameters: {weight: 1}\n  - model: chat\n    parameters: {weight: 1}\n");
        using var checkpoint = DotnetMerge.Safetensors.ModelCheckpoint.Open(output);
        Assert.False(checkpoint.TryGetTensor("lm_head.weight", out _, out _));
        var written = Read(output, "model.embed_tokens.weight", out var shape);
        Assert.Equal(new long[] { 13, Hidden }, shape);
        // <x> is only in chat: both models use chat's row 12, so the merge keeps it exactly.
        Assert.Equal(Row(2, 12), written.Skip(12 * Hidden).Take(Hidden).ToArray());
    }

    [SkippableFact]
    public async Task Base_with_a_lora_adapter_and_a_fine_tune_with_five_added_tokens_merge_by_union_reading_each_input_once()
    {
        string[] five = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<|pad|>"];
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft", 2, W, five);
        // An adapter of the base's up_proj: delta = scale * B @ A with r = 1, alpha = 2 (scale 2).
        double[] a = [0.5, -0.25, 0.125, 1], bb = [1, 0.5, -1, 0.25];
        File.WriteAllText(_fx.PathOf("base/README.md"), "---\nlibrary_name: transformers\n---\n");
        using (var adapters = new Adapters.AdapterFixture())
        {
            var dir = await adapters.AdapterAsync("lora", new Dictionary<string, object?>
            {
                ["peft_type"] = "LORA", ["r"] = 1, ["lora_alpha"] = 2, ["target_modules"] = new[] { "up_proj" },
            }, [("model.layers.0.mlp.up_proj.lora_A.weight", [1, Hidden], a), ("model.layers.0.mlp.up_proj.lora_B.weight", [Hidden, 1], bb)]);
            foreach (var f in Directory.GetFiles(dir)) { Directory.CreateDirectory(_fx.PathOf("lora")); File.Copy(f, Path.Combine(_fx.PathOf("lora"), Path.GetFileName(f))); }
        }
        var path = _fx.PathOf("done.yaml");
        File.WriteAllText(path, "merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n  - model: base\n    parameters: {weight: 0.25}\n" +
                                "  - model: base+lora\n    parameters: {weight: 0.25}\n  - model: ft\n    parameters: {weight: 0.5}\n");
        using var plan = MergeRunner.Plan(MergeRunner.LoadDefinition(path, out _), new MergeOptions());
        // Each stored input byte once: base (twice: as itself and under the adapter), ft, the adapter, plus the five rows
        // of ft that both base models take as their default embeddings (per tensor: embedding and LM head).
        long Data(string dir) => new FileInfo(Path.Combine(_fx.PathOf(dir), "model.safetensors")).Length - HeaderOf(dir);
        long adapterBytes = 2 * Hidden * 4;
        long defaultRows = 2 /* base models */ * 2 /* tensors */ * five.Length * Hidden * 4;
        Assert.Equal(2 * Data("base") + Data("ft") + adapterBytes + defaultRows, plan.BytesToRead);

        var output = _fx.PathOf("done");
        await MergeRunner.RunAsync(MergeRunner.LoadDefinition(path, out _), output, new MergeOptions());
        var vocab = WrittenVocabulary(output);
        Assert.Equal(W.Length + five.Length, vocab.Count);
        var written = Read(output, "model.embed_tokens.weight", out _);
        for (int k = 0; k < five.Length; k++)
        {
            // Only ft has the token: every model's row is ft's, and so is the merge.
            int row = vocab[five[k]];
            Assert.Equal(W.Length + k, row);
            Assert.Equal(Row(2, W.Length + k), written.Skip(row * Hidden).Take(Hidden).ToArray());
        }
        // up_proj: 0.5 W_base + 0.25 (W_base + 2 B A)·... = 0.5 W + 0.25 (W + 2 b a^T) + 0.5 W_ft, in float64.
        var up = Read(output, "model.layers.0.mlp.up_proj.weight", out _);
        var wBase = Adapters.AdapterFixture.Values(Hidden * Hidden, 1);
        var wFt = Adapters.AdapterFixture.Values(Hidden * Hidden, 2);
        for (int o = 0; o < Hidden; o++)
            for (int i = 0; i < Hidden; i++)
            {
                double expected = 0.25 * wBase[o * Hidden + i] + 0.25 * (wBase[o * Hidden + i] + 2 * bb[o] * a[i]) + 0.5 * wFt[o * Hidden + i];
                Assert.True(Math.Abs(up[o * Hidden + i] - expected) <= 1e-6 * Math.Abs(expected) + 1e-7, $"up_proj[{o},{i}] {up[o * Hidden + i]} vs {expected}");
            }
        // Hugging Face's tokenizer reads the written tokenizer.json and gives every token the row checked above.
        HfTokenizer.AssertIds(output, W.Concat(five).Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_passthrough_slice_takes_default_rows_from_a_model_outside_the_slice()
    {
        // The embedding comes from the first slice (base alone); <x> is only in ft, which only the second slice uses.
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft", 2, W, ["<x>"]);
        var output = await Merge("merge_method: passthrough\ntokenizer_source: union\nslices:\n" +
                                 "  - sources: [{model: base, layer_range: [0, 1]}]\n  - sources: [{model: ft, layer_range: [0, 1]}]\n");
        var embed = Read(output, "model.embed_tokens.weight", out var shape);
        Assert.Equal(new long[] { 13, Hidden }, shape);
        for (int r = 0; r < 12; r++) Assert.Equal(Row(1, r), embed.Skip(r * Hidden).Take(Hidden).ToArray());
        Assert.Equal(Row(2, 12), embed.Skip(12 * Hidden).Take(Hidden).ToArray());
        // The LM head is a post weight: from the last slice (ft), whose rows already are the output's.
        var head = Read(output, "lm_head.weight", out _);
        for (int r = 0; r < 13; r++) Assert.Equal(Row(102, r), head.Skip(r * Hidden).Take(Hidden).ToArray());
    }

    [Fact]
    public async Task A_model_source_takes_that_models_vocabulary_and_files()
    {
        // ft's words are the base's in reverse order, plus <x>: the output has ft's ids, the base's rows follow them.
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft", 2, W.Reverse().ToArray(), ["<x>"]);
        var output = await Merge("merge_method: linear\nbase_model: base\ntokenizer_source: ft\nmodels:\n  - model: base\n    parameters: {weight: 1}\n  - model: ft\n    parameters: {weight: 1}\n");
        Assert.Equal(File.ReadAllText(_fx.PathOf("ft/tokenizer.json")), File.ReadAllText(Path.Combine(output, "tokenizer.json")));
        var embed = Read(output, "model.embed_tokens.weight", out _);
        for (int r = 0; r < 12; r++)
        {
            var expected = Row(1, 11 - r).Zip(Row(2, r), (x, y) => (x + y) / 2).ToArray();
            var actual = embed.Skip(r * Hidden).Take(Hidden).ToArray();
            for (int j = 0; j < Hidden; j++) Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-6 * Math.Abs(expected[j]) + 1e-7, $"row {r}");
        }
        Assert.Equal(Row(2, 12), embed.Skip(12 * Hidden).Take(Hidden).ToArray()); // base lacks <x>: ft's row for both
    }

    [Fact]
    public async Task A_fused_stage_output_is_aligned_like_a_stored_model_and_gives_the_stage_by_stage_bytes()
    {
        // Stage "chat": union of two fine-tunes (14 tokens); final: union of the base (12) and "chat", fused, so the
        // later stage gathers rows of a tensor the earlier stage computes in the same pass.
        await _fx.ModelAsync("base", 1, W, []);
        await _fx.ModelAsync("ft1", 2, W, ["<a>"]);
        await _fx.ModelAsync("ft2", 3, W, ["<b>"]);
        const string chat = "merge_method: linear\ntokenizer_source: union\nmodels:\n  - model: ft1\n    parameters: {weight: 1}\n  - model: ft2\n    parameters: {weight: 3}\n";
        string Final(string chatModel) => $"merge_method: linear\nbase_model: base\ntokenizer_source: union\nmodels:\n  - model: base\n    parameters: {{weight: 1}}\n  - model: {chatModel}\n    parameters: {{weight: 1}}\n";
        var path = _fx.PathOf("multi.yaml");
        File.WriteAllText(path, "name: chat\n" + chat + "---\n" + Final("chat"));
        var fused = _fx.PathOf("fused");
        await MultiStageRunner.RunAsync(MultiStageRunner.LoadStages(path, _fx.Root, out _), fused, new MergeOptions(), new MultiStageOptions());

        await Merge(chat, "chat");
        var byHand = await Merge(Final("chat"), "byhand");
        foreach (var tensor in new[] { "model.embed_tokens.weight", "lm_head.weight" })
        {
            Assert.Equal(Read(byHand, tensor, out var shape), Read(fused, tensor, out var fusedShape));
            Assert.Equal(new long[] { 14, Hidden }, fusedShape);
        }
        Assert.Equal(File.ReadAllText(Path.Combine(byHand, "tokenizer.json")), File.ReadAllText(Path.Combine(fused, "tokenizer.json")));
    }

    private long HeaderOf(string dir)
    {
        using var fs = File.OpenRead(Path.Combine(_fx.PathOf(dir), "model.safetensors"));
        var len = new byte[8];
        fs.ReadExactly(len);
        return 8 + BitConverter.ToInt64(len);
    }
}
