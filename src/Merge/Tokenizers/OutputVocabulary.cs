using System.Globalization;
using System.Text.Json.Nodes;
using DotnetMerge.Checks;
using DotnetMerge.Definitions;

namespace DotnetMerge.Tokenizers;

/// <summary>Where a row of a model's aligned embedding comes from, when not from the model's own row.</summary>
public readonly record struct RowSource(int Model, long Row);

/// <summary>The output vocabulary of a merge with a tokenizer rule and, per input model, the map from output rows to the
/// model's rows (reference/mergekit.md §4). Built once per merge, before any tensor is read, in time linear in the
/// vocabularies (hash lookups by token text; <see cref="Operations"/> counts them).
/// A model's aligned row r is: its own row <c>Map[m][r]</c> when that is ≥ 0; the token's default embedding
/// (<see cref="Defaults"/>) when <see cref="NeedsDefault"/>; the mean of its real aligned rows when <see cref="MeanPadding"/>.</summary>
public sealed class OutputVocabulary
{
    /// <summary>Map value of a row whose embedding is the token's default embedding.</summary>
    public const int NeedsDefault = -1;
    /// <summary>Map value of a padding row filled with the mean of the model's real rows (Hewitt's initialisation).</summary>
    public const int MeanPadding = -2;

    private OutputVocabulary(string source, int donor, IReadOnlyList<VocabularyToken> tokens, int tokenRows, long rows, int[][] maps,
        Dictionary<int, RowSource[]> defaults, List<JsonObject> added, List<CheckFinding> findings, long operations, IReadOnlyList<string> names)
    {
        Source = source; Donor = donor; Tokens = tokens; TokenRows = tokenRows; Rows = rows; Maps = maps; Defaults = defaults;
        AddedTokens = added; Findings = findings; Operations = operations; ModelNames = names;
    }

    /// <summary>"union", "base" or the model the vocabulary is taken from.</summary>
    public string Source { get; }
    /// <summary>Index of the model whose tokenizer files the output tokenizer starts from.</summary>
    public int Donor { get; }
    /// <summary>The output tokens, by id.</summary>
    public IReadOnlyList<VocabularyToken> Tokens { get; }
    /// <summary>One past the largest token id: rows from here on are padding.</summary>
    public int TokenRows { get; }
    /// <summary>Rows of every aligned embedding (token rows, kept padding and <c>pad_to_multiple_of</c>).</summary>
    public long Rows { get; }
    /// <summary>Per model (in <see cref="ModelNames"/> order), per output row: the model's row, or
    /// <see cref="NeedsDefault"/> / <see cref="MeanPadding"/>.</summary>
    public IReadOnlyList<int[]> Maps { get; }
    /// <summary>Per output row that needs it: the rows whose mean is its default embedding (none: a zero row).</summary>
    public IReadOnlyDictionary<int, RowSource[]> Defaults { get; }
    /// <summary>Entries the output tokenizer.json gains in <c>added_tokens</c> (tokens the donor lacks).</summary>
    public IReadOnlyList<JsonObject> AddedTokens { get; }
    public IReadOnlyList<CheckFinding> Findings { get; }
    /// <summary>Hash-table operations and row assignments done to build the maps (linear in the vocabulary sizes).</summary>
    public long Operations { get; }
    public IReadOnlyList<string> ModelNames { get; }

    /// <summary>Embedding rows of the donor (its tokens at or above them are not in the output).</summary>
    public long DonorRows { get; private init; }

    /// <summary>Tokens of the donor's tokenizer left out because their ids are past its rows.</summary>
    public int DonorDropped { get; private init; }

    /// <summary>True when the output tokenizer files differ from the donor's (else they are copied verbatim).</summary>
    public bool Rewrites => AddedTokens.Count > 0 || DonorDropped > 0;

    /// <summary>True when model <paramref name="m"/>'s embedding is used as stored (same rows, same order).</summary>
    public bool IsIdentity(int m, long modelRows) => modelRows == Rows && IsPrefix(m);

    /// <summary>True when the aligned rows are the model's first <see cref="Rows"/> rows (a crop, no gather).</summary>
    public bool IsPrefix(int m)
    {
        var map = Maps[m];
        for (int r = 0; r < map.Length; r++) if (map[r] != r) return false;
        return true;
    }

    /// <summary>What <c>check</c> and <c>plan</c> say about the vocabulary.</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = $"output vocabulary ({Source}, from '{ModelNames[Donor]}'): {Tokens.Count.ToString(inv)} tokens, {Rows.ToString(inv)} embedding rows";
        if (AddedTokens.Count > 0)
            text += $"; {AddedTokens.Count.ToString(inv)} added: " + string.Join(", ", AddedTokens.Take(8).Select(a => Quote(a["content"]!.GetValue<string>())))
                    + (AddedTokens.Count > 8 ? ", ..." : "");
        for (int m = 0; m < Maps.Count; m++)
        {
            int own = 0, defaults = 0;
            foreach (var v in Maps[m]) { if (v >= 0) own++; else if (v == NeedsDefault) defaults++; }
            text += $"; '{ModelNames[m]}': {own.ToString(inv)} own rows, {defaults.ToString(inv)} default";
        }
        return text;
    }

    private static readonly string[] Flags = { "special", "lstrip", "rstrip", "normalized", "single_word" };

    /// <summary>The added-token flags on which two entries disagree, comma-separated ("" when none).</summary>
    private static string DifferingFlags(JsonObject a, JsonObject b) => string.Join(", ", Flags.Where(f => Flag(a, f) != Flag(b, f)));

    /// <summary>A flag of an added_tokens entry, absent ones at tokenizers' defaults (normalized = !special, others false).</summary>
    private static bool Flag(JsonObject entry, string flag) => entry[flag]?.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.True => true,
        System.Text.Json.JsonValueKind.False => false,
        _ => flag == "normalized" && !Flag(entry, "special"),
    };

    private static string Quote(string s) => "'" + s.Replace("\n", "\\n") + "'";

    /// <summary>Builds the vocabulary and the row maps.</summary>
    /// <param name="vocabularies">Every input model's vocabulary, in definition order.</param>
    /// <param name="baseIndex">The base model's index, or -1.</param>
    /// <param name="sourceIndex">For a model source: its index; else -1.</param>
    public static OutputVocabulary Build(TokenizerSettings settings, IReadOnlyList<string> names, IReadOnlyList<TokenizerVocabulary> vocabularies,
        int baseIndex, int sourceIndex, Func<ModelReference, int> indexOf)
    {
        long ops = 0;
        var findings = new List<CheckFinding>();
        int donor = sourceIndex >= 0 ? sourceIndex : Math.Max(0, baseIndex);
        var start = vocabularies[donor];

        // The donor's tokens keep their ids; everything else is appended after the largest id.
        var tokens = new List<VocabularyToken?>();
        var ids = new Dictionary<string, int>(start.Tokens.Count + 64, StringComparer.Ordinal);
        foreach (var t in start.Tokens)
        {
            while (tokens.Count <= t.Id) tokens.Add(null);
            tokens[t.Id] = t;
            ids[t.Content] = t.Id;
            ops++;
        }
        var added = new List<JsonObject>();
        var firstBy = new Dictionary<string, int>(StringComparer.Ordinal); // added token -> model whose entry is kept
        var conflicts = new List<string>();
        var normal = new HashSet<string>(StringComparer.Ordinal); // appended from a model.vocab: no added entry to compare
        void Append(string content, JsonObject? entry, int from = -1)
        {
            ops++;
            if (ids.TryGetValue(content, out var existing))
            {
                // The first definition of an added token wins (mergekit); a later one with other flags is reported.
                if (entry is not null && !normal.Contains(content) && tokens[existing]?.Added is { } kept && DifferingFlags(kept, entry) is { Length: > 0 } flags
                    && conflicts.Count < 8)
                    conflicts.Add($"{Quote(content)} ({flags} differ: '{names[from]}' vs '{names[firstBy.GetValueOrDefault(content, donor)]}', kept)");
                return;
            }
            if (from >= 0) firstBy[content] = from;
            if (entry is null) normal.Add(content);
            int id = tokens.Count;
            var json = entry is null
                ? new JsonObject { ["id"] = (long)id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = true, ["special"] = false }
                : (JsonObject)entry.DeepClone();
            json["id"] = (long)id;
            var token = new VocabularyToken(content, id, json);
            tokens.Add(token);
            ids[content] = id;
            added.Add(json);
        }
        if (settings.Source == "union")
        {
            // mergekit's order: every model's normal tokens the output lacks, then the added (special) tokens, the first
            // definition of each winning.
            for (int m = 0; m < vocabularies.Count; m++) foreach (var t in vocabularies[m].Tokens) if (!t.IsAdded) Append(t.Content, null, m);
            for (int m = 0; m < vocabularies.Count; m++) foreach (var t in vocabularies[m].Tokens) if (t.IsAdded) Append(t.Content, t.Added, m);
        }
        if (conflicts.Count > 0)
            findings.Add(new CheckFinding(DiagnosticSeverity.Warning, TokenizerCheckIds.AddedTokenConflict,
                "added tokens defined differently by the models keep their first definition: " + string.Join("; ", conflicts)));
        foreach (var rule in settings.Tokens) Append(rule.Token, null);

        int tokenRows = tokens.Count;
        long rows = Math.Max(tokenRows, start.Rows); // a padded vocabulary keeps its padding (mergekit #425)
        if (settings.PadToMultipleOf is { } pad)
        {
            long padded = (rows + pad - 1) / pad * pad;
            // More padding than vocabulary is a slip (a byte count, an extra digit), not a layout: refused before any
            // map or tensor of that size is allocated.
            if (padded - rows > rows)
            {
                findings.Add(new CheckFinding(DiagnosticSeverity.Error, TokenizerCheckIds.PaddingTooLarge,
                    $"pad_to_multiple_of {pad.ToString(CultureInfo.InvariantCulture)} would add {(padded - rows).ToString(CultureInfo.InvariantCulture)} padding rows to {rows.ToString(CultureInfo.InvariantCulture)} rows; use a multiple no larger than the vocabulary (64 or 128 are usual)",
                    settings.PadToMultipleOfLocation));
                padded = rows;
            }
            rows = padded;
        }

        // Per model: output row -> own row by text, padding kept where the model pads there too.
        var maps = new int[vocabularies.Count][];
        for (int m = 0; m < vocabularies.Count; m++)
        {
            var v = vocabularies[m];
            var map = maps[m] = new int[rows];
            for (int r = 0; r < rows; r++)
            {
                ops++;
                if (r < tokenRows && tokens[r] is { } t)
                    map[r] = v.TryGetId(t.Content, out var own) ? own : NeedsDefault;
                else
                    map[r] = r < v.Rows && !v.IsTokenId(r) ? r : MeanPadding;
            }
        }

        // Default embeddings for rows some model lacks, and every row of a forced token.
        var rules = new Dictionary<string, TokenEmbeddingRule>(StringComparer.Ordinal);
        foreach (var rule in settings.Tokens) rules[rule.Token] = rule;
        var defaults = new Dictionary<int, RowSource[]>();
        var holders = new List<int>(vocabularies.Count);
        var unknown = new List<string>();
        for (int r = 0; r < tokenRows; r++)
        {
            var token = tokens[r];
            if (token is null) continue;
            rules.TryGetValue(token.Content, out var rule);
            bool missing = false;
            for (int m = 0; m < maps.Length; m++) missing |= maps[m][r] == NeedsDefault;
            ops += maps.Length;
            if (!missing && rule is not { Force: true }) continue;
            RowSource[]? recipe = null;
            if (rule?.Kind is { } kind)
                recipe = Explicit(rule, kind, token.Content, vocabularies, names, indexOf, findings);
            if (recipe is null)
            {
                holders.Clear();
                for (int m = 0; m < maps.Length; m++) if (maps[m][r] >= 0) holders.Add(m);
                if (holders.Count == 0) { recipe = Array.Empty<RowSource>(); unknown.Add(token.Content); }
                else if (holders.Count == 1) recipe = new[] { new RowSource(holders[0], maps[holders[0]][r]) };
                else if (baseIndex >= 0 && holders.Contains(baseIndex)) recipe = new[] { new RowSource(baseIndex, maps[baseIndex][r]) };
                else recipe = holders.Select(m => new RowSource(m, maps[m][r])).ToArray();
            }
            defaults[r] = recipe;
            if (rule is { Force: true }) foreach (var map in maps) map[r] = NeedsDefault;
        }
        if (unknown.Count > 0)
            findings.Add(new CheckFinding(DiagnosticSeverity.Warning, TokenizerCheckIds.TokenInNoModel,
                $"{unknown.Count.ToString(CultureInfo.InvariantCulture)} token(s) of the output vocabulary are in no input model and get a zero embedding: "
                + string.Join(", ", unknown.Take(8).Select(Quote)) + (unknown.Count > 8 ? ", ..." : "")));
        foreach (var (v, name) in vocabularies.Zip(names))
            if (v.Dropped > 0)
                findings.Add(new CheckFinding(DiagnosticSeverity.Warning, TokenizerCheckIds.TokenPastRows,
                    $"model '{name}': {v.Dropped.ToString(CultureInfo.InvariantCulture)} token(s) of its tokenizer have ids at or above its {v.Rows.ToString(CultureInfo.InvariantCulture)} embedding rows and are left out"));

        var output = tokens.Where(t => t is not null).Select(t => t!).ToList();
        var source = settings.Source is "union" or "base" ? settings.Source : names[donor];
        return new OutputVocabulary(source, donor, output, tokenRows, rows, maps, defaults, added, findings, ops, names)
        {
            DonorRows = start.Rows, DonorDropped = start.Dropped,
        };
    }

    private static RowSource[]? Explicit(TokenEmbeddingRule rule, TokenEmbeddingKind kind, string token, IReadOnlyList<TokenizerVocabulary> vocabularies,
        IReadOnlyList<string> names, Func<ModelReference, int> indexOf, List<CheckFinding> findings)
    {
        if (kind == TokenEmbeddingKind.Zero) return Array.Empty<RowSource>();
        int m = indexOf(rule.Model!);
        if (m < 0) return null; // the validator reports it
        var v = vocabularies[m];
        long row;
        string what;
        if (kind == TokenEmbeddingKind.ModelToken && rule.SourceTokenId is { } id) { row = id; what = "token id " + id.ToString(CultureInfo.InvariantCulture); }
        else
        {
            var text = kind == TokenEmbeddingKind.ModelToken ? rule.SourceToken! : token;
            row = v.TryGetId(text, out var found) ? found : -1;
            what = "token " + Quote(text);
        }
        if (row < 0 || row >= v.Rows)
        {
            findings.Add(new CheckFinding(DiagnosticSeverity.Error, TokenizerCheckIds.RuleNotApplicable,
                $"the embedding of token {Quote(token)} is to come from {what} of '{names[m]}', which its vocabulary ({v.Rows.ToString(CultureInfo.InvariantCulture)} rows) does not have",
                rule.SourceLocation));
            return null;
        }
        return new[] { new RowSource(m, row) };
    }
}

/// <summary>Ids of the tokenizer checks of the engine (DMRG0511-0519).</summary>
public static class TokenizerCheckIds
{
    /// <summary>A model's vocabulary cannot be read (no tokenizer.json, not a tokenizer.json).</summary>
    public const string VocabularyUnreadable = "DMRG0511";
    /// <summary>A <c>tokenizer.tokens</c> rule names a token or id its model does not have.</summary>
    public const string RuleNotApplicable = "DMRG0512";
    /// <summary>A token of the output vocabulary is in no model (zero embedding).</summary>
    public const string TokenInNoModel = "DMRG0513";
    /// <summary>Tokens with ids past a model's embedding rows are left out.</summary>
    public const string TokenPastRows = "DMRG0514";
    /// <summary>The output vocabulary and what each model contributes (information).</summary>
    public const string VocabularySummary = "DMRG0515";
    /// <summary><c>pad_to_multiple_of</c> would add more padding rows than the vocabulary has.</summary>
    public const string PaddingTooLarge = "DMRG0516";
    /// <summary>Models define the same added token with different flags (special, lstrip, ...): the first is kept.</summary>
    public const string AddedTokenConflict = "DMRG0517";
}
