using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>One merge of generated llama-shaped models run twice through the engine, on the CPU and on a given backend;
/// every safetensors file must be byte-identical.</summary>
internal static class EngineComparison
{
    /// <summary>The whole-merge cases that both the shim and the GPU backend run: method, per-model parameters,
    /// top-level parameters.</summary>
    public static TheoryData<string, string, string> Methods => new()
    {
        { "task_arithmetic", "", "" },
        { "linear", "", "" },
        { "dare_ties", "density: 0.5", "" },
        { "dare_linear", "density: 0.3", "" },
        { "ties", "density: 0.4", "" },
        { "breadcrumbs", "density: 0.5, gamma: 0.02", "" },
        { "breadcrumbs_ties", "density: 0.5, gamma: 0.02", "" },
        { "model_stock", "", "" },
        { "multislerp", "", "" },
        { "nuslerp", "", "" },
        { "karcher", "", "" },
        { "della", "density: 0.5, epsilon: 0.1", "" },
        { "sce", "", "" },
        { "sce", "", "select_topk: 0.4" },
        { "ram", "", "" },
        { "ramplus_tl", "", "epsilon: 0.001, r: 0.5, alpha: 0.5" },
        { "arcee_fusion", "", "" },
    };

    public static async Task AssertSameFilesAsync(string method, string extra, IMergeBackend backend, Func<int> jobsRun, int hidden = 256,
        string globalParameters = "", bool secondModel = true)
    {
        string root = Path.Combine(Path.GetTempPath(), "dm-backend-e2e-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var spec = new LlamaSpec(Layers: 2, Hidden: hidden, Intermediate: hidden * 11 / 4, Vocab: hidden * 4);
            await SyntheticModels.WriteBaseAsync(Path.Combine(root, "base"), spec);
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "a"), spec, new FineTune("a", "mlp", 0, 0.02, 1, 11));
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "b"), spec, new FineTune("b", "self_attn", 0, 0.03, 1, 12));
            string more = extra.Length > 0 ? ", " + extra : "";
            string parameters = globalParameters.Length > 0 ? $"parameters: {{{globalParameters}}}\n" : "";
            string text = $$"""
                merge_method: {{method}}
                base_model: {{Path.Combine(root, "base")}}
                models:
                  - model: {{Path.Combine(root, "base")}}
                    parameters: {weight: 0.2}
                  - model: {{Path.Combine(root, "a")}}
                    parameters: {weight: 0.5{{more}}}
                {{(secondModel ? $"  - model: {Path.Combine(root, "b")}\n    parameters: {{weight: 0.4{more}}}" : "")}}
                dtype: bfloat16

                """ + parameters;
            var definition = MergeRunner.ParseDefinition(text, Path.Combine(root, "merge.yaml"), out _);
            var options = new MergeOptions { Seed = 5, WorkingDirectory = root, CopyTokenizer = false };
            await MergeRunner.RunAsync(definition, Path.Combine(root, "cpu"), options, null, CancellationToken.None);
            await MergeRunner.RunAsync(definition, Path.Combine(root, "other"), options with { Backend = backend }, null, CancellationToken.None);
            Assert.True(jobsRun() > 0, $"no job ran on {backend.Name}");
            string[] files = Directory.GetFiles(Path.Combine(root, "cpu"), "*.safetensors");
            Assert.NotEmpty(files);
            foreach (string file in files)
                Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(root, "other", Path.GetFileName(file)))),
                    $"{method}: {Path.GetFileName(file)} differs between the CPU and {backend.Name}");
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }
}
