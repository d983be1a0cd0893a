using System.Net;
using System.Net.Sockets;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Models;

namespace DotnetMerge.Tests.Hub;

/// <summary>Resolution through the cache first (a cache laid out as huggingface_hub does, read offline), local paths
/// before hub ids, and the errors a user can act on.</summary>
public sealed class HubResolutionTests(HubModels models) : IClassFixture<HubModels>
{
    /// <summary>Lays out <paramref name="directory"/> as huggingface_hub's cache would hold it after
    /// <c>huggingface-cli download</c> (reference B.3): blobs named by sha256 (weights) or git sha1 (others), relative
    /// symlinks in snapshots/&lt;commit&gt;, refs/&lt;revision&gt;. Written here independently of HubCache.</summary>
    private static string LayOutPythonCache(string cache, string repoId, string directory, string revision, string refContent, params string[] skip)
    {
        var commit = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20));
        var folder = Path.Combine(cache, "models--" + repoId.Replace("/", "--"));
        Directory.CreateDirectory(Path.Combine(folder, "blobs"));
        Directory.CreateDirectory(Path.Combine(folder, "snapshots", commit));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, "refs", revision))!);
        File.WriteAllText(Path.Combine(folder, "refs", revision), refContent.Replace("COMMIT", commit));
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(file);
            if (skip.Contains(name)) continue;
            var data = File.ReadAllBytes(file);
            var etag = LoopbackHub.IsLfs(name) ? LoopbackHub.Sha256(data) : LoopbackHub.GitSha1(data);
            File.WriteAllBytes(Path.Combine(folder, "blobs", etag), data);
            File.CreateSymbolicLink(Path.Combine(folder, "snapshots", commit, name), "../../blobs/" + etag);
        }
        return commit;
    }

    [Fact]
    public async Task AModelInAHuggingFaceHubCacheIsUsedInPlaceOffline()
    {
        await using var t = await HubTestContext.StartAsync();
        // A hand-copied ref with a trailing newline must still work (huggingface_hub issue #4133).
        var commit = LayOutPythonCache(t.Cache, "org/base", models.Base, "main", "COMMIT\n");
        var definition = MergeRunner.ParseDefinition("merge_method: linear\nmodels:\n  - model: org/base\n    parameters: {weight: 1.0}\n", Path.Combine(t.Work, "d.yaml"), out _);
        var output = Path.Combine(t.Work, "out");
        await MergeRunner.RunAsync(definition, output, new MergeOptions { Hub = t.Settings(offline: true) });

        Assert.Empty(t.Hub.Requests);
        var shard = HubModels.Shards(models.Base)[0];
        using var merged = DotnetMerge.Safetensors.ModelCheckpoint.Open(output);
        using var original = DotnetMerge.Safetensors.ModelCheckpoint.Open(models.Base);
        Assert.Equal(original.Shards.Sum(s => s.Tensors.Count), merged.Shards.Sum(s => s.Tensors.Count));
        Assert.Contains(t.Log, l => l.Contains("Hugging Face cache, commit " + commit[..12], StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(t.Cache, "models--org--base", "snapshots", commit, shard)));
    }

    [Fact]
    public async Task ACachedModelIsUsedWithoutNetworkEvenOnline()
    {
        await using var t = await HubTestContext.StartAsync();
        var commit = LayOutPythonCache(t.Cache, "org/base", models.Base, "v2", "COMMIT");
        var dir = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", "v2")!);
        Assert.Equal(Path.Combine(t.Cache, "models--org--base", "snapshots", commit), dir);
        Assert.Empty(t.Hub.Requests);
    }

    /// <summary>RefreshRevisions (DOTNET_MERGE_HUB_REFRESH, set by the build step): the hub is asked for the branch's
    /// commit although the cache is complete; the ref is rewritten only when the branch moved.</summary>
    [Fact]
    public async Task WithRefreshRevisions_AMovedBranchResolvesToItsNewCommit_AnUnmovedOneLeavesTheRefAlone()
    {
        await using var t = await HubTestContext.StartAsync();
        var id = HubModelId.TryCreate("org/base", null)!;
        var first = t.Hub.Publish("org/base", models.Base);
        var refreshing = new HubResolver(t.Settings() with { RefreshRevisions = true });
        Assert.Equal(Path.Combine(t.Cache, "models--org--base", "snapshots", first.Commit), await refreshing.ResolveAsync(id));
        var reference = Path.Combine(t.Cache, "models--org--base", "refs", "main");
        var written = File.GetLastWriteTimeUtc(reference);

        t.Hub.ResetCounts();
        await refreshing.ResolveAsync(id);
        Assert.Contains(t.Hub.Requests, r => r.Contains("/api/models/org/base/revision/main", StringComparison.Ordinal));
        Assert.Equal(written, File.GetLastWriteTimeUtc(reference));
        Assert.All(HubModels.Shards(models.Base), shard => Assert.Equal(0, t.Hub.BytesSent("org/base", shard))); // no weights again

        var moved = t.Hub.Publish("org/base", models.TuneA);
        t.Hub.ResetCounts();
        Assert.Equal(Path.Combine(t.Cache, "models--org--base", "snapshots", first.Commit), await new HubResolver(t.Settings()).ResolveAsync(id));
        Assert.Empty(t.Hub.Requests); // without the setting: the complete cached snapshot, no request
        Assert.Equal(Path.Combine(t.Cache, "models--org--base", "snapshots", moved.Commit), await refreshing.ResolveAsync(id));
        Assert.Equal(moved.Commit, File.ReadAllText(reference));
    }

    [Fact]
    public async Task OfflineAMissingFileIsNamedAndNothingIsRequested()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        var shard = HubModels.Shards(models.Base)[^1];
        LayOutPythonCache(t.Cache, "org/base", models.Base, "main", "COMMIT", shard);
        var e = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings(offline: true)).ResolveAsync(HubModelId.TryCreate("org/base", null)!));
        Assert.Equal(HubFailure.NotCached, e.Failure);
        Assert.Contains(shard, e.Message, StringComparison.Ordinal);
        Assert.Contains("offline", e.Message, StringComparison.Ordinal);
        Assert.Empty(t.Hub.Requests);

        var none = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings(offline: true)).ResolveAsync(HubModelId.TryCreate("org/other", "dev")!));
        Assert.Contains("no commit for revision 'dev'", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnlineTheFilesMissingFromAPartialCacheAreTheOnlyOnesDownloaded()
    {
        await using var t = await HubTestContext.StartAsync();
        var shard = HubModels.Shards(models.Base)[^1];
        var commit = LayOutPythonCache(t.Cache, "org/base", models.Base, "main", "COMMIT", shard);
        var repo = t.Hub.PublishAt("org/base", models.Base, commit);
        var dir = await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!);
        Assert.Equal(repo.Files[shard], File.ReadAllBytes(Path.Combine(dir, shard)));
        Assert.Equal(repo.Files[shard].Length, t.Hub.TotalBytesSent);
    }

    [Fact]
    public async Task ALocalDirectoryWinsOverTheHubIdOfTheSameNameAndSaysSo()
    {
        await using var t = await HubTestContext.StartAsync();
        var defs = Path.Combine(t.Work, "defs");
        var local = Path.Combine(defs, "org", "base");
        Directory.CreateDirectory(Path.GetDirectoryName(local)!);
        Directory.CreateSymbolicLink(local, models.Base);
        LayOutPythonCache(t.Cache, "org/base", models.Base, "main", "COMMIT");
        var dir = ModelSource.ResolveDirectory(new ModelReference("org/base"), defs, null, t.Settings());
        Assert.Equal(local, dir);
        Assert.Empty(t.Hub.Requests);
        Assert.Contains(t.Log, l => l.Contains("the local directory " + local, StringComparison.Ordinal) && l.Contains("a local path wins", StringComparison.Ordinal));

        // Not in the cache: nothing to say. And a missing name under an existing local folder is a local path, never a download.
        var plain = Path.Combine(defs, "models", "a");
        Directory.CreateDirectory(Path.GetDirectoryName(plain)!);
        Directory.CreateSymbolicLink(plain, models.Base);
        int lines = t.Log.Count;
        Assert.Equal(plain, ModelSource.ResolveDirectory(new ModelReference("models/a"), defs, null, t.Settings()));
        Assert.Equal(Path.Combine(defs, "models", "nope"), ModelSource.ResolveDirectory(new ModelReference("models/nope"), defs, null, t.Settings()));
        Assert.Equal(lines, t.Log.Count);
        Assert.Empty(t.Hub.Requests);
    }

    [Fact]
    public void AHubIdIsNotReportedAsAMissingLocalPath()
    {
        var result = DefinitionLoader.Load("merge_method: linear\nmodels:\n  - model: org/name@v1\n    parameters: {weight: 1}\n  - model: ./missing\n    parameters: {weight: 1}\n",
            "/tmp/x.yaml", new ValidationOptions { PathExists = _ => false });
        var missing = result.Diagnostics.Where(d => d.Id == "DMRG0601").ToList();
        Assert.Single(missing);
        Assert.Contains("./missing", missing[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownRepoUnknownRevisionAndMissingFileAreBadReferences()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        var resolver = new HubResolver(t.Settings());

        var repo = await Assert.ThrowsAsync<HubException>(() => resolver.ResolveAsync(HubModelId.TryCreate("org/bsae", null)!));
        Assert.Equal((HubFailure.BadReference, MergeErrorKind.Input), (repo.Failure, repo.Kind));
        Assert.Contains("repository 'org/bsae' not found", repo.Message, StringComparison.Ordinal);

        var revision = await Assert.ThrowsAsync<HubException>(() => resolver.ResolveAsync(HubModelId.TryCreate("org/base", "v9")!));
        Assert.Equal(HubFailure.BadReference, revision.Failure);
        Assert.Contains("revision 'v9' not found", revision.Message, StringComparison.Ordinal);

        var broken = t.Hub.Publish("org/broken", models.Base);
        broken.Files.Remove(HubModels.Shards(models.Base)[0]);
        var file = await Assert.ThrowsAsync<HubException>(() => resolver.ResolveAsync(HubModelId.TryCreate("org/broken", null)!));
        Assert.Equal(HubFailure.BadReference, file.Failure);
        Assert.Contains(HubModels.Shards(models.Base)[0], file.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AGatedRepoWithoutATokenSaysToAcceptTheLicenceAndSetHfToken()
    {
        await using var t = await HubTestContext.StartAsync();
        var repo = t.Hub.Publish("org/gated", models.Base);
        repo.Gated = true;
        t.Hub.RequiredToken = "hf_secret";
        var e = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/gated", null)!));
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains("accept its licence", e.Message, StringComparison.Ordinal);
        Assert.Contains("HF_TOKEN", e.Message, StringComparison.Ordinal);

        // With the token it downloads, and the token never goes to the CDN host (the loopback CDN refuses one).
        var dir = await new HubResolver(t.Settings(token: "hf_secret")).ResolveAsync(HubModelId.TryCreate("org/gated", null)!);
        Assert.True(File.Exists(Path.Combine(dir, HubModels.Shards(models.Base)[0])));
    }

    [Fact]
    public async Task ANetworkThatIsDownNamesTheUrlAndWhatToDo()
    {
        await using var t = await HubTestContext.StartAsync();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more
        var e = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings(endpoint: $"http://127.0.0.1:{port}")).ResolveAsync(HubModelId.TryCreate("org/base", null)!));
        Assert.Equal(HubFailure.Network, e.Failure);
        Assert.Equal(MergeErrorKind.Input, e.Kind);
        Assert.Contains($"http://127.0.0.1:{port}/api/models/org/base/revision/main", e.Message, StringComparison.Ordinal);
        Assert.Contains("run again", e.Message, StringComparison.Ordinal);
        Assert.Contains("--offline", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACacheThatCannotBeWrittenIsAnOutputError()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        File.WriteAllText(t.Cache, "a file where the cache folder should be");
        var e = await Assert.ThrowsAsync<HubException>(() => new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/base", null)!));
        Assert.Equal((HubFailure.Disk, MergeErrorKind.Output), (e.Failure, e.Kind));
        Assert.Contains("HF_HUB_CACHE", e.Message, StringComparison.Ordinal);
    }
}
