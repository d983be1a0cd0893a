using System.Text.Json;

namespace DotnetMerge.Safetensors;

/// <summary>The safetensors files of one model directory, with a tensor-name lookup across shards.
/// Discovery: <c>model.safetensors.index.json</c> (transformers' sharded layout), else <c>model.safetensors</c>,
/// else every <c>*.safetensors</c> file in the directory.</summary>
public sealed class ModelCheckpoint : IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";

    private readonly Dictionary<string, (TensorInfo Info, SafetensorsFile File)> _tensors;

    private ModelCheckpoint(string directory, List<SafetensorsFile> shards, Dictionary<string, (TensorInfo, SafetensorsFile)> tensors)
    {
        Directory = directory; Shards = shards; _tensors = tensors;
        long total = 0;
        foreach (var shard in shards) total += shard.Header.DataLength;
        TotalTensorBytes = total;
    }

    public string Directory { get; }
    public IReadOnlyList<SafetensorsFile> Shards { get; }
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    /// <summary>Sum of all tensors' byte sizes (headers excluded).</summary>
    public long TotalTensorBytes { get; }

    public bool TryGetTensor(string name, out TensorInfo info, out SafetensorsFile file)
    {
        if (_tensors.TryGetValue(name, out var entry))
        {
            info = entry.Info; file = entry.File;
            return true;
        }
        info = null!; file = null!;
        return false;
    }

    public static ModelCheckpoint Open(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new CheckpointException(directory, $"{directory}: the model directory {Models.PathKind.Describe(directory)}");

        string indexPath = Path.Combine(directory, IndexFileName);
        Dictionary<string, string>? weightMap = null;
        List<string> fileNames;
        if (File.Exists(indexPath))
        {
            weightMap = ReadWeightMap(indexPath);
            var unique = new SortedSet<string>(weightMap.Values, StringComparer.Ordinal);
            fileNames = [.. unique];
        }
        else if (File.Exists(Path.Combine(directory, SingleFileName)))
        {
            fileNames = [SingleFileName];
        }
        else
        {
            fileNames = [];
            foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*.safetensors"))
                fileNames.Add(Path.GetFileName(path));
            fileNames.Sort(StringComparer.Ordinal);
            if (fileNames.Count == 0)
                throw new CheckpointException(directory, PickleCheckpoint(directory) is { } pickle
                    ? $"{directory}: has only PyTorch pickle weights ({pickle}); .bin checkpoints are not read yet: convert the model to safetensors first, " +
                      "e.g. with transformers: AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)"
                    : $"{directory}: no safetensors weights found (looked for {IndexFileName}, {SingleFileName} and *.safetensors)");
        }

        var shards = new List<SafetensorsFile>(fileNames.Count);
        try
        {
            var tensors = new Dictionary<string, (TensorInfo, SafetensorsFile)>(StringComparer.Ordinal);
            foreach (var fileName in fileNames)
            {
                string shardPath = Path.Combine(directory, fileName);
                if (weightMap is not null && !File.Exists(shardPath))
                    throw new CheckpointException(indexPath, $"{indexPath}: shard '{fileName}' listed in the weight_map {Models.PathKind.Describe(shardPath)} in {directory}");
                var shard = SafetensorsFile.Open(shardPath);
                shards.Add(shard);
                foreach (var t in shard.Header.Tensors)
                {
                    if (tensors.TryGetValue(t.Name, out var other))
                        throw new CheckpointException(directory,
                            $"{directory}: tensor '{t.Name}' is stored in two files: {Path.GetFileName(other.Item2.Path)} and {fileName}");
                    tensors.Add(t.Name, (t, shard));
                }
            }
            if (weightMap is not null) CheckIndexAgainstShards(indexPath, weightMap, tensors);
            return new ModelCheckpoint(directory, shards, tensors);
        }
        catch
        {
            foreach (var shard in shards) shard.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var shard in Shards) shard.Dispose();
    }

    private static void CheckIndexAgainstShards(string indexPath, Dictionary<string, string> weightMap,
        Dictionary<string, (TensorInfo Info, SafetensorsFile File)> tensors)
    {
        foreach (var (name, fileName) in weightMap)
        {
            if (!tensors.TryGetValue(name, out var actual))
                throw new CheckpointException(indexPath, $"{indexPath}: tensor '{name}' is mapped to {fileName}, but that file does not contain it");
            string actualFile = Path.GetFileName(actual.File.Path);
            if (!string.Equals(actualFile, fileName, StringComparison.Ordinal))
                throw new CheckpointException(indexPath, $"{indexPath}: tensor '{name}' is mapped to {fileName}, but it is stored in {actualFile}");
        }
        // The other direction: a tensor that a shard holds but the index leaves out. transformers loads whole shards
        // (it would load the tensor), mergekit looks tensors up in the index (it would not see it): the two readers
        // disagree on what the model holds, so the checkpoint is refused rather than merged one way silently.
        foreach (var (name, entry) in tensors)
        {
            if (!weightMap.ContainsKey(name))
                throw new CheckpointException(indexPath,
                    $"{indexPath}: tensor '{name}' is stored in {Path.GetFileName(entry.File.Path)} but missing from the weight_map; add it to the index (or remove it from the shard): tools disagree on whether such a tensor is part of the model");
        }
    }

    internal static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException ex)
        {
            throw new CheckpointException(indexPath, $"{indexPath}: not valid JSON ({ex.Message.Split('\n')[0].TrimEnd('\r')})", ex);
        }
        catch (IOException ex)
        {
            throw new CheckpointException(indexPath, $"{indexPath}: cannot read the index ({ex.Message})", ex);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(indexPath, $"{indexPath}: expected an object with a \"weight_map\" object (tensor name -> shard file)");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new CheckpointException(indexPath, $"{indexPath}: weight_map entry '{entry.Name}' must be a file name string");
                string file = entry.Value.GetString()!;
                if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or ".." || file.Contains('/') || file.Contains('\\'))
                    throw new CheckpointException(indexPath, $"{indexPath}: weight_map entry '{entry.Name}' names '{file}', which is not a plain file name in the model directory");
                if (!result.TryAdd(entry.Name, file))
                    throw new CheckpointException(indexPath, $"{indexPath}: tensor '{entry.Name}' appears twice in the weight_map");
            }
            return result;
        }
    }

    /// <summary>The PyTorch pickle weights of a directory without safetensors (<c>pytorch_model.bin</c>, its index or
    /// shards), or null.</summary>
    private static string? PickleCheckpoint(string directory)
    {
        foreach (var name in new[] { "pytorch_model.bin.index.json", "pytorch_model.bin" })
            if (File.Exists(Path.Combine(directory, name))) return name;
        return System.IO.Directory.EnumerateFiles(directory, "pytorch_model*.bin").Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault();
    }
}
