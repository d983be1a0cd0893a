using DotnetMerge.Checks;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Adapters;

/// <summary>A PEFT LoRA adapter directory (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>) applied to a base
/// model as an input transform: each adapted base tensor becomes a computed input (<see cref="AdaptedTensor"/>), each
/// full tensor the adapter saves (<c>modules_to_save</c>, trained biases) replaces the base's. Opening reads the config
/// and the safetensors header only; <see cref="Check"/> validates against the base before any tensor is read.</summary>
public sealed class LoraAdapter : IDisposable
{
    public const string WeightsFileName = "adapter_model.safetensors";
    private const string Prefix = "base_model.model.";

    /// <summary>LoRA tensors of one module, by role, as the file names them.</summary>
    private sealed class ModuleTensors
    {
        public TensorInfo? A, B, EmbeddingA, EmbeddingB, Bias, Magnitude;
    }

    private readonly Dictionary<string, ModuleTensors> _modules = new(StringComparer.Ordinal);
    /// <summary>Full tensors saved by the adapter, by the base tensor name they replace.</summary>
    private readonly Dictionary<string, TensorInfo> _replacements = new(StringComparer.Ordinal);
    /// <summary>Planned transforms, by base tensor name (filled by <see cref="Check"/>).</summary>
    private readonly Dictionary<string, AdaptedTensor> _adapted = new(StringComparer.Ordinal);

    private LoraAdapter(string directory, LoraConfig config, SafetensorsFile file)
    {
        Directory = directory; Config = config; File = file;
    }

    public string Directory { get; }
    public LoraConfig Config { get; }
    public SafetensorsFile File { get; }

    /// <summary>Base tensors the adapter changes (computed or replaced), after <see cref="Check"/>.</summary>
    public int AdaptedTensorCount => _adapted.Count + _replacements.Count;

    /// <summary>Opens an adapter directory: its config (checked) and the header of its weights.</summary>
    public static LoraAdapter Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"LoRA adapter not found: no directory '{directory}'");
        var config = LoraConfig.Read(directory);
        var weights = Path.Combine(directory, WeightsFileName);
        if (!System.IO.File.Exists(weights))
        {
            var hint = System.IO.File.Exists(Path.Combine(directory, "adapter_model.bin"))
                ? " (adapter_model.bin, a torch pickle, is not read: save the adapter with safe_serialization=True)" : "";
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"{directory}: no {WeightsFileName}{hint}");
        }
        SafetensorsFile file;
        try { file = SafetensorsFile.Open(weights); }
        catch (Exception e) when (e is SafetensorsFormatException or IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.AdapterInvalid, $"{weights}: {e.Message}", e);
        }
        var adapter = new LoraAdapter(directory, config, file);
        try { adapter.Index(); }
        catch { file.Dispose(); throw; }
        return adapter;
    }

    private MergeException Error(string message) => new(MergeErrorKind.Input, ErrorIds.AdapterInvalid, $"{File.Path}: {message}");

    private void Index()
    {
        foreach (var t in File.Header.Tensors)
        {
            if (!t.Name.StartsWith(Prefix, StringComparison.Ordinal))
                throw Error($"tensor '{t.Name}' does not start with '{Prefix}' (not a PEFT adapter tensor name)");
            var key = t.Name[Prefix.Length..];
            if (TrySplit(key, ".lora_A.weight", out var m)) Module(m).A = t;
            else if (TrySplit(key, ".lora_B.weight", out m)) Module(m).B = t;
            else if (TrySplit(key, ".lora_B.bias", out m)) Module(m).Bias = t;
            else if (TrySplit(key, ".lora_embedding_A", out m)) Module(m).EmbeddingA = t;
            else if (TrySplit(key, ".lora_embedding_B", out m)) Module(m).EmbeddingB = t;
            else if (TrySplit(key, ".lora_magnitude_vector", out m) || TrySplit(key, ".lora_magnitude_vector.weight", out m)) Module(m).Magnitude = t;
            else if (key.Contains(".lora_", StringComparison.Ordinal))
                throw Error($"tensor '{t.Name}' is a LoRA tensor of a kind this version cannot apply");
            else
            {
                // A full tensor (modules_to_save, trained biases): <m>.base_layer.<p> is the base's <m>.<p>.
                var target = key.Replace(".base_layer.", ".", StringComparison.Ordinal);
                if (!_replacements.TryAdd(target, t))
                    throw Error($"tensors '{_replacements[target].Name}' and '{t.Name}' both replace '{target}'");
            }
        }
        if (_modules.Count == 0 && _replacements.Count == 0) throw Error("the adapter holds no tensors");
    }

    private static bool TrySplit(string key, string suffix, out string module)
    {
        module = key.EndsWith(suffix, StringComparison.Ordinal) ? key[..^suffix.Length] : "";
        return module.Length > 0;
    }

    private ModuleTensors Module(string module)
    {
        if (!_modules.TryGetValue(module, out var m)) _modules[module] = m = new ModuleTensors();
        return m;
    }

    /// <summary>Checks the adapter against <paramref name="model"/> (its base) and plans every transform: each module's
    /// base tensor exists, the factor shapes agree with it (A [r, in], B [out, r]; embeddings A [r, vocab], B [dim, r]),
    /// the rank agrees with the config, DoRA and bias tensors are complete, and base_model_name_or_path names this model
    /// (an error without --allow-crimes, else a warning). Reads no tensor data.</summary>
    public IReadOnlyList<CheckFinding> Check(ModelSource model, bool allowCrimes, SourceLocation location)
    {
        var findings = new List<CheckFinding>();
        void Fail(string message) => findings.Add(new CheckFinding(DiagnosticSeverity.Error, CheckIds.AdapterMismatch, $"{File.Path}: {message}", location));
        _adapted.Clear();

        foreach (var (module, t) in _modules)
        {
            try { Plan(model, module, t, _adapted); }
            catch (AdapterProblem e) { Fail(e.Message); }
        }
        foreach (var (name, t) in _replacements)
        {
            if (!model.TryGetTensor(name, out var baseInfo, out _))
                Fail($"'{t.Name}' replaces '{name}', which is not in the base model '{model.Name}'");
            else if (_adapted.ContainsKey(name))
                Fail($"'{name}' is both replaced (by '{t.Name}') and adapted by a LoRA delta");
            else if (baseInfo.Shape.Length != t.Shape.Length || (t.Shape.Length == 1 && t.Shape[0] != baseInfo.Shape[0]))
                Fail($"'{t.Name}' has shape {TensorShape.Format(t.Shape)} but the base's '{name}' is {TensorShape.Format(baseInfo.Shape)}");
        }
        var baseNames = model.Checkpoint.Shards.SelectMany(s => s.Tensors).Select(x => x.Name).ToList();
        if (Config.TargetModuleList is { } targets)
            foreach (var target in targets)
                if (!_modules.Keys.Any(m => m == target || m.EndsWith("." + target, StringComparison.Ordinal))
                    && !baseNames.Any(n => n.Contains("." + target + ".", StringComparison.Ordinal) || n.StartsWith(target + ".", StringComparison.Ordinal)))
                    Fail($"target module '{target}' of adapter_config.json is not in the base model '{model.Name}'");

        if (BaseModelMismatch(model) is { } named)
        {
            var message = $"{Config.Path}: base_model_name_or_path is '{named}', but the adapter is applied to '{model.Name}'";
            findings.Add(allowCrimes
                ? new CheckFinding(DiagnosticSeverity.Warning, CheckIds.BaseMismatch, message + $" (allowed by {OptionNames.AllowCrimes})", location)
                : new CheckFinding(DiagnosticSeverity.Error, CheckIds.BaseMismatch, message + $"; apply it to its own base, or set {OptionNames.AllowCrimes}", location));
        }
        return findings;
    }

    private void Plan(ModelSource model, string module, ModuleTensors t, Dictionary<string, AdaptedTensor> adapted)
    {
        bool embedding = t.EmbeddingA is not null || t.EmbeddingB is not null;
        if (embedding && (t.A is not null || t.B is not null))
            throw new AdapterProblem($"module '{module}' has both linear and embedding LoRA tensors");
        var a = embedding ? t.EmbeddingA : t.A;
        var b = embedding ? t.EmbeddingB : t.B;
        var (aName, bName) = embedding ? ("lora_embedding_A", "lora_embedding_B") : ("lora_A.weight", "lora_B.weight");
        if (a is null || b is null)
        {
            if (a is null && b is null && t.Bias is null && t.Magnitude is not null)
                throw new AdapterProblem($"module '{module}' has a DoRA magnitude vector but no LoRA factors");
            if (a is not null || b is not null)
                throw new AdapterProblem($"module '{module}' has {(a is null ? bName : aName)} but no {(a is null ? aName : bName)}");
        }
        if (a is null || b is null)
        {
            if (t.Bias is not null) throw new AdapterProblem($"module '{module}' has lora_B.bias but no LoRA factors");
            return;
        }

        if (!Config.Targets(module))
            throw new AdapterProblem($"module '{module}' has LoRA tensors, but target_modules in adapter_config.json does not select it (PEFT would not load them); fix target_modules");
        var weightName = module + ".weight";
        if (!model.TryGetTensor(weightName, out var weight, out var weightFile) || weightFile is null)
            throw new AdapterProblem($"module '{module}' is not in the base model '{model.Name}' (no tensor '{weightName}')");
        if (a.Shape.Length != 2 || b.Shape.Length != 2 || weight.Shape.Length != 2)
            throw new AdapterProblem($"module '{module}': only 2-D (linear, Conv1D, embedding) LoRA can be applied; {aName} is {TensorShape.Format(a.Shape)}, the base weight {TensorShape.Format(weight.Shape)} (convolution LoRA is not supported)");

        var orientation = embedding ? LoraOrientation.Embedding : IsFanInFanOut(model, module) ? LoraOrientation.FanInFanOut : LoraOrientation.Linear;
        // In [out, in] terms: the rows of B and the columns of A.
        long outDim = orientation == LoraOrientation.Linear ? weight.Shape[0] : weight.Shape[1];
        long inDim = orientation == LoraOrientation.Linear ? weight.Shape[1] : weight.Shape[0];
        long r = a.Shape[0];
        if (a.Shape[1] != inDim || b.Shape[0] != outDim || b.Shape[1] != r)
            throw new AdapterProblem($"module '{module}': {aName} is {TensorShape.Format(a.Shape)} and {bName} {TensorShape.Format(b.Shape)}, but the base weight " +
                        $"{TensorShape.Format(weight.Shape)} ({Describe(orientation)}) needs [r, {inDim}] and [{outDim}, r]");
        int configured = Config.RankFor(module);
        if (r != configured)
            throw new AdapterProblem($"module '{module}': the factors have rank {r}, but adapter_config.json gives r = {configured} (from r or rank_pattern); the scale alpha/r would be wrong");
        if (!a.Dtype.CanDecode() || !b.Dtype.CanDecode())
            throw new AdapterProblem($"module '{module}': factors of dtype {a.Dtype.HeaderName()}/{b.Dtype.HeaderName()} cannot be decoded");
        if (!weight.Dtype.CanDecode())
            throw new AdapterProblem($"module '{module}': the base weight '{weightName}' has dtype {weight.Dtype.HeaderName()}, which cannot be adapted");

        if (Config.UseDora != (t.Magnitude is not null))
            throw new AdapterProblem(Config.UseDora
                ? $"module '{module}': use_dora is set but lora_magnitude_vector is missing"
                : $"module '{module}' has a lora_magnitude_vector but use_dora is not set");
        if (t.Magnitude is { } m && (m.Shape.Length != 1 || m.Shape[0] != outDim))
            throw new AdapterProblem($"module '{module}': lora_magnitude_vector is {TensorShape.Format(m.Shape)}, expected [{outDim}]");
        foreach (var extra in new[] { t.Magnitude, t.Bias })
            if (extra is not null && !extra.Dtype.CanDecode())
                throw new AdapterProblem($"module '{module}': '{extra.Name}' has dtype {extra.Dtype.HeaderName()}, which cannot be decoded");

        double scale = Config.ScaleFor(module);
        adapted[weightName] = new AdaptedTensor(module, orientation, weightFile, weight, File, a, b, scale, t.Magnitude);

        if (t.Bias is { } bias)
        {
            if (t.Magnitude is not null) throw new AdapterProblem($"module '{module}': lora_B.bias together with DoRA is not supported");
            var biasName = module + ".bias";
            if (!model.TryGetTensor(biasName, out var baseBias, out var biasFile) || biasFile is null)
                throw new AdapterProblem($"module '{module}' has lora_B.bias but the base has no '{biasName}' to add it to");
            if (bias.Shape.Length != 1 || baseBias.Shape.Length != 1 || bias.Shape[0] != baseBias.Shape[0])
                throw new AdapterProblem($"module '{module}': lora_B.bias is {TensorShape.Format(bias.Shape)}, the base bias {TensorShape.Format(baseBias.Shape)}");
            adapted[biasName] = new AdaptedTensor(module, LoraOrientation.Bias, biasFile, baseBias, File, bias, bias, scale, null);
        }
    }

    private static string Describe(LoraOrientation o) => o switch
    {
        LoraOrientation.Linear => "nn.Linear, stored [out, in]",
        LoraOrientation.FanInFanOut => "Conv1D / fan_in_fan_out, stored [in, out]",
        _ => "nn.Embedding, stored [vocab, dim]",
    };

    /// <summary>fan_in_fan_out from the config, or forced the way PEFT forces it for GPT-2's Conv1D modules.</summary>
    private bool IsFanInFanOut(ModelSource model, string module)
    {
        if (Config.FanInFanOut) return true;
        var leaf = module[(module.LastIndexOf('.') + 1)..];
        return model.Architecture?.StartsWith("GPT2", StringComparison.Ordinal) == true && leaf is "c_attn" or "c_proj" or "c_fc" or "q_attn";
    }

    /// <summary>The adapter's base_model_name_or_path when it names another model than <paramref name="model"/>
    /// (compared by the last path segment, case-insensitively, with the reference, config.json's _name_or_path and the
    /// model card's base_model), else null.</summary>
    private string? BaseModelMismatch(ModelSource model)
    {
        var named = Config.BaseModelNameOrPath;
        if (string.IsNullOrWhiteSpace(named)) return null;
        static string Leaf(string p) => p.TrimEnd('/', '\\').Split('/', '\\')[^1];
        var candidates = new List<string> { model.Reference.Path, model.Directory };
        if (model.ConfigString("_name_or_path") is { } n) candidates.Add(n);
        candidates.AddRange(model.DeclaredBaseModels());
        return candidates.Any(c => string.Equals(Leaf(c), Leaf(named), StringComparison.OrdinalIgnoreCase)) ? null : named;
    }

    /// <summary>The input the merge method reads for this tensor of the base: adapted (computed in the read stage),
    /// replaced by the adapter's full tensor, or unchanged. Call after <see cref="Check"/>.</summary>
    public JobInput Adapt(JobInput input)
    {
        if (_adapted.TryGetValue(input.TensorName, out var adapted))
            return input with { File = null, Adaptation = adapted };
        if (_replacements.TryGetValue(input.TensorName, out var replacement))
            return input with { Tensor = replacement, File = File };
        return input;
    }

    /// <summary>How the adapter changes a base tensor ("+ LoRA r=8 scale=2", "replaced by the adapter's …"), or null.</summary>
    public string? Describe(string tensorName)
        => _adapted.TryGetValue(tensorName, out var a) ? a.Describe()
            : _replacements.TryGetValue(tensorName, out var t) ? $"replaced by the adapter's '{t.Name}'" : null;

    /// <summary>Bytes of the adapter file read for the planned transforms (factors, magnitudes, full tensors).</summary>
    public long BytesToRead => _adapted.Values.Sum(a => a.AdapterBytes) + _replacements.Values.Sum(t => t.ByteLength);

    /// <summary>Floating-point operations of the planned deltas (each tensor once).</summary>
    public long Flops => _adapted.Values.Sum(a => a.Flops);

    public void Dispose() => File.Dispose();

    /// <summary>A problem with one module, collected by <see cref="Check"/> with the others.</summary>
    private sealed class AdapterProblem(string message) : Exception(message);

    public override string ToString() => Directory;
}
