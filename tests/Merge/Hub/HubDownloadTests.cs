using DotnetMerge.Engine;
using DotnetMerge.Hub;

namespace DotnetMerge.Tests.Hub;

/// <summary>Downloads from a real HTTP server on loopback: the merge from hub ids equals the merge from local
/// directories, the cache has huggingface_hub's layout, interrupted downloads resume, faults are retried or reported.</summary>
public sealed class HubDownloadTests(HubModels models) : IClassFixture<HubModels>
{
    private const string Yaml = "merge_method: ties\nbase_model: {0}\nmodels:\n  - model: {1}\n    parameters: {{weight: 0.6, density: 0.5}}\n  - model: {2}\n    parameters: {{weight: 0.4, density: 0.7}}\ndtype: float32\n";

    [Fact]
    public async Task MergeFromHubIdsGivesTheSameBytesAsTheMergeFromLocalDirectories()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        t.Hub.Publish("org/tune-a", models.TuneA, "v1.0");
        t.Hub.Publish("org/tune-b", models.TuneB);

        var hubDef = await AssertHubMergeEqualsLocalAsync(t, "org/base", "org/tune-a@v1.0", "org/tune-b");

        // A second run is served by the cache alone.
        int before = t.Hub.Requests.Count;
        using (MergeRunner.Plan(hubDef, new MergeOptions { Hub = t.Settings() })) { }
        Assert.Equal(before, t.Hub.Requests.Count);
        Assert.Contains(t.Log, l => l.Contains("'org/tune-a@v1.0': Hugging Face cache", StringComparison.Ordinal));
    }

    /// <summary>Merges the fixture's three local models, then the same definition over <paramref name="ids"/> (base, a,
    /// b) from the hub; asserts the weights, file by file, and the tokenizer are the same. Returns the hub definition.</summary>
    private async Task<DotnetMerge.Definitions.MergeDefinition> AssertHubMergeEqualsLocalAsync(HubTestContext t, params string[] ids)
    {
        var local = Path.Combine(t.Work, "from-local");
        var localDef = MergeRunner.ParseDefinition(string.Format(System.Globalization.CultureInfo.InvariantCulture, Yaml, models.Base, models.TuneA, models.TuneB), Path.Combine(t.Work, "l.yaml"), out _);
        await MergeRunner.RunAsync(localDef, local, new MergeOptions { Hub = t.Settings() });

        var hub = Path.Combine(t.Work, "from-hub");
        var hubDef = MergeRunner.ParseDefinition(string.Format(System.Globalization.CultureInfo.InvariantCulture, Yaml, ids[0], ids[1], ids[2]), Path.Combine(t.Work, "h.yaml"), out _);
        await MergeRunner.RunAsync(hubDef, hub, new MergeOptions { Hub = t.Settings() });

        var weights = Directory.EnumerateFiles(local, "*.safetensors").Select(Path.GetFileName).Order().ToList();
        Assert.NotEmpty(weights);
        Assert.Equal(weights, Directory.EnumerateFiles(hub, "*.safetensors").Select(Path.GetFileName).Order().ToList());
        foreach (var w in weights)
            Assert.True(File.ReadAllBytes(Path.Combine(local, w!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(hub, w!))), w);
        Assert.Equal(File.ReadAllText(Path.Combine(local, "tokenizer.json")), File.ReadAllText(Path.Combine(hub, "tokenizer.json")));
        return hubDef;
    }

    [Fact]
    public async Task TheCacheWrittenHasHuggingFaceHubsLayout()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base, "refs/pr/1");
        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", "refs/pr/1")!);

        var folder = Path.Combine(t.Cache, "models--org--base");
        Assert.Equal(Path.Combine(folder, "snapshots", repo.Commit), snapshot);
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(folder, "refs", "refs", "pr", "1"))); // nested, no newline
        Assert.Contains(t.Hub.Requests, r => r.Contains("/revision/refs%2Fpr%2F1", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(t.Cache, "CACHEDIR.TAG")));
        foreach (var (file, data) in repo.Files)
        {
            if (file.EndsWith(".bin", StringComparison.Ordinal)) continue;
            var pointer = Path.Combine(snapshot, file);
            var etag = LoopbackHub.IsLfs(file) ? LoopbackHub.Sha256(data) : LoopbackHub.GitSha1(data);
            Assert.Equal("../../blobs/" + etag, new FileInfo(pointer).LinkTarget);
            Assert.Equal(data, File.ReadAllBytes(Path.Combine(folder, "blobs", etag)));
        }
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(folder, "blobs"), "*.incomplete"));
    }

    [Fact]
    public async Task OnlyTheFilesAMergeNeedsAreDownloadedNeverPickleWeights()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        repo.Files["pytorch_model.bin"] = new byte[1000];
        repo.Files["notes/extra.json"] = "{}"u8.ToArray();
        repo.Files["train.py"] = "print(1)"u8.ToArray();
        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        Assert.Equal(0, t.Hub.BytesSent("pytorch_model.bin"));
        Assert.False(File.Exists(Path.Combine(snapshot, "pytorch_model.bin")));
        Assert.False(File.Exists(Path.Combine(snapshot, "train.py")));
        Assert.False(Directory.Exists(Path.Combine(snapshot, "notes")));
        foreach (var f in new[] { "config.json", "generation_config.json", "README.md", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json" })
            Assert.True(File.Exists(Path.Combine(snapshot, f)), f);
        Assert.All(HubModels.Shards(models.Base), s => Assert.True(File.Exists(Path.Combine(snapshot, s)), s));
    }

    [Fact]
    public async Task ABinOnlyRepositoryDownloadsItsBinIndexAndShards_AndMergesToTheBytesOfItsSafetensors()
    {
        await using var t = await HubTestContext.StartAsync();
        var binModel = DotnetMerge.Tests.Pickle.TorchZipWriter.CopyAsBin(models.TuneA, Path.Combine(t.Work, "tune-a-bin"), shards: 2);
        t.Hub.Publish("org/base", models.Base);
        var repo = t.Hub.Publish("org/tune-a", binModel);
        repo.Files["training_args.bin"] = new byte[500]; // a Trainer pickle beside the weights: never fetched
        t.Hub.Publish("org/tune-b", models.TuneB);

        var hubDef = await AssertHubMergeEqualsLocalAsync(t, "org/base", "org/tune-a", "org/tune-b");
        var snapshot = Path.Combine(t.Cache, "models--org--tune-a", "snapshots", repo.Commit);
        foreach (var f in new[] { "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin" })
            Assert.True(File.Exists(Path.Combine(snapshot, f)), f);
        Assert.Equal(0, t.Hub.BytesSent("training_args.bin"));

        // The cached .bin model is complete: offline, a plan makes no request.
        int before = t.Hub.Requests.Count;
        using (MergeRunner.Plan(hubDef, new MergeOptions { Hub = t.Settings(offline: true) })) { }
        Assert.Equal(before, t.Hub.Requests.Count);
    }

    [Fact]
    public async Task ADownloadThatBreaksOffResumesAndTransfersOnlyTheRest()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        var shard = HubModels.Shards(models.Base)[0];
        int size = repo.Files[shard].Length;
        t.Hub.DropAfterBytes[shard] = size / 3;

        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);

        Assert.Equal(repo.Files[shard], File.ReadAllBytes(Path.Combine(snapshot, shard)));
        Assert.Equal(size, t.Hub.BytesSent(shard)); // size/3 before the drop, the rest after: nothing twice
        Assert.Contains(t.Hub.Requests, r => r.EndsWith($"bytes={size / 3}-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task APartialFileLeftByAnEarlierRunIsResumedNotRestarted()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        var shard = HubModels.Shards(models.Base)[0];
        var data = repo.Files[shard];
        var blobs = Path.Combine(t.Cache, "models--org--base", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, LoopbackHub.Sha256(data) + ".incomplete"), data[..1000]);

        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(snapshot, shard)));
        Assert.Equal(data.Length - 1000, t.Hub.BytesSent(shard));
    }

    [Fact]
    public async Task CancellingADownloadKeepsThePartialFileAndTheNextRunResumesIt()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        var shard = HubModels.Shards(models.Base)[0];
        var data = repo.Files[shard];
        t.Hub.Trickle[shard] = true;
        var partial = Path.Combine(t.Cache, "models--org--base", "blobs", LoopbackHub.Sha256(data) + ".incomplete");
        using var cts = new CancellationTokenSource();
        var download = new HubResolver(t.Settings(cancellation: cts.Token)).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        while (t.Hub.BytesSent("org/base", shard) < 16384 && !download.IsCompleted) await Task.Delay(10);
        cts.Cancel(); // what Ctrl+C does
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => download);

        long kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, data.Length - 1);
        Assert.False(File.Exists(Path.Combine(t.Cache, "models--org--base", "blobs", LoopbackHub.Sha256(data))));

        // The server may still be writing the cancelled response into the socket: let its count settle before the resume
        // is counted (otherwise those bytes land after the reset, and the test fails on a busy machine).
        for (long last = -1; t.Hub.BytesSent("org/base", shard) != last;)
        {
            last = t.Hub.BytesSent("org/base", shard);
            await Task.Delay(200);
        }
        t.Hub.Trickle[shard] = false;
        t.Hub.ResetCounts();
        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(snapshot, shard)));
        Assert.Equal(data.Length - kept, t.Hub.BytesSent("org/base", shard));
    }

    [Fact]
    public async Task TransientFailuresAreRetried()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        t.Hub.ApiFailures = 2;
        t.Hub.FailuresBefore["config.json"] = 2;
        var shard = HubModels.Shards(models.Base)[^1];
        t.Hub.FailuresBefore[shard] = 1;
        var snapshot = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        Assert.Equal(repo.Files[shard], File.ReadAllBytes(Path.Combine(snapshot, shard)));
        Assert.Equal(3, t.Hub.Requests.Count(r => r.StartsWith("GET /api/models/org/base/revision/main", StringComparison.Ordinal)));
        // config.json: HEAD answered 503 twice, then HEAD and GET succeed.
        Assert.Equal(4, t.Hub.Requests.Count(r => r.EndsWith("/org/base/resolve/" + repo.Commit + "/config.json", StringComparison.Ordinal)));
        Assert.Equal(2, t.Hub.Requests.Count(r => r.StartsWith("GET /cdn/org/base/" + shard, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RateLimitingWaitsAsLongAsRetryAfterSays()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        t.Hub.ApiFailures = 1;
        t.Hub.ApiFailureStatus = 429;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        // The backoff alone would wait 10 ms; Retry-After: 1 asks for a second.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.95), clock.Elapsed.ToString());
        Assert.Equal(2, t.Hub.Requests.Count(r => r.StartsWith("GET /api/models/org/base/revision/main", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AFileWhoseSha256DoesNotMatchIsDeletedAndNamed()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/base", models.Base);
        var shard = HubModels.Shards(models.Base)[0];
        t.Hub.Corrupt[shard] = true;
        var e = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!));
        Assert.Equal(HubFailure.Integrity, e.Failure);
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains(shard, e.Message, StringComparison.Ordinal);
        Assert.Contains("sha256", e.Message, StringComparison.Ordinal);
        var blobs = Path.Combine(t.Cache, "models--org--base", "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, LoopbackHub.Sha256(repo.Files[shard]))));
        Assert.False(File.Exists(Path.Combine(blobs, LoopbackHub.Sha256(repo.Files[shard]) + ".incomplete")));
    }
}
