using System.Globalization;
using DotnetMerge.Adapters;
using DotnetMerge.Checks;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;
using DotnetMerge.Tokenizers;

namespace DotnetMerge.Planning;

/// <summary>Turns a validated definition and the opened input models into a <see cref="MergePlan"/>: which inputs and
/// parameters make each output tensor, in which dtype and shard. Reads headers and config files only.
/// Every problem is collected and reported at once (<see cref="PlanningException"/>), before any tensor byte is read.</summary>
public sealed partial class MergePlanner
{
    private readonly MergeDefinition _def;
    private readonly MergeOptions _options;
    private readonly MethodDescriptor _method;
    private readonly List<CheckFinding> _findings = new();
    private readonly Dictionary<ModelReference, ModelSource> _models = new();

    private readonly Func<ModelReference, ModelSource?>? _openStage;

    /// <summary>The output vocabulary of the definition's tokenizer rule (null without one) and its models, in order.</summary>
    private OutputVocabulary? _vocabulary;
    private IReadOnlyList<ModelSource> _vocabularyModels = Array.Empty<ModelSource>();
    private readonly Dictionary<string, EmbeddingGather> _gathers = new(StringComparer.Ordinal);

    /// <summary>Each module of a <c>modules:</c> definition and its stack, once planned.</summary>
    private IReadOnlyList<(string Module, LayerStack Stack)> _plannedModules = [];

    private MergePlanner(MergeDefinition def, MergeOptions options, MethodDescriptor method, Func<ModelReference, ModelSource?>? openStage)
    {
        _def = def; _options = options; _method = method; _openStage = openStage;
    }

    /// <summary>Opens the inputs, checks them and plans every tensor. On failure nothing stays open.</summary>
    /// <param name="openStage">For a stage of a multi-stage definition: returns the input a reference names when it is
    /// an earlier stage's output (see <see cref="StagePlanner"/>), null for a model path.</param>
    public static MergePlan Plan(MergeDefinition definition, MergeOptions options, Func<ModelReference, ModelSource?>? openStage = null)
    {
        var method = MethodCatalog.Find(definition.MergeMethod)
            ?? throw new MergeException(MergeErrorKind.Definition, ErrorIds.UnknownMethod, $"unknown merge method '{definition.MergeMethod}'");
        var implementation = MethodRegistry.Find(method.Name)
            ?? throw new MergeException(MergeErrorKind.Definition, ErrorIds.MethodNotImplemented, $"merge method '{method.Name}' is not implemented by this version of dotnet-merge");
        var planner = new MergePlanner(definition, options, method, openStage);
        try
        {
            return planner.Build(implementation);
        }
        catch
        {
            foreach (var m in planner._models.Values) m.Dispose();
            throw;
        }
    }

    private MergePlan Build(IMergeMethod implementation)
    {
        OpenModels();
        ThrowIfErrors();
        foreach (var (reference, model) in _models)
            if (model.Adapter is { } adapter) _findings.AddRange(adapter.Check(model, _options.AllowCrimes, reference.Location));
        ThrowIfErrors();

        _findings.AddRange(CompatibilityChecker.Check(_def, _models.Values.ToList(), _options.AllowCrimes));
        BuildVocabulary();
        ThrowIfErrors();

        var jobs = new List<TensorJob>();
        var seenNames = new HashSet<string>(StringComparer.Ordinal);
        void Add(TensorJob? job)
        {
            if (job is null) return;
            if (!seenNames.Add(job.OutputName))
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.UnsupportedTensor,
                    $"output tensor '{job.OutputName}' would be written twice; check the slices' layer ranges"));
                return;
            }
            jobs.Add(job);
        }

        int? layerCount = _def.UsesModules ? PlanModules(Add) : PlanSlices(Add);
        ThrowIfErrors();

        var configDonor = ConfigDonor();
        var tokenizerDonor = TokenizerDonor(configDonor);
        long? vocab = OutputVocab(jobs, configDonor);
        var shards = ShardLayout.Plan(jobs.Select(j => j.ToOutputTensor()).ToList(), _options.MaxShardBytes);
        var torchDtype = jobs.Where(j => j.OutputDtype.CanDecode()).GroupBy(j => j.OutputDtype)
            .OrderByDescending(g => g.Sum(j => j.OutputBytes)).Select(g => (Dtype?)g.Key).FirstOrDefault();
        ulong seed = _options.Seed ?? _def.Seed ?? 0UL;
        var warnings = _findings.Where(f => !f.IsError).Select(f => f.ToString()).ToList();
        var models = _models.Values.ToList();
        var plan = new MergePlan(_def, _method, implementation, models, configDonor, tokenizerDonor, jobs, shards, layerCount, vocab,
            torchDtype, seed, warnings) { Vocabulary = _vocabulary, Modules = _plannedModules };
        CheckMemoryBound(plan, _options.MaxMemoryBytes);
        return plan;
    }

    /// <summary>Plans a <c>models:</c> or <c>slices:</c> definition: the main stack's layers slice by slice, the tensors
    /// before them from the first slice and the ones after from the last. Returns the output's layer count when slices
    /// set it.</summary>
    private int? PlanSlices(Action<TensorJob?> add)
    {
        var slices = DefinitionNormalizer.ToSlices(_def, r => _models[r].LayerCount);
        CheckLayerRanges(slices, model => (model.LayerCount, "layers"));
        ThrowIfErrors();

        // Non-layer tensors before the layers come from the first slice, the ones after from the last (mergekit's rule).
        var first = slices[0];
        CheckOtherStacks(Template(first));
        foreach (var name in Template(first).Layout.PreWeights) add(PlanTensor(first, name, _ => name, OutsidePosition(Template(first), name)));

        int outputLayers = PlanLayers(slices, add, (model, layer) => model.Layout.LayerSuffixes[layer], (model, layer, suffix) => model.Layout.LayerTensorName(layer, suffix));

        var last = slices[^1];
        foreach (var name in Template(last).Layout.PostWeights) add(PlanTensor(last, name, _ => name, OutsidePosition(Template(last), name)));
        return _def.Slices is not null ? outputLayers : null;
    }

    /// <summary>The layers of <paramref name="slices"/>, one after the other: output layer n takes its tensors' suffixes from
    /// the slice's template model, and each source's layer start + offset; a layer at position i of a slice of L layers
    /// has t = i/(L-1). Returns the number of output layers.</summary>
    private int PlanLayers(IReadOnlyList<OutputSlice> slices, Action<TensorJob?> add, Func<ModelSource, int, IReadOnlyList<string>> suffixes,
        Func<ModelSource, int, string, string> tensorName)
    {
        int outputLayers = 0;
        foreach (var slice in slices)
        {
            var template = TemplateSource(slice);
            var templateModel = _models[template.Model];
            int length = template.LayerEnd - template.LayerStart;
            for (int i = 0; i < length; i++)
            {
                int outLayer = outputLayers + i;
                double t = ParameterResolver.LayerPosition(i, length);
                foreach (var suffix in suffixes(templateModel, template.LayerStart + i))
                {
                    var outputName = tensorName(templateModel, outLayer, suffix);
                    int offset = i;
                    add(PlanTensor(slice, outputName, source => tensorName(_models[source.Model], source.LayerStart + offset, suffix), t));
                }
            }
            outputLayers += length;
        }
        return outputLayers;
    }

    /// <summary>A memory bound (<see cref="MergeOptions.MaxMemoryBytes"/>) below what the largest tensor job holds at once
    /// (its inputs, its output and any earlier stage's working set) is an error before any tensor is read.</summary>
    private static void CheckMemoryBound(MergePlan plan, long? max)
    {
        if (max is not { } bound || plan.Jobs.Count == 0 || bound >= plan.LargestJobBytes) return;
        var largest = plan.Jobs.MaxBy(j => j.InputBytes + j.OutputBytes + j.UpstreamWorkingBytes)!;
        long need = plan.LargestJobBytes;
        throw new MergeException(MergeErrorKind.Definition, ErrorIds.MemoryBoundTooSmall, string.Create(CultureInfo.InvariantCulture,
            $"{OptionNames.MaxMemory} {ShardSize.Format(bound)} is less than the largest tensor needs: {largest.OutputName} holds {need} bytes ({ShardSize.Format(need)}) of inputs and output at once; give at least {need} (or leave --max-memory out)"));
    }

    /// <summary>The gradient position of a tensor outside the main stack's layers: with <c>models:</c>, a tensor of another
    /// numbered stack (a vision tower's block 7 of 32) sits in its own stack, as mergekit places each module's layers in
    /// that module; embeddings, norms and heads, and every such tensor in a <c>slices:</c> definition, are at t = 0.</summary>
    private double OutsidePosition(ModelSource template, string name)
        => _def.Slices is null ? template.Layout.PositionInOtherStack(name) ?? 0.0 : 0.0;

    /// <summary><c>slices:</c> cut the main stack only: a model with other stacks gets them whole from the first or last
    /// slice's models (at t = 0), which a frankenmerge of a vision-language model should know.</summary>
    private void CheckOtherStacks(ModelSource template)
    {
        if (_def.Slices is null || template.Layout.Stacks.Count < 2) return;
        var others = template.Layout.Stacks.Skip(1).ToList();
        _findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.OtherLayerStacks,
            $"model '{template.Name}' has {others.Count + 1} layer stacks; slices apply to '{template.Layout.Prefix}' " +
            $"({template.Layout.LayerCount} layers) and the other stacks ({string.Join(", ", others)}) are taken whole " +
            "from the models of the first slice (before the layers) or the last (after them), with parameters at t = 0; " +
            "to slice each stack on its own, write the definition with modules: (one module per stack)", _def.SlicesLocation));
    }

    /// <summary>Findings collected so far (warnings survive into the plan).</summary>
    private void ThrowIfErrors()
    {
        if (_findings.Any(f => f.IsError)) throw new PlanningException(_findings.ToList());
    }

    private void OpenModels()
    {
        var definitionDirectory = string.IsNullOrEmpty(_def.SourcePath) ? null : Path.GetDirectoryName(Path.GetFullPath(_def.SourcePath));
        foreach (var reference in ReferencedModels(_def))
        {
            if (_models.ContainsKey(reference)) continue;
            try
            {
                if (_openStage?.Invoke(reference) is { } stage)
                {
                    _models[reference] = stage;
                    continue;
                }
                var directory = ModelSource.ResolveDirectory(reference, definitionDirectory, _options.WorkingDirectory, _options.Hub);
                var model = _models[reference] = ModelSource.Open(reference, directory);
                if (reference.LoraPath is { } lora)
                    model.UseAdapter(LoraAdapter.Open(ModelSource.ResolveDirectory(new ModelReference(lora, reference.LoraRevision) { Location = reference.Location },
                        definitionDirectory, _options.WorkingDirectory, _options.Hub, adapter: true)));
            }
            catch (Exception e) when (Output.OutputErrors.IsOpenFileLimit(e) || Output.OutputErrors.IsOpenFileLimit(e.InnerException))
            {
                // Every model keeps its shards open: past the process's limit the run cannot go on (exit code 5, not one
                // error per remaining model).
                var io = Output.OutputErrors.IsOpenFileLimit(e) ? e : e.InnerException!;
                throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputWriteFailed,
                    $"{reference.Location}: cannot open model '{reference.Path}': {io.Message}; the definition references {ReferencedModels(_def).Distinct().Count()} models" +
                    Output.OutputErrors.OpenFilesHint(io), io);
            }
            catch (MergeException e) when (e.Kind != MergeErrorKind.Output)
            {
                // An output error (a hub download that cannot be written to the cache: disk full) is not the model's fault: exit 5, as it is.
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, e.Id, StripLocation(e.Detail, reference.Location), reference.Location));
            }
        }
    }

    private static string StripLocation(string message, SourceLocation location)
    {
        var prefix = location.ToString() + ": ";
        return message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
    }

    /// <summary>Every model the definition names, in definition order (models/slices first, then base, then tokenizer donor).</summary>
    public static IReadOnlyList<ModelReference> ReferencedModels(MergeDefinition def)
    {
        var list = new List<ModelReference>();
        void Add(ModelReference? r) { if (r is not null && !list.Contains(r)) list.Add(r); }
        if (def.Models is not null) foreach (var m in def.Models) Add(m.Model);
        if (def.Slices is not null)
            foreach (var s in def.Slices)
            {
                foreach (var src in s.Sources) Add(src.Model);
                Add(s.BaseModel);
            }
        if (def.Modules is not null)
            foreach (var module in def.Modules)
            {
                if (module.Models is not null) foreach (var m in module.Models) Add(m.Model);
                if (module.Slices is not null)
                    foreach (var s in module.Slices)
                    {
                        foreach (var src in s.Sources) Add(src.Model);
                        Add(s.BaseModel);
                    }
            }
        Add(def.BaseModel);
        return list;
    }

    /// <summary>Every source's range lies inside its model's layers (<paramref name="layers"/>: how many, and what they
    /// are called in the message).</summary>
    private void CheckLayerRanges(IReadOnlyList<OutputSlice> slices, Func<ModelSource, (int Count, string What)> layers)
    {
        foreach (var slice in slices)
            foreach (var source in slice.Sources)
            {
                var model = _models[source.Model];
                var (count, what) = layers(model);
                if (source.LayerEnd > count)
                    _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.LayerRangeOutOfBounds,
                        $"layer_range [{source.LayerStart}, {source.LayerEnd}) of '{model.Name}' goes past its {count} {what} (valid: [0, {count}))",
                        source.Location));
            }
    }

    private ModelReference? SliceBase(OutputSlice slice) => slice.BaseModel ?? _def.BaseModel;

    private SliceSource TemplateSource(OutputSlice slice)
    {
        var baseRef = SliceBase(slice);
        return slice.Sources.FirstOrDefault(s => baseRef is not null && s.Model.Equals(baseRef)) ?? slice.Sources[0];
    }

    private ModelSource Template(OutputSlice slice) => _models[TemplateSource(slice).Model];

    private TensorJob? PlanTensor(OutputSlice slice, string outputName, Func<SliceSource, string> inputName, double t)
    {
        var baseRef = SliceBase(slice);
        bool baseHasRole = _method.BaseRule != BaseModelRule.NotUsed;
        var inputs = new List<JobInput>();
        int baseIndex = -1;
        foreach (var source in slice.Sources)
        {
            var model = _models[source.Model];
            var name = inputName(source);
            if (!TryFindTensor(model, name, out var resolvedName, out var info, out var file))
            {
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.TensorMissing,
                    $"tensor '{name}' (output '{outputName}') is missing from model '{model.Name}'", source.Location));
                continue;
            }
            bool isBase = baseRef is not null && source.Model.Equals(baseRef);
            var parameters = ResolvePerModel(slice, source, resolvedName, t, isBase && baseHasRole, model);
            if (isBase) baseIndex = inputs.Count;
            var input = new JobInput(model, resolvedName, info, file, isBase, parameters, null);
            inputs.Add(model.Adapter?.Adapt(input) ?? input);
        }
        if (inputs.Count != slice.Sources.Count) return null;
        if (_vocabulary is not null) inputs = AlignToVocabulary(outputName, inputs);

        var global = ResolveGlobal(slice, outputName, t);
        var template = inputs[baseIndex >= 0 ? baseIndex : 0];
        var storedDtype = template.Tensor.Dtype;

        // Tensors that are not floating point (position ids, masks, counters) are carried over from the template unchanged.
        // So a tensor is either floating point in every model (merged) or in none (carried): a mix is refused here, by
        // `check` as by the run, naming the model whose dtype differs from the template's.
        for (int k = 0; k < inputs.Count; k++)
        {
            if (inputs[k].Tensor.Dtype.CanDecode() == storedDtype.CanDecode()) continue;
            _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.UnsupportedTensor,
                $"tensor '{inputs[k].TensorName}' is {inputs[k].Tensor.Dtype.HeaderName()} in model '{inputs[k].Model.Name}' but " +
                $"{storedDtype.HeaderName()} in '{template.Model.Name}': integer and boolean tensors are carried over from one model " +
                "unchanged and floating-point ones are merged, so every model must store this tensor in a floating-point dtype or every one in the same non-floating one",
                slice.Sources[k].Location));
            return null;
        }
        if (!storedDtype.CanDecode())
            return new TensorJob(outputName, JobKind.Copy, new[] { template }, 0, global, template.Tensor.Shape, storedDtype, false);

        var outputDtype = _options.OutDtype ?? ParseDtype(_def.OutDtype) ?? _options.Dtype ?? ParseDtype(_def.Dtype) ?? storedDtype;
        bool isEmbedding = IsEmbedding(outputName, inputs);
        var shape = OutputShape(outputName, inputs, baseIndex, isEmbedding);
        if (shape is null) return null;
        var cropped = inputs.Select(i => (i.CropShape ?? i.Tensor.Shape).SequenceEqual(shape) ? i : i with { CropShape = shape }).ToList();

        bool copy = _method.Name == "passthrough" && cropped.Count == 1 && outputDtype == storedDtype
                    && cropped[0].CropShape is null && !cropped[0].Parameters.Contains("scale");
        return new TensorJob(outputName, copy ? JobKind.Copy : JobKind.Merge, cropped, baseIndex, global, shape, outputDtype, isEmbedding);
    }

    /// <summary>Finds a tensor, falling back from a missing LM head to the tied input embedding (tie_word_embeddings).</summary>
    private static bool TryFindTensor(ModelSource model, string name, out string resolvedName, out TensorInfo info, out ITensorFile? file)
    {
        resolvedName = name;
        if (model.TryGetTensor(name, out info, out file)) return true;
        foreach (var (head, embed) in TiedPairs)
        {
            if (name == head && model.TryGetTensor(embed, out info, out file))
            {
                resolvedName = embed;
                return true;
            }
        }
        return false;
    }

    private static readonly (string Head, string Embed)[] TiedPairs =
    {
        ("lm_head.weight", "model.embed_tokens.weight"),
        ("lm_head.weight", "transformer.wte.weight"),
        ("embed_out.weight", "gpt_neox.embed_in.weight"),
    };

    private bool IsEmbedding(string outputName, IReadOnlyList<JobInput> inputs)
    {
        if (inputs[0].Tensor.Shape.Length != 2) return false;
        if (outputName.Contains("embed", StringComparison.Ordinal) || outputName.Contains("lm_head", StringComparison.Ordinal)
            || outputName.Contains("wte", StringComparison.Ordinal)) return true;
        return inputs.Any(i => i.Model.VocabSize is { } v && i.Tensor.Shape[0] == v);
    }

    private long[]? OutputShape(string outputName, IReadOnlyList<JobInput> inputs, int baseIndex, bool isEmbedding)
    {
        // An input already cropped (a vocabulary whose first rows are the output's) counts with its cropped shape.
        var first = inputs[0].CropShape ?? inputs[0].Tensor.Shape;
        if (inputs.All(i => (i.CropShape ?? i.Tensor.Shape).SequenceEqual(first))) return first;

        string Shapes() => string.Join(", ", inputs.Select(i => $"'{i.Model.Name}' {TensorShape.Format(i.Tensor.Shape)}"));
        if (!isEmbedding || inputs.Any(i => i.Tensor.Shape.Length != 2))
        {
            _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ShapeMismatch,
                $"tensor '{outputName}' has different shapes in the inputs: {Shapes()}; only embedding matrices may differ (in vocabulary size)"));
            return null;
        }
        switch (_method.VocabularyRule)
        {
            case VocabularyRule.CommonSubmatrix:
            {
                var shape = new[] { inputs.Min(i => i.Tensor.Shape[0]), inputs.Min(i => i.Tensor.Shape[1]) };
                _findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.ShapeMismatch,
                    $"embedding '{outputName}' differs in size ({Shapes()}); using the common sub-matrix {TensorShape.Format(shape)}"));
                return shape;
            }
            case VocabularyRule.CropToBase when baseIndex >= 0:
            {
                var shape = inputs[baseIndex].Tensor.Shape;
                if (inputs.Any(i => i.Tensor.Shape[0] < shape[0] || i.Tensor.Shape[1] < shape[1]))
                {
                    _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ShapeMismatch,
                        $"embedding '{outputName}' is smaller in some inputs than in the base ({Shapes()}); the method crops inputs to the base's shape and cannot grow them"));
                    return null;
                }
                _findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.ShapeMismatch,
                    $"embedding '{outputName}' differs in size ({Shapes()}); cropping every input to the base's {TensorShape.Format(shape)}"));
                return shape;
            }
            default:
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.ShapeMismatch,
                    $"embedding '{outputName}' differs in size ({Shapes()}) and method '{_method.Name}' needs equal shapes; give the models the same tokenizer first"));
                return null;
        }
    }

    private ParameterBag ResolvePerModel(OutputSlice slice, SliceSource source, string inputTensor, double t, bool exemptFromRequired, ModelSource model)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var p in _method.Parameters)
        {
            if (p.Scope != ParameterScope.PerModel) continue;
            var value = ParameterResolver.Resolve(_def, _method, p, slice, source, inputTensor, t);
            if (value is not null) values[p.Name] = value;
            else if (p.Required && !exemptFromRequired)
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.MissingParameter,
                    $"missing required parameter '{p.Name}' for model '{model.Name}', tensor '{inputTensor}': set it under the model's `parameters:` (or top-level `parameters:` for every model); a filter list needs a catch-all entry without `filter`",
                    source.Location));
        }
        return new ParameterBag(values);
    }

    private ParameterBag ResolveGlobal(OutputSlice slice, string outputTensor, double t)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var p in _method.Parameters)
        {
            if (p.Scope != ParameterScope.Global) continue;
            var value = ParameterResolver.Resolve(_def, _method, p, slice, null, outputTensor, t);
            if (value is not null) values[p.Name] = value;
            else if (p.Required)
                _findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.MissingParameter,
                    $"missing required parameter '{p.Name}' for tensor '{outputTensor}': set it under the top-level `parameters:`; a filter list needs a catch-all entry without `filter`",
                    slice.Location));
        }
        return new ParameterBag(values);
    }

    private ModelSource ConfigDonor()
    {
        if (_def.BaseModel is { } b && _models.TryGetValue(b, out var baseModel)) return baseModel;
        // mergekit picks from an unordered set here; we take the first model of the definition (documented).
        return _models[ReferencedModels(_def)[0]];
    }

    private ModelSource? TokenizerDonor(ModelSource configDonor)
    {
        if (_vocabulary is { } vocabulary) return _vocabularyModels[vocabulary.Donor];
        var source = _def.TokenizerSource;
        if (source is null || source == "base") return configDonor;
        var match = _models.Values.FirstOrDefault(m => m.Reference.Path == source);
        return match ?? throw new MergeException(MergeErrorKind.Definition, ErrorIds.TokenizerSource,
            $"tokenizer_source '{source}' is not one of the merged models; use `union`, `base` or the path of one of the models");
    }

    private static long? OutputVocab(IReadOnlyList<TensorJob> jobs, ModelSource donor)
    {
        var embed = jobs.FirstOrDefault(j => j.IsEmbedding && (j.OutputName.Contains("embed_tokens", StringComparison.Ordinal)
                                                               || j.OutputName.Contains("wte", StringComparison.Ordinal)
                                                               || j.OutputName.Contains("embed_in", StringComparison.Ordinal)))
                    ?? jobs.FirstOrDefault(j => j.IsEmbedding);
        if (embed is null) return null;
        long rows = embed.OutputShape[0];
        return donor.VocabSize == rows ? null : rows;
    }

    private static Dtype? ParseDtype(string? name)
    {
        if (name is null) return null;
        return DtypeInfo.TryFromTorchName(name, out var d) ? d
            : throw new MergeException(MergeErrorKind.Definition, ErrorIds.UnknownDtype, $"unknown dtype '{name}' (use bfloat16, float16 or float32)");
    }
}

/// <summary>Planning found problems (all of them are listed).</summary>
public sealed class PlanningException : MergeException
{
    public PlanningException(IReadOnlyList<CheckFinding> findings)
        : this(findings, string.Join(Environment.NewLine, findings.Where(f => f.IsError).Select(f => f.ToString())))
    {
    }

    private PlanningException(IReadOnlyList<CheckFinding> findings, string formatted)
        : base(findings.Any(f => f.Id == CheckIds.MissingParameter && f.IsError) && findings.All(f => !f.IsError || f.Id == CheckIds.MissingParameter)
                ? MergeErrorKind.Definition : MergeErrorKind.Input,
            (findings.FirstOrDefault(f => f.IsError) ?? findings[0]).Id, formatted, formatted, null)
        => Findings = findings;

    public IReadOnlyList<CheckFinding> Findings { get; }
}
