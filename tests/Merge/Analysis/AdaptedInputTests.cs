using System.Text.Json;
using DotnetMerge.Analysis;
using DotnetMerge.Analysis.Reports;
using DotnetMerge.Engine;
using DotnetMerge.Tests.Adapters;

namespace DotnetMerge.Tests.Analysis;

/// <summary>A <c>base+adapter</c> input is analysed as the merge sees it: its task vector is the adapter's s·B·A on the
/// modules it targets, nothing elsewhere.</summary>
public sealed class AdaptedInputTests : IDisposable
{
    private readonly AdapterFixture _fx = new();

    [Fact]
    public async Task The_task_vector_of_an_adapted_model_is_the_scaled_low_rank_product()
    {
        await _fx.BaseAsync();
        const int r = 2, hidden = AdapterFixture.Hidden;
        const string q = "model.layers.0.self_attn.q_proj";
        var a = AdapterFixture.Values(r * hidden, 7, 0.25);
        var b = AdapterFixture.Values(hidden * r, 8, 0.25);
        await _fx.AdapterAsync("lora", new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["r"] = r, ["lora_alpha"] = 4.0, ["target_modules"] = new[] { "q_proj" },
            ["base_model_name_or_path"] = "org/tiny-base", ["task_type"] = "CAUSAL_LM",
        }, [($"{q}.lora_A.weight", [r, hidden], a), ($"{q}.lora_B.weight", [hidden, r], b)]);
        var yaml = "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: base+lora\n    parameters: {weight: 1.0}\ndtype: float32\n";
        var definition = MergeRunner.ParseDefinition(yaml, _fx.PathOf("merge.yaml"), out _);
        using var plan = MergeRunner.Plan(definition, new MergeOptions());
        var report = MergeAnalysis.Run(plan, new AnalysisOptions());
        var stream = new MemoryStream();
        JsonReport.Write(report, stream);
        using var json = JsonDocument.Parse(stream.ToArray());

        // Reference: δ = (alpha / r)·B·A on q_proj.weight, zero on every other tensor of the attention group (the bias).
        double s = 4.0 / r, deltaSquares = 0;
        for (int o = 0; o < hidden; o++)
            for (int i = 0; i < hidden; i++)
            {
                double d = 0;
                for (int k = 0; k < r; k++) d += b[o * r + k] * a[k * hidden + i];
                deltaSquares += s * d * (s * d);
            }
        double baseSquares = new[] { q + ".weight", q + ".bias" }.Sum(n => AdapterFixture.BaseValues(n).Sum(v => v * v));
        double expected = Math.Sqrt(deltaSquares / baseSquares);
        double actual = json.RootElement.GetProperty("groups").GetProperty("attention").GetProperty("relativeNorm")[0].GetDouble();
        Assert.True(Math.Abs(expected - actual) <= 1e-6 * expected, $"expected {expected:R}, got {actual:R}");
        Assert.Equal(0, json.RootElement.GetProperty("groups").GetProperty("mlp").GetProperty("relativeNorm")[0].GetDouble());
        Assert.Equal(0, json.RootElement.GetProperty("groups").GetProperty("embeddings").GetProperty("relativeNorm")[0].GetDouble());
    }

    public void Dispose() => _fx.Dispose();
}
