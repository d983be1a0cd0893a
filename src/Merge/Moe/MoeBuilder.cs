using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using DotnetMerge.Adapters;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Moe;

/// <summary>What <see cref="MoeBuilder.BuildAsync"/> wrote.</summary>
public sealed record MoeResult(string OutputDirectory, MoeArchitecture Architecture, int Experts, int Layers, int TensorCount, long TensorBytes,
    int ShardCount, IReadOnlyList<string> CopiedFiles);

/// <summary><c>dotnet merge moe CONFIG OUT</c> (mergekit-moe): dense fine-tunes of one base become the experts of a sparse
/// MoE. Attention, norms, embeddings and head are the base's tensors; each layer's MLP becomes a router (from the gate
/// mode) and one copy of each expert model's MLP, byte for byte unless a dtype, noise or residual scale changes it.
/// Streams one tensor at a time through the shard writer into a staged output that is renamed into place.</summary>
public static class MoeBuilder
{
    private static readonly Regex MlpTensor = new(@"^(?<prefix>(?:.*\.)?layers\.(?<layer>\d+)\.)mlp\.(?<rest>.+)$", RegexOptions.CultureInvariant);
    private const string EmbedName = "model.embed_tokens.weight";
    private const string LmHeadName = "lm_head.weight";

    /// <summary>The source of one output tensor.</summary>
    private abstract record Source(OutputTensor Output);
    private sealed record Copied(OutputTensor Output, MoeTensor Input, MoeExpert? Expert, int ExpertIndex) : Source(Output);
    private sealed record Router(OutputTensor Output, double[] Values) : Source(Output);
    private sealed record Zeros(OutputTensor Output) : Source(Output);

    /// <summary>Reads nothing but headers until the plan is complete and valid; then writes.</summary>
    public static async Task<MoeResult> BuildAsync(MoeConfig config, string outputDirectory, MergeOptions options, IMergeProgress? progress = null,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        progress ??= NullProgress.Instance;
        progress.Stage("opening the base and the experts");
        var configDirectory = Path.GetDirectoryName(Path.GetFullPath(config.Path));
        var opened = new Dictionary<ModelReference, ModelSource>();
        try
        {
            ModelSource Open(ModelReference reference, string role)
            {
                if (opened.TryGetValue(reference, out var found)) return found;
                var directory = ModelSource.ResolveDirectory(reference, configDirectory, options.WorkingDirectory, options.Hub);
                var model = ModelSource.Open(reference, directory);
                opened[reference] = model;
                if (reference.LoraPath is { } lora)
                {
                    // model+adapter: every tensor of the model is read with the adapter applied, as a merge reads it.
                    model.UseAdapter(LoraAdapter.Open(ModelSource.ResolveDirectory(new ModelReference(lora, reference.LoraRevision) { Location = reference.Location },
                        configDirectory, options.WorkingDirectory, options.Hub, adapter: true)));
                    var findings = model.Adapter!.Check(model, options.AllowCrimes, reference.Location);
                    foreach (var warning in findings.Where(f => !f.IsError)) progress.Warning(warning.ToString());
                    var errors = findings.Where(f => f.IsError).ToList();
                    if (errors.Count > 0)
                        throw new MergeException(MergeErrorKind.Input, errors[0].Id,
                            $"{reference.Location}: {role} '{reference}': " + string.Join("; ", errors.Select(e => e.Message)));
                }
                return model;
            }
            var baseModel = Open(config.BaseModel, "base_model");
            var experts = config.Experts.Select(e => Open(e.Model, "expert")).ToList();
            var shared = config.SharedExperts.Select(e => Open(e.Model, "shared expert")).ToList();

            // The output location is checked before the routers are computed (a forward pass can take minutes).
            OutputTransaction.CheckLocation(outputDirectory, options.Force, opened.Values.Select(m => m.Directory));
            var architecture = ChooseArchitecture(config, baseModel);
            var plan = Plan(config, architecture, baseModel, experts, shared);
            if (architecture == MoeArchitecture.Mixtral && !BitOperations.IsPow2(config.Experts.Count))
                progress.Warning(new DefinitionDiagnostic(ErrorIds.MoeExpertCount, DiagnosticSeverity.Warning,
                    $"{config.Experts.Count.ToString(CultureInfo.InvariantCulture)} experts is not a power of two: transformers loads the model, llama.cpp's Mixtral conversion does not",
                    config.ExpertsLocation, "use 2, 4 or 8 experts for llama.cpp").ToString());

            progress.Stage(config.GateMode switch
            {
                MoeGateMode.CheapEmbed => "computing the routers from the prompts' embeddings",
                MoeGateMode.Hidden or MoeGateMode.HiddenAverage => "computing the routers from the base's hidden states on the prompts",
                _ => "drawing the routers",
            });
            var routers = ComputeRouters(config, architecture, baseModel, plan, options.Seed ?? 0, progress, ct);
            var sources = Sources(config, architecture, baseModel, experts, shared, plan, routers);

            using var transaction = OutputTransaction.Begin(outputDirectory, options.Force, opened.Values.Select(m => m.Directory));
            var declared = sources.Select(s => s.Output).ToList();
            long bytes = 0, toRead = sources.OfType<Copied>().Sum(c => c.Input.Input.BytesFromDisk);
            progress.Started(declared.Count, toRead, declared.Sum(t => t.ByteLength));
            int shardCount;
            try
            {
                await using (var writer = new ShardedModelWriter(transaction.StagingDirectory, declared, options.MaxShardBytes,
                                 new Dictionary<string, string> { ["format"] = "pt" }))
                {
                    foreach (var source in sources)
                    {
                        ct.ThrowIfCancellationRequested();
                        var (data, read) = Materialize(source, options.Seed ?? 0, ct);
                        await writer.WriteTensorAsync(source.Output.Name, data, ct).ConfigureAwait(false);
                        bytes += data.Length;
                        progress.TensorWritten(source.Output.Name, read, data.Length);
                    }
                    await writer.CompleteAsync(ct).ConfigureAwait(false);
                    shardCount = writer.Shards.Count;
                }
                progress.Stage("writing config.json, the tokenizer and mergekit_moe_config.yml");
                var outConfig = MoeArchitectures.Config(baseModel.Config!, architecture, config.Experts.Count, config.ExpertsPerToken, plan.Intermediate,
                    shared.Count > 0 ? plan.Intermediate : null, plan.Tied, config.Dtype ?? plan.EmbedDtype);
                File.WriteAllText(Path.Combine(transaction.StagingDirectory, "config.json"), outConfig.ToJsonString(ModelFiles.JsonOptions) + "\n");
                var copied = new List<string>();
                if (options.CopyTokenizer)
                    foreach (var file in ModelFiles.TokenizerFiles)
                    {
                        var from = Path.Combine(baseModel.Directory, file);
                        if (!File.Exists(from)) continue;
                        File.Copy(from, Path.Combine(transaction.StagingDirectory, file));
                        copied.Add(file);
                    }
                File.WriteAllText(Path.Combine(transaction.StagingDirectory, "mergekit_moe_config.yml"), config.Text);
                transaction.Commit(ct);
                return new MoeResult(transaction.OutputDirectory, architecture, config.Experts.Count, plan.Layers.Count, declared.Count, bytes, shardCount, copied);
            }
            catch (Exception e) when (OutputErrors.From(e, transaction.OutputDirectory) is { } error)
            {
                throw error;
            }
        }
        finally
        {
            foreach (var m in opened.Values) m.Dispose();
        }
    }

    /// <summary>The config's architecture, else Qwen3-MoE for a qwen3 base, Mixtral where it fits (no shared expert, a llama
    /// or mistral base), else Qwen2-MoE.</summary>
    public static MoeArchitecture ChooseArchitecture(MoeConfig config, ModelSource baseModel)
    {
        var family = baseModel.ConfigString("model_type");
        if (family is null)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                $"{config.BaseModel.Location}: base model '{config.BaseModel}' has no model_type in config.json ({baseModel.Directory}): moe needs to know its family (llama, mistral, qwen2 or qwen3)");
        MoeArchitecture architecture = config.Architecture
            ?? (MoeArchitectures.InputFamilies(MoeArchitecture.Qwen3Moe).Contains(family) ? MoeArchitecture.Qwen3Moe
                : config.SharedExperts.Count == 0 && MoeArchitectures.InputFamilies(MoeArchitecture.Mixtral).Contains(family) ? MoeArchitecture.Mixtral
                : MoeArchitecture.Qwen2Moe);
        if (!MoeArchitectures.InputFamilies(architecture).Contains(family))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                $"{config.BaseModel.Location}: base model '{config.BaseModel}' is a {family} model; {MoeArchitectures.DisplayName(architecture)} is built from " +
                string.Join(" or ", MoeArchitectures.InputFamilies(architecture)) + " models" +
                (family == "qwen2" ? " (a qwen2 base makes Qwen2-MoE: add one shared expert and architecture: qwen)" : "") +
                (family == "qwen3" ? " (a qwen3 base makes Qwen3-MoE: architecture: qwen3, or leave architecture out)" : ""));
        if (architecture == MoeArchitecture.Qwen3Moe && config.SharedExperts.Count > 0)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                $"{config.BaseModel.Location}: base model '{config.BaseModel}' ({family}) makes Qwen3-MoE, which has no shared expert; the config has {config.SharedExperts.Count.ToString(CultureInfo.InvariantCulture)}: remove shared_experts");
        if (architecture == MoeArchitecture.Qwen2Moe && config.SharedExperts.Count != 1)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                $"{config.BaseModel.Location}: base model '{config.BaseModel}' ({family}) makes Qwen2-MoE, which has exactly one shared expert; the config has {config.SharedExperts.Count.ToString(CultureInfo.InvariantCulture)}: add 'shared_experts: [{{source_model: ...}}]'");
        return architecture;
    }

    /// <summary>The layers, their prefixes and MLP shapes, from the base; every expert checked against them.</summary>
    private sealed record MoePlan(IReadOnlyList<string> Layers, long Intermediate, int Hidden, bool Tied, Dtype EmbedDtype, MoeTensor Embedding);

    private static MoePlan Plan(MoeConfig config, MoeArchitecture architecture, ModelSource baseModel, IReadOnlyList<ModelSource> experts, IReadOnlyList<ModelSource> shared)
    {
        string Where(ModelSource m) => $"{m.Reference.Location}: model '{m.Reference}'";
        var prefixes = new SortedDictionary<int, string>();
        foreach (var t in AllTensors(baseModel))
        {
            if (MlpTensor.Match(t.Name) is not { Success: true } m) continue;
            var rest = m.Groups["rest"].Value;
            if (!MoeArchitectures.Projections.Any(p => rest == p + ".weight"))
                throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                    $"{Where(baseModel)}: tensor '{t.Name}' is not one of a llama-family MLP's gate_proj, up_proj and down_proj weights; moe cannot place it in an expert");
            prefixes[int.Parse(m.Groups["layer"].Value, CultureInfo.InvariantCulture)] = m.Groups["prefix"].Value;
        }
        if (prefixes.Count == 0)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                $"{Where(baseModel)}: no layer has mlp.gate_proj/up_proj/down_proj weights; moe takes llama-family (llama, mistral, qwen2, qwen3) models");
        var layers = prefixes.Values.ToList();
        if (MoeTensor.Find(baseModel, EmbedName) is not { Info.Shape.Length: 2 } embedding)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(baseModel)}: no 2-D '{EmbedName}'");
        var embed = embedding.Info;
        int hidden = checked((int)embed.Shape[1]);
        long intermediate = -1;
        foreach (var prefix in layers)
            foreach (var p in MoeArchitectures.Projections)
            {
                if (!baseModel.TryGetTensor(prefix + "mlp." + p + ".weight", out var t, out _))
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(baseModel)}: '{prefix}mlp.{p}.weight' is missing");
                if (t.Shape.Length != 2) throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(baseModel)}: '{t.Name}' is not 2-D");
                long inner = p == "down_proj" ? t.Shape[1] : t.Shape[0], outer = p == "down_proj" ? t.Shape[0] : t.Shape[1];
                if (outer != hidden) throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(baseModel)}: '{t.Name}' {Shape(t.Shape)} does not fit the hidden size {hidden}");
                if (intermediate < 0) intermediate = inner;
                else if (inner != intermediate)
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(baseModel)}: '{t.Name}' {Shape(t.Shape)}: the layers' MLPs differ in size; every expert of a layer has one size");
            }
        foreach (var expert in experts.Concat(shared).Distinct())
        {
            if (ReferenceEquals(expert, baseModel)) continue;
            if (expert.LayerCount != baseModel.LayerCount)
                throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                    $"{Where(expert)} has {expert.LayerCount.ToString(CultureInfo.InvariantCulture)} layers and the base {baseModel.LayerCount.ToString(CultureInfo.InvariantCulture)}: experts are fine-tunes of the base");
            foreach (var prefix in layers)
                foreach (var p in MoeArchitectures.Projections)
                {
                    var name = prefix + "mlp." + p + ".weight";
                    baseModel.TryGetTensor(name, out var b, out _);
                    if (!expert.TryGetTensor(name, out var t, out _))
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, $"{Where(expert)}: '{name}' is missing (the base has it)");
                    if (!t.Shape.SequenceEqual(b.Shape))
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeModelMismatch,
                            $"{Where(expert)}: '{name}' is {Shape(t.Shape)} and the base's {Shape(b.Shape)}: experts are fine-tunes of the base");
                    if (!t.Dtype.CanDecode() && (config.Dtype is not null || ExpertOf(config, expert)?.NoiseScale is not null || ExpertOf(config, expert)?.ResidualScale is not null))
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"{Where(expert)}: '{name}' is {t.Dtype.HeaderName()}, which cannot be converted");
                }
        }
        bool hasHead = baseModel.TryGetTensor(LmHeadName, out _, out _);
        bool ties = baseModel.Config?["tie_word_embeddings"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<bool>(out var tie) && tie;
        if (!hasHead && !ties)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeNoLmHead,
                $"{Where(baseModel)} has no '{LmHeadName}' and its config.json does not set tie_word_embeddings: true, so the output would have no head; " +
                "if the model ties its head to the embeddings, set tie_word_embeddings: true in its config.json");
        return new MoePlan(layers, intermediate, hidden, !hasHead, config.Dtype ?? embed.Dtype, embedding);
    }

    private static MoeExpert? ExpertOf(MoeConfig config, ModelSource model)
        => config.Experts.Concat(config.SharedExperts).FirstOrDefault(e => e.Model == model.Reference && (e.NoiseScale is not null || e.ResidualScale is not null));

    private static MoeRouters ComputeRouters(MoeConfig config, MoeArchitecture architecture, ModelSource baseModel, MoePlan plan, ulong seed, IMergeProgress progress,
        CancellationToken ct)
    {
        var shared = MoeArchitectures.GatesSharedExpert(architecture) ? config.SharedExperts[0] : null;
        if (!config.UsesPrompts)
            return MoeGates.Compute(config.GateMode, config.Experts, shared, plan.Layers.Count, plan.Hidden, seed, null);
        int? bos = baseModel.ConfigInt("bos_token_id") is { } b ? checked((int)b) : null;
        using var tokenizer = PromptTokenizer.Open(baseModel.Directory, config.BaseModel.ToString(), bos);
        MoeRouters routers;
        if (config.GateMode == MoeGateMode.CheapEmbed)
            routers = MoeGates.Compute(config.GateMode, config.Experts, shared, plan.Layers.Count, plan.Hidden, seed,
                prompts => MoeGates.EmbeddingVector(plan.Embedding, prompts.Select(tokenizer.Encode).ToList()));
        else
        {
            // One forward pass over every distinct prompt, layer by layer; each expert's row averages its prompts' states.
            var forward = LlamaForward.Create(baseModel);
            var experts = shared is null ? config.Experts : config.Experts.Append(shared);
            var distinct = experts.SelectMany(e => e.PositivePrompts.Concat(e.NegativePrompts)).Distinct(StringComparer.Ordinal).ToList();
            progress.Stage($"running the base on {distinct.Count.ToString(CultureInfo.InvariantCulture)} prompt(s) for the hidden states of {plan.Layers.Count.ToString(CultureInfo.InvariantCulture)} layers");
            var states = forward.LayerInputs(plan.Layers, distinct.Select(tokenizer.Encode).ToList(), config.GateMode == MoeGateMode.Hidden, ct);
            var byPrompt = distinct.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => states[x.i], StringComparer.Ordinal);
            routers = MoeGates.Compute(config.GateMode, config.Experts, shared, plan.Layers.Count, plan.Hidden, seed, null, prompts =>
            {
                var mean = new double[plan.Layers.Count][];
                for (int l = 0; l < mean.Length; l++)
                {
                    mean[l] = new double[plan.Hidden];
                    foreach (var prompt in prompts)
                        for (int i = 0; i < plan.Hidden; i++) mean[l][i] += byPrompt[prompt][l][i] / prompts.Count;
                }
                return mean;
            });
        }
        for (int l = 0; l < routers.Rows.Length && config.Experts.Count >= 2 && config.Experts.Count <= plan.Hidden; l++)
        {
            double condition = MoeGates.ConditionNumber(routers.Rows[l], config.Experts.Count, plan.Hidden);
            if (condition > 5)
                progress.Warning(new DefinitionDiagnostic(ErrorIds.MoeSimilarPrompts, DiagnosticSeverity.Warning,
                    $"the router rows of layer {l.ToString(CultureInfo.InvariantCulture)} have condition number {condition.ToString("G3", CultureInfo.InvariantCulture)} (over 5): the experts' prompts are too similar for the router to tell them apart",
                    config.ExpertsLocation, "give each expert prompts of its own specialty, or negative prompts").ToString());
            if (condition > 5) break; // one warning: the rows of cheap_embed are the same in every layer
        }
        return routers;
    }

    private static List<Source> Sources(MoeConfig config, MoeArchitecture architecture, ModelSource baseModel, IReadOnlyList<ModelSource> experts,
        IReadOnlyList<ModelSource> shared, MoePlan plan, MoeRouters routers)
    {
        var sources = new List<Source>();
        var layerIndex = plan.Layers.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i, StringComparer.Ordinal);
        var done = new HashSet<string>(StringComparer.Ordinal);
        var biases = MoeArchitectures.RequiredAttentionBiases(architecture);
        Dtype Out(Dtype stored) => stored.CanDecode() ? config.Dtype ?? stored : stored;
        Copied Copy(string outName, ModelSource model, string name, MoeExpert? expert, int index)
        {
            var input = MoeTensor.Find(model, name) ?? throw new InvalidOperationException($"'{name}' of '{model.Reference}' was checked and is gone");
            return new Copied(new OutputTensor(outName, Out(input.Info.Dtype), input.Info.Shape), input, expert, index);
        }
        foreach (var t in AllTensors(baseModel))
        {
            if (MlpTensor.Match(t.Name) is { Success: true } m)
            {
                var prefix = m.Groups["prefix"].Value;
                if (!done.Add(prefix)) continue;
                int l = layerIndex[prefix];
                sources.Add(new Router(new OutputTensor(MoeArchitectures.RouterTensor(architecture, prefix), plan.EmbedDtype, [config.Experts.Count, plan.Hidden]), routers.Rows[l]));
                for (int e = 0; e < experts.Count; e++)
                    foreach (var p in MoeArchitectures.Projections)
                        sources.Add(Copy(MoeArchitectures.ExpertTensor(architecture, prefix, e, p), experts[e], prefix + "mlp." + p + ".weight", config.Experts[e], e));
                if (shared.Count == 1)
                {
                    foreach (var p in MoeArchitectures.Projections)
                        sources.Add(Copy(MoeArchitectures.SharedExpertTensor(architecture, prefix, p), shared[0], prefix + "mlp." + p + ".weight", config.SharedExperts[0], experts.Count));
                    if (MoeArchitectures.GatesSharedExpert(architecture))
                        sources.Add(new Router(new OutputTensor(MoeArchitectures.SharedExpertGateTensor(prefix), plan.EmbedDtype, [1, plan.Hidden]), routers.SharedRows![l]));
                }
                continue;
            }
            sources.Add(Copy(t.Name, baseModel, t.Name, null, -1));
            foreach (var bias in biases)
            {
                var weight = bias[..^".bias".Length] + ".weight";
                if (!t.Name.EndsWith("." + weight, StringComparison.Ordinal)) continue;
                var biasName = t.Name[..^".weight".Length] + ".bias";
                if (!baseModel.TryGetTensor(biasName, out _, out _))
                    sources.Add(new Zeros(new OutputTensor(biasName, Out(t.Dtype), [t.Shape[0]])));
            }
        }
        return sources;
    }

    private static (byte[] Data, long Read) Materialize(Source source, ulong seed, CancellationToken ct)
    {
        var output = source.Output;
        if (output.ByteLength > Array.MaxLength)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor,
                $"tensor '{output.Name}' has {output.ByteLength.ToString(CultureInfo.InvariantCulture)} bytes; moe holds one tensor in memory and supports tensors up to {Array.MaxLength.ToString(CultureInfo.InvariantCulture)} bytes");
        if (source is Copied c)
        {
            // The source tensor as a merge reads it: stored, or with the model's LoRA adapter applied (in its dtype).
            var stored = c.Input.ReadAll(ct);
            long read = c.Input.Input.BytesFromDisk;
            double? noise = c.Expert?.NoiseScale is > 0 ? c.Expert.NoiseScale : null;
            double? residual = c.Expert?.ResidualScale is { } s && c.Input.Input.TensorName.EndsWith(".down_proj.weight", StringComparison.Ordinal) ? s : null;
            var dtype = c.Input.Info.Dtype;
            if (output.Dtype == dtype && noise is null && residual is null) return (stored, read);
            var values = new float[c.Input.Info.ElementCount];
            DtypeConversion.Decode(dtype, stored, 0, values);
            if (residual is { } scale) for (int i = 0; i < values.Length; i++) values[i] = (float)(values[i] * scale);
            if (noise is { } sigma)
            {
                // N(0, sigma) per element, keyed by (seed, expert, tensor name, element): the same noise for a seed everywhere.
                uint key = Philox.Fnv1a32("moe.noise." + c.Output.Name);
                for (int i = 0; i < values.Length; i++)
                {
                    double u1 = 1.0 - Philox.Uniform(seed, (uint)c.ExpertIndex, key, 2L * i), u2 = Philox.Uniform(seed, (uint)c.ExpertIndex, key, 2L * i + 1);
                    values[i] = (float)(values[i] + sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                }
            }
            var converted = GC.AllocateUninitializedArray<byte>((int)output.ByteLength);
            DtypeConversion.Encode(output.Dtype, values, converted, 0);
            return (converted, read);
        }
        var data = GC.AllocateUninitializedArray<byte>((int)output.ByteLength);
        switch (source)
        {
            case Router r:
                DtypeConversion.Encode(output.Dtype, r.Values.Select(v => (float)v).ToArray(), data, 0);
                return (data, 0);
            case Zeros:
                Array.Clear(data);
                return (data, 0);
            default:
                throw new InvalidOperationException("unknown tensor source");
        }
    }

    private static IEnumerable<TensorInfo> AllTensors(ModelSource model) => model.Checkpoint.Shards.SelectMany(s => s.Tensors);

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}
