using DotnetMerge.Checks;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using DotnetMerge.Tokenizers;

namespace DotnetMerge.Planning;

/// <summary>The tokenizer rule's part of planning: the output vocabulary, built from every model's tokenizer.json before
/// any tensor is read, and embedding inputs aligned to it (reference/mergekit.md §4).</summary>
public sealed partial class MergePlanner
{
    /// <summary>Tensors whose rows are the vocabulary, found by their names (as in <see cref="TiedPairs"/>).</summary>
    private static readonly string[] EmbeddingNames =
        { "model.embed_tokens.weight", "transformer.wte.weight", "gpt_neox.embed_in.weight", "embed_tokens.weight", "wte.weight" };

    private void BuildVocabulary()
    {
        var settings = _def.EffectiveTokenizer;
        if (settings is null) return;
        var references = ReferencedModels(_def);
        var models = references.Select(r => _models[r]).ToList();
        var vocabularies = new List<TokenizerVocabulary>();
        foreach (var (reference, model) in references.Zip(models))
        {
            long? rows = EmbeddingRows(model) ?? model.VocabSize;
            if (rows is null)
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, TokenizerCheckIds.VocabularyUnreadable,
                    $"model '{model.Name}' has no embedding tensor and no vocab_size in its config.json, so its vocabulary cannot be aligned",
                    reference.Location));
                continue;
            }
            try
            {
                vocabularies.Add(TokenizerVocabulary.Read(model.Directory, model.Name, rows.Value));
            }
            catch (MergeException e)
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, e.Id, e.Detail, reference.Location));
            }
        }
        if (vocabularies.Count != models.Count) return;

        int baseIndex = _def.BaseModel is { } b ? references.ToList().IndexOf(b) : -1;
        int sourceIndex = -1;
        if (settings.Source is not ("union" or "base"))
        {
            sourceIndex = references.ToList().FindIndex(r => r.ToString() == settings.Source || r.Path == settings.Source);
            if (sourceIndex < 0)
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, TokenizerCheckIds.VocabularyUnreadable,
                    $"the tokenizer source '{settings.Source}' is not one of the merged models; use `union`, `base` or one of the models", settings.SourceLocation));
                return;
            }
        }
        var list = references.ToList();
        _vocabulary = OutputVocabulary.Build(settings, models.Select(m => m.Name).ToList(), vocabularies, baseIndex, sourceIndex, r => list.IndexOf(r));
        _vocabularyModels = models;
        _findings.AddRange(_vocabulary.Findings);
        _findings.Add(new CheckFinding(DiagnosticSeverity.Info, TokenizerCheckIds.VocabularySummary, _vocabulary.Describe(), settings.Location));
    }

    /// <summary>Tensors whose rows are tokens, by name: input embeddings and LM heads (a layer that merely has as many
    /// rows as the vocabulary is not one).</summary>
    private static bool IsVocabularyName(string name)
        => name.Contains("embed", StringComparison.Ordinal) || name.Contains("lm_head", StringComparison.Ordinal)
           || name.Contains("wte", StringComparison.Ordinal) || name == "output.weight";

    /// <summary>Rows of the model's input embedding (null when it has none).</summary>
    private static long? EmbeddingRows(ModelSource model)
    {
        foreach (var name in EmbeddingNames)
            if (model.TryGetTensor(name, out var info, out _) && info.Shape.Length == 2) return info.Shape[0];
        return null;
    }

    /// <summary>An embedding's inputs with their rows in output-vocabulary order: a model whose rows already are in that
    /// order keeps its tensor (or a crop of it); any other gets a computed input gathered in the read stage.</summary>
    private List<JobInput> AlignToVocabulary(string outputName, List<JobInput> inputs)
    {
        var vocabulary = _vocabulary!;
        if (inputs.Any(i => i.Tensor.Shape.Length != 2) || !IsVocabularyName(outputName)) return inputs;
        int Index(ModelSource m) => _vocabularyModels.ToList().IndexOf(m);
        // Only tensors whose rows are each model's vocabulary (same count as its embedding) are aligned.
        foreach (var input in inputs)
            if (Index(input.Model) is var m && (m < 0 || EmbeddingRows(input.Model) is not { } rows || rows != input.Tensor.Shape[0])) return inputs;
        long hidden = inputs[0].Tensor.Shape[1];
        if (inputs.Any(i => i.Tensor.Shape[1] != hidden)) return inputs; // OutputShape reports it

        if (!_gathers.TryGetValue(outputName, out var gather))
        {
            // Every model's tensor of that name, so that default rows can come from models outside this slice too.
            var raw = new JobInput?[_vocabularyModels.Count];
            foreach (var input in inputs) raw[Index(input.Model)] = input;
            for (int m = 0; m < raw.Length; m++)
            {
                if (raw[m] is not null) continue;
                var model = _vocabularyModels[m];
                if (!TryFindTensor(model, inputs[0].TensorName, out var name, out var info, out var file)
                    && !TryFindTensor(model, outputName, out name, out info, out file)) continue;
                if (info.Shape.Length != 2 || info.Shape[1] != hidden) continue;
                var input = new JobInput(model, name, info, file, false, ParameterBag.Empty, null);
                raw[m] = model.Adapter?.Adapt(input) ?? input;
            }
            _gathers[outputName] = gather = new EmbeddingGather(vocabulary, raw, hidden);
        }

        var aligned = new List<JobInput>(inputs.Count);
        foreach (var input in inputs)
        {
            int m = Index(input.Model);
            if (vocabulary.IsIdentity(m, input.Tensor.Shape[0])) aligned.Add(input);
            else if (vocabulary.IsPrefix(m)) aligned.Add(input with { CropShape = new[] { vocabulary.Rows, hidden } });
            else
            {
                var dtype = input.Tensor.Dtype;
                var shape = new[] { vocabulary.Rows, hidden };
                var tensor = new TensorInfo(input.Tensor.Name, dtype, shape, 0, dtype.ByteCount(vocabulary.Rows * hidden));
                aligned.Add(input with { File = null, Tensor = tensor, Adaptation = null, Gather = new GatheredRows(gather, m) });
            }
        }
        return aligned;
    }
}
