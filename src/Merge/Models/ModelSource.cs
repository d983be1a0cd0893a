using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Adapters;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Planning;
using DotnetMerge.Hub;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Models;

/// <summary>One input model of a merge: its directory, its weights (safetensors, else PyTorch .bin; headers only), its config.json
/// and its inferred layer layout. Opening reads headers and small JSON files, never tensor data.</summary>
public sealed class ModelSource : IDisposable
{
    private readonly ModelCheckpoint? _checkpoint;

    private ModelSource(ModelReference reference, string directory, ModelCheckpoint checkpoint, JsonObject? config)
    {
        Reference = reference; Directory = directory; _checkpoint = checkpoint; Config = config;
        Layout = LayerLayout.Infer(checkpoint.Shards.SelectMany(s => s.Tensors.Select(t => t.Name)));
    }

    private ModelSource(ModelReference reference, StageOutput stage, JsonObject? config)
    {
        Reference = reference; Directory = stage.FilesDirectory; Stage = stage; Config = config;
        Layout = LayerLayout.Infer(stage.Plan.Jobs.Select(j => j.OutputName));
    }

    public ModelReference Reference { get; }
    public string Name => Reference.Path;

    /// <summary>The model directory. For a stage's output (<see cref="Stage"/>), a directory holding the files the stage
    /// writes beside its tensors (config.json, tokenizer, model card), exactly as it would write them.</summary>
    public string Directory { get; }

    /// <summary>The weight files (safetensors or PyTorch .bin); a stage's output (<see cref="Stage"/>) has none.</summary>
    public ModelCheckpoint Checkpoint => _checkpoint
        ?? throw new InvalidOperationException($"'{Name}' is the output of a stage of this definition, not a checkpoint on disk");

    /// <summary>Set when this input is the output of an earlier stage of a multi-stage definition, computed in the
    /// same pass: its tensors are that stage's planned output tensors (names, dtypes, shapes, in write order).</summary>
    public StageOutput? Stage { get; }

    /// <summary>Looks up a tensor: in the checkpoint, or among a stage's planned outputs (then <paramref name="file"/>
    /// is null and the bytes start at 0).</summary>
    public bool TryGetTensor(string name, out TensorInfo info, out ITensorFile? file)
    {
        if (Stage is { } stage)
        {
            file = null;
            if (stage.TryGetJob(name, out var job))
            {
                info = new TensorInfo(name, job.OutputDtype, job.OutputShape, 0, job.OutputBytes);
                return true;
            }
            info = null!;
            return false;
        }
        var found = Checkpoint.TryGetTensor(name, out info, out var stored);
        file = stored;
        return found;
    }

    /// <summary>The directories this input's data comes from (for a stage's output: every input of that stage, recursively).</summary>
    public IEnumerable<string> InputDirectories => Stage is { } stage ? stage.Plan.Models.SelectMany(m => m.InputDirectories) : [Directory];
    /// <summary>The LoRA adapter applied to this model's tensors in the read stage (a <c>model+adapter</c> reference), or null.</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>Applies <paramref name="adapter"/> to this model (owned from now on: disposed with it).</summary>
    public void UseAdapter(LoraAdapter adapter) => Adapter = adapter;

    /// <summary>config.json, when the model has one.</summary>
    public JsonObject? Config { get; }
    public LayerLayout Layout { get; }

    /// <summary>Layer count: from the tensor names, which is what the checkpoint really holds.</summary>
    public int LayerCount => Layout.LayerCount;

    public long? VocabSize => ConfigInt("vocab_size") ?? ConfigInt("text_config.vocab_size");

    public long? ConfigInt(string dottedKey)
    {
        JsonNode? node = Config;
        foreach (var part in dottedKey.Split('.'))
        {
            if (node is not JsonObject o || !o.TryGetPropertyValue(part, out node)) return null;
        }
        return node is JsonValue v && v.TryGetValue<long>(out var l) ? l : null;
    }

    public string? ConfigString(string key)
        => Config is not null && Config.TryGetPropertyValue(key, out var n) && n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>The first entry of config.json's <c>architectures</c>.</summary>
    public string? Architecture
        => Config is not null && Config.TryGetPropertyValue("architectures", out var n) && n is JsonArray a && a.Count > 0
            && a[0] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>SHA-256 of tokenizer.json (or tokenizer.model), or null when the model has neither.</summary>
    public string? TokenizerFingerprint()
    {
        foreach (var file in new[] { "tokenizer.json", "tokenizer.model" })
        {
            var path = System.IO.Path.Combine(Directory, file);
            if (!File.Exists(path)) continue;
            using var stream = File.OpenRead(path);
            return file + ":" + Convert.ToHexString(SHA256.HashData(stream));
        }
        return null;
    }

    /// <summary>The base model the model card declares (README.md front matter <c>base_model:</c>), if any.</summary>
    public IReadOnlyList<string> DeclaredBaseModels() => ModelCardFrontMatter.ReadBaseModels(System.IO.Path.Combine(Directory, "README.md"));

    /// <summary>Resolves a model reference's path (not its adapter's) to a directory: relative paths are tried next to the definition file first,
    /// then in the working directory; a name that is no existing directory and reads as a Hugging Face id
    /// (<c>org/name[@revision]</c>) resolves through the hub cache, downloading what is missing (<see cref="HubResolver"/>).
    /// <paramref name="hub"/> defaults to the environment's settings (HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE...). <paramref name="localOnly"/>: never the hub (the path a local
    /// directory of that name would have). <paramref name="adapter"/>: the reference is a LoRA adapter, so a hub id fetches
    /// adapter_config.json and adapter_model.safetensors.</summary>
    public static string ResolveDirectory(ModelReference reference, string? definitionDirectory, string? workingDirectory, HubSettings? hub = null,
        bool localOnly = false, bool adapter = false)
    {
        var path = reference.Path;
        if (path.StartsWith("~/", StringComparison.Ordinal))
            path = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        if (System.IO.Path.IsPathRooted(path)) return System.IO.Path.GetFullPath(path);
        var candidates = new List<string>();
        if (definitionDirectory is not null) candidates.Add(System.IO.Path.GetFullPath(System.IO.Path.Combine(definitionDirectory, path)));
        candidates.Add(System.IO.Path.GetFullPath(System.IO.Path.Combine(workingDirectory ?? Environment.CurrentDirectory, path)));
        // org/name is a hub id unless 'org' is a local folder (then a missing 'name' is a local typo, not a download).
        var hubId = candidates.Any(c => System.IO.Directory.Exists(System.IO.Path.GetDirectoryName(c))) ? null : HubModelId.TryCreate(reference.Path, reference.Revision);
        var localHubId = HubModelId.TryCreate(reference.Path, reference.Revision);
        foreach (var c in candidates)
        {
            if (!System.IO.Directory.Exists(c)) continue;
            if (localHubId is not null && hub is not null && System.IO.Directory.Exists(new HubCache(hub.CacheDirectory, localHubId).Folder))
                hub.Log?.Invoke($"model '{reference.Path}': the local directory {c}, not the Hugging Face model of the same name in the cache (a local path wins)");
            return c;
        }
        if (hubId is null || localOnly) return candidates[0];
        try { return new HubResolver(hub ?? HubSettings.FromEnvironment()).Resolve(hubId, adapter); }
        catch (MergeException e) { throw e.WithPrefix($"{reference.Location}: "); }
    }

    /// <summary>Opens a model directory (headers and config only).</summary>
    public static ModelSource Open(ModelReference reference, string directory)
    {
        if (!System.IO.Directory.Exists(directory) && PathKind.Of(directory) is var kind && kind != PathKind.Kind.Missing)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable,
                $"{reference.Location}: model '{reference.Path}': '{directory}' {PathKind.Describe(kind, directory)}, not a model directory.");
        if (!System.IO.Directory.Exists(directory))
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"{reference.Location}: model '{reference.Path}' not found: no directory '{directory}'.");
        }
        ModelCheckpoint checkpoint;
        try { checkpoint = ModelCheckpoint.Open(directory); }
        catch (Exception e) when (e is CheckpointException or SafetensorsFormatException or IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"{reference.Location}: model '{reference.Path}': {e.Message}", e);
        }
        JsonObject? config = null;
        var configPath = System.IO.Path.Combine(directory, "config.json");
        if (File.Exists(configPath))
        {
            try { config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject; }
            catch (JsonException e)
            {
                checkpoint.Dispose();
                throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"{configPath}: invalid JSON in config.json: {e.Message}", e);
            }
        }
        return new ModelSource(reference, directory, checkpoint, config);
    }

    /// <summary>An earlier stage's output as an input model: headers from the stage's plan, config.json and the other
    /// files from <see cref="StageOutput.FilesDirectory"/>.</summary>
    public static ModelSource ForStage(ModelReference reference, StageOutput stage)
    {
        var configPath = System.IO.Path.Combine(stage.FilesDirectory, "config.json");
        var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject : null;
        return new ModelSource(reference, stage, config);
    }

    /// <summary>Closes the checkpoint. A stage's output is owned by its <see cref="StageOutput"/>, which is disposed
    /// with the multi-stage plan.</summary>
    public void Dispose()
    {
        _checkpoint?.Dispose();
        Adapter?.Dispose();
    }

    /// <summary>The name, with the adapter for an adapted model: "base + adapter".</summary>
    public override string ToString() => Reference.LoraPath is { } lora ? Name + " + " + lora : Name;

    internal static string Invariant(long v) => v.ToString(CultureInfo.InvariantCulture);
}
