using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;
using DotnetMerge.Soups;

namespace DotnetMerge.Deltas;

/// <summary>Options of <see cref="LoraExtraction.ExtractAsync"/> (the flags of <c>dotnet merge extract-lora</c>,
/// mergekit-extract-lora's names in brackets).</summary>
public sealed record LoraExtractionOptions
{
    /// <summary>Largest rank of a module (<c>--rank</c>, <c>--max-rank</c>); mergekit's default is 128.</summary>
    public int MaxRank { get; init; } = 128;

    /// <summary>Per-module rank by energy: the smallest rank whose singular values hold this share of ‖ΔW‖²_F (0 &lt; e ≤ 1),
    /// at most <see cref="MaxRank"/> (<c>--rank-energy</c>). Null: every module gets <see cref="MaxRank"/>.</summary>
    public double? RankEnergy { get; init; }

    /// <summary>Singular values at or below this are dropped (<c>--sv-epsilon</c>, 0: none).</summary>
    public double SvEpsilon { get; init; }

    /// <summary>√S on both factors (mergekit's default), or S on A alone.</summary>
    public bool DistributeScale { get; init; } = true;

    /// <summary>Input embeddings as <c>lora_embedding_A/B</c> and the LM head as a LoRA module, instead of saving both
    /// in full (<c>modules_to_save</c>).</summary>
    public bool EmbedLora { get; init; }

    /// <summary>Module paths or leaf names saved in full from the fine-tune (<c>--save-module</c>).</summary>
    public IReadOnlyList<string> SaveModules { get; init; } = [];

    /// <summary>Modules whose path matches any of these regexes are left out (<c>-e</c>, <c>--exclude-regex</c>).</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>When given, only modules whose path matches one of these regexes are extracted (<c>-i</c>, <c>--include-regex</c>).</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Leave out changed tensors that cannot be a LoRA pair (norms, 3-D weights) instead of saving their
    /// modules in full (<c>--skip-undecomposable</c>); they are listed either way.</summary>
    public bool SkipUndecomposable { get; init; }

    /// <summary>Storage dtype of the adapter's tensors; null: the fine-tune's dtype.</summary>
    public Dtype? Dtype { get; init; }

    /// <summary>--force, --allow-crimes, working directory.</summary>
    public MergeOptions Merge { get; init; } = new();
}

/// <summary>How one module of the fine-tune went into the adapter.</summary>
public enum ExtractedKind
{
    /// <summary>A LoRA pair lora_A/lora_B (nn.Linear).</summary>
    Lora,
    /// <summary>lora_embedding_A/B (nn.Embedding, with --embed-lora).</summary>
    EmbeddingLora,
    /// <summary>Saved in full from the fine-tune (modules_to_save).</summary>
    Full,
    /// <summary>The bias delta of a LoRA module (lora_B.bias, with lora_bias).</summary>
    BiasDelta,
    /// <summary>Changed but left out (--skip-undecomposable, or an excluded module); the merge of base + adapter will
    /// not have this change.</summary>
    Skipped,
}

/// <summary>One module: its rank and how much of ‖ΔW‖ the stored factors miss (relative Frobenius error).</summary>
public sealed record ExtractedModule(string Module, ExtractedKind Kind, int Rank, double RelativeError, string? Note = null);

public sealed record LoraExtractionResult(string OutputDirectory, IReadOnlyList<ExtractedModule> Modules, int UnchangedTensors,
    IReadOnlyList<string> NonFloat, double OverallRelativeError, int MaxRealizedRank);

/// <summary>mergekit-extract-lora: ΔW = W_ft − W_base per module, truncated by the randomized SVD of <see cref="LowRank"/>,
/// written as a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors in PEFT's tensor names) that PEFT and
/// <c>dotnet merge</c>'s own <c>base+adapter</c> load: r = lora_alpha = the largest rank used, rank_pattern/alpha_pattern
/// for the modules of smaller rank (so the scale is 1 everywhere and ΔW ≈ B·A). Unlike mergekit it never drops a changed
/// tensor silently (each one is a LoRA pair, saved in full, or listed as skipped with the reason), refuses to write an
/// empty adapter, and targets exactly the extracted modules (leaf names only where every module of that name is one).
/// Streams module by module: one ΔW in float64 at a time; factors go to a scratch file in the staging directory and the
/// adapter file is assembled from it once every rank is known.</summary>
public static class LoraExtraction
{
    private const string Prefix = "base_model.model.";

    public static async Task<LoraExtractionResult> ExtractAsync(string baseModel, string fineTune, string outputDirectory,
        LoraExtractionOptions options, IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        progress ??= NullProgress.Instance;
        Validate(options);
        var exclude = options.Exclude.Select(r => Pattern(r, "--exclude-regex")).ToList();
        var include = options.Include.Select(r => Pattern(r, "--include-regex")).ToList();

        var given = LinearDefinition.FullPaths([baseModel], options.Merge.WorkingDirectory).Concat(LinearDefinition.FullPaths([fineTune], options.Merge.WorkingDirectory)).ToList();
        if (given[0] == given[1])
            throw new ArgumentException($"--base and --model are the same model ('{given[0]}'): there is no difference to extract");
        var paths = LinearDefinition.FullPaths([baseModel, fineTune], options.Merge.WorkingDirectory);
        OutputTransaction.CheckLocation(outputDirectory, options.Merge.Force, paths);
        progress.Stage("checking the base and the fine-tune");
        var definition = LinearDefinition.Create(paths, [1.0, 1.0], "LoRA extraction: base and fine-tune (compatibility check)");
        using var plan = LinearDefinition.PlanSameShapes(definition, options.Merge with { Dtype = null, OutDtype = null });
        foreach (var w in plan.Warnings) progress.Warning(w);

        // Which tensors belong to which module, and what each module becomes (decided from names and shapes alone).
        var jobs = plan.Jobs.Where(j => j.Kind == JobKind.Merge).ToList();
        var nonFloat = plan.Jobs.Where(j => j.Kind == JobKind.Copy).Select(j => j.OutputName).ToList();
        var saved = new HashSet<string>(options.SaveModules, StringComparer.Ordinal);
        var storage = options.Dtype ?? plan.Jobs.Select(j => j.Inputs[1].Tensor.Dtype).FirstOrDefault(d => d.CanDecode(), Dtype.F32);
        if (storage is not (Dtype.F32 or Dtype.BF16 or Dtype.F16))
            throw new ArgumentException($"an adapter is stored as float32, bfloat16 or float16, not {storage.HeaderName()}");

        using var transaction = OutputTransaction.Begin(outputDirectory, options.Merge.Force, paths);
        var scratchPath = Path.Combine(transaction.StagingDirectory, "factors.scratch");
        var entries = new List<(string Name, long[] Shape, long Offset, long Length)>();
        var modules = new List<ExtractedModule>();
        var loraModules = new HashSet<string>(StringComparer.Ordinal);
        var fullModules = new HashSet<string>(StringComparer.Ordinal);
        var biasDeltas = new HashSet<string>(StringComparer.Ordinal);
        int unchanged = 0;
        double errorSquares = 0, normSquares = 0;
        progress.Stage($"extracting LoRA factors of {jobs.Count} tensors (rank ≤ {options.MaxRank.ToString(CultureInfo.InvariantCulture)})");
        // Bytes to write, as planned before any SVD: a rank-r pair per 2-D weight (at most the weight), the rest in full.
        long estimate = jobs.Sum(j => j.OutputShape.Length == 2
            ? storage.ByteCount(Math.Min(j.OutputShape[0] * j.OutputShape[1], (long)options.MaxRank * (j.OutputShape[0] + j.OutputShape[1])))
            : storage.ByteCount(TensorShape.ElementCount(j.OutputShape)));
        progress.Started(jobs.Count, plan.BytesToRead, estimate);
        await using (var scratch = new FileStream(scratchPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose))
        {
            var buffer = Array.Empty<byte>();
            void Append(string name, long[] shape, byte[] bytes)
            {
                entries.Add((name, shape, scratch.Position, bytes.Length));
                scratch.Write(bytes);
            }

            // Weights first, so a module's bias knows whether its weight became a LoRA pair.
            foreach (var job in jobs.Select((j, i) => (Job: j, Index: i)).OrderBy(x => x.Job.OutputName.EndsWith(".bias", StringComparison.Ordinal) ? 1 : 0).ThenBy(x => x.Index).Select(x => x.Job))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var name = job.OutputName;
                var module = ModuleOf(name);
                var b = TensorStreaming.Of(job.Inputs[0], cancellationToken);
                var f = TensorStreaming.Of(job.Inputs[1], cancellationToken);
                var delta = TaskVector.ReadDelta(b, f, null, ref buffer);
                double norm = Norm2(delta);
                progress.TensorWritten(name, job.BytesFromDisk, 0);
                if (norm == 0) { unchanged++; continue; }
                if (!double.IsFinite(norm))
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.NonFiniteInput, $"tensor '{name}': the difference between the fine-tune and the base is not finite (NaN or infinite values in an input)");

                if (exclude.Any(r => r.IsMatch(module)) || (include.Count > 0 && !include.Any(r => r.IsMatch(module))))
                {
                    modules.Add(new ExtractedModule(name, ExtractedKind.Skipped, 0, 1, "excluded by a regex"));
                    errorSquares += norm; normSquares += norm;
                    continue;
                }

                var shape = job.OutputShape;
                bool isBias = name.EndsWith(".bias", StringComparison.Ordinal);
                bool head = job.IsEmbedding && IsOutputHead(name);
                bool inputEmbedding = job.IsEmbedding && !head;
                bool full = saved.Contains(module) || saved.Contains(Leaf(module)) || fullModules.Contains(module)
                            || (job.IsEmbedding && !options.EmbedLora);
                if (isBias && loraModules.Contains(module) && !full)
                {
                    // A changed bias of a LoRA module: PEFT's lora_B.bias (lora_bias), added at scale 1.
                    Append(Prefix + module + ".lora_B.bias", shape, TaskVector.EncodeFactor(delta, storage, out var stored));
                    biasDeltas.Add(module);
                    double biasError = StoredError(delta, stored);
                    errorSquares += biasError; normSquares += norm;
                    modules.Add(new ExtractedModule(name, ExtractedKind.BiasDelta, 0, Math.Sqrt(biasError / norm)));
                    continue;
                }
                if (!full && shape.Length == 2 && name.EndsWith(".weight", StringComparison.Ordinal))
                {
                    int m = checked((int)shape[0]), n = checked((int)shape[1]);
                    if (inputEmbedding) (delta, m, n) = (Transpose(delta, m, n), n, m); // PEFT's embedding delta is (B·A)ᵀ
                    var (bFactor, aFactor, rank, singular) = LowRank.Decompose(delta, m, n, options.MaxRank, TaskVector.Fnv1a(name));
                    rank = ChooseRank(singular, rank, norm, options);
                    if (rank == 0)
                    {
                        // Every singular value is below --sv-epsilon: the module's change is dropped, and said so.
                        modules.Add(new ExtractedModule(name, ExtractedKind.Skipped, 0, 1, $"every singular value is at most --sv-epsilon {options.SvEpsilon.ToString("G4", CultureInfo.InvariantCulture)}"));
                        errorSquares += norm; normSquares += norm;
                        continue;
                    }
                    var (left, right) = Truncate(bFactor, aFactor, m, n, bFactor.Length / m, rank, singular, options.DistributeScale);
                    var aBytes = TaskVector.EncodeFactor(right, storage, out var aStored);
                    var bBytes = TaskVector.EncodeFactor(left, storage, out var bStored);
                    if (inputEmbedding)
                    {
                        Append(Prefix + module + ".lora_embedding_A", [rank, n], aBytes);
                        Append(Prefix + module + ".lora_embedding_B", [m, rank], bBytes);
                    }
                    else
                    {
                        Append(Prefix + module + ".lora_A.weight", [rank, n], aBytes);
                        Append(Prefix + module + ".lora_B.weight", [m, rank], bBytes);
                    }
                    var (error, _) = TaskVector.ReconstructionError(delta, m, n, bStored, aStored, rank);
                    errorSquares += error; normSquares += norm;
                    loraModules.Add(module);
                    modules.Add(new ExtractedModule(name, inputEmbedding ? ExtractedKind.EmbeddingLora : ExtractedKind.Lora, rank, Math.Sqrt(error / norm)));
                    continue;
                }
                if (!full && options.SkipUndecomposable)
                {
                    modules.Add(new ExtractedModule(name, ExtractedKind.Skipped, 0, 1, "not a 2-D weight, and --skip-undecomposable is set"));
                    errorSquares += norm; normSquares += norm;
                    continue;
                }
                if (loraModules.Contains(module))
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.ExtractionConflict,
                        $"tensor '{name}' changed, but its module '{module}' is a LoRA pair and PEFT cannot also save it in full; save the module in full with --save-module {Leaf(module)}");
                // Saved in full from the fine-tune: PEFT replaces the module's tensors with these.
                Append(Prefix + name, shape, FullBytes(f, storage));
                fullModules.Add(module);
                modules.Add(new ExtractedModule(name, ExtractedKind.Full, 0, 0, job.IsEmbedding ? (head ? "LM head" : "embeddings") : null));
                normSquares += norm;
            }

            if (entries.Count == 0)
                throw new MergeException(MergeErrorKind.Input, ErrorIds.NothingToExtract, unchanged > 0 && modules.Count == 0
                    ? $"the fine-tune '{paths[1]}' has the same weights as the base '{paths[0]}': there is no difference to extract, so no adapter was written"
                    : $"nothing to write: every changed tensor was left out ({string.Join(", ", modules.Take(5).Select(m => $"'{m.Module}': {m.Note}"))}); no adapter was written");
            if (fullModules.Overlaps(loraModules))
                throw new MergeException(MergeErrorKind.Input, ErrorIds.ExtractionConflict,
                    $"module '{fullModules.Intersect(loraModules).First()}' would be both a LoRA pair and saved in full; give it to --save-module");

            // The adapter file, assembled from the scratch file now that every shape is known.
            progress.Stage("writing adapter_model.safetensors");
            var outputs = entries.Select(e => new OutputTensor(e.Name, storage, e.Shape)).ToList();
            await using (var writer = new ShardedModelWriter(transaction.StagingDirectory, outputs, 0, new Dictionary<string, string> { ["format"] = "pt" }))
            {
                foreach (var e in entries)
                {
                    var bytes = new byte[e.Length];
                    scratch.Position = e.Offset;
                    scratch.ReadExactly(bytes);
                    await writer.WriteTensorAsync(e.Name, bytes, cancellationToken).ConfigureAwait(false);
                }
                await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        File.Move(Path.Combine(transaction.StagingDirectory, "model.safetensors"), Path.Combine(transaction.StagingDirectory, "adapter_model.safetensors"));

        int maxRank = modules.Where(m => m.Kind is ExtractedKind.Lora or ExtractedKind.EmbeddingLora).Select(m => m.Rank).DefaultIfEmpty(0).Max();
        var baseSource = plan.Models.First(m => m.Reference.Equals(ModelReference.Parse(paths[0])));
        var allModules = baseSource.Checkpoint.TensorNames.Select(ModuleOf).Distinct(StringComparer.Ordinal).ToList();
        var baseName = Path.IsPathRooted(paths[0]) ? paths[0] : paths[0].Split('@')[0]; // a hub id without its revision
        var config = AdapterConfig(baseName, modules, loraModules, fullModules, biasDeltas.Count > 0, maxRank, allModules);
        File.WriteAllText(Path.Combine(transaction.StagingDirectory, "adapter_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        double overall = normSquares > 0 ? Math.Sqrt(errorSquares / normSquares) : 0;
        if (options.Merge.WriteModelCard)
            File.WriteAllText(Path.Combine(transaction.StagingDirectory, "README.md"), Card(Path.GetFileName(transaction.OutputDirectory), baseName, paths[1], modules, maxRank, overall, options));
        transaction.Commit(cancellationToken);
        return new LoraExtractionResult(transaction.OutputDirectory, modules, unchanged, nonFloat, overall, maxRank);
    }

    private static void Validate(LoraExtractionOptions o)
    {
        if (o.MaxRank < 1) throw new ArgumentException($"--rank {o.MaxRank.ToString(CultureInfo.InvariantCulture)}: the rank must be at least 1");
        if (o.RankEnergy is { } e && !(e > 0 && e <= 1))
            throw new ArgumentException($"--rank-energy {e.ToString("R", CultureInfo.InvariantCulture)}: give the share of the delta's energy to keep, above 0 and at most 1 (e.g. 0.95)");
        if (!double.IsFinite(o.SvEpsilon) || o.SvEpsilon < 0)
            throw new ArgumentException($"--sv-epsilon {o.SvEpsilon.ToString("R", CultureInfo.InvariantCulture)}: must be a finite number of at least 0");
    }

    private static Regex Pattern(string pattern, string option)
    {
        try { return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException e) { throw new ArgumentException($"{option} '{pattern}' is not a valid regular expression: {e.Message}"); }
    }

    /// <summary>The module path of a tensor: its name without the parameter (<c>.weight</c>, <c>.bias</c>).</summary>
    internal static string ModuleOf(string tensorName)
    {
        int dot = tensorName.LastIndexOf('.');
        return dot < 0 ? tensorName : tensorName[..dot];
    }

    private static string Leaf(string module) => module[(module.LastIndexOf('.') + 1)..];

    private static bool IsOutputHead(string name)
        => name.Contains("lm_head", StringComparison.Ordinal) || name.Contains("embed_out", StringComparison.Ordinal) || name.StartsWith("output.", StringComparison.Ordinal);

    private static double Norm2(double[] v)
    {
        double s = 0;
        foreach (var x in v) s += x * x;
        return s;
    }

    private static double StoredError(double[] exact, float[] stored)
    {
        double s = 0;
        for (int i = 0; i < exact.Length; i++) s += (exact[i] - stored[i]) * (exact[i] - stored[i]);
        return s;
    }

    /// <summary>The rank kept: at most the sketch's rank; with --rank-energy the smallest t whose σ₁² + … + σₜ² reach that
    /// share of ‖ΔW‖²_F (computed exactly from ΔW, not from the sketch); singular values ≤ --sv-epsilon are dropped.</summary>
    internal static int ChooseRank(double[] singular, int rank, double normSquared, LoraExtractionOptions options)
    {
        int r = rank;
        if (options.SvEpsilon > 0) r = Math.Min(r, singular.Take(r).Count(s => s > options.SvEpsilon));
        if (options.RankEnergy is { } energy)
        {
            double target = energy * normSquared, captured = 0;
            for (int t = 0; t < r; t++)
            {
                captured += singular[t] * singular[t];
                if (captured >= target * (1 - 1e-12)) return t + 1;
            }
        }
        return r;
    }

    /// <summary>The leading <paramref name="rank"/> columns of B (m×k, row-major) and rows of A (k×n), with the singular
    /// values split √σ on both (distribute-scale) or left on A (A's rows are σₜ·vₜᵀ as decomposed).</summary>
    private static (double[] Left, double[] Right) Truncate(double[] b, double[] a, int m, int n, int k, int rank, double[] singular, bool distribute)
    {
        var left = new double[(long)m * rank];
        var right = new double[(long)rank * n];
        for (int t = 0; t < rank; t++)
        {
            double toB = distribute && singular[t] > 0 ? Math.Sqrt(singular[t]) : 1;
            for (int i = 0; i < m; i++) left[(long)i * rank + t] = b[(long)i * k + t] * toB;
            double toA = 1 / toB;
            for (int j = 0; j < n; j++) right[(long)t * n + j] = a[(long)t * n + j] * toA;
        }
        return (left, right);
    }

    private static double[] Transpose(double[] d, int m, int n)
    {
        var t = new double[d.Length];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) t[(long)j * m + i] = d[(long)i * n + j];
        return t;
    }

    private static byte[] FullBytes(TensorStreaming.Source source, Dtype storage)
    {
        if (source.Tensor.Dtype == storage) return TensorStreaming.ReadAll(source);
        var values = new float[source.ElementCount];
        var scratch = Array.Empty<byte>();
        foreach (var (start, length) in TensorStreaming.Chunks(source.ElementCount))
            TensorStreaming.Read(source, start, values.AsSpan((int)start, length), ref scratch);
        var bytes = new byte[storage.ByteCount(values.Length)];
        DtypeConversion.Encode(storage, values, bytes, 0);
        return bytes;
    }

    /// <summary>PEFT's adapter_config.json: targets are leaf names where every module of that name in the base is
    /// extracted, else exact module paths (PEFT matches a list entry exactly or as a suffix); the same for
    /// modules_to_save. r = lora_alpha = the largest rank; smaller ranks in rank_pattern with an equal alpha_pattern.</summary>
    private static JsonObject AdapterConfig(string baseName, IReadOnlyList<ExtractedModule> extracted, HashSet<string> lora,
        HashSet<string> full, bool loraBias, int maxRank, IReadOnlyList<string> allModules)
    {
        JsonArray Names(HashSet<string> chosen)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var group in chosen.GroupBy(Leaf))
            {
                bool everyOne = allModules.Where(m => Leaf(m) == group.Key).All(chosen.Contains);
                if (everyOne) names.Add(group.Key);
                else foreach (var m in group) names.Add(m);
            }
            return new JsonArray(names.Select(n => (JsonNode)n).ToArray());
        }
        var pattern = new JsonObject();
        var alpha = new JsonObject();
        foreach (var m in extracted.Where(m => m.Kind is ExtractedKind.Lora or ExtractedKind.EmbeddingLora && m.Rank != maxRank))
        {
            var key = Regex.Escape(ModuleOf(m.Module));
            pattern[key] = m.Rank;
            alpha[key] = m.Rank;
        }
        return new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseName,
            ["r"] = Math.Max(1, maxRank),
            ["lora_alpha"] = Math.Max(1, maxRank),
            ["rank_pattern"] = pattern,
            ["alpha_pattern"] = alpha,
            ["target_modules"] = Names(lora),
            ["modules_to_save"] = full.Count > 0 ? Names(full) : null,
            ["lora_bias"] = loraBias,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["fan_in_fan_out"] = false,
            ["lora_dropout"] = 0.0,
            ["bias"] = "none",
            ["inference_mode"] = true,
        };
    }

    private static string Card(string title, string baseModel, string fineTune, IReadOnlyList<ExtractedModule> modules, int maxRank, double overall, LoraExtractionOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("---\n");
        if (!Path.IsPathRooted(baseModel)) sb.Append("base_model: ").Append(baseModel).Append('\n'); // the hub's metadata takes ids only
        sb.Append("library_name: peft\ntags:\n- lora\n- extracted\n- dotnet-merge\n---\n\n# ").Append(title).Append("\n\n");
        sb.Append("A LoRA adapter extracted by dotnet-merge from the difference between a fine-tune and its base (truncated SVD of each module's ΔW).\n\n");
        sb.Append("- base: `").Append(baseModel).Append("`\n- fine-tune: `").Append(fineTune).Append("`\n");
        sb.Append("- rank: ").Append(options.RankEnergy is { } e ? $"per module, the smallest holding {e.ToString("G4", inv)} of ‖ΔW‖², at most {options.MaxRank.ToString(inv)}" : $"{options.MaxRank.ToString(inv)} (fixed)")
          .Append("; largest used ").Append(maxRank.ToString(inv)).Append('\n');
        sb.Append("- relative Frobenius error over all changed tensors: ").Append(overall.ToString("G4", inv)).Append("\n\n");
        sb.Append("| tensor | stored as | rank | relative error |\n|---|---|---:|---:|\n");
        foreach (var m in modules)
            sb.Append("| `").Append(m.Module).Append("` | ").Append(m.Kind switch
            {
                ExtractedKind.Lora => "LoRA", ExtractedKind.EmbeddingLora => "embedding LoRA", ExtractedKind.Full => "full (modules_to_save)",
                ExtractedKind.BiasDelta => "bias delta (lora_B.bias)",
                _ => "left out: " + m.Note,
            }).Append(" | ").Append(m.Rank > 0 ? m.Rank.ToString(inv) : "-").Append(" | ").Append(m.RelativeError.ToString("G4", inv)).Append(" |\n");
        if (modules.Any(m => m.Kind == ExtractedKind.Full && m.Note is "embeddings" or "LM head"))
            sb.Append("\nThe embeddings and/or LM head are saved in full; if the fine-tune's vocabulary differs from the base's, call `resize_token_embeddings` on the base before loading the adapter.\n");
        sb.Append("\nLoad it with PEFT (`PeftModel.from_pretrained(base, \"").Append(title).Append("\")`) or merge it with dotnet-merge: `model: BASE+").Append(title).Append("`.\n");
        return sb.ToString();
    }
}
