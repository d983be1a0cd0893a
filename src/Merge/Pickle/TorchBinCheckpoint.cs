using DotnetMerge.Safetensors;

namespace DotnetMerge.Pickle;

/// <summary>The PyTorch weights of one model directory: <c>pytorch_model.bin.index.json</c> and the shards it names
/// (checked both ways, like the safetensors index), else <c>pytorch_model.bin</c>, else the one <c>*.bin</c> there.</summary>
public sealed class TorchBinCheckpoint : IDisposable
{
    public const string IndexFileName = "pytorch_model.bin.index.json";
    public const string SingleFileName = "pytorch_model.bin";

    private TorchBinCheckpoint(string directory, List<TorchBinFile> files, List<(TorchBinTensor Tensor, TorchBinFile File)> tensors)
    {
        Directory = directory; Files = files; Tensors = tensors;
    }

    public string Directory { get; }
    public IReadOnlyList<TorchBinFile> Files { get; }

    /// <summary>Every tensor with the file it is in, in file order then pickle order.</summary>
    public IReadOnlyList<(TorchBinTensor Tensor, TorchBinFile File)> Tensors { get; }

    /// <summary>Whether a directory has PyTorch weights (a .bin index or a .bin file).</summary>
    public static bool HasWeights(string directory) =>
        File.Exists(Path.Combine(directory, IndexFileName)) || System.IO.Directory.EnumerateFiles(directory, "*.bin").Any();

    public static TorchBinCheckpoint Open(string directory)
    {
        string indexPath = Path.Combine(directory, IndexFileName);
        Dictionary<string, string>? weightMap = null;
        List<string> names;
        if (File.Exists(indexPath))
        {
            weightMap = ModelCheckpoint.ReadWeightMap(indexPath);
            names = [.. new SortedSet<string>(weightMap.Values, StringComparer.Ordinal)];
        }
        else if (File.Exists(Path.Combine(directory, SingleFileName))) names = [SingleFileName];
        else
        {
            names = [.. System.IO.Directory.EnumerateFiles(directory, "*.bin").Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)];
            if (names.Count != 1)
                throw new CheckpointException(directory, names.Count == 0
                    ? $"{directory}: no PyTorch weights found (looked for {IndexFileName}, {SingleFileName} and *.bin)"
                    : $"{directory}: several .bin files ({string.Join(", ", names)}) and no {IndexFileName} saying which are the model's shards");
        }
        var files = new List<TorchBinFile>();
        try
        {
            var tensors = new List<(TorchBinTensor, TorchBinFile)>();
            var where = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var name in names)
            {
                var path = Path.Combine(directory, name);
                if (!File.Exists(path))
                    throw new CheckpointException(indexPath, $"{indexPath}: shard '{name}' listed in the weight_map {Models.PathKind.Describe(path)} in {directory}");
                var file = TorchBinFile.Open(path);
                files.Add(file);
                foreach (var t in file.Tensors)
                {
                    if (!where.TryAdd(t.Name, name))
                        throw new CheckpointException(directory, $"{directory}: tensor '{t.Name}' is stored in two files: {where[t.Name]} and {name}");
                    tensors.Add((t, file));
                }
            }
            if (weightMap is not null)
            {
                foreach (var (tensor, shard) in weightMap)
                    if (!where.TryGetValue(tensor, out var actual) || actual != shard)
                        throw new CheckpointException(indexPath, $"{indexPath}: tensor '{tensor}' is mapped to {shard}, but " +
                            (actual is null ? "no shard holds it" : $"it is stored in {actual}"));
                foreach (var (tensor, shard) in where)
                    if (!weightMap.ContainsKey(tensor))
                        throw new CheckpointException(indexPath, $"{indexPath}: tensor '{tensor}' is stored in {shard} but missing from the weight_map");
            }
            return new TorchBinCheckpoint(directory, files, tensors);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var f in Files) f.Dispose();
    }
}
