using DotnetMerge.Output;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Hub;

/// <summary>Which files of a repository a merge needs: config.json, generation_config.json, the model card, the
/// tokenizer files, the safetensors index and the shards it names. PyTorch .bin weights (pytorch_model.bin, or the
/// index pytorch_model.bin.index.json and its shards) only when the repository has no safetensors weights, as
/// <see cref="ModelCheckpoint.Open"/> reads them; never .pt/.pth files, never sub-folders.</summary>
public static class HubFileSelection
{
    public const string ConfigFile = "config.json";
    public const string ModelCard = "README.md";

    /// <summary>The small files, fetched first (the index tells which shards follow).</summary>
    public static IReadOnlyList<string> SmallFiles(IReadOnlyCollection<string> repoFiles)
    {
        var wanted = new[] { ConfigFile, ModelCheckpoint.IndexFileName, ModelCard }.Concat(ModelFiles.TokenizerFiles);
        if (!HasSafetensorsWeights(repoFiles)) wanted = wanted.Append(ModelCheckpoint.BinIndexFileName);
        return wanted.Distinct(StringComparer.Ordinal).Where(repoFiles.Contains).ToList();
    }

    /// <summary>Whether the repository has safetensors weights (then they are what is read, and no .bin is downloaded).</summary>
    public static bool HasSafetensorsWeights(IReadOnlyCollection<string> repoFiles) =>
        repoFiles.Contains(ModelCheckpoint.IndexFileName) || repoFiles.Any(IsTopLevelSafetensors);

    private static bool IsTopLevelSafetensors(string f) => f.IndexOf('/') < 0 && f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    /// <summary>The weight files to read, by the rule of <see cref="ModelCheckpoint.Open"/>: the safetensors files, from
    /// the index when there is one (<paramref name="indexPath"/>), else model.safetensors, else every top-level
    /// *.safetensors; without any, the PyTorch .bin files, from their index (<paramref name="binIndexPath"/>), else
    /// pytorch_model.bin, else the one top-level .bin (training_args.bin aside). Empty when there is nothing to read.</summary>
    public static IReadOnlyList<string> WeightFiles(IReadOnlyCollection<string> repoFiles, string? indexPath, string? binIndexPath = null)
    {
        if (indexPath is not null && File.Exists(indexPath)) return Shards(indexPath);
        if (repoFiles.Contains(ModelCheckpoint.SingleFileName)) return [ModelCheckpoint.SingleFileName];
        var safetensors = repoFiles.Where(IsTopLevelSafetensors).Order(StringComparer.Ordinal).ToList();
        if (safetensors.Count > 0 || HasSafetensorsWeights(repoFiles)) return safetensors;
        if (binIndexPath is not null && File.Exists(binIndexPath)) return Shards(binIndexPath);
        if (repoFiles.Contains(ModelCheckpoint.BinSingleFileName)) return [ModelCheckpoint.BinSingleFileName];
        var bins = repoFiles.Where(f => f.IndexOf('/') < 0 && f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)
                                        && !f.Equals("training_args.bin", StringComparison.OrdinalIgnoreCase)).ToList();
        return bins.Count == 1 ? bins : [];
    }

    private static List<string> Shards(string indexPath) =>
        ModelCheckpoint.ReadWeightMap(indexPath).Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>A PEFT adapter's config, the one small file an adapter repository must have.</summary>
    public const string AdapterConfigFile = "adapter_config.json";

    /// <summary>A PEFT adapter's weights.</summary>
    public const string AdapterWeightsFile = "adapter_model.safetensors";

    /// <summary>What an adapter needs from its repository, small files first: adapter_config.json (and the card).</summary>
    public static IReadOnlyList<string> AdapterSmallFiles(IReadOnlyCollection<string> repoFiles)
        => new[] { AdapterConfigFile, ModelCard }.Where(repoFiles.Contains).ToList();

    /// <summary>PyTorch pickle files, named to say why nothing was downloaded.</summary>
    public static IReadOnlyList<string> PickleWeights(IReadOnlyCollection<string> repoFiles)
        => repoFiles.Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
            || f.EndsWith(".pth", StringComparison.OrdinalIgnoreCase)).ToList();
}
