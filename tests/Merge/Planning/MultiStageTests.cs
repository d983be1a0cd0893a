using DotnetMerge.Checks;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Planning;

/// <summary>Multi-stage definitions (mergekit-multi): mergekit's mega.yml pattern of named stages plus a final one,
/// run fused (no intermediates), with an intermediate directory, and stage by stage by hand must give the same bytes.</summary>
public sealed class MultiStageTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", Guid.NewGuid().ToString("N"));
    private static readonly LlamaSpec Spec = new(Layers: 3, Hidden: 16, Intermediate: 24, Vocab: 40, Heads: 2, KvHeads: 1);

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    private string P(params string[] parts) => Path.Combine(new[] { _root }.Concat(parts).ToArray());

    private async Task Models()
    {
        await SyntheticModels.WriteBaseAsync(P("base"), Spec);
        ulong seed = 11;
        foreach (var name in new[] { "a", "b", "c", "d" })
            await SyntheticModels.WriteFineTuneAsync(P(name), Spec, new FineTune(name, "", 0, 0.1, 1, seed++));
    }

    // mega.yml's shape: a gradient slerp, a randomised (dare_ties) merge of it with another model, a randomised final merge of that.
    private const string Stage1 =
        "merge_method: slerp\nbase_model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 3]\n      - model: b\n        layer_range: [0, 3]\n" +
        "parameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 1]\n    - filter: mlp\n      value: [1, 0.5, 0]\n    - value: 0.5\ndtype: float16\n";

    private static string Stage2(string first) =>
        $"merge_method: dare_ties\nbase_model: base\nmodels:\n  - model: {first}\n    parameters: {{density: [1, 0.7, 0.1], weight: 1.0}}\n" +
        "  - model: c\n    parameters:\n      density: 0.33\n      weight:\n        - filter: mlp\n          value: 0.5\n        - value: 0.2\n" +
        "parameters: {normalize: true, int8_mask: true}\ndtype: float16\n";

    private static string Final(string second) =>
        $"merge_method: dare_ties\nbase_model: base\nmodels:\n  - model: {second}\n    parameters: {{weight: 0.6, density: 0.5}}\n" +
        "  - model: d\n    parameters: {weight: 0.4, density: 0.7}\ndtype: bfloat16\nseed: 7\n";

    private static string Mega => "name: gradient-slerp\n" + Stage1 + "---\nname: slerp-ties\n" + Stage2("gradient-slerp") + "---\n" + Final("slerp-ties");

    private Definitions.StageGraph Load(string yaml, string file = "mega.yml")
    {
        var path = P(file);
        File.WriteAllText(path, yaml);
        return MultiStageRunner.LoadStages(path, _root, out _);
    }

    // --seed applies to every stage (the final document's own seed: 7 is overridden too).
    private static readonly MergeOptions Options = new() { MaxShardBytes = 3_000, Seed = 1234 };

    private async Task RunByHand(string directory)
    {
        Directory.CreateDirectory(directory);
        var s1 = Path.Combine(directory, "s1.yml");
        File.WriteAllText(s1, Stage1.Replace("model: a", "model: " + P("a")).Replace("model: b", "model: " + P("b")).Replace("base_model: a", "base_model: " + P("a")));
        await MergeRunner.RunAsync(MergeRunner.LoadDefinition(s1, out _), Path.Combine(directory, "gradient-slerp"), Options);
        var s2 = Path.Combine(directory, "s2.yml");
        File.WriteAllText(s2, Stage2(Path.Combine(directory, "gradient-slerp")).Replace("model: c", "model: " + P("c")).Replace("base_model: base", "base_model: " + P("base")));
        await MergeRunner.RunAsync(MergeRunner.LoadDefinition(s2, out _), Path.Combine(directory, "slerp-ties"), Options);
        var s3 = Path.Combine(directory, "s3.yml");
        File.WriteAllText(s3, Final(Path.Combine(directory, "slerp-ties")).Replace("model: d", "model: " + P("d")).Replace("base_model: base", "base_model: " + P("base")));
        await MergeRunner.RunAsync(MergeRunner.LoadDefinition(s3, out _), Path.Combine(directory, "final"), Options);
    }

    /// <summary>The files that hold the model (weights, index, config, tokenizer); README.md and mergekit_config.yml
    /// record the definition that was run, which differs between a multi-stage file and hand-written stages.</summary>
    private static Dictionary<string, byte[]> ModelBytes(string directory)
        => Directory.GetFiles(directory).Where(f => Path.GetFileName(f) is not ("README.md" or "mergekit_config.yml"))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    private static void AssertSameModel(string expected, string actual)
    {
        var e = ModelBytes(expected);
        var a = ModelBytes(actual);
        Assert.Equal(e.Keys.Order(), a.Keys.Order());
        Assert.Contains("config.json", e.Keys);
        Assert.True(e.Keys.Count(k => k.EndsWith(".safetensors", StringComparison.Ordinal)) > 1, "the test should cover several shards");
        foreach (var (name, bytes) in e) Assert.True(bytes.AsSpan().SequenceEqual(a[name]), $"{name} differs between {expected} and {actual}");
    }

    [Fact]
    public async Task MegaPattern_FusedIntermediateDirAndByHand_GiveTheSameBytes()
    {
        await Models();
        var graph = Load(Mega);
        Assert.Equal(new[] { "gradient-slerp", "slerp-ties", null }, graph.Stages.Select(s => s.Name));

        var fused = await MultiStageRunner.RunAsync(graph, P("fused"), Options, new MultiStageOptions());
        // Fused, every input tensor is read once per stage that uses it (the base by two stages), nothing else.
        long Size(string model) { using var c = DotnetMerge.Safetensors.ModelCheckpoint.Open(P(model)); return c.TotalTensorBytes; }
        Assert.Equal(2 * Size("base") + Size("a") + Size("b") + Size("c") + Size("d"), fused.Stats.BytesRead);
        await MultiStageRunner.RunAsync(graph, P("staged"), Options, new MultiStageOptions { IntermediateDirectory = P("inter") });
        await RunByHand(P("hand"));

        AssertSameModel(P("hand", "final"), P("fused"));
        AssertSameModel(P("hand", "final"), P("staged"));
        AssertSameModel(P("hand", "gradient-slerp"), P("inter", "gradient-slerp"));
        AssertSameModel(P("hand", "slerp-ties"), P("inter", "slerp-ties"));
        // The fused run writes no intermediate anywhere near the output.
        Assert.Equal(new[] { "fused", "staged", "inter", "hand" }.Order(), Directory.GetDirectories(_root).Select(Path.GetFileName)
            .Where(n => n is "fused" or "staged" or "inter" or "hand" || n!.StartsWith('.')).Order());
        // The final model card records the whole file.
        Assert.Contains("name: slerp-ties", File.ReadAllText(P("fused", "README.md")));
    }

    [Fact]
    public async Task AModelScopedTrimInAnIntermediateStage_GivesTheSameBytesFusedAndStaged()
    {
        await Models();
        // trim_scope: model needs a pass over all of the stage's tensors before merging: fused, it computes the
        // stage's inputs (here another stage's output) for that pass too.
        var yaml = "name: soup\nmerge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n---\n" +
                   "name: trimmed\nmerge_method: ties\nbase_model: base\nmodels:\n  - model: soup\n    parameters: {weight: 1, density: 0.3}\n" +
                   "  - model: c\n    parameters: {weight: 1, density: 0.3}\nparameters: {trim_scope: model}\n---\n" +
                   "merge_method: linear\nmodels:\n  - model: trimmed\n    parameters: {weight: 1}\n  - model: d\n    parameters: {weight: 1}\n";
        var graph = Load(yaml);
        await MultiStageRunner.RunAsync(graph, P("fused"), Options, new MultiStageOptions());
        await MultiStageRunner.RunAsync(graph, P("staged"), Options, new MultiStageOptions { IntermediateDirectory = P("inter") });
        AssertSameModel(P("staged"), P("fused"));
    }

    [Fact]
    public async Task Lazy_ReusesCompleteIntermediates_AndNoLazyRunsThemAgain()
    {
        await Models();
        var graph = Load(Mega);
        var stages = new MultiStageOptions { IntermediateDirectory = P("inter") };
        await MultiStageRunner.RunAsync(graph, P("out1"), Options, stages);
        // Without the first stages' own inputs, only a lazy run can still finish: it reuses their models.
        foreach (var name in new[] { "a", "b", "c" }) Directory.Delete(P(name), true);
        await MultiStageRunner.RunAsync(graph, P("out2"), Options, stages);
        AssertSameModel(P("out1"), P("out2"));

        var e = await Assert.ThrowsAsync<PlanningException>(() => MultiStageRunner.RunAsync(graph, P("out3"), Options, stages with { Lazy = false }));
        var missing = e.Findings.Where(f => f.Id == CheckIds.ModelUnavailable).ToList();
        Assert.Contains(missing, f => f.Location!.Value.Line == 6 && f.Message.Contains("'a'", StringComparison.Ordinal)); // stage 1's source 'a'
        Assert.False(Directory.Exists(P("out3")));
    }

    [Fact]
    public async Task AMistakeInTheLastStage_FailsBeforeTheFirstStageRuns()
    {
        await Models();
        var graph = Load(Mega.Replace("model: d", "model: dd"));
        var e = await Assert.ThrowsAsync<PlanningException>(() =>
            MultiStageRunner.RunAsync(graph, P("out"), Options, new MultiStageOptions { IntermediateDirectory = P("inter") }));
        var finding = Assert.Single(e.Findings, f => f.IsError);
        Assert.Equal(CheckIds.ModelUnavailable, finding.Id);
        var line = Mega.Split('\n').ToList().FindIndex(l => l.Contains("model: d", StringComparison.Ordinal)) + 1;
        Assert.Equal(line, finding.Location!.Value.Line);
        Assert.False(Directory.Exists(P("inter")) && Directory.EnumerateFileSystemEntries(P("inter")).Any(), "no stage may have run");
        Assert.False(Directory.Exists(P("out")));
    }

    [Fact]
    public async Task ALaterStage_IsCheckedAgainstTheShapesAnEarlierStageWillProduce()
    {
        await Models();
        // Stage 1 keeps two of the three layers; stage 2 asks for three of them.
        var yaml = "name: two\nmerge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n---\n" +
                   "merge_method: linear\nslices:\n  - sources:\n      - model: two\n        layer_range: [0, 3]\n        parameters: {weight: 1}\n" +
                   "      - model: b\n        layer_range: [0, 3]\n        parameters: {weight: 1}\n";
        var graph = Load(yaml);
        var e = Assert.Throws<PlanningException>(() => MultiStageRunner.Plan(graph, Options, new MultiStageOptions()));
        var outOfRange = Assert.Single(e.Findings, f => f.Id == CheckIds.LayerRangeOutOfBounds);
        Assert.Contains("2 layers", outOfRange.Message);
        Assert.Equal(11, outOfRange.Location!.Value.Line);

        // And the planned virtual model carries the stage's dtypes: a float16 stage feeds float16 tensors.
        using var plan = MultiStageRunner.Plan(Load(Mega), Options, new MultiStageOptions());
        var ties = plan.Stages[1].Plan!;
        var input = ties.Jobs.First(j => j.OutputName.EndsWith("mlp.up_proj.weight", StringComparison.Ordinal)).Inputs
            .Single(i => i.Model.Name == "gradient-slerp");
        Assert.Null(input.File);
        Assert.Equal(DotnetMerge.Numerics.Dtype.F16, input.Tensor.Dtype);
    }
}
