using DotnetMerge.Checks;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Planning;

public sealed class PlannerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", Guid.NewGuid().ToString("N"));
    private static readonly LlamaSpec Spec = new(Layers: 3, Hidden: 16, Intermediate: 24, Vocab: 40, Heads: 2, KvHeads: 1);

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    private async Task Model(string name, LlamaSpec spec, bool fineTune = true)
    {
        var dir = Path.Combine(_root, name);
        if (fineTune) await SyntheticModels.WriteFineTuneAsync(dir, spec, new FineTune(name, "", 0, 0.1, 1, 5));
        else await SyntheticModels.WriteBaseAsync(dir, spec);
    }

    private MergePlan Plan(string yaml, MergeOptions? options = null)
    {
        var path = Path.Combine(_root, "def.yaml");
        File.WriteAllText(path, yaml);
        var definition = MergeRunner.LoadDefinition(path, out _);
        return MergeRunner.Plan(definition, options ?? new MergeOptions());
    }

    [Fact]
    public async Task VocabularyMismatch_WithATokenizerSource_KeepsTheSourcesRows_AndCropsTheLongerVocabulary()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec with { Vocab = 44 });
        using var plan = Plan("merge_method: linear\ntokenizer_source: a\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n");
        var embed = plan.Jobs.Single(j => j.OutputName == "model.embed_tokens.weight");
        Assert.Equal(new long[] { 40, 16 }, embed.OutputShape);
        Assert.Equal(new long[] { 40, 16 }, embed.Inputs[1].CropShape);
        Assert.Null(embed.Inputs[0].CropShape);
        // b's first 40 tokens are a's, in a's order: a crop, no gather; the plan reports the vocabulary, not a mismatch.
        Assert.Null(embed.Inputs[1].Gather);
        Assert.DoesNotContain(plan.Warnings, w => w.Contains(CheckIds.ShapeMismatch, StringComparison.Ordinal));
        Assert.Contains(plan.Warnings, w => w.Contains("DMRG0515", StringComparison.Ordinal));
        Assert.Null(plan.OutputVocabSize); // the donor (a) already declares 40
    }

    [Fact]
    public async Task VocabularyMismatch_IsAnError_WithoutATokenizerSourceOrCrimes()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec with { Vocab = 44 });
        var e = Assert.Throws<PlanningException>(() => Plan("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n"));
        Assert.Contains(e.Findings, f => f.Id == CheckIds.TokenizerMismatch && f.IsError);
    }

    [Fact]
    public async Task TiedEmbeddings_UseTheInputEmbeddingForAMissingHead()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec with { TiedEmbeddings = true });
        using var plan = Plan("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n", new MergeOptions { AllowCrimes = true });
        var head = plan.Jobs.Single(j => j.OutputName == "lm_head.weight");
        Assert.Equal("model.embed_tokens.weight", head.Inputs[1].TensorName);
    }

    [Fact]
    public async Task AllMissingTensorsAndParametersAreReportedAtOnce()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec with { Layers = 2 });
        var e = Assert.Throws<PlanningException>(() => Plan(
            "merge_method: task_arithmetic\nbase_model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 3]\n      - model: b\n        layer_range: [0, 3]\n        parameters: {weight: 1}\n"));
        var outOfRange = Assert.Single(e.Findings, f => f.Id == CheckIds.LayerRangeOutOfBounds);
        Assert.Contains("2 layers", outOfRange.Message);
        Assert.Equal(7, outOfRange.Location!.Value.Line);
    }

    [Fact]
    public async Task Slices_MapOutputLayersToSourceLayers_AndTakePreAndPostWeightsFromFirstAndLastSlice()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec);
        using var plan = Plan("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [1, 3]\n  - sources:\n      - model: b\n        layer_range: [0, 2]\n        parameters:\n          scale:\n            - filter: down_proj\n              value: 0.5\n");
        Assert.Equal(4, plan.OutputLayerCount);
        var l0 = plan.Jobs.Single(j => j.OutputName == "model.layers.0.mlp.up_proj.weight");
        Assert.Equal(("a", "model.layers.1.mlp.up_proj.weight", JobKind.Copy), (l0.Inputs[0].Model.Name, l0.Inputs[0].TensorName, l0.Kind));
        var l3 = plan.Jobs.Single(j => j.OutputName == "model.layers.3.mlp.down_proj.weight");
        Assert.Equal(("b", "model.layers.1.mlp.down_proj.weight", JobKind.Merge), (l3.Inputs[0].Model.Name, l3.Inputs[0].TensorName, l3.Kind));
        Assert.Equal(0.5, l3.Inputs[0].Parameters.GetDouble("scale"));
        Assert.Equal(JobKind.Copy, plan.Jobs.Single(j => j.OutputName == "model.layers.3.mlp.up_proj.weight").Kind);
        Assert.Equal("a", plan.Jobs.Single(j => j.OutputName == "model.embed_tokens.weight").Inputs[0].Model.Name);
        Assert.Equal("b", plan.Jobs.Single(j => j.OutputName == "lm_head.weight").Inputs[0].Model.Name);
        Assert.Equal(plan.Jobs.Count, plan.Jobs.Select(j => j.OutputName).Distinct().Count());
    }
    /// <summary>mergekit's rule for non-layer tensors with slices: the embeddings (before the layers) take the first
    /// slice's sources and parameters, the final norm and the head (after the layers) the last slice's, all at t = 0
    /// (the first value of a gradient). Both slices list the same two models, so only the parameters tell them apart;
    /// expected values by hand from the definition below.</summary>
    [Fact]
    public async Task Slices_NonLayerTensorsTakeTheFirstOrLastSlicesParametersAtTZero()
    {
        await Model("a", Spec, fineTune: false);
        await Model("b", Spec);
        using var plan = Plan("""
            merge_method: linear
            slices:
              - sources:
                  - model: a
                    layer_range: [0, 2]
                    parameters: {weight: [0.1, 0.9]}
                  - model: b
                    layer_range: [0, 2]
                parameters: {weight: [0.2, 0.8], normalize: false}
              - sources:
                  - model: a
                    layer_range: [2, 3]
                    parameters: {weight: [0.3, 0.7]}
                  - model: b
                    layer_range: [2, 3]
                parameters: {weight: [0.4, 0.6], normalize: true}
            """);
        (double A, double B, bool Normalize) Resolved(string tensor)
        {
            var job = plan.Jobs.Single(j => j.OutputName == tensor);
            Assert.Equal(["a", "b"], job.Inputs.Select(i => i.Model.Name));
            return (job.Inputs[0].Parameters.GetDouble("weight"), job.Inputs[1].Parameters.GetDouble("weight"), job.Global.GetBool("normalize"));
        }
        // a's weight is its source's own; b has none, so its slice's applies
        Assert.Equal((0.1, 0.2, false), Resolved("model.embed_tokens.weight")); // first slice, t = 0
        Assert.Equal((0.1, 0.2, false), Resolved("model.layers.0.mlp.up_proj.weight")); // first slice, layer 0 of 2: t = 0
        Assert.Equal((0.9, 0.8, false), Resolved("model.layers.1.mlp.up_proj.weight")); // first slice, layer 1 of 2: t = 1
        Assert.Equal((0.7, 0.6, true), Resolved("model.layers.2.mlp.up_proj.weight")); // last slice, its one layer: t = 1
        Assert.Equal((0.3, 0.4, true), Resolved("model.norm.weight")); // last slice, t = 0
        Assert.Equal((0.3, 0.4, true), Resolved("lm_head.weight"));
    }
}
