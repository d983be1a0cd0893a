using DotnetMerge.Output;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Hub;

/// <summary>Which files of a repository a merge needs: config.json, generation_config.json, the model card, the
/// tokenizer files, the safetensors index and the shards it names. Never PyTorch .bin/.pt weights, never sub-folders.</summary>
public static class HubFileSelection
{
    public const string ConfigFile = "config.json";
    public const string ModelCard = "README.md";

    /// <summary>The small files, fetched first (the index tells which shards follow).</summary>
    public static IReadOnlyList<string> SmallFiles(IReadOnlyCollection<string> repoFiles)
    {
        var wanted = new[] { ConfigFile, ModelCheckpoint.IndexFileName, ModelCard }.Concat(ModelFiles.TokenizerFiles);
        return wanted.Distinct(StringComparer.Ordinal).Where(repoFiles.Contains).ToList();
    }

    /// <summary>The safetensors files to read, from the index when there is one (<paramref name="indexPath"/>), else
    /// model.safetensors, else every top-level *.safetensors; the same rule as <see cref="ModelCheckpoint.Open"/>.</summary>
    public static IReadOnlyList<string> WeightFiles(IReadOnlyCollection<string> repoFiles, string? indexPath)
    {
        if (indexPath is not null && File.Exists(indexPath))
            return ModelCheckpoint.ReadWeightMap(indexPath).Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (repoFiles.Contains(ModelCheckpoint.SingleFileName)) return [ModelCheckpoint.SingleFileName];
        return repoFiles.Where(f => f.IndexOf('/') < 0 && f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A PEFT adapter's config, the one small file an adapter repository must have.</summary>
    public const string AdapterConfigFile = "adapter_config.json";

    /// <summary>A PEFT adapter's weights.</summary>
    public const string AdapterWeightsFile = "adapter_model.safetensors";

    /// <summary>What an adapter needs from its repository, small files first: adapter_config.json (and the card).</summary>
    public static IReadOnlyList<string> AdapterSmallFiles(IReadOnlyCollection<string> repoFiles)
        => new[] { AdapterConfigFile, ModelCard }.Where(repoFiles.Contains).ToList();

    /// <summary>PyTorch pickle weights, named to say why nothing was downloaded.</summary>
    public static IReadOnlyList<string> PickleWeights(IReadOnlyCollection<string> repoFiles)
        => repoFiles.Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
            || f.EndsWith(".pth", StringComparison.OrdinalIgnoreCase)).ToList();
}
