using System.Buffers.Binary;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Hub;

/// <summary>Check before download: hub models are checked on config.json, the index and each shard's safetensors
/// header (Range requests), and weights are fetched only when every check passes.</summary>
public sealed class HubPrecheckTests(HubModels models) : IClassFixture<HubModels>
{
    /// <summary>8 + the header length a shard starts with: what a header-only read must transfer for it.</summary>
    internal static long HeaderBytes(string shard) => 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(shard).AsSpan(0, 8));

    private static string ShardBlob(HubTestContext t, string repo, string shardPath)
        => Path.Combine(t.Cache, "models--" + repo.Replace("/", "--"), "blobs", LoopbackHub.Sha256(File.ReadAllBytes(shardPath)));

    [Fact]
    public async Task CheckingReadsOnlyTheShardHeaders()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        t.Hub.Publish("org/tune-a", models.TuneA);
        var definition = MergeRunner.ParseDefinition("merge_method: task_arithmetic\nbase_model: org/base\nmodels:\n  - model: org/tune-a\n    parameters: {weight: 0.5}\n", Path.Combine(t.Work, "d.yaml"), out _);
        using (var plan = MergeRunner.Plan(definition, HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() })))
            Assert.NotEmpty(plan.Jobs);

        long weightBytes = 0;
        foreach (var (repo, dir) in new[] { ("org/base", models.Base), ("org/tune-a", models.TuneA) })
            foreach (var shard in HubModels.Shards(dir))
            {
                var path = Path.Combine(dir, shard);
                Assert.Equal(HeaderBytes(path), HeaderBytesSent(t, repo, shard));
                Assert.False(File.Exists(ShardBlob(t, repo, path)), shard);
                weightBytes += new FileInfo(path).Length;
            }
        Assert.True(t.Hub.Requests.Count(r => r.StartsWith("GET /cdn/", StringComparison.Ordinal)) == 2 * (HubModels.Shards(models.Base).Count + HubModels.Shards(models.TuneA).Count));
        Assert.Contains(t.Log, l => l.Contains("checking on the safetensors headers", StringComparison.Ordinal));
    }

    private static long HeaderBytesSent(HubTestContext t, string repo, string shard) => t.Hub.BytesSent(repo, shard);

    [Fact]
    public async Task ABinOnlyModelIsCheckedOnItsDownloadedBin_SayingWhy()
    {
        await using var t = await HubTestContext.StartAsync();
        var binModel = DotnetMerge.Tests.Pickle.TorchZipWriter.CopyAsBin(models.TuneA, Path.Combine(t.Work, "tune-a-bin"));
        t.Hub.Publish("org/base", models.Base);
        var repo = t.Hub.Publish("org/tune-a", binModel);
        var definition = MergeRunner.ParseDefinition("merge_method: task_arithmetic\nbase_model: org/base\nmodels:\n  - model: org/tune-a\n    parameters: {weight: 0.5}\n", Path.Combine(t.Work, "d.yaml"), out _);
        using (var plan = MergeRunner.Plan(definition, HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() })))
            Assert.NotEmpty(plan.Jobs);
        // The safetensors base is checked on its headers; the .bin, which has none at a known place, is fetched whole.
        Assert.Equal(repo.Files["pytorch_model.bin"].Length, t.Hub.BytesSent("org/tune-a", "pytorch_model.bin"));
        foreach (var shard in HubModels.Shards(models.Base))
            Assert.Equal(HeaderBytes(Path.Combine(models.Base, shard)), HeaderBytesSent(t, "org/base", shard));
        Assert.Contains(t.Log, l => l.Contains("'org/tune-a': PyTorch .bin weights have no header", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABadDefinitionFailsBeforeAnyWeightIsDownloaded()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        t.Hub.Publish("org/tune-a", models.TuneA);
        // 4 layers each: [0, 6) is out of range, which only the shard headers can tell.
        var definition = MergeRunner.ParseDefinition("merge_method: slerp\nbase_model: org/base\nslices:\n  - sources:\n      - model: org/base\n        layer_range: [0, 6]\n      - model: org/tune-a\n        layer_range: [0, 6]\nparameters:\n  t: 0.5\n",
            Path.Combine(t.Work, "d.yaml"), out _);
        var e = await Assert.ThrowsAsync<PlanningException>(() => MergeRunner.RunAsync(definition, Path.Combine(t.Work, "out"), new MergeOptions { Hub = t.Settings() }));
        Assert.Contains("layer_range", e.Message, StringComparison.Ordinal);

        long sent = 0, sizes = 0;
        foreach (var (repo, dir) in new[] { ("org/base", models.Base), ("org/tune-a", models.TuneA) })
            foreach (var shard in HubModels.Shards(dir))
            {
                var path = Path.Combine(dir, shard);
                Assert.False(File.Exists(ShardBlob(t, repo, path)), shard);
                Assert.Equal(HeaderBytes(path), HeaderBytesSent(t, repo, shard));
                sent += HeaderBytesSent(t, repo, shard);
                sizes += new FileInfo(path).Length;
            }
        Assert.True(sent * 20 < sizes, $"{sent} header bytes of {sizes}");
        Assert.False(Directory.Exists(Path.Combine(t.Work, "out")));
    }

    [Fact]
    public async Task TheBytesToDownloadComeFromTheHeadAnswersWithoutReadingWeights()
    {
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/base", models.Base);
        t.Hub.Publish("org/tune-a", models.TuneA);
        t.Hub.Publish("org/tune-b", models.TuneB);
        // tune-b fully in the cache already; base has a partial download of its first shard left by an earlier run.
        await new HubResolver(t.Settings()).ResolveAsync(HubModelId.TryCreate("org/tune-b", null)!);
        var firstShard = Path.Combine(models.Base, HubModels.Shards(models.Base)[0]);
        var blobs = Path.Combine(t.Cache, "models--org--base", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(ShardBlob(t, "org/base", firstShard) + ".incomplete", File.ReadAllBytes(firstShard)[..1234]);
        t.Hub.ResetCounts();

        var definition = MergeRunner.ParseDefinition("merge_method: ties\nbase_model: org/base\nmodels:\n  - model: org/tune-a\n    parameters: {weight: 0.5, density: 0.5}\n  - model: org/tune-b\n    parameters: {weight: 0.5, density: 0.5}\n",
            Path.Combine(t.Work, "d.yaml"), out _);
        var checking = HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() });
        using var plan = MergeRunner.Plan(definition, checking);
        var pending = checking.Hub!.Downloads!.Among(plan.Models.Select(m => m.Directory));

        long Sizes(string dir) => HubModels.Shards(dir).Sum(s => new FileInfo(Path.Combine(dir, s)).Length);
        Assert.Equal(["org/tune-a", "org/tune-b", "org/base"], pending.Select(p => p.Model.ToString()));
        Assert.Equal(Sizes(models.TuneA), pending[0].Bytes);
        Assert.Equal(HubModels.Shards(models.TuneA).Count, pending[0].Files);
        Assert.True(pending[1].Cached);
        Assert.Equal(0, pending[1].Bytes);
        Assert.Equal(Sizes(models.Base) - 1234, pending[2].Bytes);
        // Knowing it cost only HEAD requests and the header ranges: no weight byte was sent.
        foreach (var (repo, dir) in new[] { ("org/base", models.Base), ("org/tune-a", models.TuneA) })
            foreach (var shard in HubModels.Shards(dir))
                Assert.Equal(HeaderBytes(Path.Combine(dir, shard)), HeaderBytesSent(t, repo, shard));
        Assert.Equal("to download from the hub: " + DotnetMerge.Safetensors.ShardSize.Format(pending.Sum(p => p.Bytes)) + " (org/tune-a: "
            + DotnetMerge.Safetensors.ShardSize.Format(Sizes(models.TuneA)) + " in " + HubModels.Shards(models.TuneA).Count + " files; org/tune-b: cached; org/base: "
            + DotnetMerge.Safetensors.ShardSize.Format(Sizes(models.Base) - 1234) + " in " + HubModels.Shards(models.Base).Count + " files)", HubDownloadLedger.Describe(pending));
    }
}
