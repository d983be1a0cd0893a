using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Tests.Safetensors;

namespace DotnetMerge.Tests.Hub;

/// <summary>Tiny 40-layer llama models published on the loopback hub under the ids of mergekit's example configs.</summary>
public sealed class MergekitExampleModels : IDisposable
{
    private readonly TempDirectory _dir = new();

    public static readonly LlamaSpec Spec = new(Layers: 40, Hidden: 16, Intermediate: 24, Vocab: 32, Heads: 2, KvHeads: 1, Dtype: DotnetMerge.Numerics.Dtype.F16, MaxShardBytes: 40_000);

    /// <summary>Hub id and local directory of each model the examples name.</summary>
    public IReadOnlyList<(string Id, string Directory)> Models { get; }

    public MergekitExampleModels()
    {
        string Dir(string id) => Path.Combine(_dir.Path, id.Replace('/', '_'));
        var baseId = "TheBloke/Llama-2-13B-fp16";
        SyntheticModels.WriteBaseAsync(Dir(baseId), Spec).GetAwaiter().GetResult();
        var tunes = new[] { ("psmathur/orca_mini_v3_13b", "mlp", 21UL), ("garage-bAInd/Platypus2-13B", "attn", 22UL), ("WizardLM/WizardMath-13B-V1.0", "", 23UL) };
        foreach (var (id, filter, seed) in tunes)
            SyntheticModels.WriteFineTuneAsync(Dir(id), Spec, new FineTune(id, filter, 0, 0.03, 0.8, seed)).GetAwaiter().GetResult();
        Models = new[] { baseId }.Concat(tunes.Select(t => t.Item1)).Select(id => (id, Dir(id))).ToList();
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>mergekit's example configs (reference/mergekit.md §1.7), hub ids unchanged, against the loopback hub: each is
/// checked and planned on the shard headers alone (the plan knows the bytes to download), then merged, and the merge is
/// byte-identical to the same config with the ids replaced by the local directories.</summary>
public sealed class HubMergekitExamplesTests(MergekitExampleModels models) : IClassFixture<MergekitExampleModels>
{
    private const string Ties = """
        models:
          - model: psmathur/orca_mini_v3_13b
            parameters: {density: [1, 0.7, 0.1], weight: 1.0}
          - model: garage-bAInd/Platypus2-13B
            parameters: {density: 0.5, weight: [0, 0.3, 0.7, 1]}
          - model: WizardLM/WizardMath-13B-V1.0
            parameters:
              density: 0.33
              weight: [{filter: mlp, value: 0.5}, {value: 0}]
        merge_method: ties
        base_model: TheBloke/Llama-2-13B-fp16
        parameters: {normalize: true, int8_mask: true}
        dtype: float16
        """;

    private const string GradientSlerp = """
        slices:
          - sources:
              - {model: psmathur/orca_mini_v3_13b, layer_range: [0, 40]}
              - {model: garage-bAInd/Platypus2-13B, layer_range: [0, 40]}
        merge_method: slerp
        base_model: psmathur/orca_mini_v3_13b
        parameters:
          t:
            - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}
            - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}
            - {value: 0.5}
        dtype: float16
        """;

    private const string Passthrough = """
        slices:
          - sources: [{model: psmathur/orca_mini_v3_13b, layer_range: [0, 24]}]
          - sources: [{model: garage-bAInd/Platypus2-13B, layer_range: [20, 40]}]
        merge_method: passthrough
        dtype: float16
        """;

    public static TheoryData<string, string> Examples => new()
    {
        { "ties.yml", Ties },
        { "gradient-slerp.yml", GradientSlerp },
        { "orcamini-platy-44layer.yml", Passthrough },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task AMergekitExampleRunsWithItsHubIdsUnchanged(string name, string yaml)
    {
        await using var t = await HubTestContext.StartAsync();
        foreach (var (id, dir) in models.Models) t.Hub.Publish(id, dir);
        var used = models.Models.Where(m => yaml.Contains(m.Id, StringComparison.Ordinal)).ToList();
        long Weights(string dir) => HubModels.Shards(dir).Sum(s => new FileInfo(Path.Combine(dir, s)).Length);

        // check / plan: headers only; the plan says what the run will download.
        var definition = MergeRunner.ParseDefinition(yaml, Path.Combine(t.Work, name), out _);
        var checking = HubPrecheck.ForChecking(new MergeOptions { Hub = t.Settings() });
        using (var plan = MergeRunner.Plan(definition, checking))
        {
            Assert.Equal(used.Sum(m => Weights(m.Directory)), checking.Hub!.Downloads!.Among(plan.Models).Sum(d => d.Bytes));
            if (name.Contains("44layer", StringComparison.Ordinal)) Assert.Equal(44, plan.OutputLayerCount);
        }
        // Of the weights, the check read only each shard's 8-byte length and header.
        foreach (var (id, dir) in used)
            foreach (var shard in HubModels.Shards(dir))
                Assert.Equal(HubPrecheckTests.HeaderBytes(Path.Combine(dir, shard)), t.Hub.BytesSent(id, shard));

        var fromHub = Path.Combine(t.Work, "hub-out");
        await MergeRunner.RunAsync(definition, fromHub, new MergeOptions { Hub = t.Settings() });

        var localYaml = used.Aggregate(yaml, (text, m) => text.Replace(m.Id, m.Directory, StringComparison.Ordinal));
        var fromLocal = Path.Combine(t.Work, "local-out");
        await MergeRunner.RunAsync(MergeRunner.ParseDefinition(localYaml, Path.Combine(t.Work, "local-" + name), out _), fromLocal, new MergeOptions { Hub = t.Settings() });

        var shards = Directory.EnumerateFiles(fromLocal, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(shards);
        Assert.Equal(shards, Directory.EnumerateFiles(fromHub, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var shard in shards)
            Assert.True(File.ReadAllBytes(Path.Combine(fromLocal, shard!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(fromHub, shard!))), shard);
        Assert.Equal(File.ReadAllText(Path.Combine(fromLocal, "config.json")), File.ReadAllText(Path.Combine(fromHub, "config.json")));
        // The card names the hub ids as written.
        Assert.Contains(used[0].Id, File.ReadAllText(Path.Combine(fromHub, "README.md")), StringComparison.Ordinal);
    }
}
