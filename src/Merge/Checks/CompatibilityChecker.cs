using DotnetMerge.Definitions;
using DotnetMerge.Models;
using DotnetMerge.Engine;

namespace DotnetMerge.Checks;

/// <summary>Checks that the input models can be merged at all: same architecture, same tokenizer, same declared base.
/// Merging only works for checkpoints of one base and tokenizer; this is where that is enforced, before any tensor is read.
/// With <c>--allow-crimes</c> architecture and tokenizer differences become warnings.</summary>
public static class CompatibilityChecker
{
    /// <summary>config.json keys that must agree between inputs (when present in both).</summary>
    private static readonly string[] ShapeKeys =
        { "model_type", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim" };

    public static IReadOnlyList<CheckFinding> Check(MergeDefinition definition, IReadOnlyList<ModelSource> models, bool allowCrimes)
    {
        var findings = new List<CheckFinding>();
        if (models.Count < 2) return findings;
        var reference = definition.BaseModel is { } b ? models.FirstOrDefault(m => m.Reference.Equals(b)) ?? models[0] : models[0];
        var crime = allowCrimes ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error;
        const string crimeHint = " (set " + OptionNames.AllowCrimes + " to merge anyway)";
        string hint = allowCrimes ? "" : crimeHint;

        foreach (var model in models)
        {
            if (ReferenceEquals(model, reference)) continue;
            if (model.Config is null || reference.Config is null)
            {
                var missing = model.Config is null ? model : reference;
                findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.ArchitectureMismatch,
                    $"model '{missing.Name}' has no config.json: its architecture cannot be checked", missing.Reference.Location));
                continue;
            }
            var differences = new List<string>();
            if (model.Architecture != reference.Architecture)
                differences.Add($"architectures[0] {Show(model.Architecture)} vs {Show(reference.Architecture)}");
            foreach (var key in ShapeKeys)
            {
                var a = model.Config[key]?.ToJsonString();
                var r = reference.Config[key]?.ToJsonString();
                if (a is not null && r is not null && a != r) differences.Add($"{key} {a} vs {r}");
            }
            if (definition.Models is not null && model.LayerCount != reference.LayerCount)
                differences.Add($"{model.LayerCount} layers vs {reference.LayerCount}");
            if (differences.Count > 0)
                findings.Add(new CheckFinding(crime, CheckIds.ArchitectureMismatch,
                    $"model '{model.Name}' does not have the architecture of '{reference.Name}': {string.Join("; ", differences)}{hint}",
                    model.Reference.Location));

            // With a tokenizer rule, vocabularies that differ are normal input: embedding rows are matched by token
            // text, and the plan reports the output vocabulary (DMRG0515) instead.
            if (definition.EffectiveTokenizer is not null) continue;
            var tokenizerSeverity = definition.TokenizerSource is not null ? DiagnosticSeverity.Warning : crime;
            var tokenizerHint = definition.TokenizerSource is not null || allowCrimes ? ""
                : string.IsNullOrEmpty(definition.SourcePath)
                    // A definition a command built (soup, average, extract, apply): it has no tokenizer_source to set.
                    ? " (this command needs models with one vocabulary; to merge models whose vocabularies differ, write a definition with tokenizer_source and run `dotnet merge run`)"
                    : " (set " + OptionNames.AllowCrimes + ", or set tokenizer_source, to merge anyway)";
            if (model.VocabSize is { } v && reference.VocabSize is { } rv && v != rv)
                findings.Add(new CheckFinding(tokenizerSeverity, CheckIds.TokenizerMismatch,
                    $"model '{model.Name}' has vocab_size {v} but '{reference.Name}' has {rv}: embeddings will be cropped as the method's vocabulary rule says{tokenizerHint}",
                    model.Reference.Location));
            else
            {
                var tf = model.TokenizerFingerprint();
                var rf = reference.TokenizerFingerprint();
                if (tf is not null && rf is not null && tf != rf)
                    findings.Add(new CheckFinding(tokenizerSeverity, CheckIds.TokenizerMismatch,
                        $"model '{model.Name}' has a different tokenizer than '{reference.Name}' ({tf.Split(':')[0]} content differs){tokenizerHint}",
                        model.Reference.Location));
            }
        }

        // Fine-tunes of different bases: each model card may declare its base; the merged models should agree.
        var declared = models.Select(m => (Model: m, Bases: m.DeclaredBaseModels())).Where(x => x.Bases.Count > 0).ToList();
        var distinct = declared.SelectMany(x => x.Bases).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count > 1)
            findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.BaseMismatch,
                "the inputs declare different base models in their model cards: "
                + string.Join("; ", declared.Select(x => $"'{x.Model.Name}' -> {string.Join(", ", x.Bases)}"))
                + ". Merging only works well for fine-tunes of the same base."));
        return findings;
    }

    private static string Show(string? s) => s is null ? "(none)" : "'" + s + "'";
}
