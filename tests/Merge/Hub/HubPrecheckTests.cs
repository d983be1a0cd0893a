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
    private static long HeaderBytes(string shard) => 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(shard).AsSpan(0, 8));

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
}
