using System.Text.Json;
using DotnetMerge.Models;

namespace DotnetMerge.Safetensors;

/// <summary>Which weights format a model directory is read in.</summary>
public enum WeightsFormat
{
    /// <summary>safetensors files (<c>model.safetensors.index.json</c>, <c>model.safetensors</c>, <c>*.safetensors</c>).</summary>
    Safetensors,
    /// <summary>PyTorch zip checkpoints (<c>pytorch_model.bin.index.json</c>, <c>pytorch_model.bin</c>, one <c>*.bin</c>), read without unpickling code.</summary>
    PyTorchBin,
}

/// <summary>The weight files of one model directory, with a tensor-name lookup across shards. Discovery, per format:
/// the index (transformers' sharded layout, checked both ways against the shards), else the single file, else the
/// files of the format's extension. safetensors wins when a directory has both formats (as in transformers); a
/// directory with only PyTorch .bin weights is read from them (<see cref="Pickle.TorchBinFile"/>: headers from the
/// pickle, bytes from the zip records).</summary>
public sealed class ModelCheckpoint : IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";
    public const string BinIndexFileName = "pytorch_model.bin.index.json";
    public const string BinSingleFileName = "pytorch_model.bin";

    /// <summary>A PyTorch pickle that transformers' Trainer writes beside the weights (not a state dict): never a weight file.</summary>
    private const string TrainingArgumentsFile = "training_args.bin";

    private readonly Dictionary<string, (TensorInfo Info, ITensorFile File)> _tensors;

    private ModelCheckpoint(string directory, WeightsFormat format, List<ITensorFile> shards, Dictionary<string, (TensorInfo, ITensorFile)> tensors)
    {
        Directory = directory; Format = format; Shards = shards; _tensors = tensors;
        long total = 0;
        foreach (var shard in shards) total += shard.DataLength;
        TotalTensorBytes = total;
    }

    public string Directory { get; }

    /// <summary>The format the weights were read in.</summary>
    public WeightsFormat Format { get; }
    public IReadOnlyList<ITensorFile> Shards { get; }
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    /// <summary>Sum of all tensors' byte sizes (headers excluded).</summary>
    public long TotalTensorBytes { get; }

    public bool TryGetTensor(string name, out TensorInfo info, out ITensorFile file)
    {
        if (_tensors.TryGetValue(name, out var entry))
        {
            info = entry.Info; file = entry.File;
            return true;
        }
        info = null!; file = null!;
        return false;
    }

    /// <summary>The format a directory's weights are read in: safetensors when it has any safetensors weights, else
    /// PyTorch .bin when it has those, else null.</summary>
    public static WeightsFormat? DetectFormat(string directory)
    {
        if (WeightFileNames(directory, WeightsFormat.Safetensors, out _).Count > 0) return WeightsFormat.Safetensors;
        if (WeightFileNames(directory, WeightsFormat.PyTorchBin, out _).Count > 0) return WeightsFormat.PyTorchBin;
        return null;
    }

    /// <summary>Opens the weights of <paramref name="directory"/>: safetensors, else PyTorch .bin
    /// (<paramref name="format"/> forces one).</summary>
    public static ModelCheckpoint Open(string directory, WeightsFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new CheckpointException(directory, $"{directory}: the model directory {Models.PathKind.Describe(directory)}");
        var chosen = format ?? DetectFormat(directory)
            ?? throw new CheckpointException(directory,
                $"{directory}: no weights found (looked for {IndexFileName}, {SingleFileName}, *.safetensors, {BinIndexFileName}, {BinSingleFileName} and *.bin)");
        string indexFile = chosen == WeightsFormat.Safetensors ? IndexFileName : BinIndexFileName;
        string indexPath = Path.Combine(directory, indexFile);
        var fileNames = WeightFileNames(directory, chosen, out var weightMap);
        if (fileNames.Count == 0)
            throw new CheckpointException(directory, chosen == WeightsFormat.Safetensors
                ? $"{directory}: no safetensors weights found (looked for {IndexFileName}, {SingleFileName} and *.safetensors)"
                : $"{directory}: no PyTorch weights found (looked for {BinIndexFileName}, {BinSingleFileName} and *.bin)");
        if (chosen == WeightsFormat.PyTorchBin && weightMap is null && fileNames.Count > 1)
            throw new CheckpointException(directory,
                $"{directory}: several .bin files ({string.Join(", ", fileNames)}) and no {BinIndexFileName} saying which are the model's shards");

        var shards = new List<ITensorFile>(fileNames.Count);
        try
        {
            var tensors = new Dictionary<string, (TensorInfo, ITensorFile)>(StringComparer.Ordinal);
            foreach (var fileName in fileNames)
            {
                string shardPath = Path.Combine(directory, fileName);
                if (weightMap is not null && !File.Exists(shardPath))
                    throw new CheckpointException(indexPath, $"{indexPath}: shard '{fileName}' listed in the weight_map {Models.PathKind.Describe(shardPath)} in {directory}");
                ITensorFile shard = chosen == WeightsFormat.Safetensors ? SafetensorsFile.Open(shardPath) : Pickle.TorchBinFile.Open(shardPath);
                shards.Add(shard);
                foreach (var t in shard.Tensors)
                {
                    if (tensors.TryGetValue(t.Name, out var other))
                        throw new CheckpointException(directory,
                            $"{directory}: tensor '{t.Name}' is stored in two files: {Path.GetFileName(other.Item2.Path)} and {fileName}");
                    tensors.Add(t.Name, (t, shard));
                }
            }
            if (weightMap is not null) CheckIndexAgainstShards(indexPath, weightMap, tensors);
            return new ModelCheckpoint(directory, chosen, shards, tensors);
        }
        catch
        {
            foreach (var shard in shards) shard.Dispose();
            throw;
        }
    }

    /// <summary>Opens one weight file by its extension: a PyTorch checkpoint (<c>.bin</c>, <c>.pt</c>, <c>.pth</c>) or a
    /// safetensors file.</summary>
    public static ITensorFile OpenWeightFile(string path)
    {
        var extension = Path.GetExtension(path);
        if (extension.Equals(".bin", StringComparison.OrdinalIgnoreCase) || extension.Equals(".pt", StringComparison.OrdinalIgnoreCase)
            || extension.Equals(".pth", StringComparison.OrdinalIgnoreCase))
            return Pickle.TorchBinFile.Open(path);
        return SafetensorsFile.Open(path);
    }

    /// <summary>The weight files of one format: the index's shards, else the single file, else every file of the
    /// format's extension (for .bin, not training_args.bin), sorted.</summary>
    private static List<string> WeightFileNames(string directory, WeightsFormat format, out Dictionary<string, string>? weightMap)
    {
        bool safetensors = format == WeightsFormat.Safetensors;
        string indexPath = Path.Combine(directory, safetensors ? IndexFileName : BinIndexFileName);
        weightMap = null;
        if (File.Exists(indexPath))
        {
            weightMap = ReadWeightMap(indexPath);
            return [.. new SortedSet<string>(weightMap.Values, StringComparer.Ordinal)];
        }
        string single = safetensors ? SingleFileName : BinSingleFileName;
        if (File.Exists(Path.Combine(directory, single))) return [single];
        return System.IO.Directory.EnumerateFiles(directory, safetensors ? "*.safetensors" : "*.bin")
            .Select(p => Path.GetFileName(p))
            .Where(n => safetensors || !string.Equals(n, TrainingArgumentsFile, StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
    }

    public void Dispose()
    {
        foreach (var shard in Shards) shard.Dispose();
    }

    private static void CheckIndexAgainstShards(string indexPath, Dictionary<string, string> weightMap,
        Dictionary<string, (TensorInfo Info, ITensorFile File)> tensors)
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
}
