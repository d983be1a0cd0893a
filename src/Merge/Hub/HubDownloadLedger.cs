using System.Collections.Concurrent;

namespace DotnetMerge.Hub;

/// <summary>What a run would still download for one hub model, as resolution found it: 0 bytes for a model whose
/// snapshot is complete in the cache; for a header-only check, the announced sizes of the weight files not cached,
/// less what a partial download (<c>.incomplete</c>) already holds.</summary>
public sealed record HubPendingDownload(HubModelId Model, string Commit, string Directory, long Bytes, int Files)
{
    public bool Cached => Files == 0;
}

/// <summary>Collects, while models are resolved, the bytes each hub model still needs from the network, keyed by the
/// directory the planner opened it from (the snapshot, or the header stand-in). Filled from HEAD answers only: no weight
/// byte is read to know it. <c>plan</c> and <c>check</c> print it.</summary>
public sealed class HubDownloadLedger
{
    private readonly ConcurrentDictionary<string, HubPendingDownload> _byDirectory = new(StringComparer.Ordinal);

    internal void Record(HubPendingDownload pending) => _byDirectory[Path.GetFullPath(pending.Directory)] = pending;

    /// <summary>The entry for a model opened from <paramref name="directory"/>, or null for a local model.</summary>
    public HubPendingDownload? For(string directory) => _byDirectory.TryGetValue(Path.GetFullPath(directory), out var p) ? p : null;

    public IReadOnlyCollection<HubPendingDownload> All => _byDirectory.Values.ToList();

    /// <summary>The hub models among <paramref name="directories"/> (the plan's models, in order, each once) with what
    /// each still needs; local models are left out.</summary>
    public IReadOnlyList<HubPendingDownload> Among(IEnumerable<string> directories)
        => directories.Select(For).OfType<HubPendingDownload>().DistinctBy(p => p.Directory).ToList();

    /// <summary>The hub models and hub adapters among a plan's <paramref name="models"/>.</summary>
    public IReadOnlyList<HubPendingDownload> Among(IEnumerable<Models.ModelSource> models)
        => Among(models.SelectMany(m => m.Adapter is { } adapter ? new[] { m.Directory, adapter.Directory } : [m.Directory]));

    /// <summary>One line for <c>plan</c> and <c>check</c>: the total, then per model its bytes and files or "cached";
    /// null when no model comes from the hub.</summary>
    public static string? Describe(IReadOnlyList<HubPendingDownload> models)
    {
        if (models.Count == 0) return null;
        var each = models.Select(m => m.Model + ": " + (m.Cached ? "cached" : $"{Safetensors.ShardSize.Format(m.Bytes)} in {m.Files} file{(m.Files == 1 ? "" : "s")}"));
        return $"to download from the hub: {Safetensors.ShardSize.Format(models.Sum(m => m.Bytes))} ({string.Join("; ", each)})";
    }
}
