using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Tests.Adapters;
using static DotnetMerge.Tests.Adapters.AdapterFixture;

namespace DotnetMerge.Tests.Hub;

/// <summary>LoRA adapters named by hub id (<c>org/base+org/adapter</c> and <c>lora: org/adapter</c>): checked on the
/// adapter's header before any weight is downloaded, then adapter_config.json and adapter_model.safetensors fetched into
/// the shared cache, and the merge byte-identical to the same merge of local directories.</summary>
public sealed class HubAdapterTests : IDisposable
{
    private const string Q = "model.layers.0.self_attn.q_proj";
    private const int R = 2;
    private readonly AdapterFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private async Task<(string Base, string Lora)> ModelsAsync()
    {
        var baseDir = await _fx.BaseAsync();
        var config = new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["r"] = R, ["lora_alpha"] = 4, ["target_modules"] = new[] { "q_proj" },
            ["base_model_name_or_path"] = "org/tiny-base",
        };
        var lora = await _fx.AdapterAsync("lora", config,
            [($"{Q}.lora_A.weight", [R, Hidden], Values(R * Hidden, 41, 0.25)), ($"{Q}.lora_B.weight", [Hidden, R], Values(Hidden * R, 42, 0.25))]);
        return (baseDir, lora);
    }

    /// <summary>A loopback hub holding the base as org/tiny-base and <paramref name="repo"/>.</summary>
    private static async Task<HubTestContext> HubWithAsync(string baseDir, (string Id, string Directory) repo)
    {
        var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/tiny-base", baseDir);
        t.Hub.Publish(repo.Id, repo.Directory);
        return t;
    }

    private static string Linear(string first, string adapted)
        => $"merge_method: linear\nmodels:\n  - model: {first}\n    parameters: {{weight: 0.5}}\n  - model: {adapted}\n    parameters: {{weight: 0.5}}\ndtype: float32\n";

    [Theory]
    [InlineData("org/tiny-base+org/lora")]
    [InlineData("{model: org/tiny-base, lora: org/lora@v2}")]
    public async Task AnAdapterFromTheHubGivesTheSameBytesAsTheLocalAdapter(string adapted)
    {
        var (baseDir, lora) = await ModelsAsync();
        await using var t = await HubTestContext.StartAsync();
        t.Hub.Publish("org/tiny-base", baseDir);
        var loraRepo = t.Hub.Publish("org/lora", lora, "v2");

        var local = Path.Combine(t.Work, "from-local");
        var localDef = MergeRunner.ParseDefinition(Linear(baseDir, baseDir + "+" + lora), Path.Combine(t.Work, "l.yaml"), out _);
        await MergeRunner.RunAsync(localDef, local, new MergeOptions { Hub = t.Settings() });
        Assert.Equal(0, t.Hub.TotalBytesSent);

        var hub = Path.Combine(t.Work, "from-hub");
        var hubDef = MergeRunner.ParseDefinition(Linear("org/tiny-base", adapted), Path.Combine(t.Work, "h.yaml"), out _);
        await MergeRunner.RunAsync(hubDef, hub, new MergeOptions { Hub = t.Settings() });

        Assert.Equal(File.ReadAllBytes(Path.Combine(local, "model.safetensors")), File.ReadAllBytes(Path.Combine(hub, "model.safetensors")));
        var weights = File.ReadAllBytes(Path.Combine(lora, "adapter_model.safetensors"));
        var snapshot = Path.Combine(t.Cache, "models--org--lora", "snapshots", loraRepo.Commit);
        Assert.Equal("../../blobs/" + LoopbackHub.Sha256(weights), new FileInfo(Path.Combine(snapshot, "adapter_model.safetensors")).LinkTarget);
        Assert.Equal(File.ReadAllBytes(Path.Combine(lora, "adapter_config.json")), File.ReadAllBytes(Path.Combine(snapshot, "adapter_config.json")));
        // The check read the adapter's header first (8 + header), the download then sent the whole file once.
        long header = 8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(weights.AsSpan(0, 8));
        Assert.Equal(header + weights.Length, t.Hub.BytesSent("org/lora", "adapter_model.safetensors"));
        if (adapted.Contains("@v2", StringComparison.Ordinal))
            Assert.Equal(loraRepo.Commit, File.ReadAllText(Path.Combine(t.Cache, "models--org--lora", "refs", "v2")));

        // Cached now: planning again makes no request, offline too.
        t.Hub.ResetCounts();
        using (MergeRunner.Plan(hubDef, new MergeOptions { Hub = t.Settings(offline: true) })) { }
        Assert.Empty(t.Hub.Requests);
    }

    [Fact]
    public async Task CheckingCountsTheAdaptersBytesToDownloadAndReadsOnlyItsHeader()
    {
        var (baseDir, lora) = await ModelsAsync();
        await using var t = await HubWithAsync(baseDir, ("org/lora", lora));
        var def = MergeRunner.ParseDefinition(Linear("org/tiny-base", "org/tiny-base+org/lora"), Path.Combine(t.Work, "h.yaml"), out _);
        var checking = HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() });
        using var plan = MergeRunner.Plan(def, checking);

        var pending = checking.Hub!.Downloads!.Among(plan.Models);
        var weights = File.ReadAllBytes(Path.Combine(lora, "adapter_model.safetensors"));
        Assert.Equal(["org/tiny-base", "org/lora"], pending.Select(p => p.Model.ToString()));
        Assert.Equal(weights.Length, pending[1].Bytes);
        Assert.Equal(8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(weights.AsSpan(0, 8)), t.Hub.BytesSent("org/lora", "adapter_model.safetensors"));
        Assert.Contains(plan.Models, m => m.Adapter is { AdaptedTensorCount: 1 });
    }

    [Fact]
    public async Task AFullModelUsedAsAnAdapterIsAnErrorAtTheReference()
    {
        var (baseDir, _) = await ModelsAsync();
        await using var t = await HubWithAsync(baseDir, ("org/other", baseDir));
        var def = MergeRunner.ParseDefinition(Linear("org/tiny-base", "org/tiny-base+org/other"), Path.Combine(t.Work, "h.yaml"), out _);
        var e = Assert.Throws<DotnetMerge.Planning.PlanningException>(() => MergeRunner.Plan(def, HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() })).Dispose());
        Assert.Contains("h.yaml(5,", e.Message, StringComparison.Ordinal);
        Assert.Contains("org/other: the repository has no adapter_config.json", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, t.Hub.BytesSent("org/other", "model.safetensors"));
    }
}
