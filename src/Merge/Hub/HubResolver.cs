using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Hub;

/// <summary>Turns a hub id into a local snapshot directory. The cache comes first: a snapshot that already holds the
/// config and every weight file (fetched by huggingface-cli, transformers or an earlier run) is used in place with no
/// network. Otherwise the revision is resolved to a commit, and what is missing is downloaded into the shared cache
/// layout (blobs, snapshot symlinks, refs). Offline, a missing file is an error that names it.</summary>
public sealed class HubResolver
{
    private readonly HubSettings _settings;

    public HubResolver(HubSettings settings) => _settings = settings;

    /// <summary>Synchronous form for the planner, which opens models one by one.</summary>
    public string Resolve(HubModelId model, bool adapter = false) => ResolveAsync(model, adapter).GetAwaiter().GetResult();

    /// <summary>The snapshot directory of <paramref name="model"/> with what a merge reads from it. With
    /// <paramref name="adapter"/>, the repository is a PEFT LoRA adapter: adapter_config.json and adapter_model.safetensors
    /// are what it must hold and what is fetched.</summary>
    public async Task<string> ResolveAsync(HubModelId model, bool adapter = false)
    {
        var ct = _settings.Cancellation;
        if (HubModelId.RevisionProblem(model.Revision) is { } problem)
            throw new HubException(HubFailure.BadReference, $"{model.RepoId}: {problem}");
        var cache = new HubCache(_settings.CacheDirectory, model);
        if (_settings.RefreshRevisions && !_settings.Offline && !model.RevisionIsCommit)
        {
            using var refresh = new HubClient(_settings);
            var current = await refresh.GetRepoInfoAsync(model, model.Revision, ct).ConfigureAwait(false);
            Disk(cache.CacheDirectory, () => { cache.EnsureCacheDirectoryTag(); cache.WriteRef(current.Commit); });
        }
        var commit = cache.CachedCommit();
        if (commit is not null && MissingFiles(cache, commit, adapter) is { Count: 0 })
        {
            _settings.Log?.Invoke($"model '{model}': Hugging Face cache, commit {commit[..12]} ({cache.SnapshotDirectory(commit)})");
            _settings.Downloads?.Record(new HubPendingDownload(model, commit, cache.SnapshotDirectory(commit), 0, 0));
            return cache.SnapshotDirectory(commit);
        }
        if (_settings.Offline) throw NotCached(model, cache, commit, adapter);

        using var client = new HubClient(_settings);
        var info = await client.GetRepoInfoAsync(model, model.Revision, ct).ConfigureAwait(false);
        commit = info.Commit;
        Disk(cache.CacheDirectory, () => { cache.EnsureCacheDirectoryTag(); cache.WriteRef(commit); });

        var clock = Stopwatch.StartNew();
        long bytes = 0;
        int files = 0;
        async Task FetchAll(IEnumerable<string> names)
        {
            await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _settings.ParallelDownloads), CancellationToken = ct },
                async (file, token) =>
                {
                    long got = await FetchAsync(client, cache, commit, file, token).ConfigureAwait(false);
                    if (got > 0) { Interlocked.Add(ref bytes, got); Interlocked.Increment(ref files); }
                }).ConfigureAwait(false);
        }

        if (adapter && !info.Files.Contains(HubFileSelection.AdapterConfigFile))
            throw new HubException(HubFailure.BadReference,
                $"{model}: the repository has no {HubFileSelection.AdapterConfigFile} at commit {commit[..12]}, so it is not a PEFT LoRA adapter (a full model goes before the '+', or as model:)");
        var smallFiles = adapter ? HubFileSelection.AdapterSmallFiles(info.Files) : HubFileSelection.SmallFiles(info.Files);
        await FetchAll(smallFiles).ConfigureAwait(false);
        var weights = adapter
            ? info.Files.Contains(HubFileSelection.AdapterWeightsFile) ? [HubFileSelection.AdapterWeightsFile] : []
            : HubFileSelection.WeightFiles(info.Files, IndexIfPresent(cache, commit), BinIndexIfPresent(cache, commit));
        if (weights.Count == 0)
        {
            var pickles = HubFileSelection.PickleWeights(info.Files);
            throw new HubException(HubFailure.BadReference, pickles.Count > 0 && !adapter
                ? $"{model}: the repository has PyTorch pickle files ({string.Join(", ", pickles.Take(3))}) but no safetensors weights, no {ModelCheckpoint.BinSingleFileName} and no {ModelCheckpoint.BinIndexFileName} saying which are the model's weights at commit {commit[..12]}"
                : $"{model}: the repository has no safetensors weights at commit {commit[..12]}");
        }
        var missingWeights = weights.Where(w => !info.Files.Contains(w)).ToList();
        if (missingWeights.Count > 0)
            throw new HubException(HubFailure.BadReference, $"{model}: the index names {string.Join(", ", missingWeights)}, which the repository does not hold at commit {commit[..12]}");
        // A .bin has no header at a known place (the pickle is a zip record): its checks need the file, so it is fetched.
        bool pickleWeights = !adapter && !HubFileSelection.HasSafetensorsWeights(info.Files);
        if (_settings.HeadersOnly && !pickleWeights)
            return await HeaderStandInAsync(client, cache, commit, smallFiles, weights, ct).ConfigureAwait(false);
        if (_settings.HeadersOnly)
            _settings.Log?.Invoke($"model '{model}': PyTorch .bin weights have no header to check on alone: downloading them ({string.Join(", ", weights)})");
        await FetchAll(weights).ConfigureAwait(false);

        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        _settings.Log?.Invoke(files == 0
            ? $"model '{model}': Hugging Face cache, commit {commit[..12]} ({cache.SnapshotDirectory(commit)})"
            : string.Create(CultureInfo.InvariantCulture,
                $"model '{model}': downloaded {files} file(s), {bytes / 1e6:0.0} MB in {seconds:0.0} s ({bytes / 1e6 / seconds:0.0} MB/s), commit {commit[..12]}, into {cache.SnapshotDirectory(commit)}"));
        _settings.Downloads?.Record(new HubPendingDownload(model, commit, cache.SnapshotDirectory(commit), 0, 0));
        return cache.SnapshotDirectory(commit);
    }

    /// <summary>One file into the cache: HEAD for its etag and size, the blob downloaded (or resumed) under the same lock
    /// huggingface_hub takes, then the snapshot link. Returns the bytes downloaded.</summary>
    private async Task<long> FetchAsync(HubClient client, HubCache cache, string commit, string file, CancellationToken ct)
    {
        if (cache.HasFile(commit, file)) return 0;
        var metadata = await client.HeadAsync(cache.Model, commit, file, ct).ConfigureAwait(false);
        var blob = cache.BlobPath(metadata.Etag);
        long downloaded = 0;
        if (!BlobComplete(blob, metadata.Size))
        {
            var lockPath = cache.LockPath(metadata.Etag);
            Disk(lockPath, () => Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!));
            Disk(blob, () => Directory.CreateDirectory(Path.GetDirectoryName(blob)!));
            using var held = await LockAsync(lockPath, ct).ConfigureAwait(false);
            if (!BlobComplete(blob, metadata.Size))
            {
                var partial = cache.IncompletePath(metadata.Etag);
                var progress = _settings.Progress;
                var started = Stopwatch.StartNew();
                progress?.DownloadStarted(cache.Model, file, metadata.Size, File.Exists(partial) ? Math.Min(new FileInfo(partial).Length, metadata.Size) : 0);
                await client.DownloadAsync(cache.Model, metadata, partial, n =>
                {
                    Interlocked.Add(ref downloaded, n);
                    progress?.DownloadReceived(cache.Model, file, n);
                }, ct).ConfigureAwait(false);
                Disk(blob, () => File.Move(partial, blob, overwrite: true));
                progress?.DownloadFinished(cache.Model, file, downloaded, started.Elapsed);
            }
        }
        Disk(cache.SnapshotFile(commit, file), () => cache.Link(commit, file, metadata.Etag));
        return downloaded;
    }

    /// <summary>A directory to check the model on without its weights: links to the snapshot's small files, the weight
    /// files already cached, and for the others a sparse file of the announced size that holds only the safetensors
    /// header (bytes 0-7, then the header's own length). Kept under <c>&lt;cache&gt;/.dotnet-merge/headers</c>, outside
    /// huggingface_hub's folders.</summary>
    private async Task<string> HeaderStandInAsync(HubClient client, HubCache cache, string commit, IReadOnlyList<string> smallFiles,
        IReadOnlyList<string> weights, CancellationToken ct)
    {
        var dir = Path.Combine(cache.CacheDirectory, ".dotnet-merge", "headers", cache.Model.CacheFolderName, commit);
        Disk(dir, () => Directory.CreateDirectory(dir));
        foreach (var file in smallFiles.Concat(weights.Where(w => cache.HasFile(commit, w))))
            Disk(dir, () => LinkOrCopy(cache.SnapshotFile(commit, file), Path.Combine(dir, file)));
        long fetched = 0, pending = 0;
        int pendingFiles = 0;
        await Parallel.ForEachAsync(weights.Where(w => !cache.HasFile(commit, w)),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _settings.ParallelDownloads), CancellationToken = ct }, async (file, token) =>
            {
                var standIn = Path.Combine(dir, HubCache.CheckedRelative(file));
                var metadata = await client.HeadAsync(cache.Model, commit, file, token).ConfigureAwait(false);
                if (!BlobComplete(cache.BlobPath(metadata.Etag), metadata.Size))
                {
                    // A partial download left by an earlier run is resumed, so only the rest counts.
                    var partial = new FileInfo(cache.IncompletePath(metadata.Etag));
                    long have = partial.Exists && partial.Length <= metadata.Size ? partial.Length : 0;
                    Interlocked.Add(ref pending, metadata.Size - have);
                    Interlocked.Increment(ref pendingFiles);
                }
                if (File.Exists(standIn) && new FileInfo(standIn).Length == metadata.Size) return;
                var prefix = await client.ReadRangeAsync(cache.Model, metadata, 0, (int)Math.Min(8, metadata.Size), token).ConfigureAwait(false);
                long n = SafetensorsHeader.ReadHeaderLength(prefix, metadata.Size, cache.Model + "/" + file);
                var header = await client.ReadRangeAsync(cache.Model, metadata, 8, (int)n, token).ConfigureAwait(false);
                Interlocked.Add(ref fetched, 8 + n);
                Disk(standIn, () =>
                {
                    var temp = standIn + ".tmp";
                    using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write))
                    {
                        output.Write(prefix);
                        output.Write(header);
                        output.SetLength(metadata.Size); // sparse: the weights' bytes take no disk
                    }
                    File.Move(temp, standIn, overwrite: true);
                });
            }).ConfigureAwait(false);
        _settings.Log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"model '{cache.Model}': checking on the safetensors headers ({fetched / 1e3:0.0} kB read), commit {commit[..12]}; weights not downloaded yet"));
        _settings.Downloads?.Record(new HubPendingDownload(cache.Model, commit, dir, pending, pendingFiles));
        return dir;
    }

    private static void LinkOrCopy(string target, string link)
    {
        if (File.Exists(link) || new FileInfo(link).LinkTarget is not null) File.Delete(link);
        try { File.CreateSymbolicLink(link, target); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException) { File.Copy(target, link); }
    }

    private static bool BlobComplete(string blob, long size) => File.Exists(blob) && new FileInfo(blob).Length == size;

    /// <summary>An exclusive OS lock on the lock file (flock on Linux, as Python's filelock), waited for.</summary>
    private async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        var nextNote = TimeSpan.FromSeconds(10);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (File.Exists(path))
            {
                if (waited.Elapsed > nextNote)
                {
                    _settings.Log?.Invoke($"waiting for {path} (another process is downloading the same file)");
                    nextNote += TimeSpan.FromSeconds(10);
                }
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw HubClient.DiskError(path, e); }
        }
    }

    /// <summary>What the snapshot lacks for a merge: config.json (unless the hub said it does not exist) and the weights
    /// (the index's shards, else model.safetensors, else any *.safetensors; without those, the .bin index's shards or
    /// pytorch_model.bin); for an adapter, adapter_config.json and
    /// adapter_model.safetensors.</summary>
    public static IReadOnlyList<string> MissingFiles(HubCache cache, string commit, bool adapter = false)
    {
        var missing = new List<string>();
        if (adapter)
            return new[] { HubFileSelection.AdapterConfigFile, HubFileSelection.AdapterWeightsFile }.Where(f => !cache.HasFile(commit, f)).ToList();
        if (!cache.HasFile(commit, HubFileSelection.ConfigFile) && !cache.KnownMissing(commit, HubFileSelection.ConfigFile))
            missing.Add(HubFileSelection.ConfigFile);
        var snapshot = cache.SnapshotDirectory(commit);
        if (IndexIfPresent(cache, commit) is { } index)
        {
            try { missing.AddRange(HubFileSelection.WeightFiles([], index).Where(w => !cache.HasFile(commit, w))); }
            catch (CheckpointException) { missing.Add(ModelCheckpoint.IndexFileName + " (unreadable)"); }
        }
        else if (!cache.HasFile(commit, ModelCheckpoint.SingleFileName)
                 && !(Directory.Exists(snapshot) && Directory.EnumerateFiles(snapshot, "*.safetensors").Any(File.Exists)))
        {
            // No safetensors cached: a .bin model (its index and shards, or pytorch_model.bin) is complete too.
            if (cache.HasFile(commit, ModelCheckpoint.BinIndexFileName))
            {
                try { missing.AddRange(HubFileSelection.WeightFiles([], null, cache.SnapshotFile(commit, ModelCheckpoint.BinIndexFileName)).Where(w => !cache.HasFile(commit, w))); }
                catch (CheckpointException) { missing.Add(ModelCheckpoint.BinIndexFileName + " (unreadable)"); }
            }
            else if (!cache.HasFile(commit, ModelCheckpoint.BinSingleFileName))
                missing.Add(ModelCheckpoint.SingleFileName + " (or " + ModelCheckpoint.IndexFileName + " and its shards, or " + ModelCheckpoint.BinSingleFileName + ")");
        }
        return missing;
    }

    private static string? IndexIfPresent(HubCache cache, string commit)
        => cache.HasFile(commit, ModelCheckpoint.IndexFileName) ? cache.SnapshotFile(commit, ModelCheckpoint.IndexFileName) : null;

    private static string? BinIndexIfPresent(HubCache cache, string commit)
        => cache.HasFile(commit, ModelCheckpoint.BinIndexFileName) ? cache.SnapshotFile(commit, ModelCheckpoint.BinIndexFileName) : null;

    private static HubException NotCached(HubModelId model, HubCache cache, string? commit, bool adapter)
    {
        var what = commit is null
            ? $"the cache has no commit for revision '{model.Revision}' (no {Path.Combine(cache.Folder, "refs", model.Revision)})"
            : $"snapshot {commit[..12]} lacks {string.Join(", ", MissingFiles(cache, commit, adapter))}";
        return new HubException(HubFailure.NotCached,
            $"model '{model}' is not fully in the Hugging Face cache {cache.CacheDirectory} and offline mode is on (HF_HUB_OFFLINE or --offline): {what}; " +
            $"run once without offline mode to download it, or `huggingface-cli download {model.RepoId}" + (model.Revision == HubModelId.DefaultRevision ? "" : $" --revision {model.Revision}") + "`");
    }

    private static void Disk(string path, Action action)
    {
        try { action(); }
        catch (HubException) { throw; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw HubClient.DiskError(path, e); }
    }
}
